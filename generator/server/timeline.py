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
  A lab that boots again on the way (``capture --checkpoints``) prints ``bootstrap start``
  and its cloud-init line once per boot: the marks after the k-th ``bootstrap start`` are
  placed through the k-th cloud-init line, on that boot's own clock, or, when that line came
  after the wait ended (the bootstrap may say ``lab ready`` before cloud-init is done), through
  the checkpoint's restart (the controller starts first; a few seconds early).

A checkpoint (``capture --checkpoints``: the guests rest, GNS3 snapshots them, they boot again)
is its own part of the time, from the end of the stage it follows to the start of the next
one; :attr:`Timeline.ratio` leaves it out, since it is the capture's work, not the lab's.

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
#: The events a timeline reads (push keeps the host's clock of these, never console lines):
#: a checkpoint's are ``stopped`` events with ``args`` ``("checkpoint", stage)`` when the
#: guests go to rest and ``("restart", stage)`` when they start again.
TIMELINE_KINDS = frozenset({"started", "cloud-init", "stage", "ready", "stopped"})
#: At most this many of them are kept: a console flooding marker lines must not grow the list
#: without end (a few per node is what a lab prints).
EVENT_LIMIT = 100_000
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
class CheckpointTimes:
    """One checkpoint after stage ``after``: from that stage's end (the guests go to rest) to
    the next stage's start on the lab's next boot (or to lab ready, or to the restart)."""

    after: str
    start: float
    end: float

    @property
    def seconds(self) -> float:
        return max(0.0, self.end - self.start)


@dataclass(frozen=True)
class Timeline:
    nodes: tuple[NodeTimes, ...]
    stages: tuple[StageTimes, ...]
    controller: str | None = None
    bootstrap_start: float | None = None
    ready: float | None = None
    checkpoints: tuple[CheckpointTimes, ...] = ()

    @property
    def paused(self) -> float:
        """Seconds spent in checkpoints before lab ready."""
        return sum(c.seconds for c in self.checkpoints)

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
        return (self.ready - self.paused) / self.guests_ready

    def after_guests(self) -> dict[str, float]:
        """The seconds from the slowest guest's cloud-init finish to lab ready, by part: each
        stage's share of that window ("stage <name>"), the checkpoints' ("checkpoints", when
        there are any), and "other" for the rest."""
        guests, ready = self.guests_ready, self.ready
        if guests is None or ready is None:
            return {}
        parts: dict[str, float] = {}
        spans = [(f"stage {s.name}", s.start, s.end) for s in self.stages if s.start is not None]
        spans += [("checkpoints", c.start, c.end) for c in self.checkpoints]
        for name, start, end in spans:
            overlap = max(0.0, min(end, ready) - max(start, guests))
            parts[name] = round(parts.get(name, 0.0) + overlap, 1)
        parts["other"] = round(max(0.0, ready - guests) - sum(parts.values()), 1)
        return parts


# -- building ----------------------------------------------------------------------------------


def _cloud_init_uptimes(text: str) -> list[float]:
    """The uptime in each ``Cloud-init … finished … Up N seconds`` line (one per boot)."""
    return [float(m["up"]) for m in _CLOUD_INIT_UP.finditer(text)]


def _marks(text: str) -> list[tuple[int, float, str]]:
    """The controller's ``gns3lab: at U WHAT`` lines as (boot, U, WHAT), in order; a boot is
    counted from each ``bootstrap start`` (0 for the first)."""
    out, boot = [], -1
    for line in text.splitlines():
        if m := _MARK.search(line):
            boot += m["what"] == "bootstrap start"
            out.append((max(boot, 0), float(m["up"]), m["what"]))
    return out


def _first(times: dict[str, float], key: str, value: float) -> None:
    times.setdefault(key, value)


def _first_of(values: list[float] | None) -> float | None:
    """The first boot's value (None: not seen)."""
    return values[0] if values else None


def build_timeline(events: Sequence[tuple[float, PushEvent]], transcripts: Mapping[str, str],
                   stages: Mapping[str, Any] | None = None) -> Timeline:
    """The timeline of one push: ``events`` are (host clock in seconds, event) in the order
    reported, ``transcripts`` node -> console text, ``stages`` the archive's stages.json."""
    if not events:
        return Timeline(nodes=(), stages=())
    starts = [t for t, e in events if e.kind == "started"]
    origin = min(starts) if starts else min(t for t, _ in events)
    started: dict[str, float] = {}
    cloud_init: dict[str, list[float]] = {}  # node -> when each boot's line was seen
    ends: list[tuple[str, float, bool]] = []
    pauses: list[tuple[str, float]] = []
    restarts: list[float] = []
    ready, controller = None, (stages or {}).get("controller")
    for t, event in events:
        rel = round(t - origin, 1)
        if event.kind == "started" and event.node:
            _first(started, event.node, rel)
        elif event.kind == "cloud-init" and event.node:
            cloud_init.setdefault(event.node, []).append(rel)
        elif event.kind == "stage":
            ends.append((event.args[0], rel, bool(event.ok)))
            controller = controller or event.node
        elif event.kind == "ready" and ready is None:
            ready, controller = rel, controller or event.node
        elif event.kind == "stopped" and event.args[:1] == ("checkpoint",):
            pauses.append((event.args[-1], rel))
        elif event.kind == "stopped" and event.args[:1] == ("restart",):
            restarts.append(rel)
    # each boot's uptime 0 on the host's clock: when its cloud-init line was seen, minus it
    boots = {n: [round(seen - up, 1) for seen, up in zip(
        cloud_init.get(n, []), _cloud_init_uptimes(text), strict=False)]
        for n, text in transcripts.items()}
    ssh_up: dict[str, float] = {}
    stage_start: dict[str, float] = {}
    bootstrap: float | None = None
    clocks = boots.get(controller or "", [])
    if clocks:  # later boots without their cloud-init line: boot k started at restart k-1
        clocks = [*clocks, *restarts[len(clocks) - 1:]]
    for boot, up, what in _marks(transcripts.get(controller or "", "")):
        if boot >= len(clocks):
            continue  # no clock to place that boot's marks on
        at = round(clocks[boot] + up, 1)
        if what == "bootstrap start":
            bootstrap = at if bootstrap is None else bootstrap
        elif m := _HOST_UP.fullmatch(what):
            _first(ssh_up, m["node"], at)
        elif m := _STAGE_START.fullmatch(what):
            _first(stage_start, m["name"], at)
    names = list(dict.fromkeys([*started, *cloud_init, *transcripts]))
    nodes = tuple(NodeTimes(n, started.get(n), _first_of(boots.get(n)), ssh_up.get(n),
                            _first_of(cloud_init.get(n))) for n in names)
    timed = _stages(ends, stage_start, ssh_up, bootstrap, stages)
    return Timeline(nodes=nodes, stages=timed, controller=controller, bootstrap_start=bootstrap,
                    ready=ready, checkpoints=_checkpoints(pauses, timed, ready))


def _checkpoints(pauses: list[tuple[str, float]], stages: tuple[StageTimes, ...],
                 ready: float | None) -> tuple[CheckpointTimes, ...]:
    """Each checkpoint, from its stage's end to the next stage's start (or lab ready)."""
    out, names = [], [s.name for s in stages]
    for after, seen in pauses:
        here = names.index(after) if after in names else None
        start = stages[here].end if here is not None else seen
        later = stages[here + 1].start if here is not None and here + 1 < len(stages) else None
        end = later if later is not None and later >= start else ready
        out.append(CheckpointTimes(after, start, end if end is not None else start))
    return tuple(out)


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
        "checkpoints": [{"after": c.after, "start": c.start, "end": c.end,
                         "seconds": round(c.seconds, 1)} for c in tl.checkpoints],
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
    for c in tl.checkpoints:
        lines.append(f"{'(checkpoint)':<16}{_cell(c.start)}{'':>9}{_cell(c.end)}"
                     f"{_cell(c.seconds, 11)}  after {c.after}: rest, snapshot, boot again")
    lines.append(f"lab ready at {tl.ready:.1f} s"
                 + (f" ({tl.paused:.1f} s of it in checkpoints)" if tl.checkpoints else ""))
    if tl.guests_ready is not None and tl.ratio is not None:
        parts = ", ".join(f"{k} {v:.1f} s" for k, v in tl.after_guests().items() if v)
        lines.append(f"slowest guest's cloud-init finished at {tl.guests_ready:.1f} s: lab "
                     f"ready {tl.ratio:.2f}x that, {tl.ready - tl.guests_ready:.1f} s after"
                     + (f" ({parts})" if parts else ""))
    return "\n".join(lines) + "\n"
