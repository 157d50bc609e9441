"""SIGINT and SIGTERM end a build or a pull cleanly: the signal becomes an exception in the main
thread, so every ``finally`` and context manager on the way out removes what it made. Work in
worker threads is ended by :func:`wait_for`, which the main thread waits with."""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, wait
from contextlib import contextmanager
from types import FrameType
from typing import Any

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


POLL = 0.2  # seconds between two looks at the futures: the longest a signal waits


def wait_for(futures: Sequence[Future[Any]], cancel: Callable[[], None]) -> None:
    """Wait until every future is done, so that a signal still ends the wait at once.

    The kernel may hand SIGINT or SIGTERM to a worker thread, and Python runs the handler in
    the main thread only when that is back in Python code: a plain ``result()`` could sleep
    on with the signal pending. So the wait is in short steps. When it is interrupted,
    ``cancel`` makes the workers stop (it must wake one blocked in a read), the futures not
    started yet are dropped, and the exception goes on: the caller's executor then joins the
    workers, which remove what they made on their way out."""
    try:
        while wait(futures, timeout=POLL).not_done:
            pass
    except BaseException:
        cancel()
        for future in futures:
            future.cancel()
        raise
