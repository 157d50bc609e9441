"""The OpenStack-Ansible add-on, checked against expectations computed from the lab model:
host groups, addresses, used_ips, provider networks, Ceph settings, and the playbooks."""

from __future__ import annotations

import ipaddress
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml

from generator import osa
from generator.build import load_lab
from generator.model import Lab
from generator.osa import OsaError, ceph_variables, load_settings, parse_release, user_config
from tests.test_fabric import check_playbooks
from tests.test_openstack_blueprint import BLUEPRINT, variant

#: The host groups of OpenStack-Ansible's "Ceph production" example, by the role that fills them.
CEPH_PRODUCTION = {
    "shared-infra_hosts": "infra", "repo-infra_hosts": "infra", "os-infra_hosts": "infra",
    "identity_hosts": "infra", "network_hosts": "infra", "storage-infra_hosts": "infra",
    "storage_hosts": "infra", "ceph-mon_hosts": "infra", "haproxy_hosts": "infra",
    "log_hosts": "log", "compute_hosts": "compute", "ceph-osd_hosts": "osd",
}
OSA_NETWORKS = {"container": "mgmt", "tunnel": "vxlan", "storage": "storage"}


@pytest.fixture(scope="module")
def lab() -> Lab:
    return load_lab(BLUEPRINT)


@pytest.fixture(scope="module")
def config(lab: Lab) -> dict[str, Any]:
    return yaml.safe_load(osa.render(lab)["openstack/openstack_user_config.yml"])


def covered(ip: ipaddress.IPv4Address, used: list[str]) -> bool:
    for entry in used:
        first, _, last = entry.partition(",")
        lo, hi = ipaddress.IPv4Address(first), ipaddress.IPv4Address(last or first)
        if lo <= ip <= hi:
            return True
    return False


def test_every_host_is_in_its_groups_at_its_br_mgmt_address(lab: Lab, config: dict[str, Any]
                                                             ) -> None:
    for group, role in CEPH_PRODUCTION.items():
        expected = {n.name: str(n.address_on("mgmt").ip)  # type: ignore[union-attr]
                    for n in lab.vms if n.role == role}
        assert expected, group
        assert {h: e["ip"] for h, e in config[group].items()} == expected, group
    hosts = {h for g in CEPH_PRODUCTION for h in config[g]}
    assert hosts == {n.name for n in lab.vms if n.role in ("infra", "log", "compute", "osd")}
    assert "mgmt01" not in hosts and not any(n.startswith(("leaf", "spine")) for n in hosts)


def test_networks_and_no_address_collisions(lab: Lab, config: dict[str, Any]) -> None:
    nets = {role: lab.network(name) for role, name in OSA_NETWORKS.items()}
    assert config["cidr_networks"] == {role: str(n.cidr) for role, n in nets.items()}
    ips: dict[ipaddress.IPv4Address, str] = {}
    for group in CEPH_PRODUCTION:
        for host, entry in config[group].items():
            ip = ipaddress.IPv4Address(entry["ip"])
            assert ip in nets["container"].cidr
            assert ips.setdefault(ip, host) == host, f"{ip} is given to two hosts"
    overrides = config["global_overrides"]
    vips = {ipaddress.IPv4Address(overrides[k])
            for k in ("internal_lb_vip_address", "external_lb_vip_address")}
    assert len(vips) == 2 and all(v in nets["container"].cidr for v in vips)
    assert not vips & set(ips), "a VIP is also a host address"
    # every static address, gateway and VIP on OSA's networks is kept from the containers
    for net in nets.values():
        statics = {a.ip for n in lab.vms for i in n.interfaces if i.network == net.name
                   for a in i.addresses}
        wanted = statics | ({net.gateway} if net.gateway else set()) | \
            {v for v in vips if v in net.cidr}
        assert all(covered(ip, config["used_ips"]) for ip in wanted), net.name
    assert covered(ipaddress.IPv4Address("172.29.236.1"), config["used_ips"])  # mgmt01
    assert not covered(ipaddress.IPv4Address("172.29.236.100"), config["used_ips"])


def test_bridges_and_provider_networks(lab: Lab, config: dict[str, Any]) -> None:
    overrides = config["global_overrides"]
    assert overrides["management_bridge"] == "br-mgmt"
    nets = {n["network"]["container_bridge"]: n["network"]
            for n in overrides["provider_networks"]}
    assert set(nets) == {"br-mgmt", "br-vxlan", "br-vlan", "br-storage"}
    assert nets["br-mgmt"]["ip_from_q"] == "container" and nets["br-mgmt"]["is_container_address"]
    assert (nets["br-vxlan"]["ip_from_q"], nets["br-vxlan"]["type"]) == ("tunnel", "vxlan")
    assert (nets["br-vlan"]["type"], nets["br-vlan"]["range"]) == ("vlan", "101:110")
    assert nets["br-storage"]["ip_from_q"] == "storage"
    for host in {h for g in CEPH_PRODUCTION for h in config[g]}:
        bridges = {i.name for i in lab.node(host).interfaces if i.kind == "bridge"}
        assert set(nets) <= bridges, f"{host} lacks a provider bridge"


def test_ceph_osd_devices_are_the_data_disks(lab: Lab, config: dict[str, Any]) -> None:
    for host, entry in config["ceph-osd_hosts"].items():
        disks = lab.node(host).data_disks
        assert entry["host_vars"]["devices"] == [f"/dev/vd{chr(ord('b') + i)}"
                                                 for i in range(len(disks))]
    assert all("host_vars" not in e for e in config["compute_hosts"].values())


def test_user_variables_for_the_pinned_release(lab: Lab) -> None:
    doc = yaml.safe_load(osa.render(lab)["openstack/user_variables.yml"])
    assert lab.extra["openstack"]["release"] == "21.2.12"
    assert (doc["ceph_origin"], doc["ceph_stable_release"]) == ("repository", "octopus")
    assert doc["monitor_address_block"] == doc["public_network"] == "172.29.236.0/22"
    assert doc["cluster_network"] == "172.29.244.0/22"
    assert isinstance(doc["journal_size"], int)
    assert "osd_scenario" not in doc  # ceph-ansible 4.0+: `devices` are batched with LVM
    assert doc["haproxy_keepalived_internal_vip_cidr"] == "172.29.236.9/32"
    assert doc["fsid"] == yaml.safe_load(osa.render(lab)["openstack/user_variables.yml"])["fsid"]


@pytest.mark.parametrize("release, major, series, ceph, scenario", [
    ("19.1.7", 19, "stein", "mimic", "collocated"),
    ("stable/rocky", 18, "rocky", "luminous", "collocated"),
    ("20.2.6", 20, "train", "nautilus", None),
    ("ussuri-eol", 21, "ussuri", "octopus", None),
])
def test_ceph_settings_follow_the_release(lab: Lab, release: str, major: int, series: str,
                                          ceph: str, scenario: str | None) -> None:
    assert parse_release(release) == (major, series, ceph)
    settings = replace(load_settings(lab), release=release, major=major, series=series, ceph=ceph)
    doc = ceph_variables(settings)
    assert doc["ceph_stable_release"] == ceph
    assert doc.get("osd_scenario") == scenario


@pytest.mark.parametrize("release", ["stable/2023.1", "27.0.0", "", "master"])
def test_unsupported_release_is_an_error(release: str) -> None:
    with pytest.raises(OsaError, match="is not an OpenStack-Ansible release"):
        parse_release(release)


def test_vip_outside_the_container_network_is_an_error(tmp_path: Path) -> None:
    lab = load_lab(variant(tmp_path, "internal_vip: 172.29.236.9", "internal_vip: 10.0.0.9"))
    with pytest.raises(OsaError, match=r"internal_vip: 10\.0\.0\.9 is outside the container"):
        user_config(lab)


def test_playbooks(lab: Lab, tmp_path: Path) -> None:
    files = osa.render(lab)
    servers = "compute1:compute2:infra1:infra2:infra3:log1:osd1:osd2:osd3"
    hosts_play = yaml.safe_load(files["playbooks/osa-hosts.yml"])[0]
    assert hosts_play["hosts"] == servers
    targets = set(hosts_play["vars"]["osa_fabric_targets"])
    expected = {str(a.ip) for n in lab.vms if n.role in ("infra", "log", "compute", "osd")
                for net in OSA_NETWORKS.values() for a in [n.address_on(net)] if a}
    assert targets == expected | {"172.29.236.1"}
    deploy = yaml.safe_load(files["playbooks/osa-deploy.yml"])
    assert [p["hosts"] for p in deploy] == ["localhost", servers, "localhost"]
    git = next(t for t in deploy[0]["tasks"] if "ansible.builtin.git" in t)
    assert git["ansible.builtin.git"]["version"] == "21.2.12"
    assert deploy[2]["tasks"][0]["loop"] == ["setup-hosts.yml", "setup-infrastructure.yml",
                                             "setup-openstack.yml"]
    check_playbooks(files, tmp_path)
