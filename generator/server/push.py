"""Push a built archive to a GNS3 server: check images, import, place, open, start in stage
order, and follow the lab coming up; or stop or delete a pushed lab.

Nothing is printed here. Progress goes to a callback as :class:`PushEvent` records (see
:mod:`generator.server.pushview` for the live display), problems with the server are raised as
:class:`~generator.errors.ServerError` (wrong or missing base images as
:class:`~generator.errors.ImageError`), and whether the lab came up is part of the
:class:`PushResult` (a failed stage or a timeout is an outcome, not an error).

Before anything is imported, every base image the archive's manifest names is looked up on the
compute its nodes will run on (:mod:`generator.server.imagecheck`): a different file of the same
name would turn the archive's overlays into garbage, so the push is refused.

Nodes start one at a time in the order the controller's stages imply: the controller, then each
stage's hosts in stage order, then the rest (read from the archive's ``stages.json``).
"""

from __future__ import annotations

import contextlib
import json
import re
import tempfile
import time
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from generator.errors import ServerError
from generator.paths import imported_project_file
from generator.server.api import Gns3Client
from generator.server.consoles import (
    CheckResult,
    ConsoleWatch,
    Progress,
    PushEvent,
    WaitOutcome,
    parse_console_line,
)
from generator.server.facts import ArchiveFacts, read_archive
from generator.server.imagecheck import check_images
from generator.server.placement import (
    LOCAL,
    CrossLink,
    Placement,
    arrange_for_import,
    cross_links,
    plan_placement,
    repack,
    settle_imported,
)
from generator.server.timeline import EVENT_LIMIT, TIMELINE_KINDS, Timeline, build_timeline

__all__ = ["CheckResult", "NodeInfo", "PushEvent", "PushResult", "parse_console_line",
           "push_archive", "read_archive", "start_order"]

#: Seconds for one HTTP exchange: importing a large archive, or opening a project whose
#: images GNS3 must checksum, takes a while. A dead server is still noticed at once.
HTTP_TIMEOUT = 600.0

_MISSING_IMAGE = re.compile(r"[Tt]he image '?(?P<image>[^' ]+)'? is missing")


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
    compute_id: str = LOCAL


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
    order: list[str] = field(default_factory=list)  #: start order used
    placement: dict[str, str] = field(default_factory=dict)  #: node -> compute id
    cross_links: list[CrossLink] = field(default_factory=list)
    uploaded: list[str] = field(default_factory=list)  #: "image -> compute" uploads made
    stopped: bool = False
    deleted: bool = False
    timeline: Timeline | None = None  #: when waited for: boots, cloud-init, stages, ready


def start_order(names: Sequence[str], stages: dict[str, Any] | None) -> list[str]:
    """The controller, then each stage's hosts in stage order, then every other node (in
    project order)."""
    wanted: list[str] = []
    if stages:
        wanted.append(str(stages.get("controller", "")))
        for stage in stages.get("stages") or []:
            wanted += [str(h) for h in stage.get("hosts") or []]
    present = set(names)
    first = [n for n in dict.fromkeys(wanted) if n in present]
    return first + [n for n in names if n not in first]


# -- the push ----------------------------------------------------------------------------------


def push_archive(archive: Path, server_url: str, *, username: str | None = None,
                 password: str | None = None, name: str | None = None, start: bool = False,
                 wait: bool = False, timeout: float = 1800,
                 upload_from: Sequence[Path] | None = None, stop: bool = False,
                 delete: bool = False, progress: Progress = lambda _: None,
                 stall: float | None = None) -> PushResult:
    """Import ``archive`` into the GNS3 server at ``server_url``, open it, and optionally start
    its nodes in stage order (``start``) and follow their consoles until the lab is ready
    (``wait``, which implies ``start``; ``timeout`` seconds from the first start).

    ``name`` defaults to the project name inside the archive. ``upload_from`` (folders, then
    the usual image folders) enables uploading base images the server lacks. ``stop`` or
    ``delete`` act on the already pushed project called ``name`` instead of importing.

    Raises ImageError when a base image on the server differs from the one the archive was
    built on (nothing is imported then), ServerError when the server is unreachable or refuses
    a step; if the open fails, the imported project is deleted again.
    """
    client = Gns3Client(server_url, username, password, timeout=HTTP_TIMEOUT)
    facts = read_archive(archive)
    wanted = name or facts.name
    if stop or delete:
        return _stop_or_delete(client, wanted, delete, progress)
    placement = (plan_placement(facts.project, facts.manifest, client.computes())
                 if facts.project.get("topology") else Placement((LOCAL,), {}))
    uploaded = check_images(client, facts, placement, upload_from, progress)
    project = _import(client, archive, facts, placement, wanted)
    pid = project["project_id"]
    final = project.get("name") or wanted or pid
    taken = f" ({wanted!r} is taken)" if wanted and final != wanted else ""
    progress(PushEvent("imported", f"imported as {final!r}{taken}, project id {pid}",
                       args=(pid, final)))
    if placement.arranged:
        _settle(client, pid, final, placement)
    _open(client, pid, final)
    nodes = [_node_info(n) for n in client.nodes(pid)]
    links = client.links(pid)
    progress(PushEvent("opened", f"opened {final!r}: {len(nodes)} nodes, {len(links)} links"))
    for node in nodes:
        progress(PushEvent("opened", f"opened on {node.compute_id}", node.name,
                           args=(node.compute_id,)))
    result = PushResult(project_id=pid, name=final, nodes=nodes, uploaded=uploaded,
                        placement={n.name: n.compute_id for n in nodes},
                        cross_links=cross_links(client.nodes(pid), links))
    _check_links(facts, links, result, progress)
    result.order = start_order([n.name for n in nodes], facts.stages)
    if not (start or wait):
        return result
    consoles = console_endpoints(nodes, server_url) if wait else {}
    if wait and not consoles:
        raise ServerError(f"project {final!r} has no QEMU node with a telnet console to follow",
                          hint="push without --wait")
    stamped = _Stamped(progress)
    with ConsoleWatch(consoles, stamped) as watch:
        result.nodes = _start(client, pid, final, result.order, stamped)
        result.started = True
        if wait:
            _take_outcome(result, watch.wait(timeout, stall))
            result.timeline = build_timeline(stamped.events, result.transcripts, facts.stages)
    return result


class _Stamped:
    """Passes every event on, and keeps the host's clock of those the timeline reads (starts,
    cloud-init finishes, stages, ready: a few per node, never the console lines, whose number
    a guest decides)."""

    KINDS = TIMELINE_KINDS
    LIMIT = EVENT_LIMIT

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.events: list[tuple[float, PushEvent]] = []

    def __call__(self, event: PushEvent) -> None:
        if event.kind in self.KINDS and len(self.events) < self.LIMIT:
            self.events.append((time.monotonic(), event))
        self.progress(event)


def _import(client: Gns3Client, archive: Path, facts: ArchiveFacts, placement: Placement,
            wanted: str | None) -> dict[str, Any]:
    """Import as it is, or (several computes) a copy arranged for GNS3's round-robin."""
    if not placement.arranged:
        return client.import_project(archive, wanted)
    with tempfile.TemporaryDirectory(prefix="gns3lab-push-") as tmp:
        arranged = arrange_for_import(facts.project, placement)
        copy = repack(archive, arranged, Path(tmp) / archive.name)
        return client.import_project(copy, wanted)


def _settle(client: Gns3Client, pid: str, name: str, placement: Placement) -> None:
    """Take the fillers out of the imported (still closed) project file and check the deal."""
    path = imported_project_file(name)
    try:
        settled = settle_imported(client.read_project_file(pid, path), placement)
        client.write_project_file(pid, path, json.dumps(settled, indent=4).encode())
    except (ServerError, KeyError, TypeError) as exc:
        with contextlib.suppress(ServerError):
            client.delete_project(pid)
        message = exc.message if isinstance(exc, ServerError) else f"unexpected file: {exc!r}"
        raise ServerError(f"placing the nodes of {name!r} failed: {message}",
                          hint="the imported project was deleted") from exc


def _check_links(facts: ArchiveFacts, links: list[dict[str, Any]], result: PushResult,
                 progress: Progress) -> None:
    """Every link of the archive must exist after open (GNS3 drops bad ones silently); links
    between computes are reported, they run as UDP tunnels."""
    expected = len(facts.project.get("topology", {}).get("links", []))
    if expected and len(links) < expected:
        raise ServerError(f"project {result.name!r} opened with {len(links)} of its {expected} "
                          "links", hint="GNS3 dropped links it could not make (on a remote "
                          "compute: can the computes reach each other over UDP?); see the "
                          "server log")
    for link in result.cross_links:
        progress(PushEvent("placed", f"link {link}"))


# -- opening, starting, stopping ---------------------------------------------------------------


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


def _start(client: Gns3Client, pid: str, name: str, order: list[str], progress: Progress
           ) -> list[NodeInfo]:
    """Start the nodes one at a time in ``order`` and report each one's status."""
    ids = {n["name"]: n["node_id"] for n in client.nodes(pid)}
    for node in order:
        if node not in ids:  # listed a moment ago: the server's lists disagree
            raise ServerError(f"node {node!r} of {name!r} is gone from the server's list of its "
                              "nodes", hint=f"project {name!r} stays on the server, opened; "
                              "look at it in GNS3, or push --delete")
        try:
            answer = client.start_node(pid, ids[node])
        except ServerError as exc:
            raise ServerError(f"starting node {node!r} of {name!r} failed: {exc.message}",
                              hint=f"project {name!r} stays on the server, opened; fix the "
                                   "problem and start it from GNS3, or push --delete") from exc
        status = (answer.get("status") if isinstance(answer, dict) else None) or "started"
        progress(PushEvent("started", "started" if status == "started" else f"status {status}",
                           node))
    return [_node_info(n) for n in client.nodes(pid)]


def _stop_or_delete(client: Gns3Client, name: str | None, delete: bool, progress: Progress
                    ) -> PushResult:
    """Stop the nodes of the pushed project ``name``; with ``delete`` also remove it."""
    project = client.find_project(name) if name else None
    if project is None:
        known = ", ".join(sorted(p["name"] for p in client.projects())) or "none"
        raise ServerError(f"no project named {name!r} on {client.url} (projects: {known})",
                          hint="pass --name with the project's name on the server")
    pid = project["project_id"]
    nodes: list[NodeInfo] = []
    if project.get("status") == "opened":
        nodes = [_node_info(n) for n in client.nodes(pid)]
        client.stop_all(pid)
        for node in nodes:
            progress(PushEvent("stopped", "stopped", node.name))
        nodes = [_node_info(n) for n in client.nodes(pid)]
    result = PushResult(project_id=pid, name=project["name"], nodes=nodes, stopped=True)
    if delete:
        client.delete_project(pid)
        progress(PushEvent("deleted", f"deleted project {project['name']!r} ({pid})"))
        result.deleted = True
    return result


def _take_outcome(result: PushResult, outcome: WaitOutcome) -> None:
    result.waited = True
    result.stages, result.checks = outcome.stages, outcome.checks
    result.ready, result.failure = outcome.ready, outcome.failure
    result.transcripts = outcome.transcripts


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
                    status=node.get("status") or "unknown", console_type=node.get("console_type"),
                    console_host=node.get("console_host"), console_port=node.get("console"),
                    compute_id=node.get("compute_id") or LOCAL)
