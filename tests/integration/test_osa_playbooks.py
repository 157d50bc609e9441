"""The OpenStack-Ansible playbooks checked by ansible (split from tests/unit/test_osa.py)."""

from __future__ import annotations

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
    assert deploy[3]["tasks"][0]["loop"] == ["setup-hosts.yml", "setup-infrastructure.yml",
                                             "setup-openstack.yml"]
    check_playbooks(files, tmp_path)
