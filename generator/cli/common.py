"""What every command module shares: the timed progress printer, terminal-safe text."""

from __future__ import annotations

import re
import time
from collections.abc import Callable

import click

_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def printable(text: str) -> str:
    """``text`` safe for a terminal: control characters (escape sequences, bidi overrides,
    newlines inside one value) are shown as ``\\xNN``/``\\uNNNN`` escapes."""

    def escape(match: re.Match[str]) -> str:
        code = ord(match.group())
        return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"

    return _CONTROL.sub(escape, text)


def progress() -> Callable[[str], None]:
    """A printer of ``[  12.3s] message`` lines on stderr, timed from its creation."""
    start = time.monotonic()

    def say(message: str) -> None:
        click.echo(f"[{time.monotonic() - start:6.1f}s] {message}", err=True)

    return say
