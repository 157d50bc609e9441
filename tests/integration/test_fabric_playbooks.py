"""The fabric add-on's playbooks checked by ansible-playbook --syntax-check and ansible-lint.
Split from tests/unit/test_fabric.py, which reads the rendered files without them."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from generator import tools
from generator.addons import fabric
from generator.build import load_lab
from generator.model import Lab
from tests.unit import test_fabric as fabric_unit
from tests.unit.test_openstack_blueprint import variant

# Fixtures of tests/unit/test_fabric.py, shared under the names pytest finds them by.
lab = fabric_unit.lab

pytestmark = pytest.mark.slow


def test_nvue_commands_for_cumulus_5(tmp_path: Path) -> None:
    lab5 = load_lab(variant(tmp_path, "version: 4.3.0", "version: 5.4.0"))
    leaf01 = yaml.safe_load(fabric.render(lab5)["host_vars/leaf01.yml"])
    assert (leaf01["fabric"]["cli"], leaf01["fabric_cli"]) == ("nvue", "nv")
    assert leaf01["fabric_commit"] == ["nv config apply -y", "nv config save"]
    cmds = leaf01["fabric_commands"]
    for expected in ("set bridge domain br_default vlan 10,20,30,101-200,301-400",
                     "set interface peerlink bond member swp44-45",
                     "set mlag mac-address 44:38:39:ff:00:01", "set mlag peer-ip linklocal",
                     "set mlag backup 192.168.50.6 vrf mgmt", "set mlag priority 1000",
                     "set interface infra1-bond0 bond mlag id 1",
                     "set interface infra1-bond0 bridge domain br_default vlan 10,20"):
        assert expected in cmds
    check_playbooks(fabric.render(lab5), tmp_path / "tree")


def test_playbooks_pass_syntax_check_and_lint(lab: Lab, tmp_path: Path) -> None:
    files = fabric.render(lab)
    assert {p for p in files if p.startswith("playbooks/")} == {"playbooks/fabric.yml",
                                                                "playbooks/fabric-oob.yml"}
    assert yaml.safe_load(files["playbooks/fabric.yml"])[0]["hosts"] == \
        "leaf01:leaf02:spine01:spine02"
    assert yaml.safe_load(files["playbooks/fabric-oob.yml"])[0]["hosts"] == "swmgmt"
    check_playbooks(files, tmp_path)


def check_playbooks(files: dict[str, bytes], folder: Path) -> None:
    """Write the tree, then run the real ansible-playbook --syntax-check and ansible-lint on
    every playbook (host_vars and other files are checked as YAML by ansible-lint too)."""
    for path, content in files.items():
        (folder / path).parent.mkdir(parents=True, exist_ok=True)
        (folder / path).write_bytes(content)
    books = sorted(p for p in files if p.startswith("playbooks/"))
    for book in books:
        tools.run(["ansible-playbook", "-i", "localhost,", "--syntax-check", book], cwd=folder)
    tools.run(["ansible-lint", "--offline", "--nocolor", *sorted(files)], cwd=folder,
              timeout=300)


def test_frr_playbooks_pass_syntax_check_and_lint(tmp_path: Path) -> None:
    """The FRR backend's install and check playbooks for the mini FRR lab."""
    from tests.unit.test_fabric_frr import MINI, load_with_tiny_images

    files = fabric.render(load_with_tiny_images(MINI, tmp_path / "images"))
    assert yaml.safe_load(files["playbooks/fabric-frr.yml"])[0]["hosts"] == \
        "leaf01:leaf02:spine01"
    hosts = "compute1:infra1:mgmt01"
    assert [p["hosts"] for p in yaml.safe_load(files["playbooks/fabric-frr-check.yml"])] == [
        hosts, hosts, "leaf01:leaf02:spine01", hosts, hosts, "leaf01:leaf02"]
    check_playbooks(files, tmp_path / "tree")
