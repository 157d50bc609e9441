"""What every command module shares: the timed progress printer, terminal-safe text
(:func:`printable`, defined with the rest of the outside-text handling in
:mod:`generator.server.safetext`)."""

from __future__ import annotations

import time
from collections.abc import Callable

import click

from generator.server.safetext import printable

__all__ = ["printable", "progress"]


def progress() -> Callable[[str], None]:
    """A printer of ``[  12.3s] message`` lines on stderr, timed from its creation."""
    start = time.monotonic()

    def say(message: str) -> None:
        click.echo(f"[{time.monotonic() - start:6.1f}s] {message}", err=True)

    return say
