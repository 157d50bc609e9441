"""The small OpenStack lab checked by Debian's cloud-init 22.4 and ansible-playbook. Split from
tests/unit/test_openstack_mini.py, which reads the resolved model without them."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from generator.model import Lab
from generator.render.bootstrap import render_bootstrap
from generator.render.seeds import dump_yaml, render_network_config
from generator.write.guest import write_tree
from tests.support.cloudinit_check import check_network_config
from tests.unit import test_openstack_mini as openstack_mini_unit
from tests.unit.test_openstack_mini import (
    ANSIBLE,
    BONDING,
    HOST_NUMBERS,
    PUB,
    _play_vars,
)

# Fixtures of tests/unit/test_openstack_mini.py, shared under the names pytest finds them by.
lab = openstack_mini_unit.lab

pytestmark = pytest.mark.slow


def needs(*programs: str) -> None:
    missing = [p for p in programs if shutil.which(p) is None]
    if missing:
        pytest.skip(f"not installed: {', '.join(missing)}")


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
            members = ("eth4", "eth5") if node.name == "mgmt01" else ("eth1", "eth2")
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
        if node.name.startswith("leaf"):
            assert list(ifs) == ["eth0"] and ifs["eth0"]["dhcp4"]
        if node.name == "mgmt01":
            assert ifs["br-oob"]["auto"] and ifs["br-oob"]["addresses"] == ["192.168.50.1/24"]


def test_playbooks_pass_syntax_check(ansible_dir: Path) -> None:
    needs("ansible-playbook")
    books = sorted(p.name for p in (ansible_dir / "playbooks").glob("*.yml"))
    assert books == ["check.yml", "fabric.yml", "oob.yml", "servers-ready.yml"]
    assert (ansible_dir / "playbooks/templates/gns3lab-fabric.sh.j2").is_file()
    for book in books:
        proc = run(["ansible-playbook", "-i", "inventory.yml", "--syntax-check",
                    f"playbooks/{book}"], cwd=ansible_dir)
        assert proc.returncode == 0, f"{book}: {proc.stdout}{proc.stderr}"


def test_playbook_expressions_evaluate(lab: Lab, ansible_dir: Path, tmp_path: Path) -> None:
    """The real Ansible evaluates the playbooks' variables against the generated inventory (all
    hosts local, nothing touched but tmp_path): the fabric ports and VLANs of each leaf and the
    script they render to; each server's ping targets, its LACP partner and the member that
    carries its bond's traffic, read from a sample /proc/net/bonding/bond0."""
    needs("ansible-playbook", "sh", "awk")
    books = ansible_dir / "playbooks"
    ready = yaml.safe_load((books / "servers-ready.yml").read_text())[0]
    report = next(t for t in ready["tasks"][0]["block"] if t["name"].startswith("Report"))
    failover = next(t for t in ready["tasks"][0]["block"] if t["name"].startswith("Take"))
    sample = tmp_path / "bond0"
    sample.write_text(BONDING)
    out = tmp_path / "out"
    out.mkdir()
    plays = [
        {"hosts": "leaf", "gather_facts": False, "connection": "local",
         "vars": _play_vars(books / "fabric.yml"),
         "tasks": [
             {"ansible.builtin.template": {"src": str(books / "templates/gns3lab-fabric.sh.j2"),
                                           "dest": f"{out}/{{{{ inventory_hostname }}}}.sh"}},
             {"ansible.builtin.copy": {
                 "dest": f"{out}/{{{{ inventory_hostname }}}}.json",
                 "content": "{{ {'vlans': fabric_vlans, 'ports': fabric_ports} | to_json }}"}}]},
        {"hosts": "servers", "gather_facts": False, "connection": "local",
         "vars": _play_vars(books / "servers-ready.yml") | report["vars"] | {
             "bonding": {"stdout": f"{{{{ lookup('file', '{sample}') }}}}"}},
         "tasks": [
             {"ansible.builtin.command": "{{ active_member_sh | replace('/proc/net/bonding/"
                                         f"bond0', '{sample}') }}}}",
              "register": "member"},
             {"ansible.builtin.copy": {"dest": f"{out}/{{{{ inventory_hostname }}}}-failover.sh",
                                       "content": failover["ansible.builtin.shell"]},
              "vars": {"first_member": {"stdout": "eth1"}}},
             {"ansible.builtin.copy": {
                 "dest": f"{out}/{{{{ inventory_hostname }}}}.json",
                 "content": "{{ {'ping': ping_targets, 'partner': partner, 'member': "
                            "member.stdout, 'vlans': vlans | map(attribute='key') | list} "
                            "| to_json }}"}}]},
    ]
    (ansible_dir / "eval.yml").write_text(yaml.safe_dump(plays, sort_keys=False))
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env.update(ANSIBLE_CONFIG="/nonexistent", ANSIBLE_LOCAL_TEMP=str(tmp_path / "tmp"),
               ANSIBLE_PYTHON_INTERPRETER="/usr/bin/python3", ANSIBLE_NOCOLOR="1")
    try:
        proc = run(["ansible-playbook", "-i", "inventory.yml", "eval.yml"], cwd=ansible_dir,
                   env=env)
    finally:
        (ansible_dir / "eval.yml").unlink()
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for leaf in ("leaf01", "leaf02"):
        assert json.loads((out / f"{leaf}.json").read_text()) == {
            "vlans": [10, 20], "ports": ["eth1", "eth2", "eth3", "eth4"]}
        script = (out / f"{leaf}.sh").read_text()
        assert run(["sh", "-n", str(out / f"{leaf}.sh")]).returncode == 0
        assert 'PORTS="eth1 eth2 eth3 eth4"' in script and 'VLANS="10 20"' in script
        for nic in lab.node(leaf).nics[1:]:
            assert f"check_port {nic.name} {nic.mac}\n" in script
    failover_sh = (out / "infra1-failover.sh").read_text()
    assert run(["sh", "-n", str(out / "infra1-failover.sh")]).returncode == 0
    assert "ip link set dev eth1 down" in failover_sh and "/proc/net/bonding/bond0" in failover_sh
    assert json.loads((out / "infra1.json").read_text()) == {
        "ping": ["br-mgmt 172.29.236.21", "br-mgmt 172.29.236.1", "br-storage 172.29.244.21"],
        "partner": "none", "member": "eth2", "vlans": ["bond0.10", "bond0.20"]}
    assert json.loads((out / "compute1.json").read_text())["ping"] == [
        "br-mgmt 172.29.236.11", "br-mgmt 172.29.236.1", "br-storage 172.29.244.11"]
