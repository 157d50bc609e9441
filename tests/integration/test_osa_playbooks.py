"""The OpenStack-Ansible playbooks checked by ansible (split from tests/unit/test_osa.py)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import yaml

from generator.addons import osa
from generator.model import Lab
from tests.integration.test_fabric_playbooks import check_playbooks
from tests.unit import test_osa as osa_unit
from tests.unit.test_osa import (
    OSA_NETWORKS,
)

# Fixtures of tests/unit/test_osa.py, shared under the names pytest finds them by.
lab = osa_unit.lab

pytestmark = pytest.mark.slow


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
    assert [p["hosts"] for p in deploy] == ["localhost", "localhost", servers, "localhost"]
    git = next(t for t in deploy[1]["tasks"] if "ansible.builtin.git" in t)
    assert git["ansible.builtin.git"]["version"] == "21.2.12"
    assert deploy[3]["tasks"][1]["loop"] == ["setup-hosts.yml", "setup-infrastructure.yml",
                                             "setup-openstack.yml"]
    check_playbooks(files, tmp_path)


def test_the_deployment_skips_itself_without_the_internet(tmp_path: Path) -> None:
    """The real ansible-playbook runs osa-deploy.yml of the open lab with its probe pointed at
    a closed port (the lab without internet): the skip line lands on the "console" and in the
    status file, and the playbook ends there with success, before anything is installed."""
    from generator.build import load_lab
    from tests.helpers import REPO

    book = tmp_path / "osa-deploy.yml"
    book.write_bytes(osa.render(load_lab(REPO / "blueprints" / "openstack-ceph"))[
        "playbooks/osa-deploy.yml"])
    console, status = tmp_path / "console", tmp_path / "status"
    env = {**os.environ, "ANSIBLE_NOCOLOR": "1", "ANSIBLE_LOCALHOST_WARNING": "0",
           "ANSIBLE_INVENTORY_UNPARSED_WARNING": "0"}
    proc = subprocess.run(
        ["ansible-playbook", "-i", "localhost,", "-e", "ansible_become=false",
         "-e", "osa_probe_url=http://127.0.0.1:9/", "-e", f"osa_console={console}",
         "-e", f"osa_status_file={status}", str(book)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    line = "gns3lab: stage osa-deploy skipped: no route to the internet\n"
    assert console.read_text() == status.read_text() == line
    assert "Deployment host reaches the internet" in proc.stdout
    assert "Install what the deployment host needs" not in proc.stdout, proc.stdout
