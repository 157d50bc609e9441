"""Every project gns3lab writes passes the real servers' own schemas, built-ins included.

The servers here can't open ``nat`` (needs libvirt's virbr0) or ``ethernet_switch`` (needs
dynamips), so their nodes are checked against the schemas those servers validate with: GNS3
2.2.61's topology and compute create schemas, and 3.0.6's pydantic models.
"""

from __future__ import annotations

import subprocess
import zipfile
from pathlib import Path

import pytest

from generator.build import BuildOptions, build_lab
from tests.helpers import BLUEPRINTS, DATA, REPO

pytestmark = pytest.mark.slow

CHECKER = REPO / "tests" / "support" / "schema_check.py"
VENVS = {"2.2": REPO / ".cache" / "gns3" / "v22", "3.0": REPO / ".cache" / "gns3" / "v30"}
GOLDEN = sorted((DATA / "golden").glob("*/project.gns3"))


@pytest.fixture(scope="session", params=sorted(VENVS))
def server_python(request: pytest.FixtureRequest) -> Path:
    python = VENVS[request.param] / "bin" / "python"
    if not python.exists():
        subprocess.run(["bash", str(REPO / "tests" / "support" / "provision_gns3.sh")],
                       check=True)
    return python


def check(python: Path, project: bytes) -> str:
    # -P: the checker sits beside our gns3server.py fixture module, which must not shadow GNS3.
    proc = subprocess.run([str(python), "-P", str(CHECKER)], input=project, capture_output=True,
                          timeout=120, check=False)
    return (proc.stdout + proc.stderr).decode().strip()


@pytest.mark.parametrize("golden", GOLDEN, ids=[p.parent.name for p in GOLDEN])
def test_golden_projects_pass_server_schemas(server_python: Path, golden: Path) -> None:
    assert check(server_python, golden.read_bytes()) == "ok"


@pytest.mark.parametrize("blueprint", ["openstack-ceph", "demo"])
def test_bundled_blueprints_pass_server_schemas(server_python: Path, blueprint: str,
                                                tmp_path: Path) -> None:
    images = tmp_path / "images"  # the demo's appliance: a stand-in with the right name
    from tests.helpers import make_tiny_appliance

    make_tiny_appliance(images, "gns3lab Debian 12", "gns3lab-debian-12-schema.qcow2")
    result = build_lab(REPO / "blueprints" / blueprint,
                       BuildOptions(out_dir=tmp_path / "dist", images_dirs=(images,),
                                    no_images=True))
    with zipfile.ZipFile(result.archive) as zf:
        assert check(server_python, zf.read("project.gns3")) == "ok"


def test_a_bad_key_is_caught(server_python: Path) -> None:
    """The checker itself: an unknown node key fails 2.2; a bad enum fails 3.0."""
    text = (BLUEPRINTS.parent / "golden" / "builtins" / "project.gns3").read_text()
    bad = text.replace('"adapter_type": "virtio-net-pci"', '"adapter_type": "bogus-nic"', 1)
    bad = bad.replace('"locked": false', '"locked": false, "bogus": 1', 1)
    assert check(server_python, bad.encode()) != "ok"


def test_a_versioned_lab_names_its_project_and_passes(server_python: Path,
                                                      tmp_path: Path) -> None:
    """``version:`` names the archive and the project and is a project variable GNS3 shows."""
    import json
    import shutil

    bp = tmp_path / "bp"
    shutil.copytree(BLUEPRINTS / "fabric", bp)
    text = (bp / "lab.yaml").read_text().replace("name: fabric\n", "name: fabric\nversion: 2.1.0\n")
    (bp / "lab.yaml").write_text(text)
    result = build_lab(bp, BuildOptions(out_dir=tmp_path / "dist", no_images=True))
    assert result.archive.name == "fabric-2.1.0.gns3project"
    with zipfile.ZipFile(result.archive) as zf:
        data = zf.read("project.gns3")
        manifest = json.loads(zf.read("gns3lab/manifest.json"))
    project = json.loads(data)
    assert project["name"] == "fabric-2.1.0"
    assert project["variables"] == [{"name": "lab_version", "value": "2.1.0"}]
    assert manifest["version"] == "2.1.0" and manifest["generator"].startswith("gns3lab ")
    assert isinstance(manifest["source_date_epoch"], int)
    assert check(server_python, data) == "ok"
