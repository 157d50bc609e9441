"""The bootstrap tree checked by the programs that will run it (ansible-playbook,
ansible-inventory, dnsmasq, bash, systemd-analyze) and the demo built without images (qemu-img,
ssh-keygen). Split from tests/unit/test_bootstrap.py, which renders and reads it without them."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from generator.cli import main
from generator.model import Lab
from generator.render.bootstrap import BootstrapTree, render_bootstrap
from generator.write.guest import write_tree
from tests.support.images import write_recipe_standins
from tests.unit import test_bootstrap as bootstrap_unit
from tests.unit.test_bootstrap import (
    ANSIBLE,
    DEMO,
    PUB,
    STUBS,
    _host_ip,
    small_lab,
)

# Fixtures of tests/unit/test_bootstrap.py, shared under the names pytest finds them by.
demo = bootstrap_unit.demo
demo_root = bootstrap_unit.demo_root
demo_tree = bootstrap_unit.demo_tree
images_dir = bootstrap_unit.images_dir

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def guest_roots(demo_root: Path, images_dir: Path,
                tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The bootstrap trees of the demo and of the small test lab, written out as guest roots."""
    tmp = tmp_path_factory.mktemp("small")
    small = tmp / "small-guest"
    write_tree(render_bootstrap(small_lab(tmp, images_dir), PUB), small)
    return demo_root, small


def needs(*programs: str) -> None:
    missing = [p for p in programs if shutil.which(p) is None]
    if missing:
        pytest.skip(f"not installed: {', '.join(missing)}")


def run(argv: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(argv, check=False, capture_output=True, text=True, timeout=300,
                          **kw)


def test_playbooks_pass_ansible_syntax_check(guest_roots: tuple[Path, Path]) -> None:
    needs("ansible-playbook")
    for root in guest_roots:
        folder = root / ANSIBLE.lstrip("/")
        books = sorted((folder / "playbooks").glob("*.yml"))
        assert len(books) >= 2
        for book in books:
            proc = run(["ansible-playbook", "-i", "inventory.yml", "--syntax-check",
                        str(book.relative_to(folder))], cwd=folder)
            assert proc.returncode == 0, f"{book}: {proc.stdout}{proc.stderr}"


def test_inventory_lists_every_host_in_its_groups(demo: Lab, demo_root: Path) -> None:
    needs("ansible-inventory")
    folder = demo_root / ANSIBLE.lstrip("/")
    proc = run(["ansible-inventory", "-i", "inventory.yml", "--list"], cwd=folder)
    assert proc.returncode == 0, proc.stderr
    inv = json.loads(proc.stdout)
    assert sorted(inv["all"]["children"]) == ["bridge", "controller", "server", "servers",
                                              "ungrouped"]
    assert inv["servers"]["hosts"] == ["srv1", "srv2"]
    assert inv["controller"]["hosts"] == ["mgmt"] and inv["bridge"]["hosts"] == ["switch"]
    hv = inv["_meta"]["hostvars"]
    assert sorted(hv) == ["mgmt", "srv1", "srv2", "switch"]
    assert hv["mgmt"]["ansible_connection"] == "local"
    assert "ansible_connection" not in hv["srv1"]
    for node in demo.vms:
        host = hv[node.name]
        assert host["ansible_host"] == str(node.address_on("lab").ip)
        assert host["ansible_user"] == "lab"
        assert host["ansible_python_interpreter"] == "/usr/bin/python3"
        assert host["lab_macs"] == {n.name: n.mac for n in node.nics}
        assert host["lab_addresses"] == {"lab": str(node.address_on("lab").ip)}
    assert hv["switch"]["lab_interfaces"]["br0"]["members"] == ["eth0", "eth1", "eth2"]
    assert hv["srv1"]["lab_interfaces"]["eth0"]["dhcp"] is True
    group_vars = yaml.safe_load((folder / "group_vars/all.yml").read_text())
    assert group_vars["lab_domain"] == "lab.internal" and group_vars["lab_controller"] == "mgmt"
    assert group_vars["lab_networks"]["lab"]["cidr"] == "10.10.0.0/24"


def test_check_playbook_prints_one_line_per_node(demo_root: Path, tmp_path: Path) -> None:
    """check.yml for real: local hosts at the right and a wrong address, one unreachable."""
    needs("ansible-playbook")
    ip = _host_ip()
    if ip is None:
        pytest.skip("the host has no non-loopback IPv4 address")
    book = (demo_root / ANSIBLE.lstrip("/") / "playbooks/check.yml").read_text()
    console, status = tmp_path / "console", tmp_path / "status"
    (tmp_path / "check.yml").write_text(book.replace("/var/lib/gns3lab/status", str(status))
                                        .replace("/dev/console", str(console)))
    local = {"ansible_connection": "local", "ansible_python_interpreter": "/usr/bin/python3"}
    hosts = {"mgmt": dict(local, ansible_host=ip), "srv1": dict(local, ansible_host=ip),
             "srv2": dict(local, ansible_host="10.99.0.1"),
             "switch": {"ansible_host": "127.0.0.1", "ansible_port": 1, "ansible_user": "x"}}
    (tmp_path / "inv.yml").write_text(yaml.safe_dump({"all": {"hosts": hosts}}))
    proc = run(["ansible-playbook", "-i", "inv.yml", "check.yml"], cwd=tmp_path)
    assert proc.returncode != 0, proc.stdout
    expected = [f"gns3lab: check mgmt {ip} ok", f"gns3lab: check srv1 {ip} ok",
                "gns3lab: check srv2 10.99.0.1 failed", "gns3lab: check switch 127.0.0.1 failed"]
    assert console.read_text().splitlines() == expected
    assert status.read_text().splitlines() == expected
    del hosts["srv2"], hosts["switch"]
    (tmp_path / "inv.yml").write_text(yaml.safe_dump({"all": {"hosts": hosts}}))
    console.unlink()
    assert run(["ansible-playbook", "-i", "inv.yml", "check.yml"], cwd=tmp_path).returncode == 0
    assert console.read_text().splitlines() == expected[:2]


def test_dnsmasq_config_passes_dnsmasq_test(guest_roots: tuple[Path, Path]) -> None:
    needs("dnsmasq")
    for root in guest_roots:
        proc = run(["dnsmasq", "--test", f"--conf-file={root}/etc/gns3lab/dnsmasq.conf"])
        assert proc.returncode == 0 and "syntax check OK" in proc.stderr, proc.stderr


def test_bootstrap_script_is_valid_bash(demo_root: Path) -> None:
    proc = run(["bash", "-n", str(demo_root / "opt/gns3lab/bootstrap.sh")])
    assert proc.returncode == 0, proc.stderr


@pytest.fixture()
def sandbox(demo_tree: BootstrapTree, tmp_path: Path):
    """Run bootstrap.sh in a temp root with stub ssh, ansible-playbook, hostname and port
    probe."""
    needs("bash", "flock")
    root, stubs = tmp_path / "root", tmp_path / "stubs"
    write_tree(demo_tree, root)
    (root / "dev").mkdir()
    stubs.mkdir()
    for name, body in STUBS.items():
        (stubs / name).write_text("#!/bin/bash\n" + body)
        (stubs / name).chmod(0o755)
    log = tmp_path / "calls"

    def start(*args: str, **env: str) -> subprocess.CompletedProcess:
        full = dict(os.environ, PATH=f"{stubs}:{os.environ['PATH']}", GNS3LAB_ROOT=str(root),
                    GNS3LAB_PORT_PROBE=str(stubs / "port-probe"), STUB_LOG=str(log), **env)
        return run(["bash", str(root / "opt/gns3lab/bootstrap.sh"), *args], env=full)

    def read(rel: str) -> list[str]:
        path = root / rel
        return path.read_text().splitlines() if path.exists() else []

    return start, read


CHECKS = ["gns3lab: check mgmt 10.10.0.1 ok", "gns3lab: check switch 10.10.0.2 ok",
          "gns3lab: check srv1 10.10.0.11 ok", "gns3lab: check srv2 10.10.0.12 ok"]


def _status(lines: list[str]) -> list[str]:
    """Status lines with the check lines (printed as answers arrive) in name order."""
    checks = sorted(ln for ln in lines if ln.startswith("gns3lab: check "))
    rest = [ln for ln in lines if not ln.startswith("gns3lab: check ")]
    return rest[:1] + checks + rest[1:] if checks else rest


def test_script_runs_every_stage_then_check_then_ready(sandbox) -> None:
    start, read = sandbox
    assert start().returncode == 0
    lines = ["gns3lab: stage servers ok", *sorted(CHECKS), "gns3lab: stage check ok",
             "gns3lab: lab ready"]
    assert _status(read("var/lib/gns3lab/status")) == lines
    console = read("dev/console")
    assert _status([ln for ln in console if not ln.startswith("gns3lab: at ")]) == lines
    marks = [ln.split(" ", 3)[3] for ln in console if ln.startswith("gns3lab: at ")]
    assert marks[0] == "bootstrap start"  # the probes run beside the stages: any order
    assert sorted(marks[1:]) == ["host srv1 up", "host srv2 up", "host switch up",
                                 "stage check start", "stage servers start"]
    assert marks.index("stage servers start") < marks.index("stage check start")
    assert read("var/lib/gns3lab/bootstrap.done") == ["ok"]
    calls = read("../calls")
    books = [c.split()[-3] for c in calls if c.startswith("ansible-playbook")]
    assert books == ["playbooks/servers.yml"]  # the check stage runs no Ansible
    probes = [c.split()[-2] for c in calls if c.startswith("ssh ") and c.endswith(" true")]
    assert sorted(probes) == ["lab@10.10.0.11", "lab@10.10.0.12", "lab@10.10.0.2"]  # once each
    assert len([c for c in calls if c.endswith("hostname -I")]) == 3
    log = "\n".join(read("var/log/gns3lab-bootstrap.log"))
    assert "host srv1 (10.10.0.11) answers SSH as lab" in log
    assert start().returncode == 0  # a later boot only checks (test_capture_bootstrap.py)
    assert _status(read("var/lib/gns3lab/status")[:len(lines)]) == lines
    assert start("--force").returncode == 0
    assert read("var/lib/gns3lab/status")[-len(lines):][0] == lines[0]  # every stage again


def test_script_stops_at_the_first_failed_stage(sandbox) -> None:
    start, read = sandbox
    assert start(STUB_FAIL="playbooks/servers.yml").returncode == 1
    assert read("var/lib/gns3lab/status") == ["gns3lab: stage servers failed"]
    assert read("var/lib/gns3lab/bootstrap.done") == ["failed"]
    assert not any("check.yml" in c for c in read("../calls"))


def test_script_fails_a_stage_whose_hosts_never_answer(sandbox, demo_tree, tmp_path) -> None:
    start, read = sandbox
    script = tmp_path / "root/opt/gns3lab/bootstrap.sh"
    script.write_text(script.read_text().replace("wait_hosts 1500", "wait_hosts 1"))
    assert start(STUB_SSH_DOWN="10.10.0.12").returncode == 1
    assert read("var/lib/gns3lab/status") == ["gns3lab: stage servers failed"]
    assert not any(c.startswith("ansible-playbook") for c in read("../calls"))
    assert "timed out after 1 s waiting for SSH on: srv2 lab 10.10.0.12" in \
        "\n".join(read("var/log/gns3lab-bootstrap.log"))


def test_script_port_closed_means_not_ready(sandbox, tmp_path) -> None:
    start, read = sandbox
    script = tmp_path / "root/opt/gns3lab/bootstrap.sh"
    script.write_text(script.read_text().replace("wait_hosts 1500", "wait_hosts 1"))
    assert start(STUB_PORT_DOWN="10.10.0.11").returncode == 1
    assert not any("10.10.0.11" in c for c in read("../calls"))  # no ssh before port 22 opens


def test_check_stage_reports_even_when_hosts_are_missing(sandbox, tmp_path) -> None:
    start, read = sandbox
    script = tmp_path / "root/opt/gns3lab/bootstrap.sh"
    script.write_text(script.read_text().replace("wait_hosts 1800", "wait_hosts 1"))
    assert start(STUB_SSH_DOWN="10.10.0.2").returncode == 1
    assert _status(read("var/lib/gns3lab/status")) == [
        "gns3lab: stage servers ok", "gns3lab: check mgmt 10.10.0.1 ok",
        "gns3lab: check srv1 10.10.0.11 ok", "gns3lab: check srv2 10.10.0.12 ok",
        "gns3lab: check switch 10.10.0.2 failed", "gns3lab: stage check failed"]


def test_units_pass_systemd_analyze_verify(tmp_path: Path, images_dir: Path) -> None:
    needs("systemd-analyze")
    system = Path("/usr/lib/systemd/system")
    if not (system / "multi-user.target").is_file():
        pytest.skip("no systemd unit tree on this host")
    root = tmp_path / "root"
    tree = render_bootstrap(small_lab(tmp_path, images_dir), PUB)  # with the NAT unit
    write_tree(tree, root)
    shutil.copytree(system, root / "usr/lib/systemd/system", symlinks=True)
    for program in ("dnsmasq", "sysctl", "nft"):
        stub = root / "usr/sbin" / program
        stub.parent.mkdir(parents=True, exist_ok=True)
        stub.write_text("#!/bin/sh\n")
        stub.chmod(0o755)
    units = [str(root / "etc/systemd/system" / u) for u in tree.units]
    proc = run(["systemd-analyze", "verify", f"--root={root}", *units])
    assert proc.returncode == 0 and not proc.stderr.strip(), proc.stderr


def test_cli_validate_and_build_the_demo_without_images(images_dir: Path, tmp_path: Path,
                                                        monkeypatch) -> None:
    monkeypatch.setenv("GNS3LAB_IMAGES", str(images_dir))
    write_recipe_standins(images_dir)  # the demo names its image by recipe (image: debian-12)
    runner = CliRunner()
    result = runner.invoke(main, ["validate", str(DEMO)])
    assert result.exit_code == 0, result.output
    assert "demo: ok (4 nodes, 3 links)" in result.output
    out = tmp_path / "dist"
    result = runner.invoke(main, ["build", str(DEMO), "-o", str(out), "--no-images"])
    assert result.exit_code == 0, result.output
    with zipfile.ZipFile(out / "demo.gns3project") as zf:
        names = zf.namelist()
        assert "gns3lab/bootstrap/opt/gns3lab/bootstrap.sh" in names
        assert "gns3lab/bootstrap/etc/gns3lab/dnsmasq.conf" in names
        assert "gns3lab/bootstrap/root/.ssh/id_ed25519.pub" in names
        assert not any(n.endswith("/id_ed25519") for n in names)
        stages = json.loads(zf.read("gns3lab/bootstrap/opt/gns3lab/stages.json"))
    assert [s["name"] for s in stages["stages"]] == ["servers", "check"]
