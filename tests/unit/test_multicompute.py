"""Several computes: ``push`` puts every node on the compute the blueprint names.

GNS3's import deals nodes round-robin over the controller's computes and moves their files
there (docs/computes.md); push arranges the deal. Pure tests of the arrangement first, then two
real gns3-server 2.2.61 processes on loopback (127.0.0.2 and 127.0.0.3: GNS3 cannot tunnel
between two computes that both say 127.0.0.1, see tests/support/gns3server.py), the second
registered as compute ``remote1`` of the first: after the push every node sits on its compute,
its disk files are in that server's project folder (and not the other's), and the links
between the computes exist with both ends started.
"""

from __future__ import annotations

import pytest

from generator.archive_format import parse_manifest
from generator.errors import ServerError
from generator.server.placement import (
    FILLER_PREFIX,
    Placement,
    arrange_for_import,
    plan_placement,
    settle_imported,
)

COMPUTES = [{"compute_id": "local", "name": "vm", "connected": True},
            {"compute_id": "remote1", "name": "remote1", "connected": True}]


def project(*names: str) -> dict:
    return {"name": "p", "topology": {"nodes": [{"name": n, "node_id": n, "compute_id": "local",
                                                 "node_type": "qemu"} for n in names],
                                      "links": []}}


def test_placement_maps_blueprint_computes_onto_the_server() -> None:
    manifest = {"placement": {"n1": "far", "n2": "far", "n3": "near"},
                "computes": {"far": {"ram_mb": 256, "server": "remote1"},
                             "near": {"ram_mb": 256, "server": "vm"}}}
    plan = plan_placement(project("n1", "n2", "n3", "n4"), parse_manifest(manifest), COMPUTES)
    assert plan.nodes == {"n1": "remote1", "n2": "remote1", "n3": "local", "n4": "local"}
    assert plan.cycle == ("local", "remote1") and plan.arranged
    with pytest.raises(ServerError, match="no such compute; it has: local \\(vm\\), remote1"):
        plan_placement(project("n1"), parse_manifest({"placement": {"n1": "x"}}), COMPUTES)


def test_the_arrangement_deals_every_node_onto_its_compute() -> None:
    plan = Placement(("local", "remote1"), {"n1": "remote1", "n2": "remote1", "n3": "local"})
    arranged = arrange_for_import(project("n1", "n2", "n3"), plan)
    nodes = arranged["topology"]["nodes"]
    dealt = {n["name"]: plan.cycle[i % 2] for i, n in enumerate(nodes)}  # GNS3's round-robin
    assert {k: v for k, v in dealt.items() if not k.startswith(FILLER_PREFIX)} == plan.nodes
    assert [n["name"] for n in nodes] == ["n3", "n1", f"{FILLER_PREFIX}2", "n2"]
    imported = dict(arranged, topology={"nodes": [dict(n, compute_id=dealt[n["name"]])
                                                  for n in nodes], "links": []})
    assert [n["name"] for n in settle_imported(imported, plan)["topology"]["nodes"]] == \
        ["n3", "n1", "n2"]
    imported["topology"]["nodes"][0]["compute_id"] = "remote1"
    with pytest.raises(ServerError, match="n3 went to 'remote1', not 'local'"):
        settle_imported(imported, plan)


BLUEPRINT = """\
name: {name}
defaults: {{appliance: Tiny Push Guest, ram: 64, nics: 2}}
computes:
  far: {{ram_mb: 256, server: remote1}}
  near: {{ram_mb: 256, server: local}}
nodes:
  n1: {{compute: far}}
  n2: {{compute: far}}
  n3: {{compute: near}}
links:
  - n1:eth0 -- n3:eth0
  - n2:eth0 -- n3:eth1
  - n1:eth1 -- n2:eth1
"""
WANTED = {"n1": "remote1", "n2": "remote1", "n3": "local"}
