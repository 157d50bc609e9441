"""blueprints/openstack-ceph-mini: the reference lab cut down to five Debian VMs, booted for real.

Fast tests read the blueprint with a tiny stand-in for the "gns3lab Debian 12" appliance: the
VMs, the wiring by slot, bonds/VLANs/bridges in the model, a fabric that is a tree, the ordered
stages, the DHCP reservations, the network-config of every VM as Debian's cloud-init 22.4 renders
it, and the playbooks (ansible-playbook --syntax-check, and their expressions evaluated by the
real Ansible against the generated inventory).

The slow test builds the lab with the real image and pushes it into gns3-server 2.2.61 with
start and wait: mgmt01 must report every stage ok (oob, fabric, servers-ready, check), every node
checked at its planned address, its per-leaf and per-server lines (each leaf's lease from
mgmt01; the fabric bridge's VLANs and ports; each server's 802.3ad bond0 over eth1+eth2, without
an LACP partner, reaching the other server and mgmt01 over VLAN 10 and the other server over
VLAN 20, then again after failing over to its other member), and "gns3lab: lab ready". Consoles
are kept in test-artifacts/e2e-openstack-mini/ when it fails.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from generator.build import load_lab
from generator.model import Lab
from generator.render.bootstrap import render_dnsmasq, resolve_stages
from tests.helpers import REPO, make_tiny_appliance

BLUEPRINT = REPO / "blueprints" / "openstack-ceph-mini"
APPLIANCE = "gns3lab Debian 12"
PUB = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGxhYmxhYmxhYmxhYmxhYmxhYmxhYmxhYmxhYmxhYmxh gns3lab@t"
ANSIBLE = "opt/gns3lab/ansible"
WAIT = 1500  # seconds; five TCG guests on two cores, then three stages of Ansible
STALL = 600  # seconds without a console line: the guests stopped progressing, fail now
STAGES = ["oob", "fabric", "servers-ready", "check"]
#: Every VM's planned management (OOB) address: mgmt01 is the gateway, the rest by reservation.
PLANNED = {"mgmt01": "192.168.50.1", "leaf01": "192.168.50.5", "leaf02": "192.168.50.6",
           "infra1": "192.168.50.11", "compute1": "192.168.50.21"}
#: The servers' host number on every network (the full blueprint's per-role numbers).
HOST_NUMBERS = {"infra1": 11, "compute1": 21}
LINKS = """
mgmt01:eth0 leaf01:eth0    mgmt01:eth1 leaf02:eth0
mgmt01:eth2 infra1:eth0    mgmt01:eth3 compute1:eth0
mgmt01:eth4 leaf01:eth3    mgmt01:eth5 leaf02:eth3
leaf01:eth4 leaf02:eth4
infra1:eth1 leaf01:eth1    infra1:eth2 leaf02:eth1
compute1:eth1 leaf01:eth2  compute1:eth2 leaf02:eth2
"""


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Lab:
    """The blueprint resolved against a tiny blank image named like the real appliance."""
    folder = tmp_path_factory.mktemp("images")
    make_tiny_appliance(folder, APPLIANCE, "gns3lab-debian-12-test.qcow2")
    return load_lab(BLUEPRINT, (folder,))


# ----------------------------------------------------------------------------- the model

def test_five_debian_vms_that_fit_here(lab: Lab) -> None:
    assert [n.name for n in lab.vms] == list(PLANNED)
    assert {n.image.appliance for n in lab.vms if n.image} == {APPLIANCE}
    assert {n.name: n.role for n in lab.vms} == {
        "mgmt01": "controller", "leaf01": "leaf", "leaf02": "leaf", "infra1": "infra",
        "compute1": "compute"}
    assert {n.name: len(n.nics) for n in lab.vms} == {
        "mgmt01": 6, "leaf01": 5, "leaf02": 5, "infra1": 3, "compute1": 3}
    assert all(n.ram <= 512 and n.cpus == 1 for n in lab.vms)
    assert lab.totals()["ram_mb"] == 2048
    assert [n.name for n in lab.nodes if n not in lab.vms] == []  # no NAT or cloud: offline


def test_links_follow_the_slots(lab: Lab) -> None:
    words = LINKS.split()
    expected = {frozenset(words[i:i + 2]) for i in range(0, len(words), 2)}
    got = {frozenset((f"{ln.a.node}:{ln.a.port_name}", f"{ln.b.node}:{ln.b.port_name}"))
           for ln in lab.links}
    assert got == expected and len(lab.links) == len(expected)


def test_servers_bond_vlans_and_bridges(lab: Lab) -> None:
    for name, host in HOST_NUMBERS.items():
        node = lab.node(name)
        ifs = {i.name: i for i in node.interfaces}
        bond = ifs["bond0"]
        assert (bond.kind, bond.members, bond.bond_mode) == ("bond", ("eth1", "eth2"), "802.3ad")
        assert (bond.bond_lacp_rate, bond.bond_mii_monitor) == ("fast", 100)
        for vid, bridge, network, prefix in ((10, "br-mgmt", "mgmt", "172.29.236"),
                                             (20, "br-storage", "storage", "172.29.244")):
            vlan = ifs[f"bond0.{vid}"]
            assert (vlan.kind, vlan.vlan_id, vlan.link) == ("vlan", vid, "bond0")
            br = ifs[bridge]
            assert (br.kind, br.members, br.network) == ("bridge", (f"bond0.{vid}",), network)
            assert [str(a) for a in br.addresses] == [f"{prefix}.{host}/22"]
            assert lab.network(network).vlan == vid
        assert ifs["eth0"].dhcp and str(ifs["eth0"].addresses[0]) == f"192.168.50.{host}/24"


def test_mgmt01_is_the_oob_switch_and_on_br_mgmt(lab: Lab) -> None:
    ifs = {i.name: i for i in lab.node("mgmt01").interfaces}
    assert ifs["br-oob"].members == ("eth0", "eth1", "eth2", "eth3")
    assert [str(a) for a in ifs["br-oob"].addresses] == ["192.168.50.1/24"]
    assert (ifs["bond0"].members, ifs["bond0"].bond_mode) == (("eth4", "eth5"), "802.3ad")
    assert (ifs["bond0.10"].vlan_id, ifs["br-mgmt"].members) == (10, ("bond0.10",))
    assert [str(a) for a in ifs["br-mgmt"].addresses] == ["172.29.236.1/22"]
    leaves = {i.name: i for i in lab.node("leaf01").interfaces}
    assert list(leaves) == ["eth0"] and leaves["eth0"].dhcp  # the fabric ports: Ansible's job


def test_fabric_is_a_tree_and_bonds_span_both_leaves(lab: Lab) -> None:
    """The design's loop-freedom argument, checked on the wiring: between forwarding devices
    (mgmt01's br-oob, the leaves' fabric bridges) there is exactly one link, the peer link;
    every other leaf fabric port ends at a bond member, one member of each bond per leaf, and
    every br-oob port ends at a management port that is in no bridge or bond."""
    leaves = {"leaf01", "leaf02"}
    ends = {}
    for ln in lab.links:
        ends[(ln.a.node, ln.a.port_name)] = (ln.b.node, ln.b.port_name)
        ends[(ln.b.node, ln.b.port_name)] = (ln.a.node, ln.a.port_name)
    between_leaves = [ln for ln in lab.links if {ln.a.node, ln.b.node} == leaves]
    assert [(ln.a.port_name, ln.b.port_name) for ln in between_leaves] == [("eth4", "eth4")]
    bond_sides: dict[tuple[str, str], set[str]] = {}
    for leaf in sorted(leaves):
        for nic in lab.node(leaf).nics[1:]:  # every fabric port (eth0 is management)
            far_node, far_port = ends[(leaf, nic.name)]
            if far_node in leaves:
                continue
            bond = next(i for i in lab.node(far_node).interfaces
                        if i.kind == "bond" and far_port in i.members)
            bond_sides.setdefault((far_node, bond.name), set()).add(leaf)
    assert bond_sides == {(n, "bond0"): leaves for n in ("mgmt01", "infra1", "compute1")}
    in_bridge_or_bond = {(n.name, m) for n in lab.vms for i in n.interfaces
                         if i.kind in ("bridge", "bond") for m in i.members}
    for port in next(i for i in lab.node("mgmt01").interfaces if i.name == "br-oob").members:
        far = ends[("mgmt01", port)]
        assert far[1] == "eth0" and far not in in_bridge_or_bond


def test_stages_run_in_order_on_their_hosts(lab: Lab) -> None:
    stages = resolve_stages(lab)
    assert [s.name for s in stages] == STAGES
    assert {s.name: s.hosts for s in stages} == {
        "oob": ("leaf01", "leaf02"), "fabric": ("leaf01", "leaf02"),
        "servers-ready": ("infra1", "compute1"), "check": tuple(PLANNED)}
    assert [s.playbooks for s in stages] == [
        ("playbooks/oob.yml",), ("playbooks/fabric.yml",), ("playbooks/servers-ready.yml",),
        ("playbooks/check.yml",)]
    assert all(s.timeout <= WAIT for s in stages)


def test_mgmt01_reserves_every_oob_address(lab: Lab) -> None:
    conf = render_dnsmasq(lab).decode()
    hosts = [ln.split("=", 1)[1] for ln in conf.splitlines() if ln.startswith("dhcp-host=")]
    assert hosts == [f"{lab.node(n).nics[0].mac},{n},{ip}" for n, ip in PLANNED.items()
                     if n != "mgmt01"]
    assert "interface=br-oob" in conf.splitlines()


# ----------------------------------------------------------------------------- playbooks


#: /proc/net/bonding/bond0 of an 802.3ad bond without an LACP partner (the parts we read):
#: each member in its own aggregator, the second one active.
BONDING = """\
Bonding Mode: IEEE 802.3ad Dynamic link aggregation
MII Status: up
802.3ad info
Active Aggregator Info:
\tAggregator ID: 2
\tNumber of ports: 1
\tPartner Mac Address: 00:00:00:00:00:00

Slave Interface: eth1
MII Status: up
Aggregator ID: 1

Slave Interface: eth2
MII Status: up
Aggregator ID: 2
"""


def _play_vars(book: Path) -> dict:
    return yaml.safe_load(book.read_text())[0]["vars"]


# ----------------------------------------------------------------------------- the real boot
