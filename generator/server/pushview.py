"""What ``gns3lab push`` shows while it works: a live per-node table on a terminal, plain lines
otherwise. A :class:`PushDisplay` is the ``progress`` callback of :func:`push.push_archive`.

The table has one row per node (compute, opened, started, cloud-init, stages) and, under it, the
last few project-wide messages (images, import, links). The rows are kept as data
(:meth:`PushDisplay.rows`) and rendered with rich; the plain form is one line per event.

Node names, compute ids and messages come from the server: every one is shown through
:mod:`generator.server.safetext` (control characters escaped, never read as rich markup).
"""

from __future__ import annotations

import sys
from typing import IO, Any, Self

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table

from generator.server.consoles import PushEvent
from generator.server.safetext import printable, shown

COLUMNS = ("node", "compute", "opened", "started", "cloud-init", "stages")
#: Project-wide messages kept under the table.
LOG_LINES = 6
#: Console events that are only chatter in the table (they still go to plain output).
_QUIET = ("console",)


class PushDisplay:
    """Progress callback. ``live`` (default: the stream is a terminal) draws the table with
    rich's Live; otherwise each event is one line on ``stream``."""

    def __init__(self, stream: IO[str] | None = None, live: bool | None = None,
                 console: Console | None = None) -> None:
        self.stream = stream or sys.stderr
        self.live = self.stream.isatty() if live is None else live
        self.console = console or Console(file=self.stream, force_terminal=self.live or None)
        self._rows: dict[str, dict[str, str]] = {}
        self._log: list[str] = []
        self._live: Live | None = None

    def __enter__(self) -> Self:
        if self.live:
            self._live = Live(self.render(), console=self.console, refresh_per_second=4,
                              transient=False)
            self._live.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._live is not None:
            self._live.update(self.render())
            self._live.__exit__(*exc)
            self._live = None

    def __call__(self, event: PushEvent) -> None:
        self._take(event)
        if self._live is not None:
            self._live.update(self.render())
        elif not self.live:
            print(printable(event), file=self.stream, flush=True)

    def _take(self, event: PushEvent) -> None:
        if event.node is None:
            self._log = (self._log + [event.message])[-LOG_LINES:]
            return
        row = self._rows.setdefault(event.node, dict.fromkeys(COLUMNS, "") | {"node": event.node})
        if event.kind == "opened":
            row["opened"], row["compute"] = "yes", event.args[0] if event.args else ""
        elif event.kind == "started":
            row["started"] = "yes" if event.message == "started" else event.message
        elif event.kind == "stopped":
            row["started"] = "stopped"
        elif event.kind == "cloud-init":
            row["cloud-init"] = "finished"
        elif event.kind == "stage" and event.args:
            done = f"{event.args[0]} {'ok' if event.ok else 'FAILED'}"
            row["stages"] = f"{row['stages']}, {done}" if row["stages"] else done
        elif event.kind == "ready":
            row["stages"] = f"{row['stages']}, lab ready" if row["stages"] else "lab ready"
        elif event.kind not in _QUIET:
            self._log = (self._log + [str(event)])[-LOG_LINES:]

    def rows(self) -> list[dict[str, str]]:
        """The table as data, one dict per node in the order first seen."""
        return [dict(r) for r in self._rows.values()]

    def render(self) -> Group:
        """The table and the recent project-wide messages."""
        table = Table(*COLUMNS, title="gns3lab push", expand=False)
        for row in self._rows.values():
            style = "red" if "FAILED" in row["stages"] else None
            table.add_row(*(shown(row[c]) for c in COLUMNS), style=style)
        return Group(table, *(shown(line) for line in self._log))
