"""Everything one disk gets, as one tar made on the host and sent by a single ``tar_in``.

libguestfs' ``tar_in`` runs GNU tar as root in the appliance, so modes (setuid bits too),
numeric owners (the names are left empty: tar then takes the ids as they are, never the
appliance's own passwd), symlinks and directories come out exactly as given. Members replace
a file or symlink already at their path; an existing directory keeps its contents and takes
the member's mode and owner. Missing parents are made root 0755.
"""

from __future__ import annotations

import io
import os
import tarfile
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Literal


@dataclass(frozen=True)
class Entry:
    """One guest path to create: a file (``content`` or host ``source``), dir or symlink."""
    path: str
    kind: Literal["file", "dir", "symlink"]
    mode: int
    uid: int
    gid: int
    content: bytes | None = None
    source: Path | None = None
    target: str | None = None


def write_tar(entries: Iterable[Entry], fh: IO[bytes]) -> None:
    """Write ``entries`` (the last one per path wins, in the first one's place) into ``fh``."""
    latest: dict[str, Entry] = {}
    for entry in entries:
        latest[entry.path] = entry
    now = int(time.time())
    with tarfile.open(fileobj=fh, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for e in latest.values():
            info = tarfile.TarInfo(e.path.lstrip("/"))
            info.mode, info.uid, info.gid, info.mtime = e.mode, e.uid, e.gid, now
            info.uname = info.gname = ""
            if e.kind == "dir":
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            elif e.kind == "symlink":
                info.type, info.linkname, info.mode = tarfile.SYMTYPE, e.target or "", 0o777
                tar.addfile(info)
            elif e.source is not None:
                with e.source.open("rb") as src:
                    info.size = os.fstat(src.fileno()).st_size
                    tar.addfile(info, src)
            else:
                data = e.content or b""
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
