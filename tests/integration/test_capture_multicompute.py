"""Issue 22, part 5: placement survives a capture, on two real gns3-server 3.0.6 (controller +
remote compute, registered with the compute's own credentials). A tiny lab placed across both
is pushed (nodes not booted: the tiny image), captured through GNS3's export (which drops each
node's compute), and the captured archive is pushed again with every node on the compute the
blueprint names, its disk on that compute."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from generator.archive_format import CaptureRecord
from generator.server.capture import archive_project
from generator.server.push import push_archive, read_archive
from generator.server.snapshots import SnapshotClient
from tests.integration.test_push_images import credentials, remove, tiny_lab
from tests.support.gns3server import ComputePair
from tests.unit.test_multicompute import BLUEPRINT  # the 2.2 pair's lab, placed the same

pytestmark = pytest.mark.slow

WANTED = {"n1": "remote1", "n2": "remote1", "n3": "local"}  #: "remote1": the compute's name


def _placed(pair: ComputePair, pid: str) -> dict[str, str]:
    """node -> compute name (3.0's compute ids are UUIDs)."""
    names = {pair.compute_id: "remote1", "local": "local"}
    return {n["name"]: names[n["compute_id"]] for n in pair.controller.client.nodes(pid)}


def _disks_where_placed(pair: ComputePair, pid: str) -> None:
    for node in pair.controller.client.nodes(pid):
        rel = Path(pid) / "project-files" / "qemu" / node["node_id"] / "hda_disk.qcow2"
        where = pair.servers[node["compute_id"]].projects_dir / rel
        assert where.is_file(), f"{node['name']}: no disk on {node['compute_id']}"


def test_a_lab_across_two_30_computes_is_pushed_captured_and_pushed_again(
        gns3_computes_30: ComputePair, tmp_path: Path) -> None:
    pair = gns3_computes_30
    server = pair.controller
    name = f"multi30-{uuid.uuid4().hex[:6]}"
    built, image = tiny_lab(tmp_path, BLUEPRINT.format(name=name))
    try:
        first = push_archive(built.archive, server.url, name=name, upload_from=[image.parent],
                             **credentials(server))
        assert _placed(pair, first.project_id) == WANTED
        _disks_where_placed(pair, first.project_id)
        client = SnapshotClient(server.url, **credentials(server))
        record = CaptureRecord(captured_at="2026-12-06T00:00:00Z",
                               source_archive=built.archive.name, source_sha256="0" * 64,
                               gns3_version=str(client.version()["version"]))
        captured, manifest = archive_project(client, first.project_id, built.archive,
                                             tmp_path / "out", record)
    finally:
        remove(server, name)
    assert manifest.placement == {"n1": "far", "n2": "far", "n3": "near"}
    facts = read_archive(captured)
    assert {n["compute_id"] for n in facts.project["topology"]["nodes"]} == {"local"}
    again_name = f"{name}-again"
    try:
        again = push_archive(captured, server.url, name=again_name, **credentials(server))
        assert _placed(pair, again.project_id) == WANTED
        _disks_where_placed(pair, again.project_id)
        assert {tuple(sorted(c.ends)) for c in again.cross_links} == {("n1", "n3"), ("n2", "n3")}
    finally:
        remove(server, again_name)
