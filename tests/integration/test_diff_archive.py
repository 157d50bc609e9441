"""gns3lab diff of a built archive against blueprints (the build runs qemu-img and
ssh-keygen). Split from tests/unit/test_diff.py."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from generator.cli import main
from generator.read.diff import archive_view, blueprint_view, diff_views
from tests.helpers import DATA
from tests.unit import test_diff as diff_unit
from tests.unit.test_diff import (
    diff_json,
    run_diff,
)

# Fixtures of tests/unit/test_diff.py, shared under the names pytest finds them by.
appliances = diff_unit.appliances

pytestmark = pytest.mark.slow


@pytest.mark.slow
def test_archive_against_blueprints(appliances: Path, tmp_path: Path) -> None:
    """A `build --no-images` archive equals its blueprint, and differs from a changed one the
    way the two blueprints differ (qemu-img makes the overlays)."""
    out = tmp_path / "dist"
    build = CliRunner().invoke(main, ["build", str(DATA / "diff" / "base"), "-o", str(out),
                                      "--no-images", "--images-dir", str(appliances)])
    assert build.exit_code == 0, build.output
    (archive,) = out.glob("*.gns3project")
    same = run_diff(archive, DATA / "diff" / "base", appliances)
    assert same.exit_code == 0, same.output
    assert "not compared: files from inject: entries" in same.output
    assert run_diff(archive, archive, appliances).exit_code == 0
    changed = diff_json(archive, DATA / "diff" / "address-changed", appliances)
    assert changed["equal"] is False
    between_blueprints = diff_views(blueprint_view(DATA / "diff" / "base", (appliances,)),
                                    blueprint_view(DATA / "diff" / "address-changed",
                                                   (appliances,))).to_json()
    for section in ("nodes", "links", "interfaces", "images", "stages", "seeds", "files"):
        assert changed[section] == between_blueprints[section], section
    # the archive's seeds are read back from its ISOs: the lab key was normalised in them
    view = archive_view(archive)
    assert view.lab_key and view.lab_key.startswith("ssh-ed25519 ")
    assert all(view.lab_key not in text for text in view.seeds.values())
    assert "<lab key>" in view.seeds["srv1/user-data"]
