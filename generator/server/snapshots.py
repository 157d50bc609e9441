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
        ``filename``)."""
        found = self.request("GET", f"/projects/{pid}/snapshots")
        if not isinstance(found, list) or not all(
                isinstance(s, dict) and isinstance(s.get("name"), str)
                and isinstance(s.get("snapshot_id"), str) for s in found):
            raise self._bad_reply("GET", f"/projects/{pid}/snapshots", "not a list of snapshots")
        return found

    def take_snapshot(self, pid: str, name: str) -> dict[str, Any]:
        """Snapshot the (stopped) project as ``name``."""
        answer = self.request("POST", f"/projects/{pid}/snapshots", {"name": name})
        return answer if isinstance(answer, dict) else {}

    def restore_snapshot(self, pid: str, snapshot_id: str) -> None:
        """Restore a snapshot: the project's files become the snapshot's (nodes stopped)."""
        self.request("POST", f"/projects/{pid}/snapshots/{snapshot_id}/restore", {})

    def export_to(self, pid: str, target: Path, *, snapshots: bool = True) -> Path:
        """Download GNS3's own export of the (stopped) project, with its snapshots, no base
        images, uncompressed (gns3lab compresses when it re-packs), streamed to ``target``."""
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
                while chunk := resp.read(CHUNK):
                    out.write(chunk)
        except urllib.error.HTTPError as exc:
            with exc:
                body = exc.read(4096).decode(errors="replace")
            raise ServerError(f"GET {path}: HTTP {exc.code}: {body[:500]}",
                              hint="GNS3 exports a stopped project only; its log says more"
                              ) from None
        except (urllib.error.URLError, OSError) as exc:
            raise ServerError(f"exporting the project from {self.url} failed: {exc}") from exc
        return target


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
            raise ServerError(f"nodes still running {wait:g} s after the stop: "
                              f"{', '.join(sorted(running))}",
                              hint="stop them in GNS3, then capture again")
        time.sleep(0.5)
