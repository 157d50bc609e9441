"""The reference lab as it was built (shared/SEED-LAB.md), blueprints/openstack-ceph-cumulus:
nodes, links, addresses, the build and inspect commands, and growing it by one line."""

from __future__ import annotations

import ipaddress
import re
import shutil
from pathlib import Path

import pytest
import yaml

from generator.addons import render_addons
from generator.addons.fabric import fabric_data
from generator.addons.osa import load_settings, user_config
from generator.build import load_lab
from generator.model import Lab
from generator.paths import Layout
from generator.write.keys import LabKey
from tests.helpers import REPO

BLUEPRINT = REPO / "blueprints" / "openstack-ceph-cumulus"
CUMULUS = "cumulus-linux-4.3.0-vx-amd64-qemu.qcow2"
UBUNTU = "ubuntu-18.04-server-cloudimg-amd64.img"

#: SEED-LAB.md's node table: name -> (image, RAM MB, NICs, role).
NODES = {
    "mgmt01": (UBUNTU, 2048, 8, "controller"),
    "swmgmt": (CUMULUS, 1024, 24, "oob"),
    "spine01": (CUMULUS, 1024, 16, "spine"), "spine02": (CUMULUS, 1024, 16, "spine"),
    "leaf01": (CUMULUS, 1024, 48, "leaf"), "leaf02": (CUMULUS, 1024, 48, "leaf"),
    **{f"infra{i}": (UBUNTU, 8192, 5, "infra") for i in (1, 2, 3)},
    "log1": (UBUNTU, 2048, 5, "log"),
    **{f"compute{i}": (UBUNTU, 4096, 5, "compute") for i in (1, 2)},
    **{f"osd{i}": (UBUNTU, 4096, 5, "osd") for i in (1, 2, 3)},
}

#: Every link of the reference lab, written out: the table the blueprint must reproduce.
LINKS = """
mgmt01:eth0 nat1:nat0          mgmt01:eth1 cloud1:eth0        mgmt01:eth2 swmgmt:eth0
mgmt01:eth3 swmgmt:swp1        mgmt01:eth4 leaf01:swp40       mgmt01:eth5 leaf02:swp40
spine01:eth0 swmgmt:swp2       spine02:eth0 swmgmt:swp3
leaf01:eth0 swmgmt:swp4        leaf02:eth0 swmgmt:swp5
spine01:swp1 leaf01:swp46      spine01:swp2 leaf02:swp46
spine02:swp1 leaf01:swp47      spine02:swp2 leaf02:swp47
spine01:swp14 spine02:swp14    spine01:swp15 spine02:swp15
leaf01:swp44 leaf02:swp44      leaf01:swp45 leaf02:swp45
infra1:eth0 swmgmt:swp6    infra1:eth1 leaf01:swp1    infra1:eth2 leaf01:swp21
infra1:eth3 leaf02:swp1    infra1:eth4 leaf02:swp21
infra2:eth0 swmgmt:swp7    infra2:eth1 leaf01:swp2    infra2:eth2 leaf01:swp22
infra2:eth3 leaf02:swp2    infra2:eth4 leaf02:swp22
infra3:eth0 swmgmt:swp8    infra3:eth1 leaf01:swp3    infra3:eth2 leaf01:swp23
infra3:eth3 leaf02:swp3    infra3:eth4 leaf02:swp23
log1:eth0 swmgmt:swp10     log1:eth1 leaf01:swp5      log1:eth2 leaf01:swp25
log1:eth3 leaf02:swp5      log1:eth4 leaf02:swp25
compute1:eth0 swmgmt:swp12 compute1:eth1 leaf01:swp7  compute1:eth2 leaf01:swp27
compute1:eth3 leaf02:swp7  compute1:eth4 leaf02:swp27
compute2:eth0 swmgmt:swp13 compute2:eth1 leaf01:swp8  compute2:eth2 leaf01:swp28
compute2:eth3 leaf02:swp8  compute2:eth4 leaf02:swp28
osd1:eth0 swmgmt:swp18     osd1:eth1 leaf01:swp13     osd1:eth2 leaf01:swp33
osd1:eth3 leaf02:swp13     osd1:eth4 leaf02:swp33
osd2:eth0 swmgmt:swp19     osd2:eth1 leaf01:swp14     osd2:eth2 leaf01:swp34
osd2:eth3 leaf02:swp14     osd2:eth4 leaf02:swp34
osd3:eth0 swmgmt:swp20     osd3:eth1 leaf01:swp15     osd3:eth2 leaf01:swp35
osd3:eth3 leaf02:swp15     osd3:eth4 leaf02:swp35
"""

#: Host number of each server on every network (OOB, mgmt, storage, vxlan).
HOST_NUMBERS = {"infra1": 11, "infra2": 12, "infra3": 13, "log1": 14, "compute1": 21,
                "compute2": 22, "osd1": 31, "osd2": 32, "osd3": 33}
NETWORKS = {"oob": ("192.168.50.0/24", None), "mgmt": ("172.29.236.0/22", 10),
            "storage": ("172.29.244.0/22", 20), "vxlan": ("172.29.240.0/22", 30)}


def variant(tmp: Path, old: str, new: str) -> Path:
    """A copy of the blueprint with exactly one line changed."""
    folder = tmp / "openstack-ceph-cumulus"
    shutil.copytree(BLUEPRINT, folder)
    text = (folder / "lab.yaml").read_text()
    assert text.count(old) == 1, f"{old!r} should appear once in the blueprint"
    (folder / "lab.yaml").write_text(text.replace(old, new))
    return folder


def link_set(lab: Lab) -> set[frozenset[str]]:
    return {frozenset((f"{link.a.node}:{link.a.port_name}", f"{link.b.node}:{link.b.port_name}"))
            for link in lab.links}


@pytest.fixture(scope="module")
def lab() -> Lab:
    return load_lab(BLUEPRINT)


def test_nodes_are_the_seed_lab(lab: Lab) -> None:
    vms = {n.name: (n.image.filename if n.image else None, n.ram, n.adapters, n.role)
           for n in lab.vms}
    assert vms == NODES
    assert sorted((n.name, n.type) for n in lab.nodes if not n.is_vm) == \
        [("cloud1", "cloud"), ("nat1", "nat")]
    versions = {n.image.appliance_version for n in lab.vms if n.image}
    assert versions == {"4.3.0", "Ubuntu 18.04 LTS (Bionic Beaver)"}
    assert lab.totals()["ram_mb"] == 54272  # SEED-LAB: "adds up to about 53 GB"


def test_links_are_the_seed_table(lab: Lab) -> None:
    words = LINKS.split()
    table = {frozenset(words[i:i + 2]) for i in range(0, len(words), 2)}
    assert len(table) == len(lab.links) == 63
    assert link_set(lab) == table


def test_networks(lab: Lab) -> None:
    assert {n.name: (str(n.cidr), n.vlan) for n in lab.networks} == NETWORKS


def test_servers_have_fixed_addresses_per_role(lab: Lab) -> None:
    for name, host in HOST_NUMBERS.items():
        node = lab.node(name)
        for net, (cidr, _) in NETWORKS.items():
            addr = node.address_on(net)
            assert addr is not None and addr.ip == ipaddress.ip_network(cidr)[host], (name, net)
        eth0 = next(i for i in node.interfaces if i.name == "eth0")
        assert eth0.dhcp and eth0.mac == node.nics[0].mac  # OOB by DHCP reservation
    every = [a.ip for n in lab.vms for _, a in n.addresses()]
    assert len(every) == len(set(every)), "no address is used twice"


def test_server_bonds_vlans_and_bridges(lab: Lab) -> None:
    for name in HOST_NUMBERS:
        ifaces = {i.name: i for i in lab.node(name).interfaces}
        assert (ifaces["bond0"].members, ifaces["bond0"].bond_mode) == (("eth1", "eth3"), "802.3ad")
        assert (ifaces["bond1"].members, ifaces["bond1"].bond_mode) == (("eth2", "eth4"), "802.3ad")
        vlans = {(i.link, i.vlan_id) for i in ifaces.values() if i.kind == "vlan"}
        assert vlans == {("bond0", 10), ("bond0", 20), ("bond1", 30)}
        bridges = {i.name: (i.members, i.network) for i in ifaces.values() if i.kind == "bridge"}
        assert bridges == {"br-mgmt": (("bond0.10",), "mgmt"),
                           "br-storage": (("bond0.20",), "storage"),
                           "br-vxlan": (("bond1.30",), "vxlan"), "br-vlan": (("bond1",), None)}


def test_mgmt01_is_the_oob_gateway_and_on_br_mgmt(lab: Lab) -> None:
    ifaces = {i.name: i for i in lab.node("mgmt01").interfaces}
    assert ifaces["br-oob"].members == ("eth2", "eth3")
    assert [str(a) for a in ifaces["br-oob"].addresses] == ["192.168.50.1/24"]
    assert ifaces["bond0"].members == ("eth4", "eth5")
    assert (ifaces["bond0.10"].link, ifaces["bond0.10"].vlan_id) == ("bond0", 10)
    assert [str(a) for a in ifaces["br-mgmt"].addresses] == ["172.29.236.1/22"]
    assert ifaces["eth0"].dhcp and ifaces["eth1"].dhcp


def test_osds_have_data_disks(lab: Lab) -> None:
    disks = {n.name: [(d.slot, d.size >> 30) for d in n.data_disks] for n in lab.vms
             if n.data_disks}
    assert disks == {f"osd{i}": [("hdb", 30)] for i in (1, 2, 3)}


def test_controller_stages_and_release(lab: Lab) -> None:
    assert lab.controller is not None and lab.controller.node == "mgmt01"
    assert lab.controller.dhcp == ("oob",)
    stages = lab.controller.stages
    assert [s.name for s in stages] == ["oob-switch", "fabric", "servers-ready",
                                          "openstack-ansible"]
    rendered = render_addons(lab)
    for stage in stages:
        for book in stage.generated:
            assert book in rendered, f"stage {stage.name} runs {book}, which no add-on writes"
    release = load_settings(lab).release
    assert re.fullmatch(r"\d+\.\d+\.\d+", release), "pinned to an OpenStack-Ansible tag"


def test_bad_generated_playbook_is_a_blueprint_error(tmp_path: Path) -> None:
    folder = variant(tmp_path, "generated: [playbooks/fabric.yml]", "generated: [../x.sh]")
    with pytest.raises(Exception, match=r"stages\[1\]\.generated\[0\]: generated playbook "
                                        r"'\.\./x\.sh' is not playbooks/<name>\.yml"):
        load_lab(folder)


def test_cumulus_nodes_get_hostname_key_and_first_boot(lab: Lab, tmp_path: Path) -> None:
    from generator.write.guest import login_injection, node_injection

    key = LabKey(tmp_path / "id", "ssh-ed25519 AAAATEST lab")
    layout = Layout(tmp_path)
    for node in lab.vms:
        inj = node_injection(node, layout, **login_injection(lab, node, key))
        if node.image and node.image.appliance == "Cumulus VX":
            assert inj.hostname == node.name
            assert inj.authorized_keys == (("cumulus", key.public),)
            paths = {f.path: f for f in inj.files}
            assert paths["/usr/local/sbin/gns3lab-firstboot"].mode == 0o755
            assert paths["/etc/sudoers.d/10-gns3lab"].mode == 0o440
            assert inj.enable_units == ("gns3lab-firstboot.service",)
        else:
            assert not inj.authorized_keys and not inj.files and inj.hostname is None


# --------------------------------------------------------------------------- CLI


# --------------------------------------------------------------------------- one line more


GROW = {  # one-line change -> (new node, slot, host number, OSA group)
    "compute": ("compute[1-2]: {", "compute[1-3]: {", "compute3", 9, 23, "compute_hosts"),
    "osd": ("osd[1-3]: {", "osd[1-4]: {", "osd4", 16, 34, "ceph-osd_hosts"),
}


@pytest.mark.parametrize("case", sorted(GROW))
def test_one_line_adds_a_server_everywhere(tmp_path: Path, case: str) -> None:
    old, new, name, slot, host, group = GROW[case]
    grown = load_lab(variant(tmp_path, old, new))
    node = grown.node(name)
    assert (node.ram, node.adapters, node.role) == (4096, 5, case)
    # its links, at its slot's ports
    assert len(grown.links) == 68
    assert link_set(grown) - link_set(load_lab(BLUEPRINT)) == {
        frozenset((f"{name}:eth0", f"swmgmt:swp{slot + 5}")),
        frozenset((f"{name}:eth1", f"leaf01:swp{slot}")),
        frozenset((f"{name}:eth2", f"leaf01:swp{slot + 20}")),
        frozenset((f"{name}:eth3", f"leaf02:swp{slot}")),
        frozenset((f"{name}:eth4", f"leaf02:swp{slot + 20}"))}
    # its addresses, the same host number on every network
    for net, (cidr, _) in NETWORKS.items():
        assert node.address_on(net).ip == ipaddress.ip_network(cidr)[host]  # type: ignore[union-attr]
    check_dhcp_and_dns(grown, node, f"192.168.50.{host}")
    # its switch ports: a CLAG bond per server bond on both leaves, its OOB port bridged
    fabric = fabric_data(grown)
    for leaf in ("leaf01", "leaf02"):
        bonds = fabric["switches"][leaf]["bonds"]
        assert bonds[f"{name}-bond0"]["members"] == [f"swp{slot}"]
        assert bonds[f"{name}-bond0"]["clag_id"] == slot
        assert bonds[f"{name}-bond1"]["clag_id"] == slot + 20
    assert f"swp{slot + 5}" in fabric["switches"]["swmgmt"]["bridge_ports"]
    # and an OpenStack-Ansible host entry
    assert user_config(grown)[group][name]["ip"] == f"172.29.236.{host}"


def check_dhcp_and_dns(lab: Lab, node, oob_ip: str) -> None:  # type: ignore[no-untyped-def]
    """The DHCP reservation (MAC -> OOB address) and DNS record of a node: in the controller's
    dnsmasq configuration when the bootstrap module renders one, else in the model."""
    mac = node.nics[0].mac
    eth0 = next(i for i in node.interfaces if i.name == "eth0")
    assert eth0.dhcp and eth0.mac == mac and str(eth0.addresses[0].ip) == oob_ip
    try:
        from generator.render.bootstrap import render_dnsmasq
    except ImportError:
        return
    conf = render_dnsmasq(lab).decode()
    assert f"dhcp-host={mac},{node.name},{oob_ip}" in conf
    assert re.search(rf"host-record={node.name}\.{re.escape(lab.domain)},.*{oob_ip}", conf)


def test_generated_yaml_files_parse(lab: Lab) -> None:
    for path, data in render_addons(lab).items():
        assert yaml.safe_load(data) is not None, path
