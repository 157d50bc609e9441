"""gns3lab diff of blueprint pairs (tests/data/diff/) against golden output, human and --json.

``pytest tests/golden/test_diff_golden.py --update-golden`` rewrites
tests/data/golden/lifecycle/diff/. Split from tests/unit/test_diff.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.golden.test_readme import GOLDEN, check_golden
from tests.unit import test_diff as diff_unit
from tests.unit.test_diff import (
    CASES,
    PAIRS,
    run_diff,
)

# Fixtures of tests/unit/test_diff.py, shared under the names pytest finds them by.
appliances = diff_unit.appliances
in_repo = diff_unit.in_repo


@pytest.mark.usefixtures("in_repo")
@pytest.mark.parametrize("case", CASES)
def test_diff_golden(case: str, appliances: Path, request: pytest.FixtureRequest) -> None:
    human = run_diff(PAIRS / "base", PAIRS / case, appliances)
    assert human.exit_code == 1, human.output
    check_golden(human.output.encode(), GOLDEN / "diff" / f"{case}.txt", request)
    as_json = run_diff(PAIRS / "base", PAIRS / case, appliances, "--json")
    assert as_json.exit_code == 1, as_json.output
    check_golden(as_json.output.encode(), GOLDEN / "diff" / f"{case}.json", request)
