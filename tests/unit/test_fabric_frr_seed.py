"""The FRR switches get their fabric from their cloud-init seeds (issue 20, boot time): each
switch's user-data writes the fabric script, its unit and frr.conf exactly as the fabric add-on
renders them, and starts them at first boot, so the bootstrap's ``fabric`` stage only verifies
(the sha256 of every file, rendered into its playbook, and both units) and re-installs only
what differs. The servers' and the controller's seeds get nothing of it."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
import yaml

from generator.addons import fabric
from generator.model import Lab
from generator.render.seeds import render_seed
from tests.helpers import REPO
from tests.unit.test_fabric_frr import MINI, load_with_tiny_images

SCRIPT = "/usr/local/sbin/gns3lab-fabric"
UNIT = "/etc/systemd/system/gns3lab-fabric.service"
CONF = "/etc/frr/frr.conf"
SWITCHES = ("leaf01", "leaf02", "spine01")


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Lab:
    return load_with_tiny_images(MINI, tmp_path_factory.mktemp("images"))


def user_data(lab: Lab, name: str) -> dict[str, Any]:
    seed = render_seed(lab.node(name), lab, None)["user-data"].decode()
    assert seed.startswith("#cloud-config\n")
    doc = yaml.safe_load(seed)
    assert isinstance(doc, dict)
    return doc


def written(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["path"]: f for f in doc.get("write_files", [])}


def test_each_switch_seed_writes_the_rendered_script_unit_and_frr_conf(lab: Lab) -> None:
    files = fabric.render(lab)
    for name in SWITCHES:
        hv = yaml.safe_load(files[f"host_vars/{name}.yml"])
        out = written(user_data(lab, name))
        assert out[CONF] == {"path": CONF, "content": hv["fabric_frr_conf"],
                             "permissions": "0640", "owner": "frr:frr"}, name
        assert out[SCRIPT] == {"path": SCRIPT, "content": hv["fabric_script"],
                               "permissions": "0755", "owner": "root:root"}, name
        unit = out[UNIT]["content"]
        assert f"ExecStart={SCRIPT}\n" in unit and "Before=frr.service\n" in unit
        assert "WantedBy=multi-user.target\n" in unit


def test_each_switch_starts_its_fabric_at_first_boot(lab: Lab) -> None:
    for name in SWITCHES:
        doc = user_data(lab, name)
        assert doc["runcmd"] == [["systemctl", "daemon-reload"],
                                 ["systemctl", "enable", "--now", "gns3lab-fabric.service"],
                                 ["systemctl", "enable", "frr.service"],
                                 ["systemctl", "restart", "frr.service"]], name


def test_servers_and_the_controller_get_no_fabric_files(lab: Lab) -> None:
    for name in ("mgmt01", "infra1", "compute1"):
        doc = user_data(lab, name)
        assert not {SCRIPT, UNIT, CONF} & set(written(doc)), name
        assert "gns3lab-fabric.service" not in str(doc.get("runcmd", [])), name


def test_the_plan_carries_the_seed_parts(lab: Lab) -> None:
    """Resolve decides the seed content: it is on the model (the fabric plan), not re-rendered
    by the seed writer."""
    plan = lab.addon("fabric")
    assert plan is not None
    assert [part.node for part in plan.seeds] == list(SWITCHES)
    leaf = next(p for p in plan.seeds if p.node == "leaf01")
    assert [f[0] for f in leaf.write_files] == [SCRIPT, UNIT, CONF]


def test_the_fabric_stage_verifies_the_seeded_files_by_their_digests(lab: Lab) -> None:
    """The install playbook holds, per switch, the sha256 of every file its seed writes; the
    restart of FRR is only on the path that re-installs."""
    book = yaml.safe_load(fabric.render(lab)["playbooks/fabric-frr.yml"])
    sums = book[0]["vars"]["fabric_sums"]
    assert sorted(sums) == list(SWITCHES)
    for name in SWITCHES:
        expected = "".join(f"{hashlib.sha256(f['content'].encode()).hexdigest()}  {path}\n"
                           for path, f in written(user_data(lab, name)).items()
                           if path in (SCRIPT, UNIT, CONF))
        assert sorted(sums[name].splitlines()) == sorted(expected.splitlines()), name
    raw = book[0]["tasks"][0]["ansible.builtin.raw"]
    verified, install = raw.split("GNS3LAB_FABRIC=verified", 1)
    assert "restart" not in verified and "systemctl restart frr.service" in install
    assert "sha256sum --check" in verified and "cloud-init status --wait" in verified


def test_the_full_lab_seeds_its_four_routing_switches() -> None:
    from generator.build import load_lab

    lab = load_lab(REPO / "blueprints" / "openstack-ceph")
    plan = lab.addon("fabric")
    assert plan is not None
    assert [p.node for p in plan.seeds] == ["leaf01", "leaf02", "spine01", "spine02"]


def test_cumulus_switches_get_no_seed_parts(tmp_path: Path) -> None:
    from generator.build import load_lab

    lab = load_lab(REPO / "blueprints" / "openstack-ceph-cumulus")
    plan = lab.addon("fabric")
    assert plan is not None and plan.seeds == ()
