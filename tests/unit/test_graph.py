"""topology.svg: golden SVGs of the bundled blueprints drawn by the real Graphviz, the PNG,
and what the picture must show (every node, port label, tier and network; tiers as rows).

``pytest tests/unit/test_graph.py --update-golden`` rewrites
tests/data/golden/lifecycle/*/topology.svg.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from generator.render.graph import link_networks, port_networks, render_dot
from generator.resolve.canvas import tier_of
from tests.golden.test_readme import (
    bundled_lab,
    write_lifecycle_appliance,
)

SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def appliances(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_lifecycle_appliance(tmp_path_factory.mktemp("appliances"))


def svg_texts(svg: bytes) -> list[str]:
    return [t.text or "" for t in ET.fromstring(svg).iter(f"{SVG}text")]


def node_rows(svg: bytes) -> dict[str, float]:
    """The y of each drawn node's first text line, by node name."""
    out = {}
    for group in ET.fromstring(svg).iter(f"{SVG}g"):
        if group.get("class") == "node":
            title = group.find(f"{SVG}title")
            text = group.find(f"{SVG}text")
            if title is not None and text is not None:
                out[title.text or ""] = float(text.get("y", "0"))
    return out


def test_dot_source_is_pure_and_ranked_by_tier(appliances: Path) -> None:
    lab = bundled_lab("openstack-ceph-mini", appliances)
    dot = render_dot(lab)
    assert dot == render_dot(bundled_lab("openstack-ceph-mini", appliances))
    # each tier is one rank=same subgraph holding its row label and its nodes
    for tier in sorted({tier_of(n) for n in lab.nodes}):
        block = re.search(rf"subgraph tier{tier} {{\n(.*?)\n\t}}", dot, re.S)
        assert block is not None and "rank=same" in block.group(1)
        for node in lab.nodes:
            assert (f"\t\t{node.name} [" in block.group(1)) == (tier_of(node) == tier)


def test_networks_of_ports_follow_bonds_vlans_and_bridges(appliances: Path) -> None:
    lab = bundled_lab("openstack-ceph-mini", appliances)
    infra = lab.node("infra1")
    assert port_networks(infra, "eth0") == ("oob",)
    # eth1 is a member of bond0, whose VLANs carry mgmt and storage
    assert set(port_networks(infra, "eth1")) >= {"mgmt", "storage"}
    link = next(k for k in lab.links if {k.a.node, k.b.node} == {"infra1", "leaf01"})
    assert set(link_networks(lab, link.a, link.b)) >= {"mgmt", "storage"}
