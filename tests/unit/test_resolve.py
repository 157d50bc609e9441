"""Resolution: precedence, port names, ids, MACs, addresses and layout (fast)."""

from __future__ import annotations

import itertools
from pathlib import Path

from generator.build import load_lab
from generator.naming import derive_id, fill_template, mac_add, port_name
from tests.helpers import BLUEPRINTS


def lab_from(tmp_path: Path, text: str):  # type: ignore[no-untyped-def]
    (tmp_path / "lab.yaml").write_text(text)
    return load_lab(tmp_path / "lab.yaml")


def test_port_names_follow_gns3_rules() -> None:
    assert [port_name("swp{port1}", "eth0", a) for a in range(4)] == ["eth0", "swp1", "swp2",
                                                                       "swp3"]
    assert [port_name("eth{0}", None, a) for a in range(3)] == ["eth0", "eth1", "eth2"]
    assert [port_name("ens{port4}", None, a) for a in range(2)] == ["ens4", "ens5"]


def test_templates() -> None:
    assert fill_template("{node}:swp{n+20}", "osd3", 2) == "osd3:swp23"
    assert fill_template("{num+10}", "infra2", 0) == "12"
    assert fill_template("eth{i}", "x", 4) == "eth4"


def test_precedence_node_over_group_over_appliance_over_defaults(tmp_path: Path) -> None:
    lab = lab_from(tmp_path, """\
name: prec
defaults: {ram: 300, cpus: 3, appliance: Cumulus VX, version: 4.3.0}
groups:
  big: {ram: 4096}
nodes:
  a: {}
  b: {group: big}
  c: {group: big, ram: 2048}
""")
    ram = {n.name: n.ram for n in lab.nodes}
    # Cumulus VX's appliance says 1024 MB: it beats defaults, loses to group and node.
    assert ram == {"a": 1024, "b": 4096, "c": 2048}
    assert {n.cpus for n in lab.nodes} == {3}  # the appliance names no cpus: defaults apply


def test_ids_and_macs_are_stable_and_unique() -> None:
    one, two = load_lab(BLUEPRINTS / "fabric"), load_lab(BLUEPRINTS / "fabric")
    assert one == two
    assert one.nodes[0].node_id == derive_id("fabric", "node", "leaf1")
    macs = [nic.mac for n in one.vms for nic in n.nics]
    assert len(macs) == len(set(macs))
    assert all(int(m.split(":")[0], 16) & 0b11 == 0b10 for m in macs)  # local, unicast
    assert mac_add("52:54:00:00:00:ff", 1) == "52:54:00:00:01:00"


def test_auto_addresses_skip_taken_and_gateway(tmp_path: Path) -> None:
    lab = lab_from(tmp_path, """\
name: addr
networks:
  lan: {cidr: 10.0.0.0/24, gateway: 10.0.0.10, pool: 10-20}
defaults: {appliance: Ubuntu Cloud Guest}
nodes:
  a: {interfaces: {eth0: {network: lan, address: auto}}}
  b: {interfaces: {eth0: {network: lan, address: 11}}}
  c: {interfaces: {eth0: {network: lan, address: auto}}}
""")
    got = {n.name: str(n.address_on("lan")) for n in lab.nodes}
    assert got == {"a": "10.0.0.12/24", "b": "10.0.0.11/24", "c": "10.0.0.13/24"}


def test_layout_tiers_and_no_overlaps(tmp_path: Path) -> None:
    lab = lab_from(tmp_path, """\
name: tiers
defaults: {appliance: Ubuntu Cloud Guest}
nodes:
  oob1: {role: oob}
  spine[1-2]: {role: spine}
  leaf[1-4]: {role: leaf}
  srv[1-14]: {}
  net: {type: cloud}
""")
    y = {n.name: n.y for n in lab.nodes}
    assert y["net"] < y["spine1"] < y["leaf1"] < y["srv1"] < y["oob1"]  # OOB below servers
    for a, b in itertools.combinations(lab.nodes, 2):
        assert (a.x, a.y) != (b.x, b.y)
        assert abs(a.x - b.x) >= 150 or abs(a.y - b.y) >= 150, (a.name, b.name)


def test_seed_follows_the_appliance_unless_the_blueprint_says(tmp_path: Path) -> None:
    lab = lab_from(tmp_path, """\
name: seeds
nodes:
  cloudy: {appliance: Ubuntu Cloud Guest}
  plain: {appliance: Debian}
  forced: {appliance: Debian, seed: true}
  refused: {appliance: Ubuntu Cloud Guest, seed: false}
""")
    seeded = {n.name for n in lab.vms if n.cloud_init is not None}
    assert seeded == {"cloudy", "forced"}
