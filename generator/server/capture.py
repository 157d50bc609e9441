"""``gns3lab capture``: push an archive, let the lab build itself, and archive the result.

1. :func:`~generator.server.push.push_archive` with ``wait``: import, place, start in stage
   order, follow the consoles to ``gns3lab: lab ready``.
2. With checkpoints, at each stage's ``ok`` line (but the last): the guests are put to rest
   (:func:`~generator.server.snapshots.rest`: the bootstrap synced them before the line; pause,
   power off), GNS3 snapshots the project under the stage's name, and the nodes start again
   in stage order; the bootstrap skips the stages that ran and goes on with the next.
3. At ``lab ready`` the guests are put to rest the same way (and, with checkpoints, the last
   stage's snapshot is taken), GNS3 exports the project with its snapshots, and
   :mod:`.capture_pack` re-packs it as ``<lab>-<version>-ready.gns3project``.

The project stays on the server (stopped) after a capture, so a failed one can be looked at.
"""

from __future__ import annotations

import contextlib
import re
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from generator.archive_format import CaptureRecord, CaptureStage, Manifest
from generator.errors import ArchiveError, ServerError
from generator.fileio import sha256_file
from generator.server.capture_pack import repack_capture
from generator.server.consoles import Progress, PushEvent
from generator.server.facts import read_archive
from generator.server.push import HTTP_TIMEOUT, PushResult, push_archive, start_order
from generator.server.snapshots import EXPORT_TIMEOUT, SnapshotClient, rest
from generator.server.timeline import EVENT_LIMIT, TIMELINE_KINDS, build_timeline

#: What a GNS3 version looks like (2.2.61, 3.0.6, 3.1.0rc1, 2.2.0a1+dev): it goes into the
#: captured manifest, so a server that answers anything else is not captured from.
GNS3_VERSION = re.compile(r"[0-9]{1,3}\.[0-9]{1,3}(\.[0-9]{1,4})?[0-9A-Za-z.+-]{0,20}")


class CaptureFailed(ServerError):
    """The lab did not get ready: nothing was captured. ``push`` holds what the consoles
    showed (the project stays on the server)."""

    def __init__(self, push: PushResult) -> None:
        super().__init__(f"the lab did not get ready, nothing captured: {push.failure}",
                         hint=f"project {push.name!r} stays on the server; look at its "
                              "consoles, or push --delete it")
        self.push = push


@dataclass
class CaptureResult:
    """The captured archive and how the capture went."""

    archive: Path
    project_id: str
    name: str
    manifest: Manifest
    push: PushResult
    snapshots: list[str] = field(default_factory=list)  #: snapshot names, in order taken


def captured_name(manifest: Manifest, fallback: str) -> str:
    """``<lab>-<version>-ready.gns3project`` (the version left out when none is recorded)."""
    lab = manifest.lab or fallback
    return f"{lab}-{manifest.version}-ready.gns3project" if manifest.version else \
        f"{lab}-ready.gns3project"


class _Checkpoints:
    """The progress callback of the push: passes every event on, times the stages, and, with
    checkpoints, snapshots the project after each stage's ok (but the last one's)."""

    def __init__(self, client: SnapshotClient, stages: list[str], order: list[str],
                 checkpoints: bool, progress: Progress) -> None:
        self.client, self.stages, self.order = client, stages, order
        self.checkpoints, self.progress = checkpoints, progress
        self.pid = ""
        self.since: float | None = None
        self.first_start: float | None = None
        self.times: list[CaptureStage] = []
        self.taken: list[str] = []
        self.events: list[tuple[float, PushEvent]] = []

    def emit(self, event: PushEvent) -> None:
        """Pass ``event`` on, keeping the host's clock of those a timeline reads (push's own
        timeline never sees the checkpoints, which happen here)."""
        if event.kind in TIMELINE_KINDS and len(self.events) < EVENT_LIMIT:
            self.events.append((time.monotonic(), event))
        self.progress(event)

    def __call__(self, event: PushEvent) -> None:
        self.emit(event)
        now = time.monotonic()
        if event.kind == "imported" and event.args:
            self.pid = event.args[0]
        elif event.kind == "started" and self.since is None:
            self.since = self.first_start = now
        elif event.kind == "stage" and event.args:
            stage = event.args[0]
            self.times.append(CaptureStage(name=stage, ok=bool(event.ok),
                                           seconds=round(now - (self.since or now), 1)))
            self.since = now
            if self.checkpoints and event.ok and stage in self.stages[:-1]:
                self.checkpoint(stage)
                self.since = time.monotonic()

    def checkpoint(self, stage: str) -> None:
        """Rest the guests, snapshot the project as ``stage``, start the nodes again."""
        self.emit(PushEvent("stopped", f"checkpoint after stage {stage}: pausing and "
                            "powering off the guests", args=("checkpoint", stage)))
        rest(self.client, self.pid)
        self.client.take_snapshot(self.pid, stage)
        self.taken.append(stage)
        self.emit(PushEvent("stopped", f"snapshot {stage!r} taken; starting the lab again",
                            args=("restart", stage)))
        ids = {n["name"]: n["node_id"] for n in self.client.nodes(self.pid)}
        for node in self.order:
            if node in ids:
                self.client.start_node(self.pid, ids[node])


def capture_archive(archive: Path, server_url: str, out_dir: Path, *,
                    username: str | None = None, password: str | None = None,
                    name: str | None = None, checkpoints: bool = False,
                    timeout: float = 1800, stall: float | None = None,
                    export_timeout: float = EXPORT_TIMEOUT,
                    progress: Progress = lambda _: None) -> CaptureResult:
    """Push ``archive``, follow it to lab ready (snapshot after each stage with
    ``checkpoints``), rest the guests, export and re-pack into ``out_dir``.

    Raises ServerError when the lab does not get ready (the project stays, opened), the
    server refuses a step or answers what GNS3 does not (then nothing is written into
    ``out_dir``); ImageError as push does."""
    facts = read_archive(archive)
    stages = [str(s.get("name")) for s in (facts.stages or {}).get("stages") or []]
    names = [str(n.get("name")) for n in facts.project.get("topology", {}).get("nodes", [])]
    client = SnapshotClient(server_url, username, password, timeout=HTTP_TIMEOUT)
    version = gns3_version(client)
    hook = _Checkpoints(client, stages, start_order(names, facts.stages), checkpoints,
                        progress)
    source = sha256_file(archive)
    push = push_archive(archive, server_url, username=username, password=password, name=name,
                        wait=True, timeout=timeout, stall=stall, progress=hook)
    if hook.taken and push.timeline is not None:  # push's own timeline saw no checkpoint
        push.timeline = build_timeline(hook.events, push.transcripts, facts.stages)
    if not push.ready:
        raise CaptureFailed(push)
    ready = time.monotonic() - (hook.first_start or time.monotonic())
    progress(PushEvent("stopped", "lab ready: pausing and powering off the guests"))
    rest(client, push.project_id)
    if checkpoints and stages and stages[-1] not in hook.taken:
        client.take_snapshot(push.project_id, stages[-1])
        hook.taken.append(stages[-1])
    capture = CaptureRecord(
        captured_at=datetime.now(tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        source_archive=archive.name, source_sha256=source,
        gns3_version=version, ready_seconds=round(ready, 1), stages=tuple(hook.times))
    target = archive_project(client, push.project_id, archive, out_dir, capture, progress,
                             export_timeout=export_timeout)
    return CaptureResult(archive=target[0], project_id=push.project_id, name=push.name,
                         manifest=target[1], push=push, snapshots=hook.taken)


def gns3_version(client: SnapshotClient) -> str:
    """The server's GNS3 version, refused unless it looks like one (it is recorded)."""
    version = client.version().get("version")
    if not isinstance(version, str) or not GNS3_VERSION.fullmatch(version):
        raise ServerError(f"the GNS3 server at {client.url} reports version {version!r}, "
                          "which is not a GNS3 version: nothing was pushed or captured",
                          hint="check that --server names a GNS3 server (2.2 or 3.x); if it "
                               "does, that server is broken")
    return version


def archive_project(client: SnapshotClient, pid: str, archive: Path, out_dir: Path,
                    capture: CaptureRecord, progress: Progress = lambda _: None, *,
                    export_timeout: float = EXPORT_TIMEOUT) -> tuple[Path, Manifest]:
    """Export the stopped project ``pid`` (pushed from ``archive``) with its snapshots and
    re-pack it into ``out_dir``; returns the captured archive and its manifest. On any
    failure nothing is left in ``out_dir`` (nor ``out_dir`` itself when this made it)."""
    facts = read_archive(archive)
    stages = [str(s.get("name")) for s in (facts.stages or {}).get("stages") or []]
    taken = {}
    for snap in client.snapshots(pid):
        created = int(snap.get("created_at") or 0)
        filename = snap.get("filename") or _legacy_filename(snap["name"], created)
        taken[filename] = (snap["name"], snap["name"] if snap["name"] in stages else "",
                           created)
    made = not out_dir.exists()
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / captured_name(facts.manifest, facts.name or "lab")
    try:
        with tempfile.TemporaryDirectory(prefix="gns3lab-capture-", dir=out_dir) as tmp:
            exported = client.export_to(pid, Path(tmp) / "export.zip", timeout=export_timeout)
            progress(PushEvent("stopped", f"exported {exported.stat().st_size} bytes"))
            partial = Path(tmp) / target.name
            try:
                manifest = repack_capture(exported, partial, facts.manifest, capture, taken,
                                          Path(tmp))
            except ArchiveError as exc:
                raise _not_an_export(client.url, exc, tmp) from None
            partial.replace(target)
    except BaseException:
        if made:
            with contextlib.suppress(OSError):
                out_dir.rmdir()
        raise
    return target, manifest


def _not_an_export(url: str, exc: ArchiveError, tmp: str) -> ServerError:
    """The re-pack's complaint about GNS3's export, told as the server's fault (the temporary
    file it names is gone by the time anyone reads the message)."""
    detail = re.sub(re.escape(tmp) + r"/[^:]*: ", "", exc.message)
    return ServerError(f"the GNS3 server at {url} exported something that is not a GNS3 "
                       f"project export: {detail}; nothing was captured",
                       hint="look at the server's log, then capture again (the project stays "
                            "on the server, stopped)")


def _legacy_filename(name: str, created: int) -> str:
    """3.0.6 names its snapshot files ``<name>_<ddmmyy_HHMMSS>.gns3project`` (no 'filename'
    in its answer)."""
    return f"{name}_{datetime.fromtimestamp(created, tz=UTC).strftime('%d%m%y_%H%M%S')}" \
        ".gns3project"
