"""The OpenStack-Ansible add-on, checked against expectations computed from the lab model:
host groups, addresses, used_ips, provider networks, Ceph settings, and the playbooks."""

from __future__ import annotations

import ipaddress
from dataclasses import replace
from typing import Any

import pytest
import yaml

from generator.addons import Issue, check_addons, osa, plan_addons, render_addons
from generator.addons.fabric import fabric_data
from generator.addons.osa import OsaError, ceph_variables, load_settings, parse_release
from generator.build import load_lab
from generator.model import Lab
from tests.unit.test_openstack_blueprint import BLUEPRINT

#: The ``*_hosts`` sections of OpenStack-Ansible 21.2.12's
#: etc/openstack_deploy/openstack_user_config.yml.prod-ceph.example, by the example's hosts that
#: fill them (infra1-3, compute1-2, osd1-3, log1): ours must have exactly these, with our hosts
#: of the same role.
EXAMPLE_SECTIONS = {
    **dict.fromkeys((
        "shared-infra_hosts", "ceph-mon_hosts", "ceph-mds_hosts", "ceph-nfs_hosts",
        "repo-infra_hosts", "haproxy_hosts", "identity_hosts", "storage-infra_hosts",
        "storage_hosts", "image_hosts", "placement-infra_hosts", "compute-infra_hosts",
        "orchestration_hosts", "dashboard_hosts", "network_hosts", "metering-infra_hosts",
        "metering-alarm_hosts", "metrics_hosts", "manila-infra_hosts", "manila-data_hosts"),
        "infra"),
    "compute_hosts": "compute", "metering-compute_hosts": "compute",
    "ceph-osd_hosts": "osd", "log_hosts": "log",
}
#: The sections the issue found missing (so aodh, ceilometer, gnocchi, manila, ceph-mds and
#: ceph-nfs were never placed).
WERE_MISSING = {"ceph-mds_hosts", "ceph-nfs_hosts", "compute-infra_hosts", "dashboard_hosts",
                "image_hosts", "manila-data_hosts", "manila-infra_hosts", "metering-alarm_hosts",
                "metering-compute_hosts", "metering-infra_hosts", "metrics_hosts",
                "orchestration_hosts", "placement-infra_hosts"}
#: The example's provider networks (container_bridge, type) -> the settings ours must share.
EXAMPLE_PROVIDERS = {
    ("br-mgmt", "raw"): {"container_type": "veth", "container_interface": "eth1",
                         "ip_from_q": "container", "group_binds": ["all_containers", "hosts"],
                         "is_container_address": True},
    ("br-vxlan", "vxlan"): {"container_type": "veth", "container_interface": "eth10",
                            "ip_from_q": "tunnel", "range": "1:1000", "net_name": "vxlan",
                            "group_binds": ["neutron_linuxbridge_agent"]},
    ("br-vlan", "flat"): {"container_type": "veth", "container_interface": "eth12",
                          "host_bind_override": "eth12", "net_name": "flat",
                          "group_binds": ["neutron_linuxbridge_agent"]},
    ("br-vlan", "vlan"): {"container_type": "veth", "container_interface": "eth11",
                          "range": "101:200,301:400", "net_name": "vlan",
                          "group_binds": ["neutron_linuxbridge_agent"]},
    ("br-storage", "raw"): {"container_type": "veth", "container_interface": "eth2",
                            "ip_from_q": "storage",
                            "group_binds": ["glance_api", "cinder_api", "cinder_volume",
                                            "manila_share", "nova_compute", "ceph-osd"]},
}
CEPH_PRODUCTION = EXAMPLE_SECTIONS
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


def test_sections_are_the_prod_ceph_examples(lab: Lab, config: dict[str, Any]) -> None:
    """Every ``*_hosts`` section of the example, no other (os-infra_hosts is gone), each with
    our hosts of the example's role, at their br-mgmt addresses."""
    sections = {k for k in config if k.endswith("_hosts")}
    assert sections == set(EXAMPLE_SECTIONS)
    assert WERE_MISSING <= sections and "os-infra_hosts" not in sections
    for section, role in EXAMPLE_SECTIONS.items():
        assert sorted(config[section]) == sorted(n.name for n in lab.vms if n.role == role)
    infra = {h: e["ip"] for h, e in config["shared-infra_hosts"].items()}
    assert infra == {"infra1": "172.29.236.11", "infra2": "172.29.236.12",
                     "infra3": "172.29.236.13"}  # the example's infra addresses, too
    assert config["log_hosts"] == {"log1": {"ip": "172.29.236.14"}}  # and the example's log1


def test_bridges_and_provider_networks(lab: Lab, config: dict[str, Any]) -> None:
    overrides = config["global_overrides"]
    assert overrides["management_bridge"] == "br-mgmt"
    assert overrides["cidr_networks"] == config["cidr_networks"]
    nets = {(n["network"]["container_bridge"], n["network"]["type"]): n["network"]
            for n in overrides["provider_networks"]}
    assert len(nets) == len(overrides["provider_networks"]) == 5
    assert set(nets) == set(EXAMPLE_PROVIDERS)
    for key, expected in EXAMPLE_PROVIDERS.items():
        ours = {k: v for k, v in nets[key].items() if k not in ("container_bridge", "type")}
        assert ours == expected, key
    # the VLAN range is the fabric's: every provider VLAN is trunked to each server's br-vlan
    fabric = fabric_data(lab)
    vlans = set(fabric["vlans"])
    assert set(range(101, 201)) | set(range(301, 401)) <= vlans
    for host in {h for g in EXAMPLE_SECTIONS for h in config[g]}:
        bridges = {i.name for i in lab.node(host).interfaces if i.kind == "bridge"}
        assert {bridge for bridge, _ in nets} <= bridges, f"{host} lacks a provider bridge"


def test_ceph_osd_devices_are_the_data_disks(lab: Lab, config: dict[str, Any]) -> None:
    for host, entry in config["ceph-osd_hosts"].items():
        disks = lab.node(host).data_disks
        assert entry["host_vars"]["devices"] == [f"/dev/vd{chr(ord('b') + i)}"
                                                 for i in range(len(disks))]
    assert all("host_vars" not in e for e in config["compute_hosts"].values())


def test_user_variables_for_the_pinned_release(lab: Lab) -> None:
    doc = yaml.safe_load(osa.render(lab)["openstack/user_variables.yml"])
    assert load_settings(lab).release == lab.extra_vars["openstack"]["release"] == "21.2.12"
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


def with_openstack(lab: Lab, **changes: Any) -> tuple[Lab, list[Issue]]:
    """The lab planned again (resolve's add-on phase) from its blueprint's ``extra:`` with keys
    of ``openstack`` changed (None: removed), and the plans' problems."""
    extra = lab.extra_vars.thaw()
    openstack = {k: v for k, v in {**extra["openstack"], **changes}.items() if v is not None}
    return plan_addons(lab, {**extra, "openstack": openstack})


def with_extra(lab: Lab, **changes: Any) -> tuple[Lab, list[Issue]]:
    """The lab planned again with top-level ``extra:`` keys changed, and the problems."""
    return plan_addons(lab, {**lab.extra_vars.thaw(), **changes})


def test_the_reference_lab_has_no_problems(lab: Lab) -> None:
    assert check_addons(lab) == []


BAD_OPENSTACK = {  # extra.openstack change -> (path under extra.openstack, message, fix)
    "release-99": ({"release": "99.0.0"}, ("release",),
                   "'99.0.0' is not an OpenStack-Ansible release this lab supports",
                   "use one of 18.x.y or stable/rocky, 19.x.y or stable/stein, 20.x.y or "
                   "stable/train, 21.x.y or stable/ussuri, 22.x.y or stable/victoria, 33.x.y or "
                   "stable/2026.1"),
    "release-float": ({"release": 21.2}, ("release",), "Input should be a valid string "
                      "(got 21.2)", None),
    "unknown-key": ({"relase": "21.2.12"}, ("relase",), "unknown key 'relase'",
                    "use release, internal_vip, external_vip, networks, host_groups, "
                    "network_plugin"),
    "plugin-of-another-generation": ({"network_plugin": "ml2.ovs"}, ("network_plugin",),
                                     "OpenStack-Ansible 21 has no network plugin 'ml2.ovs' (it "
                                     "has ml2.lxb)", "e.g. network_plugin: ml2.ovs"),
    "group-of-another-generation": ({"host_groups": {"osd": ["ceph_osd"]}},
                                    ("host_groups", "osd", 0), "'ceph_osd' is not an "
                                    "OpenStack-Ansible host group", "did you mean 'ceph-osd'?"),
    "unknown-network-key": ({"networks": {"container": "mgmt", "tunel": "vxlan"}},
                            ("networks", "tunel"), "unknown key 'tunel'",
                            "use container, tunnel, storage"),
    "missing-vip": ({"internal_vip": None}, ("internal_vip",), "'internal_vip' is required",
                    None),
    "bad-vip": ({"internal_vip": "banana"}, ("internal_vip",),
                "Input is not a valid IPv4 address (got 'banana')", None),
    "vip-outside": ({"internal_vip": "10.0.0.9"}, ("internal_vip",),
                    "10.0.0.9 is outside the container network 172.29.236.0/22",
                    "pick a free address in 172.29.236.0/22"),
    "same-vips": ({"external_vip": "172.29.236.9"}, ("external_vip",),
                  "the external VIP is the internal VIP", "give the two VIPs different addresses"),
    "unknown-network": ({"networks": {"storage": "san"}}, ("networks", "storage"),
                        "no network 'san' in the lab", "known: mgmt, oob, storage, vxlan"),
    "unknown-group": ({"host_groups": {"compute": ["compute", "compute-infr"]}},
                      ("host_groups", "compute", 1), "'compute-infr' is not an "
                      "OpenStack-Ansible host group", "did you mean 'compute-infra'?"),
    "no-groups": ({"host_groups": {}}, ("host_groups",),
                  "no role is mapped to an OpenStack-Ansible host group",
                  "map roles to OSA groups, e.g. compute: [compute]"),
    "groups-not-lists": ({"host_groups": {"compute": "compute"}}, ("host_groups", "compute"),
                         "Input should be a valid list (got 'compute')", None),
}


@pytest.mark.parametrize("case", sorted(BAD_OPENSTACK))
def test_bad_openstack_settings_are_problems(lab: Lab, case: str) -> None:
    change, path, message, fix = BAD_OPENSTACK[case]
    bad, issues = with_openstack(lab, **change)
    assert issues == [(("extra", "openstack", *path), message, fix)]
    assert not osa.applies(bad) and check_addons(bad) == []  # no plan: resolve stops here


def test_openstack_section_must_be_a_mapping(lab: Lab) -> None:
    _, [(path, message, _)] = with_extra(lab, openstack="yes")
    assert (path, message) == (("extra", "openstack"), "give a mapping of settings (got str)")


BAD_VLANS = {  # extra.provider_vlans -> message
    "101-5000": "VLAN range '101-5000' is outside 1-4094",
    "0": "VLAN range '0' is outside 1-4094",
    "4095": "VLAN range '4095' is outside 1-4094",
    "200-101": "VLAN range '200-101' runs backwards",
    "banana": "cannot read VLAN 'banana': write ids and ranges, e.g. 101-110",
    "true": "write VLAN ids and ranges, e.g. 101-110, '10,20' or [101, 105]",
    "[101, {a: 1}]": "cannot read VLAN {'a': 1}: write ids and ranges, e.g. 101-110",
    "5-25": "VLAN 10 is network 'mgmt's VLAN",
}


@pytest.mark.parametrize("written", sorted(BAD_VLANS))
def test_bad_provider_vlans_are_problems(lab: Lab, written: str) -> None:
    bad, problems = with_extra(lab, provider_vlans=yaml.safe_load(written))
    assert [(p, m) for p, m, _ in problems] == [(("extra", "provider_vlans"), BAD_VLANS[written]
                                                 + ("" if written == "5-25" else
                                                    f" (got {yaml.safe_load(written)!r})"))]
    assert bad.addons == ()  # neither add-on planned: resolve stops here


def test_model_problems_are_reported_at_check_time(lab: Lab) -> None:
    """What only the model can tell (an OSD host without a data disk) is found by check too."""
    nodes = tuple(replace(n, data_disks=()) if n.role == "osd" else n for n in lab.nodes)
    bad = replace(lab, nodes=nodes)
    assert check_addons(bad) == [(("extra", "openstack", "host_groups"),
                                  "Ceph OSD host 'osd1' has no data disk",
                                  "give it one, e.g. disks: [{size: 30G}]")]


def test_check_passing_means_render_works_for_good_variants(lab: Lab) -> None:
    for good, issues in (with_extra(lab, provider_vlans=[101, "300-310"]),
                         with_openstack(lab, release="stable/victoria"),
                         with_extra(lab, provider_vlans=None)):
        assert issues == [] and check_addons(good) == []
        assert render_addons(good)


def test_the_flat_networks_eth12_is_made_on_every_host() -> None:
    """host_bind_override: eth12 names an interface our hosts really get: the deploy playbook
    makes it, a veth pair into the provider bridge, before OpenStack-Ansible runs."""
    import yaml

    from generator.addons.osa import render
    from generator.build import load_lab

    files = render(load_lab(BLUEPRINT))
    config = yaml.safe_load(files["openstack/openstack_user_config.yml"])
    flat = [n["network"] for n in config["global_overrides"]["provider_networks"]
            if n["network"].get("type") == "flat"]
    assert [n["host_bind_override"] for n in flat] == ["eth12"]
    deploy = yaml.safe_load(files["playbooks/osa-deploy.yml"])
    hosts_play = next(p for p in deploy if p["hosts"] != "localhost")
    task = hosts_play["tasks"][1]  # after the offline end
    script = task["ansible.builtin.shell"]["cmd"]
    assert "ip link add eth12 type veth peer name br-vlan-veth" in script
    assert f"ip link set br-vlan-veth master {flat[0]['container_bridge']}" in script
    assert {"osd1", "compute1", "infra1"} <= set(hosts_play["hosts"].split(":"))


def test_the_deployment_is_skipped_without_the_internet(lab: Lab) -> None:
    """osa-deploy.yml first asks OpenStack-Ansible's git server; unreached, it prints the skip
    line on the console and in the bootstrap's status file, and every play ends at its first
    task (so the stage succeeds and the lab is ready for a manual deploy)."""
    deploy = yaml.safe_load(osa.render(lab)["playbooks/osa-deploy.yml"])
    gate = deploy[0]
    assert (gate["hosts"], gate["connection"]) == ("localhost", "local")
    assert gate["vars"] == {
        "osa_probe_url": "https://opendev.org/openstack/openstack-ansible",
        "osa_skip_line": "gns3lab: stage openstack-ansible skipped: no route to the internet",
        "osa_console": "/dev/console", "osa_status_file": "/var/lib/gns3lab/status"}
    ask, remember, say, end = gate["tasks"]
    assert ask["ansible.builtin.uri"]["url"] == "{{ osa_probe_url }}"
    assert ask["register"] == "osa_internet" and ask["failed_when"] is False
    assert remember["ansible.builtin.set_fact"] == {
        "osa_online": "{{ (osa_internet.status | default(-1) | int) > 0 }}"}
    script = say["ansible.builtin.shell"]["cmd"]
    assert script.splitlines() == [
        "printf '%s\\n' {{ osa_skip_line | quote }} >>{{ osa_console | quote }}",
        "printf '%s\\n' {{ osa_skip_line | quote }} >>{{ osa_status_file | quote }}"]
    assert say["when"] == "not osa_online | bool"
    for play in deploy:
        first = play["tasks"][-1] if play is gate else play["tasks"][0]
        assert first == end
    assert end == {"name": "End here without the internet: the lab is ready for a manual "
                   "deploy", "ansible.builtin.meta": "end_play",
                   "when": "not hostvars['localhost'].osa_online | bool"}
