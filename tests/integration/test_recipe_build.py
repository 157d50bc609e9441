"""A blueprint's own recipe, built for real (mmdebstrap from Debian's mirror): one
``gns3lab build`` makes the image from an empty cache, then the lab; the image is named by its
digest and holds what the recipe says; a second build is a cache hit; a second build of the
same recipe from another empty cache gives the same bytes.

Each build is a full mmdebstrap (the recipe extends debian-12, whose image is not in the empty
cache): two of them, plus the hit, in this module.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import re
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from generator.cli import main
from generator.images.build import build_image
from generator.images.recipe import recipe_key
from generator.images.recipe_images import book_for
from tests.helpers import REPO
from tests.support.ext4_readback import read_back_offline

pytestmark = [pytest.mark.slow]

BLUEPRINT = REPO / "tests" / "data" / "blueprints" / "own-recipe"
NAME = re.compile(r"gns3lab-web-([0-9a-f]{12})\.qcow2")


@dataclass(frozen=True)
class FirstBuild:
    cache: Path
    out: Path
    output: str
    image: Path


def gns3lab(args: list[str], cache: Path, home: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run ``gns3lab ARGS`` with the image cache ``cache`` (and an empty HOME: no GNS3 image
    folder); the output, after checking it ended well."""
    monkeypatch.setenv("GNS3LAB_IMAGES", str(cache))
    monkeypatch.setenv("HOME", str(home))
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture(scope="module")
def first_build(tmp_path_factory: pytest.TempPathFactory) -> FirstBuild:
    """``gns3lab build`` of the blueprint from an empty cache (a real mmdebstrap)."""
    tmp = tmp_path_factory.mktemp("own-recipe")
    cache, out = tmp / "cache", tmp / "out"
    with pytest.MonkeyPatch.context() as mp:
        output = gns3lab(["build", str(BLUEPRINT), "-o", str(out)], cache, tmp / "home", mp)
    images = [p for p in cache.iterdir() if NAME.fullmatch(p.name)]
    assert len(images) == 1, sorted(p.name for p in cache.iterdir())
    return FirstBuild(cache, out, output, images[0])


def test_one_build_makes_the_image_then_the_lab(first_build: FirstBuild) -> None:
    lines = first_build.output.splitlines()
    assert any(line.endswith("image web: building (recipe key "
                             f"{recipe_key(book_for(BLUEPRINT).get('web'))}; a few minutes)")
               for line in lines), first_build.output
    assert any("image web: mmdebstrap" in line for line in lines)
    assert any(line.endswith(f"image web: built {first_build.image.name}") for line in lines)
    # Named by content: the name carries the first 12 hex digits of the file's sha256.
    sha256 = hashlib.sha256(first_build.image.read_bytes()).hexdigest()
    assert NAME.fullmatch(first_build.image.name).group(1) == sha256[:12]
    appliance = json.loads((first_build.cache / "gns3lab-web.gns3a").read_text())
    assert appliance["name"] == "gns3lab web"
    assert appliance["qemu"]["ram"] == 384 and appliance["qemu"]["adapters"] == 2
    assert appliance["images"][0]["filename"] == first_build.image.name
    # The lab runs that image, and the archive bundles it (no public URL).
    with zipfile.ZipFile(first_build.out / "own-recipe.gns3project") as archive:
        project = json.loads(archive.read("project.gns3"))
        assert f"images/QEMU/{first_build.image.name}" in archive.namelist()
    node = project["topology"]["nodes"][0]
    assert node["properties"]["hda_disk_image"] == first_build.image.name
    assert node["properties"]["ram"] == 384


def test_the_image_holds_what_the_recipe_says(first_build: FirstBuild) -> None:
    """Package, file (owned by the package's group: placed after the packages), service,
    sysctl key and kept module, read from the image without a launch (debugfs on a flattened
    copy, after e2fsck -fn finds the root clean: tests/support/ext4_readback.py)."""
    service = "/etc/systemd/system/multi-user.target.wants/lldpd.service"
    sysctl = "/etc/sysctl.d/60-gns3lab-recipe.conf"
    modules = "/etc/modules-load.d/gns3lab-recipe.conf"
    ipip = "/usr/lib/modules/*/kernel/net/ipv4/ipip.ko*"
    read = read_back_offline({first_build.image: (
        "/etc/motd", "/usr/sbin/lldpd", service, sysctl, modules, ipip,
        "/etc/lldpd.d/gns3lab.conf", "/etc/group")})[first_build.image]

    def text(path: str) -> str:
        content = read[path].content
        assert content is not None, f"{path} is not a file"
        return content.decode()

    assert text("/etc/motd").strip() == (BLUEPRINT / "files" / "motd").read_text().strip()
    assert read["/usr/sbin/lldpd"].kind == "file"
    assert read[service].kind == "symlink" and (read[service].target or "").endswith(
        "/lldpd.service")
    assert text(sysctl).strip() == "net.ipv4.ip_forward = 1" and text(modules).strip() == "ipip"
    assert [p for p in read if fnmatch.fnmatchcase(p, ipip)], \
        "ipip was pruned (debian-12 has no ipip.ko: the recipe kept it)"
    gid = next(int(line.split(":")[2]) for line in text("/etc/group").splitlines()
               if line.startswith("_lldpd:"))
    placed = read["/etc/lldpd.d/gns3lab.conf"]
    assert (placed.kind, placed.mode, placed.uid, placed.gid) == ("file", 0o640, 0, gid)


def test_second_build_is_a_cache_hit(first_build: FirstBuild, tmp_path: Path,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    output = gns3lab(["build", str(BLUEPRINT), "-o", str(tmp_path / "out")],
                     first_build.cache, tmp_path / "home", monkeypatch)
    assert f"image web: cached {first_build.image.name}" in output
    assert "mmdebstrap" not in output
    validated = gns3lab(["validate", str(BLUEPRINT)], first_build.cache, tmp_path / "home",
                        monkeypatch)
    assert f"image web: cached {first_build.image}" in validated


def test_same_recipe_same_bytes(first_build: FirstBuild, tmp_path: Path) -> None:
    """A second build of the recipe from another empty cache: the same sha256."""
    again = build_image(book_for(BLUEPRINT).get("web"), tmp_path / "cache")
    assert not again.cached
    assert again.path.name == first_build.image.name
    assert again.sha256 == hashlib.sha256(first_build.image.read_bytes()).hexdigest()
    shutil.rmtree(tmp_path / "cache")
