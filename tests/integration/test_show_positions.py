"""``gns3lab show`` prints the canvas the archive holds: for every bundled and test blueprint,
the positions in ``gns3lab show --format json`` (nodes, their names, port labels, notes, scene
size) equal those in the ``project.gns3`` of ``gns3lab build --no-images`` (issue 18: they were
computed twice, once without the links, and differed). The build runs qemu-img and ssh-keygen,
hence integration."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from generator.cli import main
from tests.helpers import REPO, make_tiny_appliance
from tests.unit.test_canvas import LABS

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def appliances(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("show-images")
    make_tiny_appliance(folder, "gns3lab Debian 12", "gns3lab-debian-12-canvas.qcow2")
    return folder


def run(args: list[str]) -> str:
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def shown_canvas(model: dict[str, Any]) -> dict[str, Any]:
    """The canvas as ``show`` prints it, in the archive's terms."""
    return {
        "nodes": {n["name"]: (n["x"], n["y"], *n["name_at"]) for n in model["nodes"]},
        "labels": {(lk["link_id"], i): tuple(end["label_at"])
                   for lk in model["links"] for i, end in enumerate((lk["a"], lk["b"]))},
        "notes": {d["drawing_id"]: (d["x"], d["y"]) for d in model["canvas"]["notes"]},
        "scene": (model["canvas"]["width"], model["canvas"]["height"]),
    }


def archived_canvas(project: dict[str, Any]) -> dict[str, Any]:
    """The same figures, read from a built ``project.gns3``."""
    topology = project["topology"]
    return {
        "nodes": {n["name"]: (n["x"], n["y"], n["label"]["x"], n["label"]["y"])
                  for n in topology["nodes"]},
        "labels": {(lk["link_id"], i): (end["label"]["x"], end["label"]["y"])
                   for lk in topology["links"] for i, end in enumerate(lk["nodes"])},
        "notes": {d["drawing_id"]: (d["x"], d["y"]) for d in topology["drawings"]},
        "scene": (project["scene_width"], project["scene_height"]),
    }


#: Not a lab with image recipes of its own (``images/<name>.yaml``): ``build --no-images`` cannot
#: name an image no one built (an archive names it by digest), and building one takes minutes;
#: its canvas goes through the same code as the others'.
BUILDABLE = [lab for lab in LABS if not (REPO / lab / "images").is_dir()]


@pytest.mark.parametrize("lab", BUILDABLE)
def test_show_prints_the_archives_positions(lab: str, appliances: Path, tmp_path: Path) -> None:
    images = ["--images-dir", str(appliances)]
    model = json.loads(run(["show", str(REPO / lab), "--format", "json", *images]))
    run(["build", str(REPO / lab), "--no-images", "-o", str(tmp_path), *images])
    (archive,) = tmp_path.glob("*.gns3project")
    with zipfile.ZipFile(archive) as zf:
        project = json.loads(zf.read("project.gns3"))
    assert {n["name"]: (n["x"], n["y"]) for n in model["nodes"]} == {
        n["name"]: (n["x"], n["y"]) for n in project["topology"]["nodes"]}
    assert shown_canvas(model) == archived_canvas(project)
