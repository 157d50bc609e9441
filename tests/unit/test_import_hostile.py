"""A hostile project: ``gns3lab import`` exits 2 with one message per problem (the golden
``tests/data/import/hostile/<case>.txt``), never a traceback, and writes nothing.

The corpus is ``tests/data/import/hostile/*.gns3`` (wrong types, names with control or shell
characters, links to missing nodes, duplicate ids, a node id that is a path, out-of-range
numbers, unsupported node types, not JSON) and, made at test time, what git should not hold:
a file past the 8 MiB read, JSON nested 100,000 deep, a FIFO. ``--update-golden`` rewrites the
goldens (review the diff)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from generator.cli import main
from tests.helpers import DATA

CORPUS = DATA / "import" / "hostile"
CASES = sorted(p.stem for p in CORPUS.glob("*.gns3"))
MADE = {
    "huge": lambda p: p.write_bytes(b'{"name": "' + b"x" * (9 << 20) + b'"}'),
    "deep": lambda p: p.write_text("[" * 100_000 + "]" * 100_000),
    "fifo": lambda p: os.mkfifo(p),
}


def run_import(tmp_path: Path, source: Path, *args: str) -> tuple[int, str]:
    """Run the command in ``tmp_path`` with a relative source (the goldens hold no tmp path);
    assert it never raised and left nothing behind."""
    os.chdir(tmp_path)
    result = CliRunner().invoke(main, ["import", source.name, "-o", "out", *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert "Traceback" not in result.output and "internal error" not in result.output
    return result.exit_code, result.output


def check_text(request: pytest.FixtureRequest, case: str, text: str) -> None:
    golden = CORPUS / f"{case}.txt"
    if request.config.getoption("--update-golden"):
        golden.write_text(text)
    assert text == golden.read_text()


@pytest.mark.parametrize("case", CASES)
def test_hostile_project(request: pytest.FixtureRequest, tmp_path: Path,
                         monkeypatch: pytest.MonkeyPatch, case: str) -> None:
    monkeypatch.chdir(tmp_path)
    source = tmp_path / f"{case}.gns3"
    source.write_bytes((CORPUS / f"{case}.gns3").read_bytes())
    code, output = run_import(tmp_path, source)
    assert code == 2, output
    assert sorted(p.name for p in tmp_path.iterdir()) == [source.name]  # nothing written
    check_text(request, case, output)


@pytest.mark.parametrize("case", sorted(MADE))
def test_hostile_file(request: pytest.FixtureRequest, tmp_path: Path,
                      monkeypatch: pytest.MonkeyPatch, case: str) -> None:
    monkeypatch.chdir(tmp_path)
    source = tmp_path / f"{case}.gns3"
    MADE[case](source)
    code, output = run_import(tmp_path, source)
    assert code == 2, output
    assert sorted(p.name for p in tmp_path.iterdir()) == [source.name]
    check_text(request, case, output)


def test_skip_unsupported_imports_the_rest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                           ) -> None:
    """--skip-unsupported: the other nodes are imported, each skipped node (and its links) is
    listed with what to do."""
    monkeypatch.chdir(tmp_path)
    source = tmp_path / "unsupported-types.gns3"
    source.write_bytes((CORPUS / "unsupported-types.gns3").read_bytes())
    code, output = run_import(tmp_path, source, "--skip-unsupported")
    assert code == 0, output
    assert "out/lab.yaml: 1 nodes, 0 links" in output
    for name in ("pc1", "docker1", "c7200"):
        assert sum(f"node '{name}' (" in line and "skipped" in line
                   for line in output.splitlines()) == 1
    result = CliRunner().invoke(main, ["validate", "out"])
    assert result.exit_code == 0, result.output
