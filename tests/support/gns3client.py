"""GNS3 server calls and console following that only the tests make.

The product's :class:`~generator.server.api.Gns3Client` keeps the calls ``gns3lab`` itself makes;
what a test needs beyond them (starting every node at once, stopping one node, packet captures,
following consoles that are already running) is here, on top of the client's ``request``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from generator.server.api import Gns3Client
from generator.server.consoles import ConsoleWatch, Progress, WaitOutcome


def start_all(client: Gns3Client, pid: str) -> None:
    """Start every node of an opened project at once (push starts them one by one)."""
    client.request("POST", f"/projects/{pid}/nodes/start")


def stop_node(client: Gns3Client, pid: str, nid: str) -> Any:
    """Stop one node."""
    return client.request("POST", f"/projects/{pid}/nodes/{nid}/stop")


def start_capture(client: Gns3Client, pid: str, lid: str) -> dict[str, Any]:
    """Start a packet capture on a link; the answer holds ``capture_file_path``."""
    action = "capture/start" if client.prefix == "/v3" else "start_capture"
    return client.request("POST", f"/projects/{pid}/links/{lid}/{action}", {})


def stop_capture(client: Gns3Client, pid: str, lid: str) -> None:
    """Stop the packet capture on a link."""
    action = "capture/stop" if client.prefix == "/v3" else "stop_capture"
    client.request("POST", f"/projects/{pid}/links/{lid}/{action}")


def follow_consoles(consoles: Mapping[str, tuple[str, int]], timeout: float,
                    progress: Progress = lambda _: None) -> WaitOutcome:
    """Follow already running consoles (node -> (host, port)) until the lab is ready, a stage
    fails, or ``timeout`` seconds pass."""
    with ConsoleWatch(consoles, progress) as watch:
        return watch.wait(timeout)
