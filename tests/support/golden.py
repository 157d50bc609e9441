"""Golden files: a set of produced files compared with a folder of expected ones.

``pytest --update-golden`` rewrites the folder to match exactly: changed files are rewritten,
new ones added and stale ones deleted, so the folder never keeps a file nothing produces.
Review the diff before committing.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest


def expected_files(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` by its relative POSIX path."""
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def update_folder(folder: Path, produced: dict[str, bytes]) -> None:
    """Make ``folder`` hold exactly ``produced``: stale files and empty folders go."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in set(expected_files(folder)) - set(produced):
        (folder / name).unlink()
    for name, data in produced.items():
        target = folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists() or target.read_bytes() != data:
            target.write_bytes(data)
    for sub in sorted((p for p in folder.rglob("*") if p.is_dir()), reverse=True):
        if not any(sub.iterdir()):
            shutil.rmtree(sub)


def check_golden(request: pytest.FixtureRequest, folder: Path,
                 produced: dict[str, bytes]) -> None:
    """Assert ``produced`` equals the files under ``folder`` (same names, same bytes); with
    ``--update-golden``, rewrite the folder first."""
    if request.config.getoption("--update-golden"):
        update_folder(folder, produced)
    expected = expected_files(folder)
    assert sorted(produced) == sorted(expected), (
        f"set of files under {folder} changed: missing {sorted(set(expected) - set(produced))}, "
        f"new {sorted(set(produced) - set(expected))} (rerun with --update-golden and review)")
    for name, data in expected.items():
        if produced[name] != data:
            try:
                assert produced[name].decode() == data.decode(), f"{folder.name}/{name} differs"
            except UnicodeDecodeError:
                raise AssertionError(f"{folder.name}/{name} differs (binary)") from None
