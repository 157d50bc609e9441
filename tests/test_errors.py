"""Bad input: one clear message naming file, line and fix; exit code 2; nothing in dist/.

Expected messages are golden files (``tests/data/errors/<case>.txt``); rewrite them with
``pytest tests/test_errors.py --update-golden`` and review the diff.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from generator.cli import main
from tests.helpers import DATA, make_tiny_appliance

ERRORS = DATA / "errors"
CASES = sorted(p.stem for p in ERRORS.glob("*.yaml"))


def run_build(blueprint: Path, out: Path, *extra: str) -> tuple[int, str]:
    """Run the CLI; return the exit code and its output without the timed progress lines."""
    result = CliRunner().invoke(main, ["build", str(blueprint), "-o", str(out), *extra])
    lines = [line for line in result.output.splitlines(keepends=True) if not line.startswith("[")]
    return result.exit_code, "".join(lines)


def check_against_golden(case: str, text: str, request: pytest.FixtureRequest) -> None:
    golden = ERRORS / f"{case}.txt"
    if request.config.getoption("--update-golden"):
        golden.write_text(text)
    assert text == golden.read_text()


@pytest.mark.parametrize("case", CASES)
def test_blueprint_errors(case: str, tmp_path: Path, request: pytest.FixtureRequest,
                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    shutil.copy(ERRORS / f"{case}.yaml", tmp_path / f"{case}.yaml")
    code, output = run_build(Path(f"{case}.yaml"), tmp_path / "dist", "--no-images")
    assert code == 2, output
    assert "Traceback" not in output
    assert output.startswith(f"error: {case}.yaml:")
    assert "fix:" in output
    assert not (tmp_path / "dist").exists() or not any((tmp_path / "dist").iterdir())
    check_against_golden(case, output, request)


@pytest.mark.parametrize("case", ["missing-image", "wrong-checksum"])
def test_image_errors(case: str, tmp_path: Path, request: pytest.FixtureRequest,
                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    images = Path("images")
    make_tiny_appliance(images, "Tiny Guest", "tiny-guest-errors.qcow2")
    if case == "missing-image":
        (images / "tiny-guest-errors.qcow2").unlink()
    else:  # same size, other content
        with (images / "tiny-guest-errors.qcow2").open("r+b") as fh:
            fh.seek(4096)
            fh.write(b"tampered")
    Path("lab.yaml").write_text("name: img\nnodes:\n  vm1: {appliance: Tiny Guest}\n")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("GNS3LAB_IMAGES", raising=False)
    code, output = run_build(Path("lab.yaml"), tmp_path / "dist", "--images-dir", "images")
    assert code == 2, output
    assert "Traceback" not in output
    assert not (tmp_path / "dist").exists() or not any((tmp_path / "dist").iterdir())
    check_against_golden(case, output.replace(str(tmp_path), "<tmp>"), request)


@pytest.mark.slow
def test_disk_without_filesystem_fails_cleanly(tmp_path: Path, request: pytest.FixtureRequest,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """Injection into a base with no recognisable filesystem: a clear error, an empty dist/."""
    monkeypatch.chdir(tmp_path)
    make_tiny_appliance(Path("images"), "Tiny Guest", "tiny-guest-blank.qcow2")  # no filesystem
    Path("lab.yaml").write_text("name: blank\nnodes:\n  vm1:\n    appliance: Tiny Guest\n"
                                "    inject:\n      - {path: /etc/motd, content: hi}\n")
    code, output = run_build(Path("lab.yaml"), tmp_path / "dist", "--images-dir", "images")
    assert code == 2, output
    assert "Traceback" not in output
    assert "vm1" in output and "filesystem" in output, output
    leftovers = [p for p in (tmp_path / "dist").rglob("*") if "keys" not in p.parts]
    assert leftovers == [], leftovers
