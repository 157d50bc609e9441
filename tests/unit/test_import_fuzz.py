"""Fuzz ``gns3lab import``: a real server's project file (tests/data/import/api-2.2.61.gns3)
mutated as test_fuzz mutates blueprints (values dropped, renamed, replaced by random scalars,
strings with control characters, huge numbers, nested lists), and random JSON. Only success
(exit 0, a folder ``validate`` accepts) or one clear error (exit 2, nothing written); never a
traceback. Bounded for CI like test_fuzz (derandomized, max_examples)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from generator.cli import main
from tests.helpers import DATA
from tests.unit.test_fuzz import VALUES, fuzz, mutate, paths

PROJECT = json.loads((DATA / "import" / "api-2.2.61.gns3").read_text())


@st.composite
def mutants(draw: st.DrawFn) -> Any:
    data = json.loads(json.dumps(PROJECT))
    for _ in range(draw(st.integers(1, 4))):
        where = draw(st.sampled_from(paths(data)))
        op = draw(st.sampled_from(["drop", "rename", "replace", "replace", "list", "nest"]))
        data = mutate(data, where, op, draw(VALUES))
    return data


def check_import(root: Path, data: Any) -> None:
    work = root / "run"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    source = work / "p.gns3"
    try:
        source.write_text(json.dumps(data, allow_nan=True), encoding="utf-8",
                          errors="surrogatepass")
    except (ValueError, OverflowError):  # pragma: no cover - not writable as JSON
        return
    result = CliRunner().invoke(main, ["import", str(source), "-o", str(work / "out")])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert result.exit_code in (0, 2), result.output
    if result.exit_code == 2:
        assert sorted(os.listdir(work)) == ["p.gns3"], result.output
    else:
        check = CliRunner().invoke(main, ["validate", str(work / "out")])
        assert check.exit_code == 0, check.output


@pytest.mark.timeout(150)
@fuzz(150)
@given(mutants())
def test_mutated_server_projects(tmp_path_factory: pytest.TempPathFactory, data: Any) -> None:
    check_import(tmp_path_factory.getbasetemp() / "import-fuzz", data)


@pytest.mark.timeout(60)
@fuzz(100)
@given(VALUES)
def test_random_json(tmp_path_factory: pytest.TempPathFactory, data: Any) -> None:
    check_import(tmp_path_factory.getbasetemp() / "import-fuzz-json", data)
