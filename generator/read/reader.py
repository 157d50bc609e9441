"""Reading a stranger's ``.gns3project`` safely: checked member names, capped reads.

Used by ``gns3lab inspect`` and ``gns3lab diff``: the one way gns3lab opens an archive it did
not just write. Nothing is extracted; every member is read by streaming, in bounded memory.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
import zipfile
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any

from generator.errors import ArchiveError

MAX_MEMBER = 64 << 20  # bytes read from one member (project, manifest, seed, script)
MAX_MEMBERS = 100_000
MAX_RATIO = 1000  # a member that inflates more than this is a zip bomb, not a lab
CHUNK = 1 << 20
#: What zipfile raises on damaged, truncated or unusual archives.
ZIP_ERRORS = (OSError, zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError,
              NotImplementedError, RuntimeError, KeyError, OverflowError)


def check_member_name(name: str) -> None:
    """Refuse a member name that could point outside the archive's folder."""
    parts = PurePosixPath(name).parts
    if name.startswith(("/", "\\")) or "\\" in name or ".." in parts or \
            re.match(r"^[A-Za-z]:", name) or "\0" in name:
        raise ArchiveError(f"unsafe member name {name!r} (absolute or with '..')",
                           hint="this archive was not written by gns3lab; do not import it")


def check_member(info: zipfile.ZipInfo) -> None:
    """Refuse members gns3lab never writes: unsafe names, symlinks, encryption, bombs."""
    check_member_name(info.filename)
    mode = info.external_attr >> 16
    if stat.S_ISLNK(mode):
        raise ArchiveError(f"member {info.filename!r} is a symlink",
                           hint="this archive was not written by gns3lab; do not import it")
    if info.flag_bits & 0x1:
        raise ArchiveError(f"member {info.filename!r} is encrypted",
                           hint="gns3lab archives are never encrypted; do not import it")
    if info.file_size > (1 << 20) and info.file_size > MAX_RATIO * max(info.compress_size, 1):
        raise ArchiveError(f"member {info.filename!r} inflates {info.compress_size} bytes to "
                           f"{info.file_size} (a zip bomb)", hint="do not import it")


class SafeArchive:
    """A read-only zip whose member names are all checked on opening and whose reads are
    capped (by the size the zip declares, and again by the bytes it really inflates to)."""

    def __init__(self, path: Path, cap: int = MAX_MEMBER) -> None:
        self.path, self.cap = path, cap
        try:
            st = os.stat(path)
        except OSError as exc:
            raise ArchiveError(f"{path}: cannot open: {exc.strerror}") from None
        if not stat.S_ISREG(st.st_mode):  # a FIFO or device would hang or never end
            raise ArchiveError(f"{path}: not a regular file", hint="give a .gns3project file")
        try:
            self.zf = zipfile.ZipFile(path)
            infos = self.zf.infolist()
        except ZIP_ERRORS as exc:
            raise ArchiveError(f"{path}: not a readable .gns3project: {exc}") from None
        if len(infos) > MAX_MEMBERS:
            raise ArchiveError(f"{path}: {len(infos)} members, more than {MAX_MEMBERS}")
        for info in infos:
            check_member(info)
        self.infos = {i.filename: i for i in infos}
        self.names = [i.filename for i in infos]
        if len(self.infos) != len(self.names):
            dup = next(n for n in self.names if self.names.count(n) > 1)
            raise ArchiveError(f"{path}: member {dup!r} appears twice",
                               hint="this archive was not written by gns3lab; do not import it")

    def chunks(self, name: str) -> Iterator[bytes]:
        """A member's bytes in 1 MiB pieces (constant memory; the CRC is checked at the end)."""
        try:
            with self.zf.open(self.infos[name]) as fh:
                yield from iter(lambda: fh.read(CHUNK), b"")
        except ZIP_ERRORS as exc:
            raise ArchiveError(f"{self.path}: cannot read member {name}: {exc}") from None

    def digest(self, name: str) -> str:
        """sha256 of a member, streamed."""
        sha = hashlib.sha256()
        for chunk in self.chunks(name):
            sha.update(chunk)
        return sha.hexdigest()

    def head(self, name: str, size: int) -> bytes:
        """The first ``size`` bytes of a member, inflated no further."""
        try:
            with self.zf.open(self.infos[name]) as fh:
                return fh.read(size)
        except ZIP_ERRORS as exc:
            raise ArchiveError(f"{self.path}: cannot read member {name}: {exc}") from None

    def json(self, name: str) -> Any:
        """A member parsed as JSON (size-capped)."""
        try:
            return json.loads(self.read(name))
        except (ValueError, RecursionError) as exc:
            raise ArchiveError(f"{self.path}: {name} is not valid JSON: {exc}") from None

    def read(self, name: str) -> bytes:
        info = self.infos[name]
        if info.file_size > self.cap:
            raise ArchiveError(f"{self.path}: member {name} is {info.file_size} bytes, more "
                               f"than the {self.cap} diff reads")
        try:
            with self.zf.open(info) as fh:
                data = fh.read(self.cap + 1)
        except ZIP_ERRORS as exc:  # also a bad CRC
            raise ArchiveError(f"{self.path}: cannot read member {name}: {exc}") from None
        if len(data) > self.cap:
            raise ArchiveError(f"{self.path}: member {name} holds more than {self.cap} bytes")
        return data

    def close(self) -> None:
        self.zf.close()

    def __enter__(self) -> SafeArchive:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
