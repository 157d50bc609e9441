"""File helpers every stage shares, each written once: atomic writes and streamed digests."""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

CHUNK = 1 << 20


@contextlib.contextmanager
def atomic_file(path: Path, mode: int = 0o644) -> Iterator[BinaryIO]:
    """Write ``path`` all at once or not at all: the caller writes into a temp file beside it,
    which is renamed over ``path`` when the block ends and removed when it raises. The temp
    name carries our PID (``.<name>.<pid>.tmp``) so a killed build's leftover can be told from
    a running one's and swept."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        os.fchmod(fd, mode)  # before the first byte: a secret is never readable by others
        with os.fdopen(fd, "wb") as fh:
            yield fh
            fh.flush()
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write(path: Path, data: bytes | str, mode: int = 0o644) -> None:
    """``path`` holds ``data`` (str as UTF-8), written through :func:`atomic_file`."""
    with atomic_file(path, mode) as fh:
        fh.write(data.encode() if isinstance(data, str) else data)


def file_digests(path: Path, algorithms: Iterable[str] = ("sha256",),
                 progress: Callable[[int], None] | None = None) -> dict[str, str]:
    """Hex digests of one file, read once in chunks whatever the number of algorithms.
    ``progress`` gets the bytes read so far after each chunk."""
    hashes = {name: hashlib.new(name) for name in algorithms}
    done = 0
    with path.open("rb") as fh:
        if len(hashes) == 1 and progress is None:
            ((name, _),) = hashes.items()
            return {name: hashlib.file_digest(fh, name).hexdigest()}
        while chunk := fh.read(CHUNK):
            for h in hashes.values():
                h.update(chunk)
            done += len(chunk)
            if progress:
                progress(done)
    return {name: h.hexdigest() for name, h in hashes.items()}


def sha256_file(path: Path) -> str:
    """sha256 hex digest of a file, streamed."""
    return file_digests(path)["sha256"]
