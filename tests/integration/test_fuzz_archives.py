"""gns3lab inspect on mutated copies of a real built archive (the build runs qemu-img and
ssh-keygen). Split from tests/unit/test_fuzz.py."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given

from generator.cli import main
from tests.unit import test_fuzz as fuzz_unit
from tests.unit.test_fuzz import (
    archive_mutants,
    fuzz,
)

# Fixtures of tests/unit/test_fuzz.py, shared under the names pytest finds them by.
sandbox = fuzz_unit.sandbox

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def real_archive(sandbox: Path) -> bytes:
    """One real ``--no-images`` archive of the fabric lab: VMs with seeds, a cloud, links
    (needs qemu-img and ssh-keygen)."""
    out = sandbox / "dist"
    result = CliRunner().invoke(main, ["build", str(sandbox / "tests/fabric"), "-o", str(out),
                                       "--no-images"])
    assert result.exit_code == 0, result.output
    return next(out.glob("*.gns3project")).read_bytes()


@pytest.mark.slow
@pytest.mark.timeout(150)
def test_inspect_mutated_archives(real_archive: bytes, sandbox: Path) -> None:
    """inspect: exit 0 or 2, never a traceback, never a hang (each run has the test's timeout)."""
    target = sandbox / "fuzz.gns3project"

    @fuzz(400)
    @given(archive_mutants(real_archive))
    def run(blob: bytes) -> None:
        target.write_bytes(blob)
        result = CliRunner().invoke(main, ["inspect", str(target)])
        assert result.exit_code in (0, 2), (result.output, result.exc_info)
        assert result.exception is None or isinstance(result.exception, SystemExit)

    run()
