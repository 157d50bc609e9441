"""gns3lab inspect, verify and diff on mutated copies of a real built archive (the build runs
qemu-img and ssh-keygen): the zip mutated, and its seed ISOs' bytes mutated (pycdlib parses a
stranger's image). Split from tests/unit/test_fuzz.py."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from generator.cli import main
from tests.unit import test_fuzz as fuzz_unit
from tests.unit.test_fuzz import (
    archive_mutants,
    fuzz,
    members,
    rezip,
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


#: Where a seed ISO's structures are: volume descriptors from 32 KiB, then path tables and
#: directory records (pycdlib lays the few files of a seed after them).
ISO_STRUCTURES = range(32 << 10, 64 << 10)


@st.composite
def seed_mutants(draw: st.DrawFn, archive: bytes) -> bytes:
    """The archive with one seed ISO's bytes overwritten in a few places of its structures."""
    items = [(i.filename, data) for i, data in members(archive)]
    seeds = [k for k, (name, _) in enumerate(items) if name.endswith(".iso")]
    k = draw(st.sampled_from(seeds))
    data = bytearray(items[k][1])
    for _ in range(draw(st.integers(1, 8))):
        at = draw(st.sampled_from(ISO_STRUCTURES))
        if at < len(data):
            data[at] = draw(st.integers(0, 255))
    items[k] = (items[k][0], bytes(data))
    return rezip(items)


def check_reader(args: list[str], codes: tuple[int, ...]) -> None:
    result = CliRunner().invoke(main, args)
    assert result.exit_code in codes, (result.output, result.exc_info)
    assert result.exception is None or isinstance(result.exception, SystemExit)


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_verify_and_diff_mutated_archives(real_archive: bytes, sandbox: Path) -> None:
    """verify (0 or 2) and diff against the real archive (0, 1 or 2): never a traceback."""
    target, good = sandbox / "fuzz.gns3project", sandbox / "good.gns3project"
    good.write_bytes(real_archive)

    @fuzz(150)
    @given(archive_mutants(real_archive) | seed_mutants(real_archive))
    def run(blob: bytes) -> None:
        target.write_bytes(blob)
        check_reader(["verify", str(target)], (0, 2))
        check_reader(["diff", str(good), str(target)], (0, 1, 2))

    run()
