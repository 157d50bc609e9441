"""Reading a stranger's ``.gns3project`` safely: checked member names, capped reads.

Used by ``gns3lab diff``. A small reader of its own for now: ``verify.inspect_archive`` is
being hardened the same way, and the two should become one.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path, PurePosixPath

from .errors import ArchiveError

MAX_MEMBER = 64 << 20  # bytes read from one member (project, manifest, seed, script)
MAX_MEMBERS = 100_000


def check_member_name(name: str) -> None:
    """Refuse a member name that could point outside the archive's folder."""
    parts = PurePosixPath(name).parts
    if name.startswith(("/", "\\")) or "\\" in name or ".." in parts or \
            re.match(r"^[A-Za-z]:", name) or "\0" in name:
        raise ArchiveError(f"unsafe member name {name!r} (absolute or with '..')",
                           hint="this archive was not written by gns3lab; do not import it")


class SafeArchive:
    """A read-only zip whose member names are all checked on opening and whose reads are
    capped (by the size the zip declares, and again by the bytes it really inflates to)."""

    def __init__(self, path: Path, cap: int = MAX_MEMBER) -> None:
        self.path, self.cap = path, cap
        try:
            self.zf = zipfile.ZipFile(path)
        except (OSError, zipfile.BadZipFile) as exc:
            raise ArchiveError(f"{path}: not a readable .gns3project: {exc}") from None
        infos = self.zf.infolist()
        if len(infos) > MAX_MEMBERS:
            raise ArchiveError(f"{path}: {len(infos)} members, more than {MAX_MEMBERS}")
        for info in infos:
            check_member_name(info.filename)
        self.names = [i.filename for i in infos]
        if len(set(self.names)) != len(self.names):
            raise ArchiveError(f"{path}: a member name appears twice")

    def read(self, name: str) -> bytes:
        info = self.zf.getinfo(name)
        if info.file_size > self.cap:
            raise ArchiveError(f"{self.path}: member {name} is {info.file_size} bytes, more "
                               f"than the {self.cap} diff reads")
        try:
            with self.zf.open(info) as fh:
                data = fh.read(self.cap + 1)
        except (OSError, zipfile.BadZipFile, EOFError) as exc:  # also a bad CRC
            raise ArchiveError(f"{self.path}: cannot read member {name}: {exc}") from None
        if len(data) > self.cap:
            raise ArchiveError(f"{self.path}: member {name} holds more than {self.cap} bytes")
        return data

    def close(self) -> None:
        self.zf.close()
