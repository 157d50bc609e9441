"""What every command module shares: the timed progress printer."""

from __future__ import annotations

import time
from collections.abc import Callable

import click


def progress() -> Callable[[str], None]:
    """A printer of ``[  12.3s] message`` lines on stderr, timed from its creation."""
    start = time.monotonic()

    def say(message: str) -> None:
        click.echo(f"[{time.monotonic() - start:6.1f}s] {message}", err=True)

    return say
