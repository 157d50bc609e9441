"""The CLI surface: validate, show, schema, inspect (fast, no VMs)."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import yaml
from click.testing import CliRunner

from generator.cli import main
from tests.helpers import BLUEPRINTS, REPO

FABRIC = BLUEPRINTS / "fabric"


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def test_validate_reports_counts() -> None:
    code, out = invoke("validate", str(FABRIC))
    assert code == 0
    assert out.strip() == "fabric: ok (5 nodes, 6 links)"


def test_show_prints_resolved_model() -> None:
    code, out = invoke("show", str(FABRIC), "--format", "json")
    assert code == 0
    data = json.loads(out)
    names = [n["name"] for n in data["nodes"]]
    assert names == ["leaf1", "leaf2", "server1", "server2", "uplink"]
    server = next(n for n in data["nodes"] if n["name"] == "server1")
    assert server["nics"][0]["name"] == "eth0"
    assert server["interfaces"][3]["addresses"] == ["172.29.236.11/22"]


def test_schema_validates_every_blueprint() -> None:
    code, out = invoke("schema")
    assert code == 0
    schema = json.loads(out)
    files = [p for p in (REPO / "blueprints").glob("*/lab.yaml")] + [FABRIC / "lab.yaml"]
    assert files
    for path in files:
        jsonschema.validate(yaml.safe_load(path.read_text()), schema)
    bad = yaml.safe_load((FABRIC / "lab.yaml").read_text()) | {"nodez": {}}
    try:
        jsonschema.validate(bad, schema)
    except jsonschema.ValidationError as exc:
        assert "nodez" in str(exc)
    else:
        raise AssertionError("schema accepted an unknown key")


def test_inspect_rejects_a_non_archive(tmp_path: Path) -> None:
    junk = tmp_path / "junk.gns3project"
    junk.write_text("not a zip")
    code, out = invoke("inspect", str(junk))
    assert code == 2
    assert out.startswith("error: ") and "not a readable .gns3project" in out
