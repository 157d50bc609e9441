"""Lint and types are tests: ``ruff check`` over the package and the tests, ``mypy`` over the
package, with the settings in pyproject.toml ([tool.ruff], [tool.mypy]) and the versions pinned
in its ``test`` extra.

Both are Python packages of the venv, run as ``python -m``, so they need no program on PATH and
belong in the fast suite (tests/integration/test_fast_suite_pure.py runs it with only Python on
PATH). mypy keeps its cache in the repo's .mypy_cache, so a run after a small change takes a
second or two; ruff caches in .ruff_cache.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.helpers import REPO


def check_clean(*argv: str) -> None:
    """Run ``python -m ARGV`` in the repo with this interpreter; fail with the tool's own report
    (every finding, file:line first) unless it exits 0."""
    proc = subprocess.run([sys.executable, "-m", *argv], cwd=REPO, capture_output=True,
                          text=True, timeout=600)
    if proc.returncode != 0:
        pytest.fail(f"python -m {' '.join(argv)} exited {proc.returncode}:\n"
                    f"{proc.stdout}{proc.stderr}", pytrace=False)


def test_ruff_finds_nothing_in_generator_and_tests() -> None:
    check_clean("ruff", "check", "--no-fix", "generator", "tests")


def test_mypy_finds_no_error_in_generator() -> None:
    check_clean("mypy", "generator")
