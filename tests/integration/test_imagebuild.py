"""The gns3lab Debian 12 image: cache, qcow2 shape, appliance file, and one real boot (TCG)."""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from pathlib import Path

import jsonschema
import pytest

from generator import tools
from generator.errors import ImageError, ToolError
from generator.images import build as imagebuild
from generator.images import recipe as imagerecipe
from generator.images.build import BuiltImage, build_image
from tests.helpers import REPO
from tests.unit.test_appliances import registry_warnings

pytestmark = [pytest.mark.slow]  # the boot test is in tests/e2e/test_imagebuild_boot.py

SCHEMA_REL = "shared/spec/registry-schemas/appliance_v4.json"
#: shared/ sits beside the repository (work tree and CI clone alike).
SCHEMAS = (REPO.parent / SCHEMA_REL, Path("/work") / SCHEMA_REL)

USER_DATA = """#cloud-config
write_files:
  - path: /etc/lab/from-seed.txt
    content: "seed-file ok\\n"
runcmd:
  - echo "LABTEST host=$(hostname) seedfile=$(cat /etc/lab/from-seed.txt)" > /dev/console
  - echo "LABTEST ssh=$(ssh -V 2>&1)" > /dev/console
  - >-
    echo "LABTEST hostkey=$(ls /etc/ssh/ssh_host_ed25519_key.pub 2>&1)
    sshd=$(systemctl is-active ssh)" > /dev/console
  - echo "LABTEST ansible=$(ansible --version | head -1)" > /dev/console
  - ip -o link | sed 's/^/LABTEST link /' > /dev/console
  - echo "LABTEST dnsmasq=$(systemctl is-active dnsmasq 2>&1)" > /dev/console
  - |
    for m in bonding 8021q bridge br_netfilter veth tun dummy af_packet nft_masq nft_chain_nat \
             ata_piix sr_mod isofs; do
      modprobe $m || echo "LABTEST modfail $m" > /dev/console
    done
    echo "LABTEST modules checked" > /dev/console
  - |
    nft add table ip nat &&
    nft 'add chain ip nat post { type nat hook postrouting priority 100 ; }' &&
    nft add rule ip nat post oifname eth0 masquerade &&
    echo "LABTEST nat=ok" > /dev/console
  - >-
    python3 -c "import json; d = json.load(open('/run/cloud-init/status.json'))['v1'];
    print('LABTEST ci-errors=%d' % sum(len(d[s]['errors']) for s in
    ('init-local', 'init', 'modules-config') if d.get(s)))" > /dev/console
  - sync
power_state: {mode: poweroff, delay: now}
"""
META_DATA = "instance-id: imagebuild-{stamp}\nlocal-hostname: imgtest1\n"
NETWORK_CONFIG = "version: 2\nethernets:\n  eth0:\n    addresses: [10.99.0.1/24]\n"


def _schema() -> dict:
    for path in SCHEMAS:
        if path.is_file():
            return json.loads(path.read_text())
    pytest.fail(f"appliance_v4.json schema not found in {[str(p) for p in SCHEMAS]}")


def test_cache_hit_is_instant(lab_image: BuiltImage) -> None:
    start = time.monotonic()
    again = build_image("debian-12", lab_image.path.parent)
    elapsed = time.monotonic() - start
    assert again.cached
    assert elapsed < 1.0, f"cache hit took {elapsed:.2f}s"
    assert (again.path, again.md5, again.sha256, again.size, again.key) == (
        lab_image.path, lab_image.md5, lab_image.sha256, lab_image.size, lab_image.key)
    digest = hashlib.sha256(again.path.read_bytes()).hexdigest()
    assert again.path.name == f"gns3lab-debian-12-{digest[:12]}.qcow2"
    assert not list(again.path.parent.glob(".gns3lab-build-*")), "build temp dir left behind"


def test_qcow2_shape(lab_image: BuiltImage) -> None:
    info = tools.image_info(lab_image.path)
    assert info["format"] == "qcow2"
    assert "backing-filename" not in info
    assert 2 * 1024**3 <= info["virtual-size"] <= 4 * 1024**3
    assert info["virtual-size"] == lab_image.virtual_size
    assert lab_image.size == lab_image.path.stat().st_size < 500 * 1024**2
    assert imagebuild.md5sum(lab_image.path) == lab_image.md5


def test_appliance_file(lab_image: BuiltImage) -> None:
    data = json.loads(lab_image.appliance_path.read_text())
    jsonschema.validate(data, _schema())
    assert lab_image.appliance_path.name == "gns3lab-debian-12.gns3a"
    assert data["name"] == "gns3lab Debian 12"
    assert data["registry_version"] == 4 and data["category"] == "guest"
    qemu = data["qemu"]
    assert qemu["adapter_type"] == "virtio-net-pci" and qemu["hda_disk_interface"] == "virtio"
    assert (qemu["adapters"], qemu["ram"], qemu["arch"]) == (1, 512, "x86_64")
    assert (qemu["console_type"], qemu["kvm"], qemu["boot_priority"]) == ("telnet", "allow", "c")
    version = f"12-{lab_image.digest}"
    assert data["images"] == [{"filename": lab_image.path.name, "version": version,
                               "md5sum": lab_image.md5, "filesize": lab_image.size}]
    assert data["versions"] == [{"name": version,
                                 "images": {"hda_disk_image": lab_image.path.name}}]
    assert registry_warnings(data) == []


def test_unknown_recipe_is_an_image_error(tmp_path: Path) -> None:
    with pytest.raises(ImageError, match="unknown image recipe"):
        build_image("plan9", tmp_path)


def test_failed_build_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken_mmdebstrap(recipe: imagebuild.Recipe, rootfs: Path) -> None:
        (rootfs / "etc").mkdir(parents=True)
        raise ToolError("command failed (exit 1): mmdebstrap")

    stages: list[str] = []
    monkeypatch.setattr(imagebuild, "run_mmdebstrap", broken_mmdebstrap)
    with pytest.raises(ToolError, match="mmdebstrap"):
        build_image("debian-12", tmp_path / "images", progress=stages.append)
    assert stages == ["mmdebstrap"]
    assert list((tmp_path / "images").iterdir()) == []


def test_key_covers_helper_files() -> None:
    recipe = imagerecipe.RECIPES["debian-12"]
    key = imagerecipe.recipe_key(recipe)
    assert re.fullmatch(r"[0-9a-f]{12}", key)
    other = imagerecipe.Recipe(**{**recipe.__dict__, "packages": (*recipe.packages, "less")})
    assert imagerecipe.recipe_key(other) != key


TINY = imagerecipe.Recipe(**{**imagerecipe.RECIPES["debian-12"].__dict__, "name": "tiny",
                              "disk_size": 96 * imagerecipe.MIB,
                              "boot_size": 32 * imagerecipe.MIB})


def fake_mmdebstrap(recipe: imagerecipe.Recipe, rootfs: Path) -> None:
    """A small root tree made now (fresh mtimes, atimes and ctimes, with nanoseconds), one
    file with an old package-like mtime, a symlink, and a kernel and initramfs in /boot."""
    (rootfs / "boot").mkdir(parents=True)
    (rootfs / "etc").mkdir()
    (rootfs / "boot" / "vmlinuz-6.1.0-test").write_bytes(b"kernel" * 1000)
    (rootfs / "boot" / "initrd.img-6.1.0-test").write_bytes(b"initrd" * 500)
    (rootfs / "etc" / "made-now").write_text("generated at build time\n")
    (rootfs / "etc" / "from-package").write_text("shipped by a package\n")
    os.utime(rootfs / "etc" / "from-package", (1600000000, 1600000000))
    (rootfs / "vmlinuz").symlink_to("boot/vmlinuz-6.1.0-test")


@pytest.fixture
def tiny_recipe(monkeypatch: pytest.MonkeyPatch) -> imagerecipe.Recipe:
    monkeypatch.setitem(imagerecipe.RECIPES, "tiny", TINY)
    monkeypatch.setattr(imagebuild, "run_mmdebstrap", fake_mmdebstrap)
    return TINY


def test_builds_are_named_by_content_and_reproducible(tiny_recipe: imagerecipe.Recipe,
                                                      tmp_path: Path) -> None:
    """Real mke2fs, debugfs, mkfs.fat, mtools, SYSLINUX and qemu-img on a small tree: two
    builds made at different times (so different ctimes, atimes, random seeds) are the same
    bytes, and the file is named by its own sha256."""
    first = build_image("tiny", tmp_path / "a")
    time.sleep(1.1)
    second = build_image("tiny", tmp_path / "b")
    data = first.path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    assert first.path.name == second.path.name == f"gns3lab-tiny-{digest[:12]}.qcow2"
    assert data == second.path.read_bytes()
    assert (first.sha256, first.md5) == (digest, hashlib.md5(data).hexdigest())
    assert not first.cached and first.key == imagerecipe.recipe_key(TINY)
    # The index maps the recipe key to the build, so the next call is a cache hit ...
    index = json.loads((tmp_path / "a" / imagebuild.INDEX).read_text())
    assert index[first.key]["filename"] == first.path.name
    again = build_image("tiny", tmp_path / "a")
    assert again.cached and again.path == first.path and again.sha256 == digest
    # ... and a forced rebuild gives the same file again.
    forced = build_image("tiny", tmp_path / "a", force=True)
    assert not forced.cached and forced.path == first.path and forced.sha256 == digest
    appliance = json.loads(first.appliance_path.read_text())
    assert registry_warnings(appliance) == []
    assert appliance["images"][0]["version"] == appliance["versions"][0]["name"] == \
        f"12-{digest[:12]}"
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == sorted(
        [imagebuild.INDEX, first.path.name, "gns3lab-tiny.gns3a"])
    # A private cache, as for pulled images: the folder gns3lab made, the image and the index.
    modes = {p.name: p.stat().st_mode & 0o777 for p in (tmp_path / "a").iterdir()}
    assert (tmp_path / "a").stat().st_mode & 0o777 == 0o700
    assert modes[first.path.name] == modes[imagebuild.INDEX] == 0o600


def test_changed_image_is_rebuilt_not_trusted(tiny_recipe: imagerecipe.Recipe,
                                              tmp_path: Path) -> None:
    first = build_image("tiny", tmp_path)
    with open(first.path, "r+b") as f:
        f.seek(first.size - 1)
        f.write(b"\x01")
    again = build_image("tiny", tmp_path)
    assert not again.cached and again.path == first.path
    assert hashlib.sha256(again.path.read_bytes()).hexdigest() == first.sha256


def test_root_fs_times_are_pinned(tmp_path: Path) -> None:
    from generator.images import disk as imagedisk

    root = tmp_path / "root"
    fake_mmdebstrap(TINY, root)
    raw = tmp_path / "disk.raw"
    with open(raw, "wb") as f:
        f.truncate(64 * imagerecipe.MIB)
    imagedisk.make_root_fs(raw, root, 0, 64 * imagerecipe.MIB, epoch=1735689600,
                           uuid="46b57d94-fd63-51a3-97d9-b504892073fa")
    stat = tools.run(["debugfs", "-R", "stat /etc/made-now", raw]).stdout.decode()
    old = tools.run(["debugfs", "-R", "stat /etc/from-package", raw]).stdout.decode()
    assert re.search(r"ctime: 0x67748580:00000000", stat), stat
    assert re.search(r"mtime: 0x67748580:00000000", stat), stat  # clamped to the epoch
    assert re.search(r"mtime: 0x5f5e1000:00000000", old), old  # older: kept
    assert re.search(r"atime: 0x67748580:00000000", old), old
    fsck = tools.run(["e2fsck", "-fn", raw]).stdout.decode()  # exit 0: clean after debugfs
    assert re.search(r"^gns3lab-root: \d+/\d+ files", fsck, re.M), fsck
