"""Bad input that only ``build`` refuses, after its check for qemu-img and ssh-keygen: cases of the
error corpus in tests/errors/ whose blueprint resolves (BUILD_CASES), wrong or missing base
images (checked with qemu-img), a base with no filesystem (libguestfs), and a build that must
succeed. Split from tests/golden/test_errors.py, whose cases are refused before any program
runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.golden.test_errors import (
    BUILD_CASES,
    CHILD_TIMEOUT,
    ERRORS,
    IMAGE_CASES,
    SETUP,
    VALID,
    check_bad_input,
    run_cli,
)
from tests.helpers import make_tiny_appliance

pytestmark = pytest.mark.slow


@pytest.mark.timeout(2 * CHILD_TIMEOUT + 30)
@pytest.mark.parametrize("case", sorted(BUILD_CASES))
def test_bad_input(case: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    """build and validate: exit 2, the golden message, the same first line, no traceback,
    and nothing new on disk (no OUT, no staging folder, no temp file, no key)."""
    check_bad_input(case, tmp_path, request)


@pytest.mark.slow  # the build that succeeds runs qemu-img and ssh-keygen
def test_broken_home_appliance_does_not_block_no_images(tmp_path: Path) -> None:
    """A broken ~/GNS3/images/QEMU/*.gns3a that the lab does not use must not stop a build."""
    SETUP["home-appliance-broken"](tmp_path)
    (tmp_path / "home").mkdir(exist_ok=True)
    (tmp_path / "fine.yaml").write_text(VALID)
    run = run_cli(["build", "fine.yaml", "-o", "out", "--no-images"], tmp_path, child=False)
    assert run.code == 0, run.output
    assert (tmp_path / "out" / "fine.gns3project").is_file()


def check_against_golden(case: str, text: str, request: pytest.FixtureRequest) -> None:
    golden = ERRORS / f"{case}.txt"
    if request.config.getoption("--update-golden"):
        golden.write_text(text)
    assert text == golden.read_text()


@pytest.mark.parametrize("case", sorted(IMAGE_CASES))
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
    (tmp_path / "home").mkdir()
    run = run_cli(["build", "lab.yaml", "-o", "dist", "--images-dir", "images"], tmp_path,
                  child=False)
    assert run.code == 2, run.output
    assert "Traceback" not in run.output
    assert not (tmp_path / "dist").exists() or not any((tmp_path / "dist").iterdir())
    check_against_golden(case, run.output, request)


@pytest.mark.slow
def test_disk_without_filesystem_fails_cleanly(tmp_path: Path) -> None:
    """Injection into a base with no recognisable filesystem: a clear error, an empty dist/."""
    make_tiny_appliance(tmp_path / "images", "Tiny Guest", "tiny-guest-blank.qcow2")
    (tmp_path / "lab.yaml").write_text("name: blank\nnodes:\n  vm1:\n    appliance: Tiny Guest\n"
                                       "    inject:\n      - {path: /etc/motd, content: hi}\n")
    (tmp_path / "home").mkdir()
    run = run_cli(["build", "lab.yaml", "-o", "dist", "--images-dir", "images"], tmp_path,
                  child=False)
    assert run.code == 2, run.output
    assert "Traceback" not in run.output
    assert "vm1" in run.output and "filesystem" in run.output, run.output
    leftovers = [p for p in (tmp_path / "dist").rglob("*") if "keys" not in p.parts]
    assert leftovers == [], leftovers
