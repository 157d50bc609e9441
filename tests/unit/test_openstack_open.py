"""blueprints/openstack-ceph, the reference lab on open images (issue 20): the seed's 15 VMs,
roles, cabling (its port plan, with Debian's ethN for Cumulus's swpN) and addresses, every image
from a gns3lab recipe, the OpenStack-Ansible 2026.1 configuration, and osa-deploy last."""

from __future__ import annotations

import pytest
import yaml

from generator.addons import check_addons, render_addons
from generator.addons.osa import user_config
from generator.build import load_lab
from generator.model import Lab
from tests.helpers import REPO
from tests.unit import test_openstack_blueprint as seed

BLUEPRINT = REPO / "blueprints" / "openstack-ceph"
RECIPES = {"mgmt01": "debian-12", "swmgmt": "debian-12",
           **{n: "frr" for n in ("spine01", "spine02", "leaf01", "leaf02")},
           **{n: "osa-host" for n in seed.HOST_NUMBERS}}
#: The 2026.1 prod-ceph example's *_hosts sections (33.0.1), by the role that fills them.
EXAMPLE_2026 = {
    **dict.fromkeys((
        "shared_infra_hosts", "coordination_hosts", "ceph_mon_hosts", "ceph_mds_hosts",
        "ceph_nfs_hosts", "repo_infra_hosts", "load_balancer_hosts", "identity_hosts",
        "storage_infra_hosts", "storage_hosts", "image_hosts", "placement_infra_hosts",
        "compute_infra_hosts", "orchestration_hosts", "dashboard_hosts", "network_hosts",
        "metering_infra_hosts", "metering_alarm_hosts", "metrics_hosts", "manila_infra_hosts",
        "manila_data_hosts"), "infra"),
    "compute_hosts": "compute", "metering_compute_hosts": "compute", "ceph_osd_hosts": "osd",
}


@pytest.fixture(scope="module")
def lab() -> Lab:
    return load_lab(BLUEPRINT)


def test_the_seeds_vms_and_roles_on_recipe_images(lab: Lab) -> None:
    original = load_lab(seed.BLUEPRINT)
    assert {n.name: n.role for n in lab.vms} == {n.name: n.role for n in original.vms}
    assert {n.name: n.adapters for n in lab.vms} == {n.name: n.adapters for n in original.vms}
    assert len(lab.vms) == 15
    for node in lab.vms:
        assert node.image is not None
        assert node.image.filename.startswith(f"gns3lab-{RECIPES[node.name]}-"), node.name
    assert sorted((n.name, n.type) for n in lab.nodes if not n.is_vm) == \
        [("cloud1", "cloud"), ("nat1", "nat")]


def test_the_cabling_is_the_seeds_port_plan(lab: Lab) -> None:
    """Every link of the seed table, with Cumulus's swpN as the Debian VM's ethN: the same
    adapter on every node."""
    words = seed.LINKS.replace("swp", "eth").split()
    table = {frozenset(words[i:i + 2]) for i in range(0, len(words), 2)}
    assert len(lab.links) == 63
    assert seed.link_set(lab) == table


def test_networks_and_addresses_are_the_seeds(lab: Lab) -> None:
    assert {n.name: (str(n.cidr), n.vlan) for n in lab.networks} == seed.NETWORKS
    seed.test_servers_have_fixed_addresses_per_role(lab)
    seed.test_server_bonds_vlans_and_bridges(lab)
    seed.test_mgmt01_is_the_oob_gateway_and_on_br_mgmt(lab)
    seed.test_osds_have_data_disks(lab)


def test_swmgmt_is_a_linux_bridge_over_its_other_ports(lab: Lab) -> None:
    ifaces = {i.name: i for i in lab.node("swmgmt").interfaces}
    assert ifaces["br0"].members == tuple(f"eth{i}" for i in range(1, 24))
    assert not ifaces["br0"].addresses and ifaces["br0"].network is None
    assert ifaces["eth0"].dhcp and str(ifaces["eth0"].addresses[0].ip) == "192.168.50.2"


def test_osa_2026_1_groups_and_no_problems(lab: Lab) -> None:
    assert check_addons(lab) == []
    config = user_config(lab)
    sections = {k for k in config if k.endswith("_hosts")}
    assert sections == set(EXAMPLE_2026)
    for section, role in EXAMPLE_2026.items():
        assert {lab.node(n).role for n in config[section]} == {role}, section
    assert "log1" not in {n for s in sections for n in config[s]}
    variables = yaml.safe_load(render_addons(lab)["openstack/user_variables.yml"])
    assert variables["neutron_plugin_type"] == "ml2.ovs"
    assert variables["ceph_stable_release"] == "tentacle"


def test_osa_deploy_is_the_last_stage_and_says_when_it_is_skipped(lab: Lab) -> None:
    assert lab.controller is not None
    stages = [s.name for s in lab.controller.stages]
    assert stages == ["fabric", "fabric-check", "servers-ready", "osa-deploy"]
    rendered = render_addons(lab)
    for stage in lab.controller.stages:
        for book in stage.generated:
            assert book in rendered, f"stage {stage.name} runs {book}, which no add-on writes"
    deploy = yaml.safe_load(rendered["playbooks/osa-deploy.yml"])
    assert deploy[0]["vars"]["osa_skip_line"] == \
        "gns3lab: stage osa-deploy skipped: no route to the internet"
    git = next(t for t in deploy[1]["tasks"] if "ansible.builtin.git" in t)
    assert git["ansible.builtin.git"]["version"] == "33.0.1"
    assert deploy[3]["tasks"][1]["loop"] == ["openstack.osa.setup_hosts",
                                             "openstack.osa.setup_infrastructure",
                                             "openstack.osa.setup_openstack"]


def test_servers_ready_checks_log1_too(lab: Lab) -> None:
    """log1 is in no OSA group, but it is a server of the fabric: servers-ready checks it and
    every server pings its addresses."""
    play = yaml.safe_load(render_addons(lab)["playbooks/osa-hosts.yml"])[0]
    assert play["hosts"].split(":") == sorted(seed.HOST_NUMBERS)
    assert {"172.29.236.14", "172.29.244.14", "172.29.240.14"} <= \
        set(play["vars"]["osa_fabric_targets"])


def test_generated_yaml_files_parse(lab: Lab) -> None:
    for path, data in render_addons(lab).items():
        assert yaml.safe_load(data) is not None, path


def test_readme_section_says_what_to_run_and_the_ram(lab: Lab) -> None:
    """The deployment's README section (for the archive README): the skip line, the command
    for a manual deploy, and the RAM of the full lab."""
    from generator.addons.osa_playbooks import deploy_readme

    text = "\n".join(deploy_readme(lab))
    assert "    gns3lab: stage osa-deploy skipped: no route to the internet" in text
    assert "cd /opt/gns3lab/ansible && ansible-playbook -i inventory.yml " \
        "playbooks/osa-deploy.yml" in text
    assert f"{lab.totals()['ram_mb']} MB" in text and "51584 MB" in text
    assert "8 GB at least (16 GB recommended)" in text
