"""Where the time to lab ready went (pure): each node's boot, its cloud-init finish, each stage's
start and end, and ``lab ready``, from the console events a push saw.

The input is what ``push --wait`` already has: every :class:`PushEvent` with the host's clock
(``time.monotonic()``) when it was reported, the consoles' transcripts, and ``stages.json``
from the archive (optional: it names each stage's hosts). Times are seconds from the first
node's start. Two things come from the guests' own clocks, read off the transcripts:

- ``Cloud-init v. … finished at … Up N seconds``: the node's uptime when its cloud-init
  finished, so its kernel started N s before that line was seen (``booted``);
- ``gns3lab: at U bootstrap start|host <node> up|stage <name> start``, printed by the
  controller's bootstrap with its own uptime U: placed on the host's clock through the
  controller's cloud-init line (same clock), so no line needs a host timestamp of its own.

:func:`build_timeline` makes a :class:`Timeline`; :func:`render_text` prints it as a table and
:func:`timeline_json` gives it as plain data (``push --timeline FILE``). The figure the
benchmarks watch is :attr:`Timeline.ratio`: lab ready / the slowest guest's cloud-init finish.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from generator.server.consoles import PushEvent

_CLOUD_INIT_UP = re.compile(r"Cloud-init v\. \S+ finished at .*?Up (?P<up>[0-9.]+) seconds")
_MARK = re.compile(r"(?:^|\s)gns3lab: at (?P<up>[0-9.]+) (?P<what>.+?)\s*$")
_HOST_UP = re.compile(r"host (?P<node>\S+) up")
_STAGE_START = re.compile(r"stage (?P<name>\S+) start")
CHECK_STAGE = "check"


@dataclass(frozen=True)
class NodeTimes:
    """One node, in seconds from the first node's start (None: not seen)."""

    node: str
    started: float | None = None  #: push started it
    booted: float | None = None  #: its kernel started (cloud-init's finish minus its uptime)
    ssh_up: float | None = None  #: the controller's probe saw it answer SSH
    cloud_init: float | None = None  #: its cloud-init finished


@dataclass(frozen=True)
class StageTimes:
    """One stage: it started, its hosts were all up, it ended (ok or not)."""

    name: str
    start: float | None
    hosts_up: float | None
    end: float
    ok: bool

    @property
    def seconds(self) -> float | None:
        return None if self.start is None else self.end - self.start

    @property
    def waiting(self) -> float:
        """Seconds the stage waited for its hosts' SSH."""
        if self.start is None or self.hosts_up is None:
            return 0.0
        return max(0.0, min(self.hosts_up, self.end) - self.start)


@dataclass(frozen=True)
class Timeline:
    nodes: tuple[NodeTimes, ...]
    stages: tuple[StageTimes, ...]
    controller: str | None = None
    bootstrap_start: float | None = None
    ready: float | None = None

    @property
    def guests_ready(self) -> float | None:
        """When the slowest guest's cloud-init finished."""
        done = [n.cloud_init for n in self.nodes if n.cloud_init is not None]
        return max(done) if done else None

    @property
    def ratio(self) -> float | None:
        """Lab ready / the slowest guest's cloud-init finish (1.0 is the floor)."""
        if self.ready is None or not self.guests_ready:
            return None
        return self.ready / self.guests_ready

    def after_guests(self) -> dict[str, float]:
        """The seconds from the slowest guest's cloud-init finish to lab ready, by part: each
        stage's share of that window ("stage <name>"), and "other" for the rest."""
        guests, ready = self.guests_ready, self.ready
        if guests is None or ready is None:
            return {}
        parts: dict[str, float] = {}
        for stage in self.stages:
            if stage.start is not None:
                overlap = min(stage.end, ready) - max(stage.start, guests)
                parts[f"stage {stage.name}"] = round(max(0.0, overlap), 1)
        parts["other"] = round(max(0.0, ready - guests) - sum(parts.values()), 1)
        return parts


# -- building ----------------------------------------------------------------------------------


def _cloud_init_uptimes(transcripts: Mapping[str, str]) -> dict[str, float]:
    """Node -> its uptime in the first ``Cloud-init … finished … Up N seconds`` line."""
    out = {}
    for node, text in transcripts.items():
        if match := _CLOUD_INIT_UP.search(text):
            out[node] = float(match["up"])
    return out


def _marks(text: str) -> list[tuple[float, str]]:
    """The controller's ``gns3lab: at U WHAT`` lines as (U, WHAT), in order."""
    return [(float(m["up"]), m["what"]) for line in text.splitlines()
            if (m := _MARK.search(line))]


def _first(times: dict[str, float], key: str, value: float) -> None:
    times.setdefault(key, value)


def build_timeline(events: Sequence[tuple[float, PushEvent]], transcripts: Mapping[str, str],
                   stages: Mapping[str, Any] | None = None) -> Timeline:
    """The timeline of one push: ``events`` are (host clock in seconds, event) in the order
    reported, ``transcripts`` node -> console text, ``stages`` the archive's stages.json."""
    if not events:
        return Timeline(nodes=(), stages=())
    starts = [t for t, e in events if e.kind == "started"]
    origin = min(starts) if starts else min(t for t, _ in events)
    started: dict[str, float] = {}
    cloud_init: dict[str, float] = {}
    ends: list[tuple[str, float, bool]] = []
    ready, controller = None, (stages or {}).get("controller")
    for t, event in events:
        rel = round(t - origin, 1)
        if event.kind == "started" and event.node:
            _first(started, event.node, rel)
        elif event.kind == "cloud-init" and event.node:
            _first(cloud_init, event.node, rel)
        elif event.kind == "stage":
            ends.append((event.args[0], rel, bool(event.ok)))
            controller = controller or event.node
        elif event.kind == "ready" and ready is None:
            ready, controller = rel, controller or event.node
    uptimes = _cloud_init_uptimes(transcripts)
    booted = {n: round(cloud_init[n] - up, 1) for n, up in uptimes.items() if n in cloud_init}
    ssh_up: dict[str, float] = {}
    stage_start: dict[str, float] = {}
    bootstrap: float | None = None
    if controller in booted:  # the controller's uptime 0 on the host's clock
        for up, what in _marks(transcripts.get(controller, "")):
            at = round(booted[controller] + up, 1)
            if what == "bootstrap start":
                bootstrap = at if bootstrap is None else bootstrap
            elif m := _HOST_UP.fullmatch(what):
                _first(ssh_up, m["node"], at)
            elif m := _STAGE_START.fullmatch(what):
                _first(stage_start, m["name"], at)
    names = list(dict.fromkeys([*started, *cloud_init, *transcripts]))
    nodes = tuple(NodeTimes(n, started.get(n), booted.get(n), ssh_up.get(n), cloud_init.get(n))
                  for n in names)
    return Timeline(nodes=nodes, stages=_stages(ends, stage_start, ssh_up, bootstrap, stages),
                    controller=controller, bootstrap_start=bootstrap, ready=ready)


def _stages(ends: list[tuple[str, float, bool]], start: dict[str, float],
            ssh_up: dict[str, float], bootstrap: float | None,
            doc: Mapping[str, Any] | None) -> tuple[StageTimes, ...]:
    """Each ended stage; a start not marked on the console is the previous stage's end."""
    hosts = {s.get("name"): list(s.get("hosts", [])) for s in (doc or {}).get("stages", [])}
    out, previous = [], bootstrap
    for name, end, ok in ends:
        begin = start.get(name, previous)
        seen = [ssh_up[h] for h in hosts.get(name, []) if h in ssh_up]
        up = max(seen) if seen else None
        if up is not None and begin is not None:
            up = max(up, begin)
        out.append(StageTimes(name, begin, up, end, ok))
        previous = end
    return tuple(out)


# -- output ------------------------------------------------------------------------------------


def _share(seconds: float | None, whole: float | None) -> float | None:
    return None if seconds is None or not whole else round(100 * seconds / whole, 1)


def timeline_json(tl: Timeline) -> dict[str, Any]:
    """The timeline as plain data (seconds from the first node's start; shares in percent of
    the time to lab ready)."""
    return {
        "origin": "the first node's start",
        "controller": tl.controller,
        "ready": tl.ready,
        "guests_ready": tl.guests_ready,
        "ratio_ready_vs_guests": None if tl.ratio is None else round(tl.ratio, 3),
        "bootstrap_start": tl.bootstrap_start,
        "nodes": {n.node: {"started": n.started, "booted": n.booted, "ssh_up": n.ssh_up,
                           "cloud_init": n.cloud_init,
                           "share": _share(n.cloud_init, tl.ready)} for n in tl.nodes},
        "stages": [{"name": s.name, "start": s.start, "hosts_up": s.hosts_up, "end": s.end,
                    "ok": s.ok, "seconds": None if s.seconds is None else round(s.seconds, 1),
                    "waiting": round(s.waiting, 1), "share": _share(s.seconds, tl.ready)}
                   for s in tl.stages],
        "after_guests": {"seconds": (None if tl.ready is None or tl.guests_ready is None
                                     else round(tl.ready - tl.guests_ready, 1)),
                         "parts": tl.after_guests()},
    }


def _cell(value: float | None, width: int = 9) -> str:
    return f"{'-' if value is None else f'{value:.1f}':>{width}}"


def render_text(tl: Timeline) -> str:
    """The timeline as a table, for the end of ``push --wait``."""
    lines = ["timeline (seconds from the first node's start)",
             f"{'node':<16}{'started':>9}{'booted':>9}{'ssh up':>9}{'cloud-init':>11}{'share':>7}"]
    for n in tl.nodes:
        share = _share(n.cloud_init, tl.ready)
        lines.append(f"{n.node:<16}{_cell(n.started)}{_cell(n.booted)}{_cell(n.ssh_up)}"
                     f"{_cell(n.cloud_init, 11)}{'' if share is None else f'{share:.0f}%':>7}")
    lines.append(f"{'stage':<16}{'start':>9}{'hosts up':>9}{'end':>9}{'seconds':>11}{'share':>7}")
    if tl.bootstrap_start is not None:
        lines.append(f"{'(bootstrap)':<16}{_cell(tl.bootstrap_start)}")
    for s in tl.stages:
        share = _share(s.seconds, tl.ready)
        state = "" if s.ok else "  FAILED"
        lines.append(f"{s.name:<16}{_cell(s.start)}{_cell(s.hosts_up)}{_cell(s.end)}"
                     f"{_cell(s.seconds, 11)}{'' if share is None else f'{share:.0f}%':>7}"
                     f"{state}")
    if tl.ready is None:
        lines.append("lab ready: not seen")
        return "\n".join(lines) + "\n"
    lines.append(f"lab ready at {tl.ready:.1f} s")
    if tl.guests_ready is not None and tl.ratio is not None:
        parts = ", ".join(f"{k} {v:.1f} s" for k, v in tl.after_guests().items() if v)
        lines.append(f"slowest guest's cloud-init finished at {tl.guests_ready:.1f} s: lab "
                     f"ready {tl.ratio:.2f}x that, {tl.ready - tl.guests_ready:.1f} s after"
                     + (f" ({parts})" if parts else ""))
    return "\n".join(lines) + "\n"
