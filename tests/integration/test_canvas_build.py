"""The project.gns3 inside a built archive is the one tests/unit/test_canvas.py measures: the
build (qemu-img overlays, ssh-keygen key) writes ``dump_project(render_project(lab))`` unchanged."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import pytest

from generator.build import BuildOptions, build_lab
from generator.render.project import dump_project, render_project
from tests.helpers import REPO
from tests.integration.test_show_positions import BUILDABLE
from tests.unit import test_canvas as canvas_unit

# Fixtures of tests/unit/test_canvas.py, shared under the names pytest finds them by.
appliances = canvas_unit.appliances
results = canvas_unit.results

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("lab", BUILDABLE)
def test_built_archive_holds_the_rendered_project(lab: str, appliances: Path,
                                                  results: dict[str, Any],
                                                  tmp_path: Path) -> None:
    built = build_lab(REPO / lab, BuildOptions(out_dir=tmp_path, images_dirs=(appliances,),
                                               no_images=True))
    with zipfile.ZipFile(built.archive) as zf:
        written = zf.read("project.gns3")
    assert written == dump_project(render_project(results[lab]))
    assert json.loads(written) == canvas_unit.built_project(built.lab)
