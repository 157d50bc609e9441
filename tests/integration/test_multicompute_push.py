"""A push onto two real GNS3 computes (split from tests/unit/test_multicompute.py)."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from generator import tools
from generator.server.push import push_archive, read_archive
from tests.integration.test_push_images import remove, tiny_lab
from tests.support.gns3server import ComputePair
from tests.unit.test_multicompute import BLUEPRINT, WANTED

pytestmark = pytest.mark.slow


@pytest.mark.slow
def test_push_places_nodes_and_their_disks_on_two_real_computes(
        gns3_computes_22: ComputePair, tmp_path: Path) -> None:
    pair = gns3_computes_22
    name = f"multi-{uuid.uuid4().hex[:6]}"
    built, image = tiny_lab(tmp_path, BLUEPRINT.format(name=name))
    manifest = read_archive(built.archive).manifest
    assert manifest.placement == {"n1": "far", "n2": "far", "n3": "near"}
    client = pair.controller.client
    try:
        result = push_archive(built.archive, pair.controller.url, name=name, start=True,
                              upload_from=[image.parent])
        assert sorted(result.uploaded) == [f"{image.name} -> local", f"{image.name} -> remote1"]
        nodes = {n["name"]: n for n in client.nodes(result.project_id)}
        assert {k: n["compute_id"] for k, n in nodes.items()} == WANTED
        for node, compute in WANTED.items():
            nid = nodes[node]["node_id"]
            rel = Path(result.project_id) / "project-files" / "qemu" / nid / "hda_disk.qcow2"
            here = pair.servers[compute].projects_dir / rel
            there = pair.servers["remote1" if compute == "local" else "local"].projects_dir / rel
            assert here.is_file(), f"{node}: no disk on {compute}"
            assert not there.exists(), f"{node}: a disk on the other compute too"
            backing = tools.image_info(here).get("backing-filename", "")
            assert backing == str(pair.servers[compute].images_dir / image.name), backing
        statuses = _statuses_on_their_computes(pair, result.project_id, nodes)
        assert statuses == dict.fromkeys(WANTED, "started"), \
            f"{statuses}; the controller says {_controller_statuses(client, result.project_id)}"
        crossing = {tuple(sorted(c.ends)) for c in result.cross_links}
        assert crossing == {("n1", "n3"), ("n2", "n3")}
        links = client.links(result.project_id)
        assert len(links) == 3
        by_id = {n["node_id"]: n["name"] for n in nodes.values()}
        ends = {tuple(sorted(by_id[e["node_id"]] for e in link["nodes"])) for link in links}
        assert crossing <= ends
    finally:
        remove(pair.controller, name)


def _statuses_on_their_computes(pair: ComputePair, pid: str, nodes: dict[str, Any],
                                timeout: float = 30) -> dict[str, str]:
    """node -> status as the compute that runs it says, polled until every node is started or
    ``timeout`` passes.

    Not the controller's list: GNS3 2.2's controller learns a remote node's status only from the
    compute's notification websocket (``Compute._connect_notification``), and an event lost
    while that socket reconnects under load leaves its cached status stale ("stopped") for good,
    although the node runs (seen once in CI). The compute's own answer is the fact."""
    deadline = time.monotonic() + timeout
    while True:
        statuses = {name: pair.servers[node["compute_id"]].client.request(
            "GET", f"/compute/projects/{pid}/qemu/nodes/{node['node_id']}")["status"]
            for name, node in nodes.items()}
        if set(statuses.values()) == {"started"} or time.monotonic() > deadline:
            return statuses
        time.sleep(0.5)


def _controller_statuses(client: Any, pid: str) -> dict[str, str]:
    """node -> status as the controller caches it (for the failure message only)."""
    return {n["name"]: n["status"] for n in client.nodes(pid)}
