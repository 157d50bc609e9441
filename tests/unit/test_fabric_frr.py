"""The fabric add-on's FRR backend, checked against the lab model of the mini FRR lab: which
switch is a spine, leaf or access switch, their identities, the Ethernet segments of the
dual-homed bonds, what frr.conf and the fabric script say, and the blueprint errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from generator.addons import fabric, plan_addons
from generator.addons.fabric_frr_playbooks import ping_targets
from generator.addons.fabric_frr_render import fabric_script, frr_conf, host_vars
from generator.build import load_lab
from generator.errors import FabricError
from generator.model import Lab
from generator.render.ansible import render_inventory
from generator.render.stages import managed_nodes
from tests.helpers import REPO, make_tiny_appliance

MINI = REPO / "blueprints" / "openstack-ceph-mini"
APPLIANCES = {"gns3lab Debian 12": "gns3lab-debian-12-test.qcow2",
              "gns3lab Debian 12 netplan": "gns3lab-debian-12-netplan-test.qcow2",
              "gns3lab FRR": "gns3lab-frr-test.qcow2"}
SYS_MAC = "44:38:39:ff:00:01"


def load_with_tiny_images(blueprint: Path, folder: Path) -> Lab:
    """The blueprint resolved against tiny blank images named like the real appliances."""
    for name, filename in APPLIANCES.items():
        make_tiny_appliance(folder, name, filename)
    return load_lab(blueprint, (folder,))


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Lab:
    return load_with_tiny_images(MINI, tmp_path_factory.mktemp("images"))


@pytest.fixture(scope="module")
def data(lab: Lab) -> dict[str, Any]:
    return fabric.frr_data(lab)


def test_kinds_identities_and_underlay_links(data: dict[str, Any]) -> None:
    switches = data["switches"]
    assert {n: (s["kind"], s["asn"], s["loopback"]) for n, s in switches.items()} == {
        "spine01": ("spine", 65003, "10.255.0.3"), "leaf01": ("leaf", 65005, "10.255.0.5"),
        "leaf02": ("leaf", 65006, "10.255.0.6")}
    assert switches["spine01"]["uplinks"] == {"eth1": "leaf01:eth4", "eth2": "leaf02:eth4"}
    assert switches["leaf01"]["uplinks"] == {"eth4": "spine01:eth1"}
    assert data["vlans"] == [10, 20]


def test_every_dual_homed_bond_is_one_ethernet_segment_on_both_leaves(
        data: dict[str, Any]) -> None:
    leaf01, leaf02 = (data["switches"][n]["bonds"] for n in ("leaf01", "leaf02"))
    assert list(leaf01) == list(leaf02) == ["infra1-bond0", "compute1-bond0", "mgmt01-bond0"]
    for name in leaf01:
        a, b = leaf01[name], leaf02[name]
        assert (a["es_id"], a["es_sys_mac"], a["vids"]) == (b["es_id"], b["es_sys_mac"],
                                                           b["vids"])
        assert a["es_sys_mac"] == SYS_MAC
    assert [b["es_id"] for b in leaf01.values()] == [1, 2, 3]  # the port on leaf01: stable
    assert leaf01["mgmt01-bond0"]["vids"] == [10]
    assert (leaf01["infra1-bond0"]["members"], leaf02["infra1-bond0"]["members"]) == (
        ["eth1"], ["eth1"])


def test_frr_conf_of_a_leaf_has_segments_uplink_bfd_and_evpn(data: dict[str, Any]) -> None:
    conf = frr_conf("leaf01", data["switches"]["leaf01"]).splitlines()
    assert conf[0] == "frr defaults datacenter"
    for block in (["interface infra1-bond0", " evpn mh es-id 1", f" evpn mh es-sys-mac {SYS_MAC}"],
                  ["interface eth4", " evpn mh uplink"],
                  [" neighbor fabric remote-as external", " neighbor fabric bfd"],
                  [" address-family l2vpn evpn", "  neighbor fabric activate",
                   "  advertise-all-vni"]):
        start = conf.index(block[0])
        assert conf[start:start + len(block)] == block
    assert " neighbor eth4 interface peer-group fabric" in conf
    assert "  network 10.255.0.5/32" in conf


def test_a_spine_relays_evpn_and_owns_no_vni(data: dict[str, Any]) -> None:
    conf = frr_conf("spine01", data["switches"]["spine01"])
    assert "advertise-all-vni" not in conf and "evpn mh" not in conf
    assert " neighbor eth1 interface peer-group fabric\n neighbor eth2 interface" in conf


def test_script_bonds_carry_the_segment_mac_as_lacp_system_and_vnis(lab: Lab) -> None:
    leaf = yaml.safe_load(fabric.render(lab)["host_vars/leaf02.yml"])
    script = leaf["fabric_script"].splitlines()
    assert "add_bond infra1-bond0 44:38:39:ff:00:01 10 20 -- eth1" in script
    assert "add_bond mgmt01-bond0 44:38:39:ff:00:01 10 -- eth3" in script
    assert script[-1] == "for vni in $(vids 10 20); do add_vni \"$vni\" 10.255.0.6; done"
    assert "ip link set dev eth4 mtu 9216 up" in script


def test_check_pings_every_other_host_and_mgmt01_on_every_fabric_network(lab: Lab) -> None:
    assert ping_targets(lab, ["compute1", "infra1", "mgmt01"], [10, 20]) == {
        "compute1": [["br-mgmt", "172.29.236.11"], ["br-mgmt", "172.29.236.1"],
                     ["br-storage", "172.29.244.11"]],
        "infra1": [["br-mgmt", "172.29.236.21"], ["br-mgmt", "172.29.236.1"],
                   ["br-storage", "172.29.244.21"]],
        "mgmt01": [["br-mgmt", "172.29.236.21"], ["br-mgmt", "172.29.236.11"]]}


def test_frr_roles_take_switches_from_the_cumulus_backend(lab: Lab) -> None:
    files = fabric.render(lab)
    assert sorted(files) == ["host_vars/leaf01.yml", "host_vars/leaf02.yml",
                             "host_vars/spine01.yml", "playbooks/fabric-frr-check.yml",
                             "playbooks/fabric-frr.yml"]
    none, issues = plan_addons(lab, {})  # planned again from a blueprint without frr_roles
    assert issues == [] and not fabric.applies(none) and fabric.applies(lab)


def test_a_switch_without_an_oob_address_is_refused(lab: Lab) -> None:
    """mgmt01's eth0 is a port of its OOB bridge, with no address: no identity to derive."""
    extra = {**lab.extra_vars.thaw(), "frr_roles": ["spine", "leaf", "controller"]}
    planned, issues = plan_addons(lab, extra)
    with pytest.raises(FabricError, match="FRR switch 'mgmt01' has no address on its "
                       "management port eth0"):
        fabric.frr_data(planned)
    assert [message for _, message, _ in issues] == [
        "FRR switch 'mgmt01' has no address on its management port eth0"]
    assert fabric.check(planned) == issues


def test_bad_settings_are_issues(lab: Lab) -> None:
    _, issues = plan_addons(lab, {**lab.extra_vars.thaw(), "frr_loopbacks": "10.255.0.0/33"})
    assert [(path, "IPv4 network" in message) for path, message, _ in issues] == [
        (("extra", "frr_loopbacks"), True)]


def test_every_nic_reports_full_duplex(lab: Lab) -> None:
    """Linux's 802.3ad leaves a port that is not full duplex out of LACP (no partner, its own
    aggregator), and virtio NICs say "unknown" unless QEMU gives them a speed and duplex: every
    VM of the mini lab gets both, so each server bond aggregates with both leaves."""
    for node in lab.vms:
        assert "-global virtio-net-pci.duplex=full" in node.options, node.name
        assert "-global virtio-net-pci.speed=10000" in node.options, node.name


def test_an_oob_switch_in_frr_roles_is_one_untagged_bridge() -> None:
    """The full lab with swmgmt's role in frr_roles too: its links to the switches' management
    ports are OOB, not underlay, so it is an access switch (one bridge of its linked ports, no
    routing), and the spines' uplinks are only their data ports."""
    lab = load_lab(REPO / "blueprints" / "openstack-ceph")
    planned, _ = plan_addons(lab, {**lab.extra_vars.thaw(), "frr_roles": ["oob", "spine", "leaf"]})
    data = fabric.frr_data(planned)
    swmgmt = data["switches"]["swmgmt"]
    assert swmgmt["kind"] == "access" and "uplinks" not in swmgmt
    assert swmgmt["bridge_ports"][:3] == ["eth1", "eth2", "eth3"]
    assert data["switches"]["spine01"]["uplinks"] == {
        "eth1": "leaf01:eth46", "eth2": "leaf02:eth46", "eth14": "spine02:eth14",
        "eth15": "spine02:eth15"}
    script = fabric_script("swmgmt", swmgmt).splitlines()
    assert "ip link add br0 type bridge stp_state 0" in script
    assert "add_port eth1" in script and not any("vxlan" in ln for ln in script)
    assert host_vars("swmgmt", swmgmt)["fabric_frr_conf"] == ""


def test_frr_switches_are_configured_as_their_resolved_login(lab: Lab) -> None:
    """As with the Cumulus backend, the login is the node's resolved ``default_user`` (the
    inventory's ``ansible_user``): the FRR host_vars add none of their own to override it."""
    inventory = yaml.safe_load(render_inventory(lab, managed_nodes(lab)))["all"]["hosts"]
    for name, text in fabric.render(lab).items():
        if name.startswith("host_vars/"):
            switch = name.removeprefix("host_vars/").removesuffix(".yml")
            assert "ansible_user" not in yaml.safe_load(text)
            assert inventory[switch]["ansible_user"] == lab.node(switch).default_user
