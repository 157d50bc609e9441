"""SIGINT and SIGTERM end a build cleanly: the signal becomes an exception in the main thread,
so every ``finally`` and context manager on the way out removes what it made."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

from generator.errors import Interrupted

_received: list[int] = []


_depth = [0]  # > 0 while an external program runs: raising inside its wait could deadlock


def _handler(signum: int, frame: FrameType | None) -> None:
    _received.append(signum)
    if not _depth[0]:
        raise Interrupted(signum)


@contextmanager
def deferred() -> Iterator[None]:
    """Hold a signal's exception until the block ends (a child program's wait loop, with its
    threads and locks, is no place to unwind from); then raise it."""
    _depth[0] += 1
    try:
        yield
    finally:
        _depth[0] -= 1
    if not _depth[0]:
        check()


def install() -> None:
    """Turn SIGINT and SIGTERM into :class:`Interrupted` (call once, from the CLI)."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, _handler)


def check() -> None:
    """Raise :class:`Interrupted` if a signal arrived while a library caught the exception
    (a child program's wait loop, a worker thread): the build never carries on after one."""
    if _received:
        raise Interrupted(_received[-1])
