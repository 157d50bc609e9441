"""The GNS3 snapshots a captured archive carries (``gns3lab capture --checkpoints``).

A snapshot is an uncompressed project zip under ``snapshots/``. GNS3 2.2.58+ writes
``<name>.gns3snapshot`` with a ``snapshots.conf`` index; every version still loads
``<name>_<ddmmyy_HHMMSS>.gns3project`` when there is no index, and 3.0.6 loads only that form
(``controller/project.py``: ``_load_snapshot_config`` in 2.2.61, the constructor's listing in
3.0.6). A captured archive carries that portable form only, and its manifest records each
snapshot's own members, so ``verify`` checks inside them and ``inspect`` lists them.
"""

from __future__ import annotations

import hashlib
import re
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from generator.archive_format import SNAPSHOTS_PREFIX, FileRecord, SnapshotRecord
from generator.errors import ArchiveError
from generator.read.reader import SafeArchive

#: ``<name>_<ddmmyy>_<HHMMSS>.gns3project``, GNS3's legacy (portable) snapshot file name.
PORTABLE = re.compile(r"^(?P<name>.+)_(?P<stamp>\d{6}_\d{6})\.gns3project$")
STAMP = "%d%m%y_%H%M%S"


def portable_member(name: str, created_at: int) -> str:
    """The member name every supported GNS3 loads a snapshot ``name`` taken at ``created_at``
    (seconds since the epoch, UTC) from."""
    stamp = datetime.fromtimestamp(created_at, tz=UTC).strftime(STAMP)
    return f"{SNAPSHOTS_PREFIX}{name}_{stamp}.gns3project"


def is_snapshot(member: str) -> bool:
    """True for a snapshot member (either form) of a project archive."""
    return member.startswith(SNAPSHOTS_PREFIX) and member.endswith(
        (".gns3project", ".gns3snapshot"))


def inner_files(zf: SafeArchive, member: str) -> dict[str, FileRecord]:
    """Each member of the snapshot ``member`` with its sha256 and size (the snapshot is
    copied to a temporary file first: a zip is read from its end)."""
    with tempfile.TemporaryDirectory(prefix="gns3lab-snap-") as tmp:
        path = Path(tmp) / "snapshot.zip"
        with path.open("wb") as out:
            zf.copy(member, out, zf.infos[member].file_size)
        return files_of(path)


def files_of(path: Path) -> dict[str, FileRecord]:
    """Each member of the zip at ``path`` with its sha256 and size."""
    with SafeArchive(path) as inner:
        out = {}
        for name, info in sorted(inner.infos.items()):
            if name.endswith("/"):
                continue
            digest = hashlib.sha256()
            for chunk in inner.chunks(name):
                digest.update(chunk)
            out[name] = FileRecord(sha256=digest.hexdigest(), size=info.file_size)
        return out


def check_snapshot(zf: SafeArchive, member: str, record: SnapshotRecord) -> list[str]:
    """What is wrong inside the snapshot ``member`` against its manifest record: members
    changed, missing or added. An unreadable snapshot is one problem."""
    try:
        found = inner_files(zf, member)
    except ArchiveError as exc:
        return [f"unreadable snapshot: {exc.message.rsplit(': ', 1)[-1]}"]
    problems = []
    for name, want in sorted(record.files.items()):
        got = found.get(name)
        if got is None:
            problems.append(f"{name}: in the manifest, missing from the snapshot")
        elif got.sha256 != want.sha256 or (want.size is not None and got.size != want.size):
            problems.append(f"{name}: sha256 is {got.sha256}, the manifest records "
                            f"{want.sha256}: changed after the capture")
    for name in sorted(set(found) - set(record.files)):
        problems.append(f"{name}: in the snapshot, not in the manifest: added after the capture")
    return problems
