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
from tests.helpers import REPO
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
    # One ansible-playbook for all books (it checks each one it is given; its start-up is
    # seconds), then one ansible-lint.
    tools.run(["ansible-playbook", "-i", "localhost,", "--syntax-check", *books], cwd=folder)
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


#: /proc/net/bonding/bond0 of a server whose two members both have the segment's partner
#: (Linux 6.1's layout, trimmed to what the check reads).
BONDING_MH = """\
Bonding Mode: IEEE 802.3ad Dynamic link aggregation
802.3ad info
LACP active: on
LACP rate: fast
Active Aggregator Info:
\tAggregator ID: 1
\tNumber of ports: 2
\tPartner Mac Address: 44:38:39:ff:00:01

Slave Interface: {m1}
MII Status: up
Aggregator ID: 1
details actor lacp pdu:
    system priority: 65535
    system mac address: 0c:aa:bb:00:00:01
details partner lacp pdu:
    system priority: 65535
    system mac address: 44:38:39:ff:00:01
    oper key: 15

Slave Interface: {m2}
MII Status: up
Aggregator ID: 1
details actor lacp pdu:
    system priority: 65535
    system mac address: 0c:aa:bb:00:00:01
details partner lacp pdu:
    system priority: 65535
    system mac address: 44:38:39:ff:00:01
    oper key: 15
"""
EVPN_JSON = {"10.255.0.5:2": {"rd": "10.255.0.5:2",
                              "[1]:[0]:[03:44:38:39:ff:00:01:00:00:01]:[128]:[0.0.0.0]": {},
                              "[2]:[0]:[48]:[0c:aa:bb:00:00:01]": {},
                              "[3]:[0]:[32]:[10.255.0.5]": {}},
             "10.255.0.5:3": {"[4]:[03:44:38:39:ff:00:01:00:00:01]:[32]:[10.255.0.5]": {}},
             "numPrefix": 4}


BONDING_ONE = """\
Bonding Mode: IEEE 802.3ad Dynamic link aggregation
802.3ad info
Active Aggregator Info:
\tAggregator ID: 2
\tNumber of ports: 1
\tPartner Mac Address: 44:38:39:ff:00:01

Slave Interface: {m1}
MII Status: up
Aggregator ID: 1
details actor lacp pdu:
    system priority: 65535
    system mac address: 0c:aa:bb:00:00:01
details partner lacp pdu:
    system priority: 65535
    system mac address: 00:00:00:00:00:00
    oper key: 1

Slave Interface: {m2}
MII Status: up
Aggregator ID: 2
details actor lacp pdu:
    system priority: 65535
    system mac address: 0c:aa:bb:00:00:01
details partner lacp pdu:
    system priority: 65535
    system mac address: 44:38:39:ff:00:01
    oper key: 15
"""
SERVER_MEMBERS = {"infra1": ("eth1", "eth2"), "compute1": ("eth1", "eth2"),
                  "mgmt01": ("eth5", "eth6")}
#: What a watched ping prints instead: three answers 0.2 s apart, stamped as ping -D does.
FAKE_PING = ('sh -c \'for i in 1 2 3; do echo "[$(date +%s.%N)] 64 bytes from {{ t[1] }}"; '
             'sleep 0.2; done\'')


def run_check_round(tmp_path: Path, down: str | None) -> list[str]:
    """Run the generated check playbook with real Ansible, every host local: vtysh and
    /proc/net/bonding answer from samples (with ``down`` stopped: its sessions Idle, bond
    members to it without a partner), pings answer; its console lines, sorted."""
    import json
    import os
    import subprocess

    from tests.unit.test_fabric_frr import MINI, load_with_tiny_images

    lab = load_with_tiny_images(MINI, tmp_path / "images")
    files = fabric.render(lab)
    for name in ("leaf01", "leaf02", "spine01"):
        uplinks = yaml.safe_load(files[f"host_vars/{name}.yml"])["fabric"]["uplinks"]
        peers = {port: {"state": "Active" if far.split(":")[0] == down else "Established"}
                 for port, far in uplinks.items()}
        (tmp_path / f"bgp-{name}.json").write_text(json.dumps({"ipv4Unicast": {"peers": peers}}))
        bfd = [{"interface": port, "peer": f"fe80::{i + 1}",
                "status": "down" if far.split(":")[0] == down else "up"}
               for i, (port, far) in enumerate(uplinks.items())]
        (tmp_path / f"bfd-{name}.json").write_text(json.dumps(bfd))
    (tmp_path / "evpn.json").write_text(json.dumps(EVPN_JSON))
    for server, (m1, m2) in SERVER_MEMBERS.items():
        sample = BONDING_ONE if down else BONDING_MH
        (tmp_path / f"bonding-{server}").write_text(sample.format(m1=m1, m2=m2))
    book = files["playbooks/fabric-frr-check.yml"].decode()
    for old, new in (("vtysh -c 'show bgp summary json'",
                      f"cat {tmp_path}/bgp-{{{{ inventory_hostname }}}}.json"),
                     ("vtysh -c 'show bfd peers json'",
                      f"cat {tmp_path}/bfd-{{{{ inventory_hostname }}}}.json"),
                     ("vtysh -c 'show bgp l2vpn evpn route json'", f"cat {tmp_path}/evpn.json"),
                     ("/proc/net/bonding/{{ item.key }}",
                      f"{tmp_path}/bonding-{{{{ inventory_hostname }}}}"),
                     (">>/dev/console", f">>{tmp_path}/console"),
                     ("ping -c 1 -W 1 -I", "true"),
                     ("/run/gns3lab-watch", f"{tmp_path}/watch-{{{{ inventory_hostname }}}}"),
                     ("ping -D -n -i 0.2 -W 1 -w {{ fabric_watch }} -I {{ t[0] }} {{ t[1] }}",
                      FAKE_PING)):
        assert old in book, old
        book = book.replace(old, new)
    tree = tmp_path / "tree"
    (tree / "playbooks").mkdir(parents=True)
    (tree / "playbooks/check.yml").write_text(book)
    for path, content in files.items():
        if path.startswith("host_vars/"):
            (tree / path).parent.mkdir(exist_ok=True)
            (tree / path).write_bytes(content)
    hosts = {name: {"ansible_connection": "local", "lab_controller": "mgmt01",
                    "lab_interfaces": {"bond0": {"members": list(SERVER_MEMBERS.get(
                        name, ("eth1", "eth2")))}}}
             for name in ("leaf01", "leaf02", "spine01", "infra1", "compute1", "mgmt01")}
    (tree / "inventory.yml").write_text(yaml.safe_dump({"all": {"hosts": hosts}}))
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env.update(ANSIBLE_CONFIG="/nonexistent", ANSIBLE_LOCAL_TEMP=str(tmp_path / "tmp"),
               ANSIBLE_PYTHON_INTERPRETER="/usr/bin/python3", ANSIBLE_NOCOLOR="1")
    extra = ["-e", f"fabric_round={down}-down", "-e", json.dumps({"fabric_down": [down]}),
             "-e", "fabric_watch=1"] if down else []
    proc = subprocess.run(["ansible-playbook", "-i", "inventory.yml", "-e", "ansible_become=false",
                           *extra, "playbooks/check.yml"], cwd=tree, env=env,
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    return sorted((tmp_path / "console").read_text().splitlines())


def test_frr_check_expressions_evaluate(tmp_path: Path) -> None:
    """The generated check with real Ansible on samples of a converged fabric: every wait is
    met at once and every console line says what the samples hold."""
    assert run_check_round(tmp_path, None) == [
        "gns3lab-fabric: boot bgp leaf01 1/1 sessions Established (eth4), bfd 1/1 up",
        "gns3lab-fabric: boot bgp leaf02 1/1 sessions Established (eth4), bfd 1/1 up",
        "gns3lab-fabric: boot bgp spine01 2/2 sessions Established (eth1,eth2), bfd 2/2 up",
        "gns3lab-fabric: boot evpn leaf01 type-1 1, type-2 1, type-3 1, type-4 1",
        "gns3lab-fabric: boot evpn leaf02 type-1 1, type-2 1, type-3 1, type-4 1",
        "gns3lab-fabric: boot lacp compute1 bond0 partner 44:38:39:ff:00:01 on eth1,eth2, "
        "one aggregator",
        "gns3lab-fabric: boot lacp infra1 bond0 partner 44:38:39:ff:00:01 on eth1,eth2, "
        "one aggregator",
        "gns3lab-fabric: boot lacp mgmt01 bond0 partner 44:38:39:ff:00:01 on eth5,eth6, "
        "one aggregator",
        "gns3lab-fabric: boot reach compute1 br-mgmt>172.29.236.11 br-mgmt>172.29.236.1 "
        "br-storage>172.29.244.11",
        "gns3lab-fabric: boot reach infra1 br-mgmt>172.29.236.21 br-mgmt>172.29.236.1 "
        "br-storage>172.29.244.21",
        "gns3lab-fabric: boot reach mgmt01 br-mgmt>172.29.236.21 br-mgmt>172.29.236.11"]


def test_frr_check_round_with_a_leaf_down(tmp_path: Path) -> None:
    """The same with leaf01 stopped and a watch: leaf01 is skipped, the spine expects one
    session, each bond its member to leaf02, and every watched target answered."""
    lines = run_check_round(tmp_path, "leaf01")
    p = "gns3lab-fabric: leaf01-down "
    assert not [ln for ln in lines if " leaf01 " in ln.replace(p, " ")]
    assert f"{p}bgp spine01 1/1 sessions Established (eth2), bfd 1/1 up" in lines
    assert f"{p}lacp infra1 bond0 partner 44:38:39:ff:00:01 on eth2, one aggregator" in lines
    assert f"{p}lacp mgmt01 bond0 partner 44:38:39:ff:00:01 on eth6, one aggregator" in lines
    assert f"{p}watch started on compute1,infra1,mgmt01" in lines
    outages = [ln for ln in lines if ln.startswith(f"{p}outage ")]
    assert [ln.split()[3] for ln in outages] == ["compute1", "infra1", "mgmt01"]
    assert all(float(ln.split()[5]) < 1 for ln in outages), outages


def test_frr_conf_of_both_labs_is_valid_for_frr_8_4(  # type: ignore[no-untyped-def]
        recipe_images, tmp_path: Path) -> None:
    """FRR's own vtysh (8.4, in the frr recipe's image) checks every frr.conf the backend
    renders for the full lab and the mini (``vtysh -C``, no daemon needed), run in the image by
    libguestfs on a throw-away overlay, in one launch. guestfish stops at the first command that
    fails, and the last one checks a wrong line: failing there, with that line's error only,
    means every rendered file passed and the check is real."""
    from tests.unit.test_fabric_frr import MINI, load_with_tiny_images

    confs = {}
    for label, lab in (("full", load_lab(REPO / "blueprints" / "openstack-ceph")),
                       ("mini", load_with_tiny_images(MINI, tmp_path / "images"))):
        for path, content in fabric.render(lab).items():
            conf = yaml.safe_load(content).get("fabric_frr_conf") if "host_vars/" in path else ""
            if conf:
                name = f"{label}-{Path(path).stem}.conf"
                (tmp_path / name).write_text(conf)
                confs[name] = conf
    assert len(confs) == 7  # 2 spines + 2 leaves, 1 spine + 2 leaves
    (tmp_path / "bad.conf").write_text("frr defaults datacenter\ninterface eth1\n"
                                       " evpn mh es-idd 5\nexit\n")
    overlay = tmp_path / "frr.qcow2"
    tools.run(["qemu-img", "create", "-q", "-f", "qcow2", "-b", recipe_images["frr"].path,
               "-F", "qcow2", overlay])
    script = "".join(f"upload {tmp_path / name} /tmp/{name}\n"
                     f'command "/usr/bin/vtysh -C -f /tmp/{name}"\n'
                     for name in [*sorted(confs), "bad.conf"])
    # The root is the image's first partition (generator/images/disk.py): mounted by name, not
    # found by inspection (-i), which costs as much again as the launch.
    proc = tools.run(["guestfish", "-a", overlay, "-m", "/dev/sda1"], input=script.encode(),
                     ok=(0, 1), timeout=900)
    errors = proc.stderr.decode()
    assert proc.returncode == 1 and errors.count("Unknown command") == 1, errors
    assert "line 3: % Unknown command[17]:  evpn mh es-idd 5" in errors, errors
