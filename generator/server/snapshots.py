"""GNS3's snapshots and export, and putting a lab's guests to rest before either.

GNS3 (2.2 and 3.x) refuses to snapshot or export a project while a node runs ("Project must be
stopped in order to export it": a snapshot is an export into ``snapshots/``), and a snapshot
holds disks, never memory. So a checkpoint is: the bootstrap has synced every node's file
systems before it printed the stage's line (``bootstrap.sh``: ``sync_lab``); :func:`rest` then
pauses every guest (QEMU stops its CPUs, drains and flushes its block layer: nothing changes on
the disks from that moment) and powers them off; the snapshot and the export copy disks that
hold what the lab built. The next boot finds the bootstrap's marks and goes on from there.
"""

from __future__ import annotations

import http.client
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from generator.errors import ServerError
from generator.server.api import Gns3Client

#: Seconds for every node to report ``stopped`` after the stop.
STOP_WAIT = 120.0
#: Bytes per read of an export download.
CHUNK = 1 << 20
#: Seconds an export download may take in all (a socket timeout alone lets a byte-a-minute
#: drip go on for ever); a lab's disks at a few MB/s fit in it many times over.
EXPORT_TIMEOUT = 3600.0
#: A snapshot name gns3lab writes into an archive member's name: one printable file name.
SAFE_NAME = re.compile(r"[^\x00-\x1f\x7f/\\]{1,100}")
#: Latest snapshot time taken as true (2100-01-01): later ones are not dates GNS3 writes.
LATEST = 4102444800


class SnapshotClient(Gns3Client):
    """The REST client with GNS3's snapshot, suspend and export calls (2.2 and 3.x)."""

    def suspend_all(self, pid: str) -> None:
        """Pause every node (QEMU: ``stop`` on its monitor)."""
        self.request("POST", f"/projects/{pid}/nodes/suspend", {})

    def stop_nodes(self, pid: str) -> None:
        """Stop every node (3.x wants a JSON body)."""
        self.request("POST", f"/projects/{pid}/nodes/stop", {})

    def snapshots(self, pid: str) -> list[dict[str, Any]]:
        """The project's snapshots: ``snapshot_id``, ``name``, ``created_at`` (and 2.2's
        ``filename``), each checked: the name and time go into member names of the captured
        archive, so a name must be one file name and the time a date GNS3 could write."""
        path = f"/projects/{pid}/snapshots"
        found = self.request("GET", path)
        if not isinstance(found, list):
            raise self._bad_reply("GET", self.prefix + path, "not a list of snapshots")
        for i, snap in enumerate(found):
            if problem := _snapshot_problem(snap):
                raise self._bad_reply("GET", self.prefix + path, f"snapshot {i + 1}: {problem}")
        return found

    def take_snapshot(self, pid: str, name: str) -> dict[str, Any]:
        """Snapshot the (stopped) project as ``name``."""
        answer = self.request("POST", f"/projects/{pid}/snapshots", {"name": name})
        return answer if isinstance(answer, dict) else {}

    def restore_snapshot(self, pid: str, snapshot_id: str) -> None:
        """Restore a snapshot: the project's files become the snapshot's (nodes stopped)."""
        self.request("POST", f"/projects/{pid}/snapshots/{snapshot_id}/restore", {})

    def export_to(self, pid: str, target: Path, *, snapshots: bool = True,
                  timeout: float = EXPORT_TIMEOUT) -> Path:
        """Download GNS3's own export of the (stopped) project, with its snapshots, no base
        images, uncompressed (gns3lab compresses when it re-packs), streamed to ``target``.
        Raises ServerError when the server refuses, the download breaks or ends short of its
        announced length, or it is still coming after ``timeout`` seconds."""
        yes, no = ("true", "false") if self.prefix == "/v3" else ("yes", "no")
        query = urllib.parse.urlencode({
            "include_snapshots": yes if snapshots else no, "include_images": no,
            "reset_mac_addresses": no, "keep_compute_ids": no, "compression": "none"})
        path = f"{self.prefix}/projects/{pid}/export?{query}"
        req = urllib.request.Request(self.url + path, method="GET",
                                     headers=self._auth_headers())
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp, \
                    open(target, "wb") as out:
                _download(resp, out, time.monotonic() + timeout, self.url, timeout)
        except urllib.error.HTTPError as exc:
            with exc:
                body = exc.read(4096).decode(errors="replace")
            raise ServerError(f"the GNS3 server at {self.url} refused the export (GET "
                              f"{path}): HTTP {exc.code}: {body[:500]}",
                              hint="GNS3 exports a stopped project only; its log says more"
                              ) from None
        except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
            raise ServerError(f"exporting the project from the GNS3 server at {self.url} "
                              f"failed: {getattr(exc, 'reason', exc) or type(exc).__name__}",
                              hint="is the server still running? Its log says more; then "
                                   "capture again") from None
        return target


def _download(resp: http.client.HTTPResponse, out: Any, deadline: float, url: str,
              timeout: float) -> None:
    """Copy the export's body to ``out``: every piece as it comes (``read1``: a drip cannot
    hold a read past the deadline), all of the announced length."""
    announced = resp.headers.get("Content-Length", "")
    size = 0
    while chunk := resp.read1(CHUNK):
        out.write(chunk)
        size += len(chunk)
        if time.monotonic() > deadline:
            raise ServerError(f"the export from the GNS3 server at {url} was still coming "
                              f"after {timeout:g} s ({size} bytes)",
                              hint="look at the server (its disk, its log), then capture "
                                   "again; a slow but sound server needs a longer "
                                   "--export-timeout")
    if announced.isdigit() and size != int(announced):
        raise ServerError(f"the export from the GNS3 server at {url} ended after {size} of "
                          f"the {announced} bytes it announced",
                          hint="the server or the network broke the download; its log says "
                               "more; capture again")


def _snapshot_problem(snap: Any) -> str | None:
    """Why ``snap`` is not a snapshot as GNS3 lists it (None when it is)."""
    if not isinstance(snap, dict) or not isinstance(snap.get("snapshot_id"), str):
        return "not a mapping with a 'snapshot_id'"
    name, filename = snap.get("name"), snap.get("filename", "")
    if not isinstance(name, str) or not SAFE_NAME.fullmatch(name) or name in (".", ".."):
        return f"name {name!r} is not one file name (at most 100 characters, no '/')"
    if not isinstance(filename, str) or (filename and (
            not SAFE_NAME.fullmatch(filename) or filename in (".", ".."))):
        return f"filename {filename!r} is not one file name"
    created = snap.get("created_at", 0)
    if created is None:
        created = 0
    if isinstance(created, bool) or not isinstance(created, int) or \
            not 0 <= created <= LATEST:
        return f"created_at {created!r} is not a time in seconds between 1970 and 2100"
    return None


def rest(client: SnapshotClient, pid: str, wait: float = STOP_WAIT) -> None:
    """Pause every guest, then power them off, and wait until GNS3 says each is stopped."""
    client.suspend_all(pid)
    client.stop_nodes(pid)
    deadline = time.monotonic() + wait
    while True:
        running = [n["name"] for n in client.nodes(pid) if n.get("status") != "stopped"]
        if not running:
            return
        if time.monotonic() > deadline:
            raise ServerError(f"the GNS3 server at {client.url} still runs nodes {wait:g} s "
                              f"after their stop: {', '.join(sorted(running))}",
                              hint="stop them in GNS3, then capture again")
        time.sleep(0.5)
