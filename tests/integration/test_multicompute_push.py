"""A push onto two real GNS3 computes (split from tests/unit/test_multicompute.py)."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from generator import tools
from generator.server.push import push_archive, read_archive
from tests.integration.test_push_images import remove, tiny_lab
from tests.support.gns3server import ComputePair
from tests.unit.test_multicompute import (
    BLUEPRINT,
    WANTED,
    _statuses_when_settled,
)

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
        statuses = _statuses_when_settled(client, result.project_id)
        assert statuses == dict.fromkeys(WANTED, "started"), statuses
        crossing = {tuple(sorted(c.ends)) for c in result.cross_links}
        assert crossing == {("n1", "n3"), ("n2", "n3")}
        links = client.links(result.project_id)
        assert len(links) == 3
        by_id = {n["node_id"]: n["name"] for n in nodes.values()}
        ends = {tuple(sorted(by_id[e["node_id"]] for e in link["nodes"])) for link in links}
        assert crossing <= ends
        remote_nodes = pair.compute.client.request(
            "GET", f"/compute/projects/{result.project_id}/qemu/nodes/{nodes['n1']['node_id']}")
        assert remote_nodes["status"] == "started"  # asked of the compute itself
    finally:
        remove(pair.controller, name)
