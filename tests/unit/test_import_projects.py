"""``gns3lab import`` of project files real GNS3 servers wrote:
``tests/data/import/api-2.2.61.gns3`` and ``api-3.0.6.gns3`` (revision 9 and 10), made through
each server's REST API by tests/integration/test_import_gns3.py's ``make_api_project`` (QEMU
nodes R1, R2 and a cloud, three links, one with a delay filter, a text and a rectangle
drawing). The blueprint written is a golden (``api-<version>.lab.yaml``, ``--update-golden``
rewrites it); it validates."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from generator.build import load_lab
from generator.cli import main
from generator.importing import import_project
from tests.helpers import DATA, make_tiny_appliance

CORPUS = DATA / "import"
VERSIONS = ["2.2.61", "3.0.6"]
IMAGE, APPLIANCE = "tiny-import-rt.qcow2", "Tiny Import Guest"


@pytest.fixture
def images(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The image the servers' nodes name, with its appliance; and an empty HOME."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("GNS3LAB_IMAGES", raising=False)
    folder = tmp_path / "images"
    make_tiny_appliance(folder, APPLIANCE, IMAGE)
    return folder


@pytest.mark.parametrize("version", VERSIONS)
def test_server_written_project(request: pytest.FixtureRequest, tmp_path: Path, images: Path,
                                version: str) -> None:
    result = import_project(CORPUS / f"api-{version}.gns3", tmp_path / "bp",
                            images_dirs=(images,))
    text = (result.folder / "lab.yaml").read_text()
    golden = CORPUS / f"api-{version}.lab.yaml"
    if request.config.getoption("--update-golden"):
        golden.write_text(text)
    assert text == golden.read_text()
    lab = load_lab(result.folder, (images,))
    assert {n.name: n.type for n in lab.nodes} == {"r1": "qemu", "r2": "qemu",
                                                   "cloud1": "cloud"}
    ends = {frozenset(((lk.a.node, lk.a.adapter, lk.a.port), (lk.b.node, lk.b.adapter,
                                                               lk.b.port))) for lk in lab.links}
    assert ends == {frozenset({("r1", 0, 0), ("r2", 0, 0)}),
                    frozenset({("r1", 2, 0), ("r2", 1, 0)}),
                    frozenset({("cloud1", 0, 0), ("r1", 1, 0)})}
    assert [lk.filters for lk in lab.links if lk.filters] == [(("delay", (15, 3)),)]
    r1 = lab.node("r1")
    assert (r1.ram, r1.cpus, r1.adapters, r1.boot_priority) == (128, 2, 3, "cd")
    assert len(lab.canvas.drawings) == 2 and not lab.canvas.notes
    assert any("(md5)" in line for line in result.did)
    assert any("'R1' is now 'r1'" in line for line in result.lost)


def test_unknown_image_gets_a_generated_appliance(tmp_path: Path, images: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing knows the image (no image folder has it): a .gns3a is written beside lab.yaml
    with the node's settings, and the blueprint validates."""
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["import", str(CORPUS / "api-3.0.6.gns3"), "-o", "bp"])
    assert result.exit_code == 0, result.output
    generated = tmp_path / "bp" / "appliances" / "tiny-import-rt.gns3a"
    assert generated.is_file()
    assert "generated appliances/tiny-import-rt.gns3a" in result.output
    lab = yaml.safe_load((tmp_path / "bp" / "lab.yaml").read_text())
    assert lab["nodes"]["r1"]["appliance"] == "imported tiny-import-rt"
    assert CliRunner().invoke(main, ["validate", "bp"]).exit_code == 0
    assert sorted(os.listdir(tmp_path)) == ["bp", "images"]  # nothing else


def test_existing_folder_is_refused(tmp_path: Path, images: Path) -> None:
    (tmp_path / "bp").mkdir()
    (tmp_path / "bp" / "mine.txt").write_text("keep me\n")
    result = CliRunner().invoke(main, ["import", str(CORPUS / "api-2.2.61.gns3"), "-o",
                                       str(tmp_path / "bp")])
    assert result.exit_code == 2
    assert "exists and is not an empty folder" in result.output
    assert sorted(os.listdir(tmp_path / "bp")) == ["mine.txt"]
