"""The small OpenStack lab checked by Debian's cloud-init 22.4 and ansible-playbook: every VM's
network-config, and the controller's playbooks as mgmt01 gets them (the FRR fabric's check
playbook is also run by the real Ansible against samples in test_fabric_playbooks.py). Split
from tests/unit/test_openstack_mini.py, which reads the resolved model without them."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from generator.model import Lab
from generator.render.bootstrap import render_bootstrap
from generator.render.seeds import dump_yaml, render_network_config
from generator.write.guest import write_tree
from tests.support.cloudinit_check import check_network_config
from tests.unit import test_openstack_mini as openstack_mini_unit
from tests.unit.test_openstack_mini import HOST_NUMBERS

ANSIBLE = "opt/gns3lab/ansible"
PUB = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGxhYmxhYmxhYmxhYmxhYmxhYmxhYmxhYmxhYmxhYmxh gns3lab@t"

# Fixtures of tests/unit/test_openstack_mini.py, shared under the names pytest finds them by.
lab = openstack_mini_unit.lab

pytestmark = pytest.mark.slow


def needs(*programs: str) -> None:
    missing = [p for p in programs if shutil.which(p) is None]
    if missing:
        pytest.fail(f"not installed: {', '.join(missing)} (make setup installs them)",
                    pytrace=False)


def run(argv: list[str], **kw) -> subprocess.CompletedProcess:  # type: ignore[no-untyped-def]
    return subprocess.run(argv, check=False, capture_output=True, text=True, timeout=300, **kw)


@pytest.fixture(scope="module")
def ansible_dir(lab: Lab, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The controller's Ansible folder as mgmt01 gets it."""
    root = tmp_path_factory.mktemp("guest")
    write_tree(render_bootstrap(lab, PUB), root)
    return root / ANSIBLE


def test_network_configs_pass_cloud_init_22_4(lab: Lab) -> None:
    for node in lab.vms:
        summary = check_network_config(dump_yaml(render_network_config(node, lab.domain)),
                                       source=f"{node.name}/network-config")
        ifs = summary["interfaces"]
        if node.name in HOST_NUMBERS or node.name == "mgmt01":
            members = ("eth5", "eth6") if node.name == "mgmt01" else ("eth1", "eth2")
            assert ifs["bond0"]["auto"] and ifs["bond0"]["parameters"]["bond-mode"] == "802.3ad"
            for member in members:
                assert ifs[member]["auto"]
                assert ifs[member]["parameters"]["bond-master"] == "bond0"
            assert ifs["bond0.10"]["parameters"]["vlan-raw-device"] == "bond0"
            assert ifs["br-mgmt"]["auto"]
            assert ifs["br-mgmt"]["parameters"]["bridge_ports"] == "bond0.10"
        if node.name in HOST_NUMBERS:
            assert ifs["eth0"]["dhcp4"] and ifs["eth0"]["auto"]
            assert ifs["br-storage"]["auto"]
            assert ifs["br-storage"]["parameters"]["bridge_ports"] == "bond0.20"
        if node.role in ("spine", "leaf"):  # the fabric ports are the fabric add-on's
            assert list(ifs) == ["eth0"] and ifs["eth0"]["dhcp4"]
        if node.name == "mgmt01":
            assert ifs["br-oob"]["auto"] and ifs["br-oob"]["addresses"] == ["192.168.50.1/24"]


def test_playbooks_pass_syntax_check(ansible_dir: Path) -> None:
    needs("ansible-playbook")
    books = sorted(p.name for p in (ansible_dir / "playbooks").glob("*.yml"))
    assert books == ["check.yml", "fabric-frr-check.yml", "fabric-frr.yml"]
    for book in books:
        proc = run(["ansible-playbook", "-i", "inventory.yml", "--syntax-check",
                    f"playbooks/{book}"], cwd=ansible_dir)
        assert proc.returncode == 0, f"{book}: {proc.stdout}{proc.stderr}"
