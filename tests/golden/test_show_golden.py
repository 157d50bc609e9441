"""The resolved model, as ``gns3lab show --format json`` prints it, of every bundled blueprint
(blueprints/*) and every test blueprint (tests/data/blueprints/*): one golden file per blueprint
in tests/data/golden/show/<name>.json. Resolving runs no program, so neither does this test.

``pytest tests/golden/test_show_golden.py --update-golden`` rewrites the folder (a file for a
blueprint that is gone is deleted); review the diff: every change in it is a change of the
model a build would use.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from generator.cli import main
from tests.golden.test_readme import write_lifecycle_appliance
from tests.helpers import DATA, REPO
from tests.support.golden import check_golden

GOLDEN = DATA / "golden" / "show"
BLUEPRINTS = {p.parent.name: p.parent for folder in (REPO / "blueprints", DATA / "blueprints")
              for p in sorted(folder.glob("*/lab.yaml"))}


def show_json(blueprint: Path, appliances: Path, home: Path) -> bytes:
    """``gns3lab show BLUEPRINT --format json``, run from the repository with HOME and the
    images folder set, so no path of this machine gets into the output."""
    result = CliRunner().invoke(
        main, ["show", str(blueprint.relative_to(REPO)), "--format", "json",
               "--images-dir", str(appliances)],
        env={"HOME": str(home), "GNS3LAB_IMAGES": ""}, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output.encode()


@pytest.fixture(scope="module")
def produced(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """Every blueprint's model, by golden file name."""
    appliances = write_lifecycle_appliance(tmp_path_factory.mktemp("appliances"))
    home = tmp_path_factory.mktemp("home")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(REPO)
        return {f"{name}.json": show_json(path, appliances, home)
                for name, path in BLUEPRINTS.items()}


def test_every_blueprint_is_covered() -> None:
    assert set(BLUEPRINTS) >= {"demo", "openstack-ceph", "openstack-ceph-mini", "builtins",
                               "fabric"}, sorted(BLUEPRINTS)
    assert len(BLUEPRINTS) == len(list(REPO.glob("blueprints/*/lab.yaml"))) + len(
        list(DATA.glob("blueprints/*/lab.yaml"))), "two blueprints share a folder name"


def test_show_json_matches_golden(produced: dict[str, bytes],
                                  request: pytest.FixtureRequest) -> None:
    check_golden(request, GOLDEN, produced)


@pytest.mark.parametrize("name", sorted(BLUEPRINTS))
def test_show_json_is_the_model_and_machine_independent(name: str,
                                                        produced: dict[str, bytes]) -> None:
    """Each golden is one JSON document naming the lab and its nodes, with no path of the
    machine that made it (the temp images folder, HOME, the repository)."""
    text = produced[f"{name}.json"].decode()
    model = json.loads(text)
    assert model["nodes"] and all(node["name"] for node in model["nodes"])
    for local in (str(REPO), "/tmp/", "pytest-of-"):
        assert local not in text, f"{name}: output names {local}"
