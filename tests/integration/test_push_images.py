"""``push`` checks base images on arrival, against real gns3-server 2.2.61 (and 3.0.6).

The corruption case of issue 9: an archive built on image A; the server holds a different file
with A's name. GNS3 matches bases by name alone and would start the overlays on it; ``push``
asks the server for its image list (md5 per file) first and refuses, naming the image, both
checksums and the fix, with nothing imported or started. A missing image is uploaded through
the server's upload endpoint with ``upload_from`` (``--upload-images DIR``).
"""

from __future__ import annotations

import random
import uuid
from pathlib import Path
from typing import Any

import pytest

from generator import tools
from generator.build import BuildOptions, BuildResult, build_lab
from generator.errors import ImageError
from generator.server.push import push_archive
from tests.helpers import make_tiny_appliance, md5
from tests.support.gns3server import Gns3Server

pytestmark = pytest.mark.slow


def tiny_lab(root: Path, blueprint: str, appliance: str = "Tiny Push Guest",
             image: str | None = None) -> tuple[BuildResult, Path]:
    """Build ``blueprint`` (YAML using ``appliance``) on a fresh tiny image of a unique name
    and size (so its md5 is unique too); returns the build and the image file. ``--no-images``
    style: nothing is injected, the overlays are bare."""
    image = image or f"tiny-{uuid.uuid4().hex[:8]}.qcow2"
    images = root / "images"
    images.mkdir(parents=True, exist_ok=True)
    tools.qemu_img("create", "-q", "-f", "qcow2", images / image,
                   f"{64 + random.randrange(1, 200)}M")
    make_tiny_appliance(images, appliance, image)
    (root / "bp").mkdir(exist_ok=True)
    (root / "bp" / "lab.yaml").write_text(blueprint)
    result = build_lab(root / "bp", BuildOptions(out_dir=root / "dist", images_dirs=(images,),
                                                 no_images=True))
    return result, images / image


def credentials(server: Gns3Server) -> dict[str, Any]:
    return {"username": server.client.username, "password": server.client.password}


def started_nodes(server: Gns3Server) -> list[str]:
    """Every started node of every opened project on the server."""
    out = []
    for project in server.client.projects():
        if project["status"] == "opened":
            out += [f"{project['name']}/{n['name']}"
                    for n in server.client.nodes(project["project_id"])
                    if n["status"] != "stopped"]
    return out


def remove(server: Gns3Server, name: str) -> None:
    project = server.client.find_project(name)
    if project:
        if project["status"] == "opened":
            server.client.stop_all(project["project_id"])
        server.client.delete_project(project["project_id"])


BLUEPRINT = """\
name: {name}
defaults: {{appliance: Tiny Push Guest, ram: 64}}
nodes:
  r1: {{}}
  r2: {{}}
links:
  - r1:eth0 -- r2:eth0
"""


def test_push_refuses_a_different_image_of_the_same_name(gns3_server_22: Gns3Server,
                                                         tmp_path: Path) -> None:
    name = f"imgcheck-{uuid.uuid4().hex[:6]}"
    built, image_a = tiny_lab(tmp_path, BLUEPRINT.format(name=name))
    impostor = gns3_server_22.images_dir / image_a.name  # same name, other bytes
    tools.qemu_img("create", "-q", "-f", "qcow2", impostor, "300M")
    assert md5(impostor) != md5(image_a)
    before = started_nodes(gns3_server_22)
    try:
        with pytest.raises(ImageError) as caught:
            push_archive(built.archive, gns3_server_22.url, name=name, start=True)
        message = caught.value.message
        assert f"base image '{image_a.name}' on compute 'local' has md5 {md5(impostor)}" \
            in message
        assert f"the archive was built on md5 {md5(image_a)}" in message
        assert "nodes r1, r2 would run their overlays on the wrong base" in message
        assert "Fix: replace" in message and "rebuild the archive" in message
        assert caught.value.hint == "nothing was imported or started"
        assert gns3_server_22.client.find_project(name) is None
        assert started_nodes(gns3_server_22) == before == []
    finally:
        impostor.unlink()
        impostor.with_name(impostor.name + ".md5sum").unlink(missing_ok=True)
        remove(gns3_server_22, name)


def test_push_refuses_an_image_that_is_missing(gns3_server_22: Gns3Server,
                                               tmp_path: Path) -> None:
    name = f"imgmissing-{uuid.uuid4().hex[:6]}"
    built, image = tiny_lab(tmp_path, BLUEPRINT.format(name=name))
    with pytest.raises(ImageError) as caught:
        push_archive(built.archive, gns3_server_22.url, name=name)
    assert f"base image '{image.name}' (md5 {md5(image)}, {image.stat().st_size} bytes) is " \
           "missing on compute 'local', needed by nodes r1, r2" in caught.value.message
    assert "--upload-images DIR" in caught.value.message
    assert gns3_server_22.client.find_project(name) is None


def test_push_uploads_missing_images(gns3_server: Gns3Server, tmp_path: Path) -> None:
    name = f"imgupload-{uuid.uuid4().hex[:6]}"
    built, image = tiny_lab(tmp_path, BLUEPRINT.format(name=name))
    assert not (gns3_server.images_dir / image.name).exists()
    try:
        result = push_archive(built.archive, gns3_server.url, name=name,
                              upload_from=[image.parent], **credentials(gns3_server))
        assert result.uploaded == [f"{image.name} -> local"]
        listed = {i["filename"]: i for i in gns3_server.client.compute_images("local")}
        assert listed[image.name]["md5sum"] == md5(image)
        assert md5(gns3_server.images_dir / image.name) == md5(image)
        assert sorted(n.name for n in result.nodes) == ["r1", "r2"]
        again = push_archive(built.archive, gns3_server.url, name=name,
                             upload_from=[image.parent], **credentials(gns3_server))
        assert again.uploaded == []  # present and right now: nothing to upload
        assert again.name == f"{name}-1"
    finally:
        remove(gns3_server, name)
        remove(gns3_server, f"{name}-1")
