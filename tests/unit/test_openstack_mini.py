"""blueprints/openstack-ceph-mini: the open reference lab scaled down to six VMs, booted for
real by tests/e2e/test_openstack_mini_boot.py.

These fast tests read the blueprint with tiny stand-ins for the recipes' appliances: the VMs and
the images their recipes make, the wiring by slot, the servers' bonds, VLANs and bridges, mgmt01
as the OOB switch, the stages in order on their hosts and mgmt01's DHCP reservations. What the
FRR backend renders from it (segments, frr.conf, the fabric script, the check) is in
tests/unit/test_fabric_frr.py and its goldens.
"""

from __future__ import annotations

import pytest

from generator.model import Lab
from generator.render.bootstrap import render_dnsmasq
from tests.helpers import REPO
from tests.unit.test_fabric_frr import APPLIANCES, load_with_tiny_images

BLUEPRINT = REPO / "blueprints" / "openstack-ceph-mini"
#: Every VM's planned management (OOB) address: mgmt01 is the gateway, the rest by reservation.
PLANNED = {"mgmt01": "192.168.50.1", "spine01": "192.168.50.3", "leaf01": "192.168.50.5",
           "leaf02": "192.168.50.6", "infra1": "192.168.50.11", "compute1": "192.168.50.21"}
#: The servers' host number on every network (the full blueprint's per-role numbers).
HOST_NUMBERS = {"infra1": 11, "compute1": 21}
LINKS = """
spine01:eth0 mgmt01:eth0     leaf01:eth0 mgmt01:eth1      leaf02:eth0 mgmt01:eth2
leaf01:eth4 spine01:eth1     leaf02:eth4 spine01:eth2
mgmt01:eth5 leaf01:eth3      mgmt01:eth6 leaf02:eth3
infra1:eth0 mgmt01:eth3      infra1:eth1 leaf01:eth1      infra1:eth2 leaf02:eth1
compute1:eth0 mgmt01:eth4    compute1:eth1 leaf01:eth2    compute1:eth2 leaf02:eth2
"""


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Lab:
    return load_with_tiny_images(BLUEPRINT, tmp_path_factory.mktemp("images"))


def test_six_vms_on_three_recipes(lab: Lab) -> None:
    assert [n.name for n in lab.vms] == list(PLANNED)
    assert {n.name: n.image.appliance for n in lab.vms if n.image} == {
        "mgmt01": "gns3lab Debian 12", "spine01": "gns3lab FRR", "leaf01": "gns3lab FRR",
        "leaf02": "gns3lab FRR", "infra1": "gns3lab Debian 12",
        "compute1": "gns3lab Debian 12 netplan"}
    assert {n.image.appliance for n in lab.vms if n.image} <= set(APPLIANCES)
    assert {n.name: n.role for n in lab.vms} == {
        "mgmt01": "controller", "spine01": "spine", "leaf01": "leaf", "leaf02": "leaf",
        "infra1": "infra", "compute1": "compute"}
    assert {n.name: len(n.nics) for n in lab.vms} == {
        "mgmt01": 7, "spine01": 3, "leaf01": 5, "leaf02": 5, "infra1": 3, "compute1": 3}
    assert all(n.ram <= 512 and n.cpus == 1 for n in lab.vms)
    assert lab.totals()["ram_mb"] == 512 + 320 + 4 * 384  # 2.4 GB, as the header says
    assert [n.name for n in lab.nodes if n not in lab.vms] == []  # no NAT or cloud: offline


def test_links_follow_the_slots(lab: Lab) -> None:
    words = LINKS.split()
    expected = {frozenset(words[i:i + 2]) for i in range(0, len(words), 2)}
    got = {frozenset((f"{ln.a.node}:{ln.a.port_name}", f"{ln.b.node}:{ln.b.port_name}"))
           for ln in lab.links}
    assert got == expected and len(lab.links) == len(expected) == 13


def test_servers_bond_vlans_and_bridges(lab: Lab) -> None:
    for name, host in HOST_NUMBERS.items():
        ifs = {i.name: i for i in lab.node(name).interfaces}
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


def test_mgmt01_is_the_oob_switch_and_dual_homed_on_br_mgmt(lab: Lab) -> None:
    ifs = {i.name: i for i in lab.node("mgmt01").interfaces}
    assert ifs["br-oob"].members == ("eth0", "eth1", "eth2", "eth3", "eth4")
    assert [str(a) for a in ifs["br-oob"].addresses] == ["192.168.50.1/24"]
    assert (ifs["bond0"].members, ifs["bond0"].bond_mode) == (("eth5", "eth6"), "802.3ad")
    assert (ifs["bond0.10"].vlan_id, ifs["br-mgmt"].members) == (10, ("bond0.10",))
    assert [str(a) for a in ifs["br-mgmt"].addresses] == ["172.29.236.1/22"]
    ends = {}
    for ln in lab.links:
        ends[(ln.a.node, ln.a.port_name)] = ln.b.port_name
        ends[(ln.b.node, ln.b.port_name)] = ln.a.port_name
    # every br-oob port ends at a management port (eth0), never at a fabric or bond port
    assert {ends[("mgmt01", p)] for p in ifs["br-oob"].members} == {"eth0"}


def test_stages_run_in_order_on_their_hosts(lab: Lab) -> None:
    stages = lab.controller.bootstrap if lab.controller else ()
    assert [s.name for s in stages] == ["fabric", "fabric-check", "check"]
    assert {s.name: s.hosts for s in stages} == {
        "fabric": ("spine01", "leaf01", "leaf02"),
        "fabric-check": ("spine01", "leaf01", "leaf02", "infra1", "compute1"),
        "check": tuple(PLANNED)}
    assert [s.generated for s in stages[:2]] == [("playbooks/fabric-frr.yml",),
                                                 ("playbooks/fabric-frr-check.yml",)]
    assert all(s.timeout <= 1500 for s in stages)


def test_mgmt01_reserves_every_oob_address(lab: Lab) -> None:
    conf = render_dnsmasq(lab).decode()
    hosts = [ln.split("=", 1)[1] for ln in conf.splitlines() if ln.startswith("dhcp-host=")]
    assert hosts == [f"{lab.node(n).nics[0].mac},{n},{ip}" for n, ip in PLANNED.items()
                     if n != "mgmt01"]
    assert "interface=br-oob" in conf.splitlines()
