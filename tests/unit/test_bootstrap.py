"""The controller's bootstrap tree (generator/render/bootstrap.py and its parts: ansible,
dnsmasq, units) and the stages resolution gives it (generator/resolve/stages.py).

Pure, like all of tests/unit: no VM boots, no libguestfs and no external program; the files
are rendered and read as text. The programs that will run the tree (ansible-playbook,
ansible-inventory, dnsmasq, bash with the STUBS below, systemd-analyze) check it in
tests/integration/test_bootstrap_tools.py.
"""

from __future__ import annotations

import dataclasses
import json
import re
import socket
from pathlib import Path

import pytest

from generator.build import load_lab
from generator.errors import BlueprintError, GeneratorError
from generator.model import AddonPlan, Lab
from generator.paths import Layout
from generator.render import bootstrap as bs
from generator.render.bootstrap import BootstrapTree, render_bootstrap
from generator.write.guest import controller_injection, write_bootstrap, write_tree
from generator.write.keys import LabKey
from tests.helpers import REPO, make_tiny_appliance

DEMO = REPO / "blueprints" / "demo"
APPLIANCE = "gns3lab Debian 12"
PUB = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGxhYmxhYmxhYmxhYmxhYmxhYmxhYmxhYmxhYmxhYmxh gns3lab@t"
ANSIBLE = "/opt/gns3lab/ansible"
STAGE_LINE = re.compile(r"^gns3lab: stage (\S+) (ok|failed)$")
SMALL = """\
name: small
defaults: {appliance: gns3lab Debian 12}
groups:
  web: {role: frontend}
networks:
  lab: {cidr: 10.20.0.0/24}
  wan: {cidr: 192.168.122.0/24}
nodes:
  ctl:
    interfaces:
      eth0: {network: lab, address: 1}
      eth1: {network: wan, address: 10}
  web[1-2]:
    group: web
    interfaces:
      eth0: {network: lab, dhcp: true, address: "{num+10}"}
  db:
    interfaces:
      eth0: {network: lab, address: 20}
controller:
  node: ctl
  dhcp: [lab]
  uplink: eth1
  stages:
    - {name: web, hosts: web, playbooks: [playbooks/web.yml]}
    - {name: data, hosts: [db, frontend], playbooks: [playbooks/db.yml], timeout: 60}
"""
PLAYBOOK = "- name: {0}\n  hosts: {0}\n  gather_facts: false\n  tasks:\n" \
           "    - ansible.builtin.ping:\n"


# ----------------------------------------------------------------------------- fixtures

@pytest.fixture(scope="module")
def images_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tmp images dir whose .gns3a names "gns3lab Debian 12" (a tiny blank qcow2)."""
    folder = tmp_path_factory.mktemp("images")
    make_tiny_appliance(folder, APPLIANCE, "gns3lab-debian-12-test.qcow2")
    return folder


@pytest.fixture(scope="module")
def demo(images_dir: Path) -> Lab:
    return load_lab(DEMO, (images_dir,))


@pytest.fixture(scope="module")
def demo_tree(demo: Lab) -> BootstrapTree:
    return render_bootstrap(demo, PUB)


@pytest.fixture(scope="module")
def demo_root(demo_tree: BootstrapTree, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("guest")
    write_tree(demo_tree, root)
    return root


def write_blueprint(folder: Path, text: str = SMALL, playbooks: dict[str, str] | None = None
                    ) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "lab.yaml").write_text(text)
    books = {"playbooks/web.yml": PLAYBOOK.format("web"), "playbooks/db.yml": PLAYBOOK.format("db")}
    for rel, body in (books if playbooks is None else playbooks).items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_text(body)
    return folder


def small_lab(tmp_path: Path, images_dir: Path, text: str = SMALL,
              playbooks: dict[str, str] | None = None) -> Lab:
    return load_lab(write_blueprint(tmp_path / "bp", text, playbooks), (images_dir,))


def text(tree: BootstrapTree, path: str) -> str:
    return tree.files[path][0].decode()


# ----------------------------------------------------------------------------- the tree

def test_demo_tree_paths_modes_and_units(demo_tree: BootstrapTree) -> None:
    modes = {path: mode for path, (_, mode) in demo_tree.files.items()}
    assert modes == {
        "/etc/gns3lab/dnsmasq.conf": 0o644,
        "/etc/systemd/system/gns3lab-bootstrap.service": 0o644,
        "/etc/systemd/system/gns3lab-dnsmasq.service": 0o644,
        f"{ANSIBLE}/ansible.cfg": 0o644,
        f"{ANSIBLE}/group_vars/all.yml": 0o644,
        f"{ANSIBLE}/inventory.yml": 0o644,
        f"{ANSIBLE}/playbooks/check.yml": 0o644,
        f"{ANSIBLE}/playbooks/servers.yml": 0o644,
        "/opt/gns3lab/bootstrap.sh": 0o755,
        "/opt/gns3lab/stages.json": 0o644,
        "/root/.ssh/id_ed25519.pub": 0o644,
    }
    assert demo_tree.units == ("gns3lab-dnsmasq.service", "gns3lab-bootstrap.service")
    assert text(demo_tree, "/root/.ssh/id_ed25519.pub") == PUB + "\n"
    assert not any("id_ed25519" == Path(p).name for p in demo_tree.files)  # no private key
    assert (DEMO / "playbooks/servers.yml").read_bytes() == \
        demo_tree.files[f"{ANSIBLE}/playbooks/servers.yml"][0]


def test_render_is_deterministic(demo: Lab, demo_tree: BootstrapTree, images_dir: Path) -> None:
    again = render_bootstrap(load_lab(DEMO, (images_dir,)), PUB)
    assert again == demo_tree
    assert list(again.files) == sorted(again.files)
    for path, (data, _) in again.files.items():
        assert not re.search(rb"20\d\d-\d\d-\d\d", data), f"{path} holds a date"


def test_stages_json(demo_tree: BootstrapTree) -> None:
    doc = json.loads(text(demo_tree, "/opt/gns3lab/stages.json"))
    assert doc == {"lab": "demo", "controller": "mgmt", "stages": [
        {"name": "servers", "hosts": ["srv1", "srv2"], "playbooks": ["playbooks/servers.yml"],
         "timeout": 1500},
        {"name": "check", "hosts": ["mgmt", "switch", "srv1", "srv2"],
         "playbooks": ["playbooks/check.yml"], "timeout": 1800}]}


def test_stage_hosts_resolve_groups_roles_nodes(tmp_path: Path, images_dir: Path) -> None:
    lab = small_lab(tmp_path, images_dir)
    stages = {s.name: s for s in bs.resolve_stages(lab)}
    assert stages["web"].hosts == ("web1", "web2")
    assert stages["data"].hosts == ("web1", "web2", "db")  # role 'frontend' + node 'db'
    assert stages["data"].timeout == 60 and stages["web"].timeout == 1800
    assert list(stages) == ["web", "data", "check"]
    assert stages["check"].hosts == ("ctl", "web1", "web2", "db")


def test_playbooks_without_stages_run_as_stage_main(tmp_path: Path, images_dir: Path) -> None:
    text_ = SMALL.split("  stages:")[0] + "  playbooks: [site.yml]\n"
    lab = small_lab(tmp_path, images_dir, text_, {"site.yml": PLAYBOOK.format("all"),
                                                  "roles/r/tasks/main.yml": "- debug: {}\n",
                                                  "notes.txt": "not copied\n"})
    tree = render_bootstrap(lab, PUB)
    assert [s.name for s in bs.resolve_stages(lab)] == ["main", "check"]
    assert bs.resolve_stages(lab)[0].playbooks == ("playbooks/site.yml",)
    books = sorted(p for p in tree.files if "/playbooks/" in p)
    assert books == [f"{ANSIBLE}/playbooks/{p}" for p in ("check.yml", "roles/r/tasks/main.yml",
                                                          "site.yml")]


def test_addon_files_land_under_the_ansible_folder(demo: Lab, monkeypatch) -> None:
    monkeypatch.setattr(bs.addons, "render_addons",
                        lambda lab: {"playbooks/fabric.yml": PLAYBOOK.format("all").encode(),
                                     "group_vars/leaf.yml": b"x: 1\n"})
    tree = render_bootstrap(demo, PUB)
    assert tree.files[f"{ANSIBLE}/playbooks/fabric.yml"] == (PLAYBOOK.format("all").encode(),
                                                              0o644)
    assert f"{ANSIBLE}/group_vars/leaf.yml" in tree.files
    monkeypatch.setattr(bs.addons, "render_addons", lambda lab: {"inventory.yml": b"{}\n"})
    with pytest.raises(GeneratorError, match="inventory.yml"):
        render_bootstrap(demo, PUB)


def test_stage_runs_generated_addon_playbooks(tmp_path: Path, images_dir: Path,
                                              monkeypatch) -> None:
    staged = SMALL.replace("playbooks: [playbooks/db.yml]",
                           "playbooks: [playbooks/db.yml], generated: [playbooks/fabric.yml]")
    with pytest.raises(BlueprintError) as exc:  # found when resolving, so validate says it
        small_lab(tmp_path, images_dir, staged)
    assert re.search(r"lab.yaml:\d+: controller.stages\[1\].generated\[0\]: no add-on renders "
                     r"'playbooks/fabric.yml'", _problems(exc))
    planned = AddonPlan("stand-in", None, ("playbooks/fabric.yml",))  # resolve's plan
    monkeypatch.setattr(bs.addons, "plan_addons",
                        lambda lab, extra: (dataclasses.replace(lab, addons=(planned,)), []))
    monkeypatch.setattr(bs.addons, "render_addons",
                        lambda lab: {"playbooks/fabric.yml": PLAYBOOK.format("all").encode()})
    lab = small_lab(tmp_path, images_dir, staged)
    tree = render_bootstrap(lab, PUB)
    data = json.loads(text(tree, "/opt/gns3lab/stages.json"))["stages"][1]
    assert data["playbooks"] == ["playbooks/db.yml", "playbooks/fabric.yml"]
    script = text(tree, "/opt/gns3lab/bootstrap.sh")
    assert script.index("run_playbook data playbooks/db.yml") < \
        script.index("run_playbook data playbooks/fabric.yml")


# ----------------------------------------------------------------------------- Ansible


def test_ansible_cfg(demo_tree: BootstrapTree) -> None:
    cfg = text(demo_tree, f"{ANSIBLE}/ansible.cfg")
    for line in ("host_key_checking = False", "private_key_file = /root/.ssh/id_ed25519",
                 "forks = 10", "timeout = 30", f"inventory = {ANSIBLE}/inventory.yml"):
        assert line in cfg.splitlines()


def _host_ip() -> str | None:
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("192.0.2.1", 9))
            ip = s.getsockname()[0]
    except OSError:
        return None
    return None if ip.startswith("127.") else ip


# ----------------------------------------------------------------------------- dnsmasq

def _conf_lines(tree: BootstrapTree, key: str) -> list[str]:
    return [ln.split("=", 1)[1] for ln in text(tree, "/etc/gns3lab/dnsmasq.conf").splitlines()
            if ln.startswith(key + "=")]


def test_one_reservation_per_node_matching_the_model(demo: Lab, demo_tree: BootstrapTree) -> None:
    hosts = {}
    for line in _conf_lines(demo_tree, "dhcp-host"):
        *macs, name, ip = line.split(",")
        hosts[name] = (macs, ip)
    expected = {}
    for node in demo.vms:
        if node.name == "mgmt":
            continue
        iface = next(i for i in node.interfaces if i.network == "lab")
        nics = [iface.name] if iface.kind == "ethernet" else list(iface.members)
        expected[node.name] = ([node.nic(n).mac for n in nics], str(iface.addresses[0].ip))
    assert hosts == expected
    assert hosts["srv1"] == ([demo.node("srv1").nics[0].mac], "10.10.0.11")
    assert hosts["srv2"][1] == "10.10.0.12"


def test_dnsmasq_dns_range_and_options(demo_tree: BootstrapTree) -> None:
    conf = text(demo_tree, "/etc/gns3lab/dnsmasq.conf").splitlines()
    for line in ("no-hosts", "no-resolv", "interface=eth0", "domain=lab.internal",
                 "local=/lab.internal/", "local=/0.10.10.in-addr.arpa/",
                 "dhcp-range=set:net-lab,10.10.0.13,10.10.0.254,255.255.255.0,12h",
                 "dhcp-option=tag:net-lab,option:router",  # no gateway, no uplink: no route
                 "dhcp-option=tag:net-lab,option:dns-server,10.10.0.1",
                 "host-record=mgmt.lab.internal,mgmt,10.10.0.1",
                 "host-record=srv1.lab.internal,srv1,10.10.0.11",
                 "host-record=srv2.lab.lab.internal,10.10.0.12"):
        assert line in conf
    assert not any(ln.startswith("except-interface") for ln in conf)


def test_uplink_gives_nat_router_and_upstream_dns(tmp_path: Path, images_dir: Path) -> None:
    lab = small_lab(tmp_path, images_dir)
    tree = render_bootstrap(lab, PUB)
    assert tree.units == ("gns3lab-dnsmasq.service", "gns3lab-nat.service",
                          "gns3lab-bootstrap.service")
    nft = text(tree, "/etc/gns3lab/nat.nft")
    assert 'ip saddr 10.20.0.0/24 oifname "eth1" masquerade' in nft
    assert "192.168.122.0/24" not in nft  # the uplink's own network is not masqueraded
    unit = text(tree, "/etc/systemd/system/gns3lab-nat.service")
    assert "ExecStart=/usr/sbin/sysctl -q -w net.ipv4.ip_forward=1" in unit
    assert "ExecStart=/usr/sbin/nft -f /etc/gns3lab/nat.nft" in unit
    conf = text(tree, "/etc/gns3lab/dnsmasq.conf").splitlines()
    assert "dhcp-option=tag:net-lab,option:router,10.20.0.1" in conf
    assert "except-interface=eth1" in conf and "no-resolv" not in conf
    assert "interface=eth0" in conf and "interface=eth1" not in conf
    assert _conf_lines(tree, "dhcp-host")[-1] == f"{lab.node('db').nics[0].mac},db,10.20.0.20"


def test_dhcp_range_and_reverse_zones_helpers(tmp_path: Path, images_dir: Path) -> None:
    import ipaddress

    lab = small_lab(tmp_path, images_dir)
    assert bs.dhcp_range(lab, "lab") == "set:net-lab,10.20.0.21,10.20.0.254,255.255.255.0,12h"
    net = ipaddress.IPv4Network
    assert bs.reverse_zones(net("172.29.236.0/22")) == [
        f"{n}.29.172.in-addr.arpa" for n in (236, 237, 238, 239)]
    assert bs.reverse_zones(net("10.0.0.0/8")) == ["10.in-addr.arpa"]
    assert bs.reverse_zones(net("192.168.1.64/26")) == ["1.168.192.in-addr.arpa"]


def test_bond_and_bridge_reservations_list_every_member_mac(tmp_path: Path,
                                                            images_dir: Path) -> None:
    bonded = SMALL.replace(
        "      eth0: {network: lab, dhcp: true, address: \"{num+10}\"}",
        "      bond0: {bond: [eth0, eth1]}\n"
        "      bond0.5: {vlan: {id: 5, link: bond0}, network: lab, dhcp: true, "
        "address: \"{num+10}\"}")
    lab = small_lab(tmp_path, images_dir, bonded)
    node = lab.node("web1")
    line = next(h for h in _conf_lines(render_bootstrap(lab, PUB), "dhcp-host") if "web1" in h)
    assert line == f"{node.nics[0].mac},{node.nics[1].mac},web1,10.20.0.11"


# ----------------------------------------------------------------------------- script and units


def test_script_stage_order_and_console_formats(demo_tree: BootstrapTree) -> None:
    script = text(demo_tree, "/opt/gns3lab/bootstrap.sh")
    assert 'announce "gns3lab: stage $1 ok"' in script
    assert 'announce "gns3lab: stage $1 failed"' in script
    assert 'announce "gns3lab: lab ready"' in script
    runs = re.findall(r"^run_stage (\S+) (stage_\d+)(?: soft)? \|\| finish failed$", script,
                      re.MULTILINE)  # soft: the check, which leaves no mark (issue 22)
    assert runs == [("servers", "stage_1"), ("check", "stage_2")]
    assert "wait_hosts 1500 'srv1 lab 10.10.0.11' 'srv2 lab 10.10.0.12' || return 1" in script
    assert "'mgmt lab" not in script  # the controller is local: never waited for
    assert "run_playbook servers playbooks/servers.yml || return 1" in script
    assert "BatchMode=yes" in script and '3<>"/dev/tcp/$1/22"' in script
    assert "/var/log/gns3lab-bootstrap.log" in script and "/var/lib/gns3lab/status" in script


def test_hosts_are_probed_in_parallel_from_the_start_and_once(demo_tree: BootstrapTree) -> None:
    """Issue 24: one background probe per managed host (not the controller), started before
    the first stage, every second; a stage only looks at the probes' marks, so a host that
    answered once is never probed again, and the check stage finds its hosts already up."""
    script = text(demo_tree, "/opt/gns3lab/bootstrap.sh")
    probes = re.findall(r"^probe '([^']+)' &$", script, re.MULTILINE)
    assert probes == ["switch lab 10.10.0.2", "srv1 lab 10.10.0.11", "srv2 lab 10.10.0.12"]
    assert script.index("probe 'switch") < script.index("run_stage servers stage_1")
    # the port probe is bash's own redirection, the pauses a read with a timeout: the polling
    # starts no process on the controller's emulated CPU
    assert ': 2>/dev/null 3<>"/dev/tcp/$1/22"' in script
    assert 'pause() { read -r -t "$1" -u "$PAUSE_FD" || true; }' in script
    # a host whose port is open but that refuses the key yet is logged in to every 5 s only
    probe = script.split("\nprobe() {")[1].split("\n}\n")[0]
    assert probe.index("pause 1") < probe.index('elif login "$user" "$addr"') < \
        probe.index("pause 5")
    loops = script.split("\nprobe() {")[1].split("\ncheck_one() {")[0]  # probe, wait_hosts
    assert "sleep" not in loops and "date" not in loops and "timeout 1" not in loops
    body = script.split("wait_hosts() {")[1].split("\n}\n")[0]
    assert "answers" not in body and "ssh" not in body and '[ -e "$UP/$name" ]' in body
    assert "pause 0.2" in body
    assert "timeout 5 bash" not in script and "answers()" not in script


def test_ssh_masters_are_shared_with_ansible(demo_tree: BootstrapTree) -> None:
    """The probe's login leaves a master connection at Ansible's own control path."""
    script = text(demo_tree, "/opt/gns3lab/bootstrap.sh")
    cfg = text(demo_tree, f"{ANSIBLE}/ansible.cfg")
    assert '-o ControlMaster=auto -o "ControlPath=$CONTROL/%C" -o ControlPersist=30m' in script
    assert "CONTROL=$ROOT/root/.ansible/cp\n" in script
    assert "control_path_dir = /root/.ansible/cp\ncontrol_path = %(directory)s/%%C\n" in cfg
    assert "-o ControlMaster=auto -o ControlPersist=30m" in cfg


def test_no_wait_on_the_controllers_cloud_init_when_ansible_is_there(
        demo_tree: BootstrapTree) -> None:
    script = text(demo_tree, "/opt/gns3lab/bootstrap.sh")
    wait = script.index("cloud-init status --wait")
    guard = script.rindex("\nif ", 0, wait)
    assert script[guard:wait].startswith("\nif ! command -v ansible-playbook")


def test_check_stage_is_one_round_trip_per_node_without_ansible(
        demo_tree: BootstrapTree) -> None:
    """Issue 24: no fact gathering; each node's line is printed as its answer arrives."""
    script = text(demo_tree, "/opt/gns3lab/bootstrap.sh")
    stage = script.split("stage_2() {")[1].split("\n}\n")[0]
    assert "run_playbook" not in stage
    assert stage.splitlines()[-1].strip() == (
        "check_hosts 'mgmt - 10.10.0.1' 'switch lab 10.10.0.2' 'srv1 lab 10.10.0.11' "
        "'srv2 lab 10.10.0.12'")
    check = script.split("check_one() {")[1].split("\n}\n")[0]
    assert "'hostname -I'" in check and check.count("ssh ") == 1
    assert 'announce "gns3lab: check $name $addr $state"' in check
    assert 'check_one "$entry" &' in script
    assert "printf 'gns3lab: at %s %s\\n'" in script  # the timeline's marks


STUBS = {
    "timeout": 'shift\nif [ "$1" = bash ]; then\n  for d in ${STUB_PORT_DOWN:-}; do\n'
               '    case "$3" in *"/$d/"*) exit 1;; esac\n  done\n  exit 0\nfi\nexec "$@"\n',
    "ssh": 'echo "ssh $*" >>"$STUB_LOG"\nfor d in ${STUB_SSH_DOWN:-}; do\n'
           '  case " $* " in *"@$d "*) exit 255;; esac\ndone\n'
           # the check's one round trip: the node answers with its address (user@ADDRESS)
           'case "$*" in *"hostname -I") for a in "$@"; do\n'
           '  case $a in *@*) echo "${a#*@} 172.16.9.9";; esac\ndone;; esac\n',
    "hostname": 'echo "10.10.0.1 172.16.9.9"\n',  # the controller's own addresses
    "ansible-playbook": 'echo "ansible-playbook $* in $PWD" >>"$STUB_LOG"\n'
                        'for f in ${STUB_FAIL:-}; do\n'
                        '  case " $* " in *" $f "*) exit 2;; esac\ndone\n',
    "sleep": "exit 0\n",
    # GNS3LAB_PORT_PROBE: port 22 is open unless the address is in STUB_PORT_DOWN
    "port-probe": 'for d in ${STUB_PORT_DOWN:-}; do [ "$1" = "$d" ] && exit 1; done\nexit 0\n',
}


def test_units_order_and_install(demo_tree: BootstrapTree) -> None:
    unit = text(demo_tree, "/etc/systemd/system/gns3lab-bootstrap.service")
    assert "Type=simple" in unit and "WantedBy=multi-user.target" in unit
    after = next(ln for ln in unit.splitlines() if ln.startswith("After="))
    assert after.split("=")[1].split() == ["network-online.target", "cloud-init.service",
                                           "gns3lab-dnsmasq.service"]
    assert "cloud-final" not in "".join(ln for ln in unit.splitlines() if not ln.startswith("#"))
    dns = text(demo_tree, "/etc/systemd/system/gns3lab-dnsmasq.service")
    assert ("ExecStart=/usr/sbin/dnsmasq --keep-in-foreground "
            "--conf-file=/etc/gns3lab/dnsmasq.conf") in dns
    assert "After=network-online.target" in dns


# ----------------------------------------------------------------------------- bad input

def _problems(exc: pytest.ExceptionInfo) -> str:
    return "\n".join(exc.value.lines())


def test_unknown_controller_node_is_a_blueprint_error(tmp_path: Path, images_dir: Path) -> None:
    with pytest.raises(BlueprintError) as exc:
        small_lab(tmp_path, images_dir, SMALL.replace("node: ctl", "node: ctrl"))
    assert re.search(r"lab.yaml:\d+: controller.node: controller node 'ctrl' does not exist "
                     r"\(fix: did you mean 'ctl'\?\)", _problems(exc))


def test_stage_naming_an_unknown_group_is_a_blueprint_error(tmp_path: Path,
                                                            images_dir: Path) -> None:
    with pytest.raises(BlueprintError) as exc:
        small_lab(tmp_path, images_dir, SMALL.replace("hosts: web,", "hosts: webs,"))
    assert re.search(r"controller.stages\[0\].hosts: stage 'web' names unknown group 'webs' "
                     r"\(fix: did you mean 'web'\?\)", _problems(exc))


@pytest.mark.parametrize(("change", "message"), [
    (("eth0: {network: lab, address: 1}", "eth0: {network: lab, dhcp: true, address: 1}"),
     r"controller.dhcp\[0\]: controller 'ctl' serves DHCP on 'lab' but has no static address"),
    (("dhcp: [lab]", "dhcp: [lab, dmz]"), r"controller.dhcp\[1\]: unknown network 'dmz'"),
    (("uplink: eth1", "uplink: eth7"), r"controller.uplink: uplink 'eth7' is not an interface"),
    (("name: data,", "name: check,"), r"controller.stages\[1\].name: stage name 'check' is taken"),
    (("name: data,", "name: web,"), r"controller.stages\[1\].name: stage name 'web' is taken"),
    (("name: data,", "name: 'my data',"),
     r"controller.stages\[1\].name: 'my data' is not one word"),
    (("timeout: 60", "timeout: 60, retries: 3"),
     r"controller.stages\[1\].retries: unknown key 'retries' \(fix: remove it; known: generated"),
    (("timeout: 60", "timeout: -5"), r"controller.stages\[1\].timeout: '-5' is out of range "
     r"\(fix: use a number at least 1\)"),
])
def test_controller_settings_the_bootstrap_cannot_serve(tmp_path: Path, images_dir: Path,
                                                        change: tuple[str, str],
                                                        message: str) -> None:
    with pytest.raises(BlueprintError) as exc:  # load_lab runs the controller checks
        small_lab(tmp_path, images_dir, SMALL.replace(*change))
    assert re.search(r"lab.yaml:\d+: " + message, _problems(exc)), _problems(exc)


def test_stage_of_unaddressed_nodes_and_outside_playbooks(tmp_path: Path,
                                                          images_dir: Path) -> None:
    (tmp_path / "outside.yml").write_text(PLAYBOOK.format("all"))
    bad = SMALL.replace("  db:\n    interfaces:\n      eth0: {network: lab, address: 20}\n",
                        "  db: {}\n").replace("playbooks/db.yml", "../outside.yml")
    bad = bad.replace("hosts: [db, frontend]", "hosts: [db]")
    with pytest.raises(BlueprintError) as exc:
        small_lab(tmp_path, images_dir, bad)
    problems = _problems(exc)
    assert "stage 'data' names no node the controller can reach" in problems
    assert "playbooks[0]: '../outside.yml' leaves the blueprint folder ('..')" in problems


# ----------------------------------------------------------------------------- wiring

def _key(tmp_path: Path) -> LabKey:
    private = tmp_path / "id_ed25519"
    private.write_bytes(b"-----BEGIN OPENSSH PRIVATE KEY-----\nfake\n")
    return LabKey(private, PUB)


def test_write_bootstrap_without_images_writes_the_staging_copy(demo: Lab, tmp_path: Path) -> None:
    layout, notes = Layout(tmp_path / "stage"), []
    assert write_bootstrap(demo, layout, _key(tmp_path), None, notes.append) == ()
    assert any("skipping injection into 3 overlays" in n for n in notes)
    written = sorted(str(p.relative_to(layout.bootstrap_dir)) for p in
                     layout.bootstrap_dir.rglob("*") if p.is_file())
    assert written == sorted(p.lstrip("/") for p in render_bootstrap(demo, PUB).files)
    assert (layout.bootstrap_dir / "opt/gns3lab/bootstrap.sh").stat().st_mode & 0o777 == 0o755
    assert not (layout.bootstrap_dir / "root/.ssh/id_ed25519").exists()


def test_controller_injection_adds_the_private_key(demo: Lab, demo_tree, tmp_path: Path) -> None:
    key = _key(tmp_path)
    inj = controller_injection(demo.node("mgmt"), Layout(tmp_path), demo_tree, key)
    files = {f.path: f for f in inj.files}
    assert files["/root/.ssh/id_ed25519"].content == key.private
    assert files["/root/.ssh/id_ed25519"].mode == 0o600
    assert files["/root/.ssh"].kind == "dir" and files["/root/.ssh"].mode == 0o700
    assert files["/opt/gns3lab/bootstrap.sh"].mode == 0o755
    assert inj.enable_units == demo_tree.units
    assert set(demo_tree.files) < set(files)


def test_demo_budget(demo: Lab) -> None:
    assert {n.name for n in demo.vms} == {"mgmt", "switch", "srv1", "srv2"}
    for node in demo.vms:
        assert 384 <= node.ram <= 512 and node.cpus == 1
        assert node.image is not None and node.image.appliance == APPLIANCE
    assert demo.node("srv1").interfaces[0].dhcp


def test_renderers_refuse_a_name_that_would_start_a_new_directive(tmp_path: Path,
                                                                 images_dir: Path) -> None:
    """Resolution refuses such names; the renderer guards again (dnsmasq, nft, units)."""
    lab = small_lab(tmp_path, images_dir)
    evil = dataclasses.replace(lab, domain="lab\ndhcp-script=/tmp/x")
    with pytest.raises(ValueError, match="refusing to render"):
        bs.render_dnsmasq(evil)
    ctl = dataclasses.replace(lab.controller, uplink="eth1\naccept")
    with pytest.raises(ValueError, match="refusing to render"):
        bs.render_nat(dataclasses.replace(lab, controller=ctl))
    with pytest.raises(BlueprintError, match="is not an interface name"):
        small_lab(tmp_path / "q", images_dir, SMALL.replace("uplink: eth1", "uplink: 'eth1\"x'"))


def test_resolve_decides_managed_nodes_and_stage_hosts(demo: Lab) -> None:
    """Management addresses, logins and stage hosts are fields of the resolved model
    (resolve/stages.py); the renderers only read them."""
    assert demo.controller is not None
    assert str(demo.node("srv1").management).startswith("10.10.0.11/")
    assert demo.node("srv1").default_user == "lab"
    assert demo.controller.stages[0].patterns == ("servers",)
    assert [(s.name, s.hosts) for s in demo.controller.bootstrap] == [
        ("servers", ("srv1", "srv2")), ("check", ("mgmt", "switch", "srv1", "srv2"))]
