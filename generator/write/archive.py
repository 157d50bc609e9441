"""Staging folder -> a deterministic ``.gns3project`` zip, written atomically.

Sorted members, fixed timestamps, fixed modes, deflate (never zstd: GNS3 2.2 cannot read it),
Zip64 on. Base images (``--include-images``) are stored uncompressed: they barely compress and
deflating gigabytes is slow. They are *extra* members (archive name -> source file) that stream
straight from their file into the zip, never copied into the staging folder: bundling writes
each image's bytes once. Their manifest sha256 comes from :func:`baseimages.digests_of` (cached
beside the image, so usually no read at all). While that cache is valid (the image unchanged
since its sidecar was written) the bytes are not hashed again: the image's size, inode, mtime
and ctime must instead be the same after the copy as before it, which is what the cache
trusts. Otherwise the bytes streamed are hashed on the way and must match the manifest.
"""

from __future__ import annotations

import hashlib
import json
import os
import queue
import threading
import unicodedata
import zipfile
import zlib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, BinaryIO

from generator.archive_format import FileRecord, Manifest, parse_manifest, render_manifest
from generator.errors import ArchiveError
from generator.fileio import atomic_file, atomic_write, sha256_file
from generator.images.baseimages import digests_of, trusted_sha256
from generator.paths import PROJECT_FILE, Layout

#: Extra members: archive name -> the file whose bytes it holds (base images).
Extra = Mapping[str, Path]

FIXED_TIME = (1980, 1, 1, 0, 0, 0)
CHUNK = 1 << 20
COPY_CHUNK = 4 << 20  # fewer, larger writes: bundling streams gigabytes


def members(layout: Layout) -> list[Path]:
    """Every file of the staging tree, in archive order (``project.gns3`` first, then sorted)."""
    files = sorted((p for p in layout.root.rglob("*") if p.is_file()), key=layout.rel)
    files.sort(key=lambda p: p != layout.project_file)
    return files


def write_manifest(layout: Layout, info: Manifest, extra: Extra | None = None) -> None:
    """``gns3lab/manifest.json``: build facts and the sha256 of every other member, the
    ``extra`` ones included (from the image digest cache)."""
    files = {layout.rel(p): FileRecord(sha256=sha256_file(p), size=p.stat().st_size)
             for p in members(layout) if p != layout.manifest}
    for name, path in (extra or {}).items():
        files[name] = FileRecord(sha256=digests_of(path)[1], size=path.stat().st_size)
    layout.manifest.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(layout.manifest, render_manifest(info.model_copy(update={"files": files})))


def _entries(layout: Layout, extra: Extra) -> list[tuple[str, Path]]:
    """(member name, source file) in archive order: ``project.gns3`` first, then by name."""
    staged = {layout.rel(p): p for p in members(layout)}
    clash = sorted(set(staged) & set(extra))
    if clash:
        raise ArchiveError(f"{clash[0]} is both a staged file and an extra member")
    entries = sorted({**staged, **extra}.items(), key=lambda e: (e[0] != PROJECT_FILE, e[0]))
    check_folded_names([name for name, _ in entries])
    return entries


def check_folded_names(names: list[str]) -> None:
    """Refuse two member names (or folder prefixes) that differ only by case or Unicode
    normalisation: GNS3 may extract the archive on a file system that makes them one file
    (macOS, Windows). The blueprint's own files are refused earlier, with their paths; this is
    the last guard for every member."""
    seen: dict[str, str] = {}
    for name in names:
        parts = name.split("/")
        for depth in range(1, len(parts) + 1):
            prefix = "/".join(parts[:depth])
            other = seen.setdefault(unicodedata.normalize("NFC", prefix).casefold(), prefix)
            if other != prefix:
                raise ArchiveError(f"members {other!r} and {prefix!r} differ only by case or "
                                   "Unicode normalisation",
                                   hint="rename one of the two files they come from")


def write_archive(layout: Layout, target: Path,
                  progress: Callable[[str], None] | None = None,
                  extra: Extra | None = None) -> Path:
    """Zip the staging tree and the ``extra`` members into ``target`` through a temp file and
    a rename. An extra member that changed under the build (its bytes differ from the sha256
    the manifest records, or, when its digest cache vouches for those bytes, its size or times
    moved during the copy) leaves no archive."""
    extra = dict(extra or {})
    entries = _entries(layout, extra)
    recorded = _recorded(layout)
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        with atomic_file(target) as raw, _AheadWriter(raw) as fh, \
                zipfile.ZipFile(fh, "w", allowZip64=True) as zf:
            for name, path in entries:
                info = zipfile.ZipInfo(name, date_time=FIXED_TIME)
                info.external_attr = 0o100644 << 16
                info.create_system = 3
                stored = name.startswith("images/")
                info.compress_type = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
                size = path.stat().st_size
                if progress and size > 64 * CHUNK:
                    progress(f"adding {name} ({size >> 20} MiB)")
                info.file_size = size  # lets zipfile pick Zip64 when needed
                if name in extra:
                    _bundle_member(path, zf, info, recorded.get(name))
                else:
                    _copy_member(path, zf, info, None)
    except OSError as exc:
        raise ArchiveError(f"cannot write {target}: {exc}") from exc
    return target


def _recorded(layout: Layout) -> dict[str, str]:
    """The sha256 per member that the staged manifest records ({} before it is written)."""
    if not layout.manifest.is_file():
        return {}
    files = parse_manifest(json.loads(layout.manifest.read_bytes()), str(layout.root)).files
    return {name: entry.sha256 for name, entry in (files or {}).items()}


def _changed(path: Path, why: str) -> ArchiveError:
    return ArchiveError(f"{path.name} changed while it was bundled ({why})",
                        hint="do not change base images during a build; build again")


def _fingerprint(path: Path) -> tuple[int, ...]:
    st = path.stat()
    return st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns


def _bundle_member(path: Path, zf: zipfile.ZipFile, info: zipfile.ZipInfo,
                   recorded: str | None) -> None:
    """Stream a base image into ``zf``, refusing it if it is not the file the manifest names.

    If the digest cache still vouches for the recorded sha256, the bytes are not hashed again
    (sha256 is the slowest step of bundling); the file must then be unchanged from before the
    copy to after it. Else they are hashed on the way and compared."""
    before = _fingerprint(path)
    if recorded is not None and trusted_sha256(path) == recorded:
        copied = _copy_stored(path, zf, info)
        if _fingerprint(path) != before or copied != before[2] or trusted_sha256(path) is None:
            raise _changed(path, "its size or modification times moved during the copy")
        return
    digest = hashlib.sha256()
    _copy_member(path, zf, info, digest)
    sha = digest.hexdigest()
    if sha != (recorded or sha):
        raise _changed(path, f"its sha256 is now {sha}, not the one the manifest records")


def _copy_member(path: Path, zf: zipfile.ZipFile, info: zipfile.ZipInfo,
                 digest: Any | None) -> int:
    """Stream ``path`` into ``zf`` as ``info`` (``digest`` updated on the way); bytes copied."""
    with zf.open(info, "w") as dst:
        return _copy_member_into(path, dst, digest)


def _copy_member_into(path: Path, dst: Any, digest: Any | None) -> int:
    copied = 0
    with path.open("rb", buffering=0) as src:
        while chunk := src.read(COPY_CHUNK):  # a new buffer each time: the writer thread
            dst.write(chunk)                   # may still hold the previous one
            if digest is not None:
                digest.update(chunk)
            copied += len(chunk)
    return copied


def _crc32_of(path: Path, out: dict[str, Any]) -> None:
    """CRC-32 of a file into ``out["crc"]`` (``out["error"]`` on failure); for a thread."""
    crc = 0
    try:
        with path.open("rb", buffering=0) as fh:
            while chunk := fh.read(COPY_CHUNK):
                crc = zlib.crc32(chunk, crc)  # releases the GIL on big buffers
        out["crc"] = crc
    except OSError as exc:
        out["error"] = exc


def _copy_stored(path: Path, zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> int:
    """A stored member copied as cp copies: ``copy_file_range`` moves the bytes in the kernel
    while a second thread computes the CRC-32 zip needs from the same (cached) pages. zipfile
    writes the headers as ever; only its byte and CRC counters for this member are set here
    (CPython's ``_ZipWriteFile``), so the archive's bytes are those of ``_copy_member``."""
    # object, not zipfile's IO[bytes] | None: _AheadWriter is no IO subclass, so mypy would
    # call the isinstance check below always false and skip the rest of the function.
    fh: object = zf.fp
    with zf.open(info, "w") as dst:
        if not (isinstance(fh, _AheadWriter) and all(
                hasattr(dst, a) for a in ("_file_size", "_compress_size", "_crc"))):
            return _copy_member_into(path, dst, None)
        fh.flush()  # the local header is on disk; the data goes right after it
        start = fh.tell()
        result: dict[str, Any] = {}
        crc = threading.Thread(target=_crc32_of, args=(path, result), name="zip-crc32")
        crc.start()
        copied = 0
        try:
            with path.open("rb", buffering=0) as src:
                copied = _kernel_copy(src.fileno(), fh.fileno(), start)
                src.seek(copied)
                while chunk := src.read(COPY_CHUNK):  # no copy_file_range here: plain writes
                    fh.write(chunk)
                    copied += len(chunk)
        finally:
            crc.join()
        if "error" in result:
            raise result["error"]
        fh.seek(start + copied)
        dst._file_size = dst._compress_size = copied  # type: ignore[attr-defined]
        dst._crc = result["crc"]  # type: ignore[attr-defined]
    return copied


def _kernel_copy(src: int, dst: int, offset: int) -> int:
    """Bytes of ``src`` copied to ``dst`` at ``offset`` by copy_file_range (0 if unsupported)."""
    copied = 0
    while True:
        try:
            n = os.copy_file_range(src, dst, 1 << 30, copied, offset + copied)
        except OSError:
            if copied:
                raise
            return 0  # EXDEV, ENOSYS, EINVAL...: the caller copies by hand
        if n == 0:
            return copied
        copied += n


class _AheadWriter:
    """A seekable file whose writes a second thread does, so that zipfile's CRC32 of the next
    chunk (and reading it) overlaps the write of the previous one: bundling then runs at the
    disk's speed rather than at read + CRC32 + write in turn. ``tell`` is the logical position;
    ``seek`` and ``flush`` wait for the queued writes, and a failed write is raised at the next
    call. The bytes written are exactly those of the plain file."""

    def __init__(self, fh: BinaryIO, depth: int = 4) -> None:
        self._fh = fh
        self._pos = fh.tell()
        self._queue: queue.Queue[bytes | None] = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="zip-writer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            data = self._queue.get()
            try:
                if data is None:
                    return
                if self._error is None:
                    self._fh.write(data)
            except BaseException as exc:
                self._error = exc
            finally:
                self._queue.task_done()

    def _check(self) -> None:
        if self._error is not None:
            raise self._error

    def _drain(self) -> None:
        self._queue.join()
        self._check()

    def write(self, data: bytes | bytearray | memoryview) -> int:
        self._check()
        chunk = data if isinstance(data, bytes) else bytes(data)
        self._queue.put(chunk)
        self._pos += len(chunk)
        return len(chunk)

    def tell(self) -> int:
        return self._pos

    def fileno(self) -> int:
        return self._fh.fileno()

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        self._drain()
        self._pos = self._fh.seek(offset, whence)
        return self._pos

    def flush(self) -> None:
        self._drain()
        self._fh.flush()

    def close(self) -> None:
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()
        self._check()

    def __enter__(self) -> _AheadWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
