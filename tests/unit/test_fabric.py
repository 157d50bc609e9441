"""The Cumulus fabric add-on, checked against the lab model: CLAG pairs, bonds, trunks, the
rendered NCLU/NVUE commands, and the playbooks through ansible-playbook and ansible-lint."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml

from generator.addons import fabric
from generator.addons.fabric import FabricError, fabric_data
from generator.build import load_lab
from generator.errors import BlueprintError
from generator.model import Lab, Node
from tests.helpers import BLUEPRINTS
from tests.unit.test_openstack_blueprint import BLUEPRINT

PROVIDER = set(range(101, 201)) | set(range(301, 401))  # extra.provider_vlans


@pytest.fixture(scope="module")
def lab() -> Lab:
    return load_lab(BLUEPRINT)


@pytest.fixture(scope="module")
def data(lab: Lab) -> dict[str, Any]:
    return fabric_data(lab)


def oob_ip(node: Node) -> str:
    eth0 = next(i for i in node.interfaces if i.name == "eth0")
    return str(eth0.addresses[0].ip)


def leaf_ports(lab: Lab, server: str, nics: tuple[str, ...], leaf: str) -> list[str]:
    """The leaf ports the model links to these NICs of the server."""
    return sorted((far.port_name for near, far in lab.links_of(server)
                   if near.port_name in nics and far.node == leaf),
                  key=lambda p: int(p[3:]))


def expected_vids(node: Node, bond: str) -> set[int]:
    """What the server sends on a bond: its VLAN interfaces, and the provider VLANs if the bond
    is bridged untagged."""
    vids = {i.vlan_id for i in node.interfaces if i.kind == "vlan" and i.link == bond}
    if any(i.kind == "bridge" and bond in i.members for i in node.interfaces):
        vids |= PROVIDER
    return vids  # type: ignore[return-value]


def test_pairs_peer_links_sys_macs_and_backup_ips(lab: Lab, data: dict[str, Any]) -> None:
    assert data["pairs"] == [["leaf01", "leaf02"], ["spine01", "spine02"]]
    members = {"leaf": ["swp44", "swp45"], "spine": ["swp14", "swp15"]}
    macs = []
    for a, b in data["pairs"]:
        left, right = data["switches"][a]["peerlink"], data["switches"][b]["peerlink"]
        assert (left["peer"], right["peer"]) == (b, a)
        assert left["members"] == right["members"] == members[lab.node(a).role]
        assert left["sys_mac"] == right["sys_mac"]
        assert left["sys_mac"].startswith("44:38:39:ff:")
        assert {left["priority"], right["priority"]} == {1000, 2000}
        assert {left["role"], right["role"]} == {"primary", "secondary"}
        assert left["backup_ip"] == oob_ip(lab.node(b))
        assert right["backup_ip"] == oob_ip(lab.node(a))
        macs.append(left["sys_mac"])
    assert len(set(macs)) == len(macs), "each pair has its own sys-mac"


def test_each_server_bond_is_one_clag_bond_on_both_leaves(lab: Lab, data: dict[str, Any]
                                                          ) -> None:
    leaves = {leaf: data["switches"][leaf]["bonds"] for leaf in ("leaf01", "leaf02")}
    servers = [n for n in lab.vms if n.image and n.image.appliance != "Cumulus VX"]
    seen = 0
    for server in servers:
        for bond in (i for i in server.interfaces if i.kind == "bond"):
            found = {}
            for leaf, bonds in leaves.items():
                [entry] = [v for v in bonds.values()
                           if v["remote"] == f"{server.name}:{bond.name}"]
                assert entry["members"] == leaf_ports(lab, server.name, bond.members, leaf)
                assert set(entry["vids"]) == expected_vids(server, bond.name)
                found[leaf] = entry["clag_id"]
            assert found["leaf01"] == found["leaf02"] is not None
            seen += 1
    assert seen == 9 * 2 + 1  # nine servers with bond0 and bond1, and mgmt01's fabric bond
    for bonds in leaves.values():
        ids = [b["clag_id"] for b in bonds.values()]
        assert len(ids) == len(set(ids)), "clag-ids are unique on a switch"


def test_trunks(data: dict[str, Any]) -> None:
    leaf = data["switches"]["leaf01"]["bonds"]
    assert set(leaf["infra1-bond0"]["vids"]) == {10, 20}
    assert set(leaf["infra1-bond1"]["vids"]) == {30} | PROVIDER
    assert leaf["mgmt01-bond0"]["vids"] == [10]
    assert set(data["vlans"]) == {10, 20, 30} | PROVIDER
    for name in ("leaf01", "leaf02", "spine01", "spine02"):
        assert set(data["switches"][name]["vlans"]) == set(data["vlans"])


def test_spine_leaf_uplinks_are_clag_bonds_on_both_pairs(data: dict[str, Any]) -> None:
    def uplink(switch: str, far: str) -> dict[str, Any]:
        [entry] = [b for b in data["switches"][switch]["bonds"].values() if b["remote"] == far]
        return entry

    for leaf in ("leaf01", "leaf02"):
        assert uplink(leaf, "spine01")["members"] == ["swp46", "swp47"]
    for spine in ("spine01", "spine02"):
        assert uplink(spine, "leaf01")["members"] == ["swp1", "swp2"]
        assert set(uplink(spine, "leaf01")["vids"]) == set(data["vlans"])
    assert uplink("leaf01", "spine01")["clag_id"] == uplink("leaf02", "spine01")["clag_id"]
    assert uplink("spine01", "leaf01")["clag_id"] == uplink("spine02", "leaf01")["clag_id"]


def test_oob_switch_bridges_every_linked_port(lab: Lab, data: dict[str, Any]) -> None:
    swmgmt = data["switches"]["swmgmt"]
    linked = {near.port_name for near, _ in lab.links_of("swmgmt") if near.port_name != "eth0"}
    assert swmgmt["mode"] == "access"
    assert set(swmgmt["bridge_ports"]) == linked and len(linked) == 14
    assert swmgmt["mgmt_address"] == "192.168.50.2"


def test_nclu_commands_for_cumulus_4(lab: Lab) -> None:
    files = fabric.render(lab)
    leaf01 = yaml.safe_load(files["host_vars/leaf01.yml"])
    assert (leaf01["ansible_user"], leaf01["fabric_cli"]) == ("cumulus", "net")
    assert leaf01["fabric_commit"] == ["net commit"]
    cmds = leaf01["fabric_commands"]
    assert "add bridge bridge vids 10,20,30,101-200,301-400" in cmds
    assert ("add clag peer sys-mac 44:38:39:ff:00:01 interface swp44-45 primary "
            "backup-ip 192.168.50.6 vrf mgmt") in cmds
    assert "add interface peerlink.4094 clag priority 1000" in cmds
    assert "add clag port bond infra1-bond0 interface swp1 clag-id 1" in cmds
    assert "add bond infra1-bond1 bridge vids 30,101-200,301-400" in cmds
    assert "add clag port bond to-spine01 interface swp46-47 clag-id 46" in cmds
    swmgmt = yaml.safe_load(files["host_vars/swmgmt.yml"])
    assert swmgmt["fabric_commands"] == ["add bridge bridge ports swp1-8,swp10,swp12-13,swp18-20"]


def test_render_is_deterministic(lab: Lab) -> None:
    assert fabric.render(lab) == fabric.render(load_lab(BLUEPRINT))


def test_small_fabric_without_oob_addresses() -> None:
    small = load_lab(BLUEPRINTS / "fabric")
    data = fabric_data(small)
    assert data["pairs"] == [["leaf1", "leaf2"]]
    assert data["switches"]["leaf1"]["peerlink"]["backup_ip"] is None
    cmds = fabric.host_vars(data["switches"]["leaf1"], "cumulus")["fabric_commands"]
    assert "add clag peer sys-mac 44:38:39:ff:00:01 interface swp10 primary" in cmds


def _small_variant(tmp_path: Path, old: str, new: str) -> Path:
    folder = tmp_path / "fabric"
    shutil.copytree(BLUEPRINTS / "fabric", folder)
    text = (folder / "lab.yaml").read_text()
    assert text.count(old) == 1
    (folder / "lab.yaml").write_text(text.replace(old, new))
    return folder


def test_unbonded_server_link_is_a_fabric_error(tmp_path: Path) -> None:
    folder = _small_variant(tmp_path, "      bond0: {bond: [eth1, eth2]}\n",
                            "      bond0: {bond: [eth1]}\n")
    # the add-on's check runs when the blueprint is resolved, so validate finds it
    with pytest.raises(BlueprintError, match=r"lab\.yaml:\d+: links: link leaf2 -- server1:"
                                             r"eth2: server1:eth2 is not in a bond"):
        load_lab(folder)


def test_three_peers_is_a_fabric_error(tmp_path: Path) -> None:
    folder = _small_variant(tmp_path, "  leaf[1-2]: {group: switches}\n",
                            "  leaf[1-3]: {group: switches}\n")
    text = (folder / "lab.yaml").read_text() + '  - "leaf1:swp11 -- leaf3:swp11"\n' \
        '  - "leaf2:swp11 -- leaf3:swp12"\n'
    (folder / "lab.yaml").write_text(text)
    with pytest.raises(BlueprintError, match=r"lab\.yaml:\d+: links: switch 'leaf1' is linked "
                                             "to 2 switches of its role 'leaf'"):
        load_lab(folder)


def test_fabric_errors_carry_their_blueprint_path() -> None:
    """The renderer's own error (what check reports) names the links, for the CLI too."""
    small = load_lab(BLUEPRINTS / "fabric")
    server = small.node("server1")
    unbonded = tuple(replace(i, members=i.members[:1]) if i.kind == "bond" else i
                     for i in server.interfaces)
    bad = replace(small, nodes=tuple(replace(n, interfaces=unbonded) if n.name == "server1"
                                     else n for n in small.nodes))
    with pytest.raises(FabricError, match="server1:eth2 is not in a bond") as caught:
        fabric_data(bad)
    assert caught.value.path == ("links",)
    assert caught.value.lines()[0].startswith("links: link leaf2 -- server1:eth2")
    assert fabric.check(bad) == [(("links",), caught.value.message, caught.value.hint)]



def test_a_switch_is_configured_as_the_login_its_appliance_has(lab: Lab) -> None:
    """host_vars' ansible_user is the node's resolved login (``Node.default_user``, the one the
    inventory gives and the build injects the lab key for), not a fixed ``cumulus``: an
    appliance whose login is another user gets that user."""
    leaf = lab.node("leaf01")
    assert leaf.image is not None
    other = replace(leaf, image=replace(leaf.image, login="netadmin"))
    changed = replace(lab, nodes=tuple(other if n.name == "leaf01" else n for n in lab.nodes))
    assert other.default_user == "netadmin"
    files = fabric.render(changed)
    assert yaml.safe_load(files["host_vars/leaf01.yml"])["ansible_user"] == "netadmin"
    assert yaml.safe_load(files["host_vars/leaf02.yml"])["ansible_user"] == \
        lab.node("leaf02").default_user == "cumulus"
