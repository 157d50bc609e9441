"""Reading a stranger's ``.gns3project`` safely: checked member names, capped reads.

The one way gns3lab opens an archive it did not just write (``inspect``, ``verify``, ``diff``,
``images`` and ``push``). Nothing is extracted; every member is read by streaming, in bounded
memory, and JSON members are parsed within :mod:`generator.read.bounded`'s limits. The member
list is refused on opening when it holds a name twice, or two names that one file system would
make one file: GNS3 may extract the archive on a case-insensitive (Windows, macOS) or
normalising (macOS: NFD) one, and then one member silently replaces the other.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
import unicodedata
import zipfile
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import IO, Any

from generator.archive_format import MANIFEST, Manifest, parse_manifest
from generator.errors import ArchiveError
from generator.read.bounded import MAX_JSON, parse_json

MAX_MEMBER = 64 << 20  # bytes read from one member (project, manifest, seed, script)
MAX_MEMBERS = 100_000
MAX_RATIO = 1000  # a member that inflates more than this is a zip bomb, not a lab
CHUNK = 1 << 20
NOT_OURS = "this archive was not written by gns3lab; do not import it"
#: What zipfile raises on damaged, truncated or unusual archives.
ZIP_ERRORS = (OSError, zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError,
              NotImplementedError, RuntimeError, KeyError, OverflowError)


def is_archive(path: Path) -> bool:
    """Whether ``path`` is a zip file (a command's source: an archive, else a blueprint); the
    archive itself is then opened with :class:`SafeArchive`."""
    return path.is_file() and zipfile.is_zipfile(path)


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


def same_file_key(name: str) -> str:
    """The name a case-insensitive, normalising file system stores ``name`` under (Unicode
    canonical caseless matching: NFD, case folding, NFD again)."""
    return unicodedata.normalize("NFD", unicodedata.normalize("NFD", name).casefold())


def check_distinct(path: Path, names: list[str]) -> None:
    """Refuse a member list that names one file twice, or two names one case-insensitive or
    normalising file system makes one (``hda_disk.qcow2`` and ``HDA_DISK.qcow2``; ``café`` in
    NFC and NFD), a file and a folder included. One pass, a dict of keys: linear."""
    seen: dict[str, str] = {}
    folders: dict[str, str] = {}
    for name in names:
        key = same_file_key(name.rstrip("/"))
        first = seen.get(key)
        if first == name:
            raise ArchiveError(f"{path}: member {name!r} appears twice", hint=NOT_OURS)
        if first is not None:
            raise ArchiveError(f"{path}: members {first!r} and {name!r} collide on a "
                               "case-insensitive or normalising file system", hint=NOT_OURS)
        seen[key] = name
        parts = name.rstrip("/").split("/")[:-1]
        for i in range(1, len(parts) + 1):
            folder = "/".join(parts[:i])
            folders.setdefault(same_file_key(folder), folder)
    for key, folder in folders.items():
        if key in seen and not seen[key].endswith("/"):  # not the folder's own entry
            raise ArchiveError(f"{path}: member {seen[key]!r} and folder {folder + '/'!r} "
                               "collide on a case-insensitive or normalising file system",
                               hint=NOT_OURS)


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
            try:
                check_member(info)
            except ArchiveError as exc:  # name the archive: a reader may open two
                raise ArchiveError(f"{path}: {exc.message}", hint=exc.hint) from None
        self.infos = {i.filename: i for i in infos}
        self.names = [i.filename for i in infos]
        check_distinct(path, self.names)

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
        """A member parsed as JSON, within MAX_JSON bytes and :mod:`~generator.read.bounded`'s
        depth and size limits."""
        data = self.read(name, min(self.cap, MAX_JSON))
        try:
            return parse_json(data)
        except ValueError as exc:
            raise ArchiveError(f"{self.path}: {name} is not valid JSON: {exc}") from None

    def manifest(self) -> Manifest | None:
        """The archive's manifest as the typed record (None when it has none); ArchiveError
        when it is not valid JSON, ManifestError when it is not in the shape build writes."""
        if MANIFEST not in self.infos:
            return None
        return parse_manifest(self.json(MANIFEST), str(self.path))

    def read(self, name: str, cap: int | None = None) -> bytes:
        """A member's bytes, at most ``cap`` (default: the archive's cap); ArchiveError past
        it, whatever the zip declares."""
        cap = self.cap if cap is None else cap
        info = self.infos[name]
        if info.file_size > cap:
            raise ArchiveError(f"{self.path}: member {name} is {info.file_size} bytes, more "
                               f"than the {size_text(cap)} gns3lab reads of it")
        try:
            with self.zf.open(info) as fh:
                data = fh.read(cap + 1)
        except ZIP_ERRORS as exc:  # also a bad CRC
            raise ArchiveError(f"{self.path}: cannot read member {name}: {exc}") from None
        if len(data) > cap:
            raise ArchiveError(f"{self.path}: member {name} holds more than {size_text(cap)}")
        return data

    def copy(self, name: str, out: IO[bytes], cap: int) -> None:
        """Stream a member into ``out`` (for parsers that need a file), at most ``cap``
        bytes; ArchiveError past it."""
        info = self.infos[name]
        if info.file_size > cap:
            raise ArchiveError(f"{self.path}: member {name} is {info.file_size} bytes, more "
                               f"than the {size_text(cap)} gns3lab reads of it")
        done = 0
        for chunk in self.chunks(name):
            done += len(chunk)
            if done > cap:
                raise ArchiveError(f"{self.path}: member {name} holds more than "
                                   f"{size_text(cap)}")
            out.write(chunk)

    def close(self) -> None:
        self.zf.close()

    def __enter__(self) -> SafeArchive:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def size_text(size: int) -> str:
    """A byte count as people read it: ``8 MiB``, ``256 KiB``, ``100 bytes``."""
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if size >= 1 << shift and size % (1 << shift) == 0:
            return f"{size >> shift} {unit}"
    return f"{size} bytes"
