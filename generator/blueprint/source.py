"""Where a blueprint came from, and how a place in it is named in a message.

:class:`Source` maps every path of the loaded YAML (``('nodes', 'web1', 'ram')``) to its line,
so a check made long after loading still reports the file and line it is about.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path

from generator.errors import Problem


@dataclass(frozen=True)
class Source:
    """Where a blueprint came from: its file, its folder, and the line of every path."""

    file: Path
    folder: Path
    lines: dict[tuple, int]

    def line(self, path: tuple) -> int | None:
        """The line of ``path``, or of its closest recorded parent."""
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get((), None)

    def problem(self, path: tuple, message: str, fix: str | None = None) -> Problem:
        return Problem(self.display, self.line(path), format_path(path), message, fix)

    @property
    def display(self) -> str:
        return str(self.file)


def format_path(path: tuple) -> str:
    """``('links', 3, 'b')`` -> ``links[3].b``."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def closest(word: str, choices: list[str] | set[str]) -> str:
    """A 'did you mean' hint naming the closest choice, or the known ones."""
    known = sorted(str(c) for c in choices)
    match = difflib.get_close_matches(word, known, n=1)
    if match:
        return f"did you mean '{match[0]}'?"
    listed = ", ".join(known[:12]) + (", ..." if len(known) > 12 else "")
    return f"known: {listed}" if known else "none are defined"
