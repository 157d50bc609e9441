"""Push a built archive to a GNS3 server: import, open, start, and follow the lab coming up.

Nothing is printed here. Progress goes to a callback as :class:`PushEvent` records, problems
with the server are raised as :class:`~generator.errors.ServerError`, and whether the lab came
up is part of the :class:`PushResult` (a failed stage or a timeout is an outcome, not an error).

Following the lab means reading the serial (telnet) console of every QEMU node at the same
time, one daemon thread per console, and watching for the lines the lab's VMs print:

- ``Cloud-init v. 22.4.2 finished at …`` on every VM,
- ``gns3lab: stage <name> ok|failed`` and ``gns3lab: check <node> <address> ok|failed`` from
  the controller, and finally ``gns3lab: lab ready``.

The wait ends at ``lab ready`` (success), at the first failed stage, or at the timeout.
"""

from __future__ import annotations

import contextlib
import json
import queue
import re
import threading
import time
import urllib.parse
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from .errors import ServerError
from .gns3api import ConsoleTail, Gns3Client

#: Seconds for one HTTP exchange: importing a large archive, or opening a project whose
#: images GNS3 must checksum, takes a while. A dead server is still noticed at once.
HTTP_TIMEOUT = 600.0
#: How long a console thread blocks at most before it looks at its stop flag again.
POLL_INTERVAL = 0.5
#: Pause between attempts to (re)connect to a console that is not there (yet).
RETRY_INTERVAL = 0.2
CONNECT_TIMEOUT = 3.0
#: Seconds to wait for each console thread to finish after the wait is over.
JOIN_TIMEOUT = 5.0

EventKind = Literal["imported", "opened", "started", "console", "cloud-init", "stage", "check",
                    "ready"]

_STAGE = re.compile(r"(?:^|\s)gns3lab: stage (?P<name>\S+) (?P<state>ok|failed)\s*$")
_CHECK = re.compile(
    r"(?:^|\s)gns3lab: check (?P<node>\S+) (?P<address>\S+) (?P<state>ok|failed)\s*$")
_READY = re.compile(r"(?:^|\s)gns3lab: lab ready\s*$")
_CLOUD_INIT = re.compile(r"Cloud-init v\. (?P<version>\S+) finished at")
_MISSING_IMAGE = re.compile(r"[Tt]he image '?(?P<image>[^' ]+)'? is missing")


@dataclass(frozen=True)
class PushEvent:
    """One progress report. ``node`` is the node it concerns (None for the whole project).
    Stages and checks also carry ``ok`` and their fields in ``args``: ``(stage,)`` or
    ``(checked node, address)``."""

    kind: EventKind
    message: str
    node: str | None = None
    ok: bool | None = None
    args: tuple[str, ...] = ()

    def __str__(self) -> str:
        return f"{self.node}: {self.message}" if self.node else self.message


Progress = Callable[[PushEvent], None]


@dataclass(frozen=True)
class NodeInfo:
    """A node of the pushed project, as the server described it after open (or start)."""

    name: str
    node_id: str
    node_type: str
    status: str
    console_type: str | None
    console_host: str | None
    console_port: int | None


@dataclass(frozen=True)
class CheckResult:
    """One ``gns3lab: check <node> <address> ok|failed`` line."""

    node: str
    address: str
    ok: bool


@dataclass
class WaitOutcome:
    """What following the consoles found."""

    stages: list[tuple[str, bool]] = field(default_factory=list)
    checks: list[CheckResult] = field(default_factory=list)
    cloud_init: list[str] = field(default_factory=list)  #: nodes whose cloud-init finished
    ready: bool = False
    failure: str | None = None  #: why the lab is not ready (failed stage, timeout)
    transcripts: dict[str, str] = field(default_factory=dict)  #: node name -> console text

    @property
    def finished(self) -> bool:
        """True once the wait can stop: the lab is ready or a stage failed."""
        return self.ready or self.failure is not None

    def record(self, event: PushEvent) -> None:
        """Take one console event into account."""
        if event.kind == "ready":
            self.ready = True
        elif event.kind == "cloud-init" and event.node not in self.cloud_init:
            self.cloud_init.append(event.node or "")
        elif event.kind == "stage":
            (name,) = event.args
            self.stages.append((name, bool(event.ok)))
            if not event.ok and self.failure is None:
                self.failure = f"stage {name} failed (reported by {event.node})"
        elif event.kind == "check":
            node, address = event.args
            self.checks.append(CheckResult(node, address, bool(event.ok)))


@dataclass
class PushResult:
    """The pushed project and, when waited for, how the lab came up."""

    project_id: str
    name: str  #: the final name: GNS3 appends -1, -2, … when the wanted one is taken
    nodes: list[NodeInfo]
    stages: list[tuple[str, bool]] = field(default_factory=list)  #: in the order seen
    checks: list[CheckResult] = field(default_factory=list)
    ready: bool = False  #: ``gns3lab: lab ready`` was seen
    transcripts: dict[str, str] = field(default_factory=dict)  #: node name -> console text
    started: bool = False
    waited: bool = False
    failure: str | None = None  #: why the lab is not ready, when waited for

    @property
    def ok(self) -> bool:
        """Success: ready when waited for, otherwise import/open(/start) went through."""
        return self.ready if self.waited else True


def parse_console_line(node: str, line: str) -> PushEvent | None:
    """The event a console line stands for, or None for ordinary output."""
    if match := _STAGE.search(line):
        return PushEvent("stage", f"stage {match['name']} {match['state']}", node,
                         match["state"] == "ok", (match["name"],))
    if match := _CHECK.search(line):
        text = f"check {match['node']} {match['address']} {match['state']}"
        return PushEvent("check", text, node, match["state"] == "ok",
                         (match["node"], match["address"]))
    if _READY.search(line):
        return PushEvent("ready", "lab ready", node, True)
    if match := _CLOUD_INIT.search(line):
        return PushEvent("cloud-init", f"cloud-init {match['version']} finished", node)
    return None


# -- following consoles ------------------------------------------------------------------------


class _ConsoleFollower(threading.Thread):
    """Reads one node's console until told to stop, reconnecting whenever it drops.

    Every line goes into :attr:`lines`; the lines that mean something go to ``events`` as
    :class:`PushEvent`. Only the main thread calls the progress callback.
    """

    def __init__(self, node: str, host: str, port: int, events: queue.Queue[PushEvent],
                 stop: threading.Event) -> None:
        super().__init__(name=f"console-{node}", daemon=True)
        self.node, self.host, self.port = node, host, port
        self.lines: list[str] = []
        self._queue, self._halt = events, stop  # not _stop: threading.Thread has one

    def run(self) -> None:
        try:
            self._follow()
        except Exception as exc:
            self._queue.put(PushEvent("console", f"console reader failed: {exc!r}", self.node))

    def _follow(self) -> None:
        connections = 0
        while not self._halt.is_set():
            try:
                tail = ConsoleTail(self.host, self.port, connect_timeout=CONNECT_TIMEOUT)
            except ServerError:  # not listening yet, or gone for a moment
                self._halt.wait(RETRY_INTERVAL)
                continue
            connections += 1
            again = "re" if connections > 1 else ""
            self._say(f"console {again}connected ({self.host}:{self.port})")
            with tail:
                self._read(tail)
            if not self._halt.is_set():
                self._say("console closed, reconnecting")
                self._halt.wait(RETRY_INTERVAL)

    def _read(self, tail: ConsoleTail) -> None:
        """Read until the console closes or fails, or the stop flag is set."""
        try:
            while not self._halt.is_set() and not tail.eof:
                for line in tail.lines(timeout=POLL_INTERVAL):
                    self.lines.append(line)
                    if event := parse_console_line(self.node, line):
                        self._queue.put(event)
        except (ServerError, OSError):  # a dropped connection: reconnect
            pass

    def _say(self, message: str) -> None:
        self._queue.put(PushEvent("console", message, self.node))


class ConsoleWatch:
    """Follow several consoles at once; use as a context manager around starting the nodes,
    so that no early output is missed, then call :meth:`wait`.

    ``consoles`` maps node name -> (host, port).
    """

    def __init__(self, consoles: Mapping[str, tuple[str, int]],
                 progress: Progress = lambda _: None) -> None:
        self._events: queue.Queue[PushEvent] = queue.Queue()
        self._stop = threading.Event()
        self._progress = progress
        self._followers = [_ConsoleFollower(node, host, port, self._events, self._stop)
                           for node, (host, port) in consoles.items()]

    def __enter__(self) -> ConsoleWatch:
        for follower in self._followers:
            follower.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def stop(self) -> None:
        """Stop every console thread and wait (bounded) for them to end."""
        self._stop.set()
        for follower in self._followers:
            if follower.is_alive():
                follower.join(JOIN_TIMEOUT)

    def transcripts(self) -> dict[str, str]:
        """Every console's lines so far, by node name."""
        return {f.node: "".join(line + "\n" for line in list(f.lines)) for f in self._followers}

    def wait(self, timeout: float) -> WaitOutcome:
        """Handle console events until the lab is ready, a stage fails, or ``timeout`` seconds
        have passed. Stops the console threads; the outcome carries the transcripts."""
        outcome = WaitOutcome()
        deadline = time.monotonic() + timeout
        try:
            while not outcome.finished:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    outcome.failure = f"no 'gns3lab: lab ready' within {timeout:g} s"
                    break
                try:
                    event = self._events.get(timeout=min(remaining, POLL_INTERVAL))
                except queue.Empty:
                    continue
                outcome.record(event)
                self._progress(event)
        finally:
            self.stop()
        outcome.transcripts = self.transcripts()
        return outcome


def follow_consoles(consoles: Mapping[str, tuple[str, int]], timeout: float,
                    progress: Progress = lambda _: None) -> WaitOutcome:
    """Follow already running consoles (node -> (host, port)) until the lab is ready, a stage
    fails, or ``timeout`` seconds pass."""
    with ConsoleWatch(consoles, progress) as watch:
        return watch.wait(timeout)


# -- the push ----------------------------------------------------------------------------------


def push_archive(archive: Path, server_url: str, *, username: str | None = None,
                 password: str | None = None, name: str | None = None, start: bool = False,
                 wait: bool = False, timeout: float = 1800,
                 progress: Progress = lambda _: None) -> PushResult:
    """Import ``archive`` into the GNS3 server at ``server_url``, open it, and optionally start
    all nodes (``start``) and follow their consoles until the lab is ready (``wait``, which
    implies ``start``; ``timeout`` seconds from the start of the nodes).

    ``name`` defaults to the project name inside the archive. Raises ServerError when the
    server is unreachable or refuses the import, open or start; if the open fails, the
    imported project is deleted again.
    """
    client = Gns3Client(server_url, username, password, timeout=HTTP_TIMEOUT)
    wanted = name or _archive_project_name(archive)
    project = client.import_project(archive, wanted)
    pid = project["project_id"]
    final = project.get("name") or wanted or pid
    taken = f" ({wanted!r} is taken)" if wanted and final != wanted else ""
    progress(PushEvent("imported", f"imported as {final!r}{taken}, project id {pid}"))
    _open(client, pid, final)
    nodes = [_node_info(n) for n in client.nodes(pid)]
    progress(PushEvent("opened", f"opened {final!r}: {len(nodes)} nodes, "
                                 f"{len(client.links(pid))} links"))
    result = PushResult(project_id=pid, name=final, nodes=nodes)
    if not (start or wait):
        return result
    consoles = console_endpoints(nodes, server_url) if wait else {}
    if wait and not consoles:
        raise ServerError(f"project {final!r} has no QEMU node with a telnet console to follow",
                          hint="push without --wait")
    with ConsoleWatch(consoles, progress) as watch:
        result.nodes = _start(client, pid, final, progress)
        result.started = True
        if wait:
            _take_outcome(result, watch.wait(timeout))
    return result


def _take_outcome(result: PushResult, outcome: WaitOutcome) -> None:
    result.waited = True
    result.stages, result.checks = outcome.stages, outcome.checks
    result.ready, result.failure = outcome.ready, outcome.failure
    result.transcripts = outcome.transcripts


def _archive_project_name(archive: Path) -> str | None:
    """The ``name`` in the archive's project.gns3, or None if it cannot be read here (the
    server then decides, and reports the problem if there is one)."""
    try:
        with zipfile.ZipFile(archive) as zf:
            name = json.loads(zf.read("project.gns3")).get("name")
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        return None
    return name if isinstance(name, str) and name else None


def _open(client: Gns3Client, pid: str, name: str) -> None:
    """Open the imported project; on failure delete it and explain (missing images above all)."""
    try:
        client.open_project(pid)
    except ServerError as exc:
        with contextlib.suppress(ServerError):
            client.delete_project(pid)
        raise ServerError(f"GNS3 could not open the imported project {name!r}: {exc.message}",
                          hint=_open_hint(exc)) from exc


def _open_hint(exc: ServerError) -> str:
    if match := _MISSING_IMAGE.search(exc.message):
        image = match["image"]
        return (f"put {image} into the GNS3 server's QEMU images folder (images_path/QEMU in "
                "gns3_server.conf, ~/GNS3/images/QEMU by default), or rebuild the archive with "
                "--include-images; then push again (the imported project was deleted)")
    return exc.hint or "the server log has the details; the imported project was deleted"


def _start(client: Gns3Client, pid: str, name: str, progress: Progress) -> list[NodeInfo]:
    """Start every node and report each one's status."""
    try:
        client.start_all(pid)
    except ServerError as exc:
        raise ServerError(f"starting the nodes of {name!r} failed: {exc.message}",
                          hint=f"project {name!r} stays on the server, opened; fix the problem "
                               "and start it from GNS3, or delete it") from exc
    nodes = [_node_info(n) for n in client.nodes(pid)]
    for node in nodes:
        progress(PushEvent("started", "started" if node.status == "started"
                           else f"status {node.status}", node.name))
    return nodes


def console_endpoints(nodes: list[NodeInfo], server_url: str) -> dict[str, tuple[str, int]]:
    """node name -> (host, port) of every QEMU node with a telnet console. A wildcard console
    host (the server listens everywhere) is replaced by the host of ``server_url``."""
    server_host = urllib.parse.urlsplit(server_url).hostname or "127.0.0.1"
    out = {}
    for node in nodes:
        if node.node_type != "qemu" or node.console_type != "telnet" or not node.console_port:
            continue
        host = node.console_host
        if not host or host in ("0.0.0.0", "::", "0:0:0:0:0:0:0:0"):
            host = server_host
        out[node.name] = (host, node.console_port)
    return out


def _node_info(node: dict[str, Any]) -> NodeInfo:
    return NodeInfo(name=node["name"], node_id=node["node_id"], node_type=node["node_type"],
                    status=node.get("status", "unknown"), console_type=node.get("console_type"),
                    console_host=node.get("console_host"), console_port=node.get("console"))
