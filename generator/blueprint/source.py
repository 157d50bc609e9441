"""Where a blueprint came from: the file, the folder and the line of every path.

:class:`Source` maps every path of the loaded YAML (``('nodes', 'web1', 'ram')``) to its line,
so a check made long after loading still reports the file and line it is about.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from generator.errors import Problem, format_path
from generator.naming import closest

#: format_path (errors.py) and closest (naming.py) live in foundation modules, so errors and
#: naming import no blueprint module; they are re-exported here for the loaders.
__all__ = ["Source", "closest", "format_path"]


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
