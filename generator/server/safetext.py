"""Any string from outside (a server's names, versions and errors, a stranger's archive) as
text a terminal shows and does not obey.

:func:`printable` escapes control characters (``ESC[2J``, ``ESC]0;title BEL``, bidi overrides,
newlines inside one value) as ``\\xNN``/``\\uNNNN``; :func:`shown` makes a rich ``Text`` of it,
which rich never reads as markup, so ``[link=...]`` or ``[/bold]`` stays literal text. Plain
output, the live display and the CLI's messages all go through these two.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.text import Text

_CONTROL = re.compile(
    r"[\x00-\x08\x0a-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def printable(text: object) -> str:
    """``text`` safe for a terminal: control characters (escape sequences, bidi overrides,
    newlines inside one value) are shown as ``\\xNN``/``\\uNNNN`` escapes."""

    def escape(match: re.Match[str]) -> str:
        code = ord(match.group())
        return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"

    return _CONTROL.sub(escape, str(text))


def shown(text: object, style: str | None = None) -> Text:
    """``text`` as a rich Text: control characters escaped, markup never interpreted."""
    from rich.text import Text  # here: plain output needs no rich

    return Text(printable(text), style=style or "")
