"""Every command that reads an archive stays within bounds on a stranger's archive (issue 17,
findings 7 and 11): constant memory, linear time, exit 2 with one clear message, never 70.

The archives come from :mod:`tests.support.hostile_archives` (small on disk, built in a temp
folder); each command runs as the real CLI in a subprocess whose peak RSS is measured from a
fresh parent (:mod:`tests.support.peak`). ``push`` goes to a closed port on 127.0.0.1, so only
its reading of the archive (everything before the server call) is exercised.
"""

from __future__ import annotations

import os
import socket
import sys
import time
from pathlib import Path

import pytest

from tests.support.hostile_archives import MAKERS
from tests.support.peak import Measured, measure

pytestmark = pytest.mark.slow
CEILING_MB = 200
#: What any reader may use at most, as an address-space limit: a run past it fails fast
#: (MemoryError) instead of swapping the shared machine.
AS_LIMIT = 2 << 30
#: Archives every reader must refuse as soon as it opens them (the member list alone).
REFUSED_ON_OPENING = ("zip-bomb", "many-members", "case-disk", "case-project", "nfd-name")


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("hostile")
    return {name: make(folder) for name, make in MAKERS.items()}


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty HOME and image cache: no image of the host is found, none is written."""
    home = tmp_path_factory.mktemp("home")
    (home / "images").mkdir()
    return home


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def commands(archive: Path) -> dict[str, list[str]]:
    """Every command that reads an archive, by a short name."""
    a = str(archive)
    return {"inspect": ["inspect", a], "verify": ["verify", a], "diff": ["diff", a, a],
            "images-list": ["images", "list", a], "images-verify": ["images", "verify", a],
            "images-pull": ["images", "pull", a],
            "push": ["push", a, "--server", f"http://127.0.0.1:{closed_port()}"]}


def gns3lab(args: list[str], home: Path, out: Path) -> tuple[Measured, float]:
    """Run the CLI; its exit code, output, peak RSS, and the seconds it took."""
    env = dict(os.environ, HOME=str(home), GNS3LAB_IMAGES=str(home / "images"))
    start = time.monotonic()
    run = measure([sys.executable, "-m", "generator.cli", *args], out, env=env,
                  limit_bytes=AS_LIMIT, timeout=300)
    return run, time.monotonic() - start


def assert_refused(run: Measured, *words: str) -> None:
    """Exit 2 with a message (no traceback, no bug report) naming ``words``."""
    assert run.returncode == 2, run.output
    assert "Traceback" not in run.output and "internal error" not in run.output, run.output
    for word in words:
        assert word in run.output, run.output


# --------------------------------------------------------------------------- finding 7


def test_verify_does_not_reread_a_big_project(hostile: dict[str, Path], home: Path,
                                              tmp_path: Path) -> None:
    """A 256 MiB project.gns3 in a 1 MB zip: refused by its size, read once, never whole."""
    run, _ = gns3lab(["verify", str(hostile["big-project"])], home, tmp_path / "out")
    assert_refused(run, "project.gns3", "MiB")
    assert run.peak_mb < CEILING_MB, f"peak RSS {run.peak_mb:.0f} MB"


@pytest.mark.parametrize("which", ["hardlinked-seed", "hardlinked-small-seed"])
@pytest.mark.parametrize("command", ["verify", "diff"])
def test_seed_iso_hard_links_are_capped(command: str, which: str, hostile: dict[str, Path],
                                        home: Path, tmp_path: Path) -> None:
    """120 hard links to one 48 MiB file in a seed ISO, or 20 to one 1,000 KB file in a 1 MB
    ISO: refused by the ISO's size, or by what reading its files would take."""
    archive = str(hostile[which])
    args = ["diff", archive, archive] if command == "diff" else ["verify", archive]
    run, _ = gns3lab(args, home, tmp_path / "out")
    assert_refused(run, "seed.iso", "more than the 2 MiB" if which == "hardlinked-seed" else
                   "hard links count each time")
    assert run.peak_mb < CEILING_MB, f"peak RSS {run.peak_mb:.0f} MB"


@pytest.mark.parametrize("command", ["verify", "diff"])
def test_seed_yaml_aliases_are_capped(command: str, hostile: dict[str, Path], home: Path,
                                      tmp_path: Path) -> None:
    """A billion-laughs network-config and user-data: refused at once, in a few MB."""
    archive = str(hostile["laughing-seed"])
    args = ["diff", archive, archive] if command == "diff" else ["verify", archive]
    run, seconds = gns3lab(args, home, tmp_path / "out")
    assert_refused(run, "alias")
    assert run.peak_mb < CEILING_MB, f"peak RSS {run.peak_mb:.0f} MB"
    assert seconds < 20, f"{seconds:.0f} s"


def test_diff_streams_big_bootstrap_members(hostile: dict[str, Path], home: Path,
                                            tmp_path: Path) -> None:
    """40 bootstrap members of 8 MiB: compared by size and sha256, streamed, not held."""
    archive = str(hostile["big-bootstrap"])
    run, _ = gns3lab(["diff", archive, archive], home, tmp_path / "out")
    assert run.returncode == 0, run.output
    assert run.peak_mb < CEILING_MB, f"peak RSS {run.peak_mb:.0f} MB"


@pytest.mark.parametrize("command", ["inspect", "verify", "diff"])
def test_duplicate_search_is_linear(command: str, hostile: dict[str, Path], home: Path,
                                    tmp_path: Path) -> None:
    """100,000 members, one name twice: refused in seconds (it took 106 s, quadratic)."""
    archive = str(hostile["many-members"])
    args = ["diff", archive, archive] if command == "diff" else [command, archive]
    run, seconds = gns3lab(args, home, tmp_path / "out")
    assert_refused(run, "appears twice")
    assert seconds < 30, f"{seconds:.0f} s"


@pytest.mark.parametrize("which", ["case-disk", "case-project", "nfd-name"])
@pytest.mark.parametrize("command", ["inspect", "verify", "diff"])
def test_colliding_member_names_are_refused(command: str, which: str,
                                            hostile: dict[str, Path], home: Path,
                                            tmp_path: Path) -> None:
    """Two names one case-insensitive or normalising file system would make one file."""
    archive = str(hostile[which])
    args = ["diff", archive, archive] if command == "diff" else [command, archive]
    run, _ = gns3lab(args, home, tmp_path / "out")
    assert_refused(run, "collide")


# --------------------------------------------------------------------------- finding 11


@pytest.mark.parametrize("command", ["inspect", "verify", "diff"])
def test_deep_project_is_refused_by_every_reader(command: str, hostile: dict[str, Path],
                                                 home: Path, tmp_path: Path) -> None:
    """Nested 10,000 deep: exit 2 with the depth limit, in every reader (it was 70)."""
    archive = str(hostile["deep-project"])
    args = ["diff", archive, archive] if command == "diff" else [command, archive]
    run, _ = gns3lab(args, home, tmp_path / "out")
    assert_refused(run, "project.gns3", "deeper than")


@pytest.mark.parametrize(("which", "words"), [
    ("list-project", ("project.gns3", "not a GNS3 project")),
    ("list-properties", ("project.gns3", "properties")),
    ("lots-size", ("base.qcow2", "size")),
])
def test_verify_reports_wrong_shapes(which: str, words: tuple[str, ...],
                                     hostile: dict[str, Path], home: Path,
                                     tmp_path: Path) -> None:
    """A project that is a list, a node whose properties are a list, an image size "lots":
    exit 2 naming the document and what is off (it was 70; the properties are refused by each
    server's schema, so once per server version)."""
    run, _ = gns3lab(["verify", str(hostile[which])], home, tmp_path / "out")
    assert_refused(run, *words)


# --------------------------------------------------------------------------- the ceiling


@pytest.mark.parametrize("command", ["inspect", "verify", "diff", "images-list",
                                     "images-verify", "images-pull", "push"])
@pytest.mark.parametrize("which", sorted(MAKERS))
def test_memory_ceiling(which: str, command: str, hostile: dict[str, Path], home: Path,
                        tmp_path: Path) -> None:
    """Every archive-reading command on every hostile archive: under 200 MB RSS, exit 0 or 2
    (2 where the archive is refused on opening), never 70, never a traceback."""
    run, _ = gns3lab(commands(hostile[which])[command], home, tmp_path / "out")
    assert run.peak_mb < CEILING_MB, f"peak RSS {run.peak_mb:.0f} MB\n{run.output}"
    assert "Traceback" not in run.output and "internal error" not in run.output, run.output
    if which in REFUSED_ON_OPENING:
        assert run.returncode == 2, run.output
    else:
        assert run.returncode in (0, 2), run.output
