"""SIGINT and SIGTERM end a build cleanly: the signal becomes an exception in the main thread,
so every ``finally`` and context manager on the way out removes what it made."""

from __future__ import annotations

import signal
from types import FrameType

_received: list[int] = []


class Interrupted(BaseException):
    """The build was interrupted by a signal (never swallowed by ``except Exception``)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


def _handler(signum: int, frame: FrameType | None) -> None:
    _received.append(signum)
    raise Interrupted(signum)


def install() -> None:
    """Turn SIGINT and SIGTERM into :class:`Interrupted` (call once, from the CLI)."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, _handler)


def check() -> None:
    """Raise :class:`Interrupted` if a signal arrived while a library caught the exception
    (a child program's wait loop, a worker thread): the build never carries on after one."""
    if _received:
        raise Interrupted(_received[-1])
