"""OpenStack-Ansible 2026.1's own inventory generator (vendored: tests/data/osa-2026.1, tag
33.0.1) accepts the openstack_user_config.yml blueprints/openstack-ceph generates, and every
group its prod-ceph example populates is populated in ours (issue 20, Deliver 2)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from generator.addons import osa
from generator.build import load_lab
from tests.helpers import DATA, REPO

OSA = DATA / "osa-2026.1"
EXAMPLE = OSA / "etc" / "openstack_deploy" / "openstack_user_config.yml.prod-ceph.example"
BLUEPRINT = REPO / "blueprints" / "openstack-ceph"

pytestmark = pytest.mark.slow


def generate_inventory(config: bytes, folder: Path) -> dict[str, Any]:
    """Run OSA's ``inventory/dynamic_inventory.py --list`` on one openstack_user_config.yml, in
    its own folder (the generator writes its inventory and a backup there)."""
    folder.mkdir()
    (folder / "openstack_user_config.yml").write_bytes(config)
    proc = subprocess.run([sys.executable, str(OSA / "inventory" / "dynamic_inventory.py"),
                           "--config", str(folder), "--list"], capture_output=True, text=True,
                          timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    inventory: dict[str, Any] = json.loads(proc.stdout)
    return inventory


def populated(inventory: dict[str, Any]) -> set[str]:
    """The groups that hold a host or a child group. Leaves out the example's YAML anchor
    ``_infrastructure_hosts``, a top-level key the generator takes for a group."""
    return {name for name, group in inventory.items()
            if name != "_meta" and not name.startswith("_")
            and (group.get("hosts") or group.get("children"))}


@pytest.fixture(scope="module")
def inventories(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("osa-inventory")
    ours = osa.render(load_lab(BLUEPRINT))["openstack/openstack_user_config.yml"]
    return {"example": generate_inventory(EXAMPLE.read_bytes(), tmp / "example"),
            "ours": generate_inventory(ours, tmp / "ours")}


def test_every_group_of_the_example_is_populated_in_ours(
        inventories: dict[str, dict[str, Any]]) -> None:
    example, ours = (populated(inventories[k]) for k in ("example", "ours"))
    assert len(example) > 200  # the generator really ran on the example
    assert example - ours == set()
    for group in ("load_balancer_hosts", "coordination_hosts", "ceph_osd_hosts",
                  "neutron_openvswitch_agent", "zookeeper_container"):
        assert group in ours, group


def test_hosts_have_the_examples_roles(inventories: dict[str, dict[str, Any]]) -> None:
    """The example's hosts and ours (same names) are in the same physical host groups; log1,
    which the example no longer has, is in none (2026.1 has no log group)."""
    def host_groups(inventory: dict[str, Any]) -> dict[str, set[str]]:
        out: dict[str, set[str]] = {}
        for name, group in inventory.items():
            if name.endswith("_hosts") and not name.startswith("_"):
                for host in group.get("hosts", []):
                    out.setdefault(host, set()).add(name)
        return out

    example, ours = (host_groups(inventories[k]) for k in ("example", "ours"))
    assert set(ours) == set(example) == {"infra1", "infra2", "infra3", "compute1", "compute2",
                                         "osd1", "osd2", "osd3"}
    assert ours == example
    meta = inventories["ours"]["_meta"]["hostvars"]
    assert meta["osd1"]["devices"] == ["/dev/vdb"]
    assert meta["infra1"]["management_address"] == "172.29.236.11"


def test_the_vendored_generator_is_recorded() -> None:
    sources = (OSA / "SOURCES.md").read_text()
    assert "1de5d695e3bd80eeccef46a115cea37742a689ad" in sources and "33.0.1" in sources
    assert "Apache License" in (OSA / "LICENSE.txt").read_text()
