"""No image in an archive can collide (issue 19), against real gns3-server 2.2.61 and 3.0.6.

GNS3 imports a portable project's bundled images only where its images folder has no file of
that name yet (``gns3server/controller/import_project.py``, ``_import_images``: ``if not
os.path.exists(dst)``), and a node's overlay backs onto whatever file of its
``hda_disk_image`` name the folder holds. So a bundled third-party image is stored under
``<stem>.<sha256[:12]>.<ext>``: the server already holds a DIFFERENT file under the image's
published name, and after the import every node's disk still backs onto the bundled bytes
(the md5 of the file its overlay's backing file names, read back from the server's folders).

``verify`` accepts such an archive and ``push`` imports it past the same-named file (its image
check passes: the archive brings the image). The last test is the hazard itself: the same
archive with the published name (the build's content naming switched off) pairs the overlays
with the server's other file.
"""

from __future__ import annotations

import json
import random
import uuid
import zipfile
from pathlib import Path

import pytest

from generator import build as build_module
from generator import tools
from generator.build import BuildOptions, BuildResult, build_lab
from generator.read.verify import verify_archive
from generator.server.push import push_archive
from tests.helpers import make_tiny_appliance, md5
from tests.support.gns3server import Gns3Server

pytestmark = pytest.mark.slow

BLUEPRINT = """\
name: {name}
defaults: {{appliance: Tiny Collision Guest, ram: 64}}
nodes:
  r1: {{}}
  r2: {{}}
links:
  - r1:eth0 -- r2:eth0
"""


def bundled_lab(root: Path, name: str) -> tuple[BuildResult, Path]:
    """A two-node lab on a tiny third-party image (an appliance with no download URL, so the
    build bundles it), built with the image checked and bundled; the build and the image."""
    image = root / "images" / f"tiny-{uuid.uuid4().hex[:8]}.qcow2"
    image.parent.mkdir(parents=True)
    tools.qemu_img("create", "-q", "-f", "qcow2", image, f"{64 + random.randrange(1, 200)}M")
    make_tiny_appliance(image.parent, "Tiny Collision Guest", image.name)
    (root / "bp").mkdir()
    (root / "bp" / "lab.yaml").write_text(BLUEPRINT.format(name=name))
    built = build_lab(root / "bp", BuildOptions(out_dir=root / "dist",
                                                images_dirs=(image.parent,)))
    return built, image


def plant_impostor(server: Gns3Server, name: str) -> Path:
    """A different qcow2 under ``name`` in the server's images folder (what a colleague who
    once had another file of that name holds)."""
    impostor = server.images_dir / name
    tools.qemu_img("create", "-q", "-f", "qcow2", impostor, "300M")
    return impostor


def backing_md5s(server: Gns3Server, archive: Path, name: str) -> dict[str, tuple[str, str]]:
    """Import ``archive``; per node, the name its overlay's backing file holds and the md5 of
    the file that name resolves to in the server's images folder (GNS3 rebases the overlay
    onto it at start). The project is deleted afterwards."""
    client = server.client
    pid = client.import_project(archive, name=name)["project_id"]
    try:
        client.open_project(pid)
        out = {}
        for node in client.nodes(pid):
            folder = server.projects_dir / pid / "project-files" / "qemu" / node["node_id"]
            backing = tools.image_info(folder / "hda_disk.qcow2")["backing-filename"]
            assert backing == node["properties"]["hda_disk_image"], node["name"]
            out[node["name"]] = (backing, md5(server.images_dir / backing))
        return out
    finally:
        client.close_project(pid)
        client.delete_project(pid)


def test_a_bundled_image_wins_over_a_same_named_file(gns3_server: Gns3Server,
                                                     tmp_path: Path) -> None:
    name = f"collide-{uuid.uuid4().hex[:6]}"
    built, image = bundled_lab(tmp_path, name)
    impostor = plant_impostor(gns3_server, image.name)
    try:
        assert md5(impostor) != md5(image)
        stored = f"{image.stem}.{built.lab.vms[0].image.sha256[:12]}.qcow2"
        with zipfile.ZipFile(built.archive) as zf:
            assert zf.read(f"images/QEMU/{stored}") == image.read_bytes()
            assert f"images/QEMU/{image.name}" not in zf.namelist()
            project = json.loads(zf.read("project.gns3"))
            manifest = json.loads(zf.read("gns3lab/manifest.json"))
            readme = zf.read("README.md").decode()
        assert {n["properties"]["hda_disk_image"] for n in project["topology"]["nodes"]} \
            == {stored}
        record = manifest["images"][stored]
        assert (record["original"], record["md5"], record["included"]) == \
            (image.name, md5(image), True)
        assert f"{stored} (published as {image.name})" in readme
        backs = backing_md5s(gns3_server, built.archive, name)
        assert backs == {"r1": (stored, md5(image)), "r2": (stored, md5(image))}
        assert md5(impostor) != md5(image)  # the server's own file is left as it was
    finally:
        for leftover in gns3_server.images_dir.glob(f"{image.stem}*"):
            leftover.unlink()


def test_push_and_verify_take_the_content_names(gns3_server: Gns3Server,
                                                tmp_path: Path) -> None:
    name = f"collide-push-{uuid.uuid4().hex[:6]}"
    built, image = bundled_lab(tmp_path, name)
    impostor = plant_impostor(gns3_server, image.name)
    report = verify_archive(built.archive)
    assert report.ok, report.problems
    try:
        result = push_archive(built.archive, gns3_server.url, name=name,
                              username=gns3_server.client.username,
                              password=gns3_server.client.password)
        pid = result.project_id
        for node in gns3_server.client.nodes(pid):
            stored = node["properties"]["hda_disk_image"]
            assert stored != image.name and md5(gns3_server.images_dir / stored) == md5(image)
        assert md5(impostor) != md5(image)
    finally:
        found = gns3_server.client.find_project(name)
        if found:
            gns3_server.client.close_project(found["project_id"])
            gns3_server.client.delete_project(found["project_id"])
        for leftover in gns3_server.images_dir.glob(f"{image.stem}*"):
            leftover.unlink()


def test_under_the_published_name_gns3_keeps_its_own_file(gns3_server: Gns3Server,
                                                          tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    """The failure the content names prevent, shown on the same server: bundled under its
    published name, the image is skipped and both overlays back onto the other file."""
    monkeypatch.setattr(build_module, "name_by_content", lambda found, bundled: found)
    name = f"collide-old-{uuid.uuid4().hex[:6]}"
    built, image = bundled_lab(tmp_path, name)
    impostor = plant_impostor(gns3_server, image.name)
    try:
        with zipfile.ZipFile(built.archive) as zf:
            assert zf.read(f"images/QEMU/{image.name}") == image.read_bytes()
        backs = backing_md5s(gns3_server, built.archive, name)
        assert backs == {"r1": (image.name, md5(impostor)), "r2": (image.name, md5(impostor))}
        assert md5(impostor) != md5(image)
    finally:
        for leftover in gns3_server.images_dir.glob(f"{image.stem}*"):
            leftover.unlink()
