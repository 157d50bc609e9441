"""The full blueprints/openstack-ceph built (qemu-img, pycdlib) with ``--no-images``: the 15
VMs run recipe images (osa-host, debian-12, frr) the test does not boot, so the archive carries
no image, but every overlay names its recipe image, every seed is there, and ``verify`` finds
all 15 of each sound. (issue 20: the full lab builds with every image from a recipe.)"""

from __future__ import annotations

import json
import zipfile

import pytest

from generator.build import BuildOptions, BuildResult, build_lab
from generator.read.verify import verify_archive
from tests.helpers import REPO
from tests.unit.test_openstack_open import RECIPES

BLUEPRINT = REPO / "blueprints" / "openstack-ceph"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> BuildResult:
    return build_lab(BLUEPRINT, BuildOptions(out_dir=tmp_path_factory.mktemp("dist"),
                                             no_images=True))


def test_all_15_overlays_and_seeds_verify(built: BuildResult) -> None:
    report = verify_archive(built.archive)
    # 15 system disks and the 3 OSD data disks; one seed per VM (all run cloud-init)
    assert report.checked["overlays"] == 15 + 3 and report.checked["seeds"] == 15
    assert report.checked["images"] == 3  # osa-host, debian-12 and frr, by recipe
    assert report.ok, [p.render() for p in report.problems]


def test_every_vm_runs_its_recipe_image(built: BuildResult) -> None:
    with zipfile.ZipFile(built.archive) as zf:
        name = next(n for n in zf.namelist() if n.endswith(".gns3") and "/" not in n)
        nodes = json.loads(zf.read(name))["topology"]["nodes"]
    disks = {n["name"]: n["properties"]["hda_disk_image"] for n in nodes
             if n["node_type"] == "qemu"}
    assert set(disks) == set(RECIPES)
    for node, image in disks.items():
        assert image.startswith(f"gns3lab-{RECIPES[node]}-"), (node, image)
