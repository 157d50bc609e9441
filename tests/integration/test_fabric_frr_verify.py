"""The FRR fabric stage with real Ansible (issue 20, boot time): on a switch whose seed wrote the
rendered files and started both units it only verifies (no file written, nothing restarted,
the console says ``verified``); a switch whose frr.conf was edited, or whose unit is not running,
is installed again as before (files rewritten, FRR restarted, the console says ``installed``).
The switch's seed passes Debian's cloud-init schema.

The playbook runs with every host local: the switch's paths point into tmp_path, and
``systemctl``, ``cloud-init`` and ``chown`` are stand-ins on PATH that log their calls and answer
``is-enabled``/``is-active`` from marker files."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import yaml

from generator.addons import fabric
from generator.model import Lab
from generator.render.seeds import render_seed
from tests.support.cloudinit_check import check_user_data
from tests.unit.test_fabric_frr import MINI, load_with_tiny_images

pytestmark = pytest.mark.slow  # runs ansible-playbook

PATHS = {"/usr/local/sbin/gns3lab-fabric": "gns3lab-fabric",
         "/etc/systemd/system/gns3lab-fabric.service": "gns3lab-fabric.service",
         "/etc/frr/frr.conf": "frr.conf"}
UNITS = ("gns3lab-fabric.service", "frr.service")
FAKE_SYSTEMCTL = """#!/bin/sh
# systemctl stand-in: logs each call; is-enabled/is-active answer from marker files.
echo "$*" >>"$FAKE_STATE/log"
for last; do :; done
case "$1" in
  is-enabled) test -e "$FAKE_STATE/enabled-$last" ;;
  is-active) test -e "$FAKE_STATE/active-$last" ;;
  enable) touch "$FAKE_STATE/enabled-$last"; [ "$2" = --now ] && touch "$FAKE_STATE/active-$last"
          exit 0 ;;
  restart|start) touch "$FAKE_STATE/active-$last" ;;
esac
"""


FAKE_VTYSH = """#!/bin/sh
# vtysh stand-in: logs each call; FRR's running configuration holds the switch's BGP instance
# unless the test took it away (the CI boot where bgpd came up without frr.conf's config).
echo "vtysh $*" >>"$FAKE_STATE/log"
[ -e "$FAKE_STATE/no-bgp" ] || echo "router bgp 65000"
"""


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Lab:
    return load_with_tiny_images(MINI, tmp_path_factory.mktemp("images"))


def seeded(lab: Lab, name: str) -> dict[str, str]:
    """The files the switch's seed writes, by path."""
    doc = yaml.safe_load(render_seed(lab.node(name), lab, None)["user-data"])
    return {f["path"]: f["content"] for f in doc["write_files"] if f["path"] in PATHS}


def run_stage(lab: Lab, tmp_path: Path, name: str, files: dict[str, str],
              active: tuple[str, ...] = UNITS, bgp: bool = True) -> tuple[str, list[str]]:
    """Run the generated fabric playbook on switch ``name`` holding ``files`` (by guest path)
    with ``active`` units enabled and running (and bgpd holding its BGP instance, unless not
    ``bgp``): its console line and the systemctl and vtysh calls."""
    root, state, fake = tmp_path / "root", tmp_path / "state", tmp_path / "bin"
    for folder in (root, state, fake):
        folder.mkdir()
    if not bgp:
        (state / "no-bgp").touch()
    (fake / "vtysh").write_text(FAKE_VTYSH)
    for path, content in files.items():
        (root / PATHS[path]).write_text(content)
    for unit in active:
        (state / f"enabled-{unit}").touch()
        (state / f"active-{unit}").touch()
    (fake / "systemctl").write_text(FAKE_SYSTEMCTL)
    (fake / "cloud-init").write_text("#!/bin/sh\necho \"cloud-init $*\" >>\"$FAKE_STATE/log\"\n")
    (fake / "chown").write_text("#!/bin/sh\nexit 0\n")
    for tool in fake.iterdir():
        tool.chmod(0o755)
    rendered = fabric.render(lab)
    book = rendered["playbooks/fabric-frr.yml"].decode()
    for old, new in [*((p, str(root / f)) for p, f in PATHS.items()),
                     (">>/dev/console", f">>{tmp_path}/console")]:
        assert old in book, old
        book = book.replace(old, new)
    tree = tmp_path / "tree"
    (tree / "playbooks").mkdir(parents=True)
    (tree / "host_vars").mkdir()
    (tree / "playbooks/fabric.yml").write_text(book)
    (tree / f"host_vars/{name}.yml").write_bytes(rendered[f"host_vars/{name}.yml"])
    hosts = {host: {"ansible_connection": "local", "lab_controller": "mgmt01"}
             for host in ("leaf01", "leaf02", "spine01", "mgmt01")}
    (tree / "inventory.yml").write_text(yaml.safe_dump({"all": {"hosts": hosts}}))
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env.update(ANSIBLE_CONFIG="/nonexistent", ANSIBLE_LOCAL_TEMP=str(tmp_path / "tmp"),
               ANSIBLE_PYTHON_INTERPRETER="/usr/bin/python3", ANSIBLE_NOCOLOR="1",
               FAKE_STATE=str(state), PATH=f"{fake}:{env['PATH']}")
    proc = subprocess.run(["ansible-playbook", "-i", "inventory.yml", "-l", name,
                           "-e", "ansible_become=false", "playbooks/fabric.yml"], cwd=tree,
                          env=env, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    script = next(iter(PATHS))
    for path, file in PATHS.items():  # whatever happened, the switch holds the rendered files
        expected = seeded(lab, name)[path]
        # a unit the playbook wrote names the moved script
        moved = expected.replace(f"ExecStart={script}", f"ExecStart={root / PATHS[script]}")
        assert (root / file).read_text() in (expected, moved), path
    log = (state / "log").read_text().splitlines()
    return (tmp_path / "console").read_text().strip(), log


def test_a_seeded_switch_is_only_verified(lab: Lab, tmp_path: Path) -> None:
    line, log = run_stage(lab, tmp_path, "leaf01", seeded(lab, "leaf01"))
    assert line == "gns3lab-fabric: verified leaf01 (leaf, AS 65005)"
    assert log[0] == "cloud-init status --wait"  # the seed's runcmd has finished first
    assert {c.split()[0] for c in log[1:]} == {"is-enabled", "is-active", "vtysh"}, log
    assert "vtysh -c show running-config" in log  # bgpd holds its BGP instance


def test_a_switch_whose_bgpd_runs_without_its_config_is_installed_again(lab: Lab,
                                                                       tmp_path: Path) -> None:
    """The CI boot: every file as rendered and both units active, but FRR came up from the
    seed's restart without frr.conf's BGP instance ('% BGP instance not found' on spine01)."""
    line, log = run_stage(lab, tmp_path, "spine01", seeded(lab, "spine01"), bgp=False)
    assert line == "gns3lab-fabric: installed spine01 (spine, AS 65003)"
    assert "restart frr.service" in log


def test_an_edited_frr_conf_is_installed_again_and_frr_restarted(lab: Lab, tmp_path: Path
                                                                 ) -> None:
    files = seeded(lab, "spine01")
    files["/etc/frr/frr.conf"] += "router bgp 65099\n"
    line, log = run_stage(lab, tmp_path, "spine01", files)
    assert line == "gns3lab-fabric: installed spine01 (spine, AS 65003)"
    assert "restart frr.service" in log and "restart gns3lab-fabric.service" in log


def test_a_unit_that_is_not_running_is_installed_again(lab: Lab, tmp_path: Path) -> None:
    line, log = run_stage(lab, tmp_path, "leaf02", seeded(lab, "leaf02"),
                          active=("frr.service",))
    assert line == "gns3lab-fabric: installed leaf02 (leaf, AS 65006)"
    assert "restart frr.service" in log


def test_the_switch_seeds_pass_cloud_init(lab: Lab) -> None:
    for name in ("leaf01", "leaf02", "spine01"):
        check_user_data(render_seed(lab.node(name), lab, None)["user-data"].decode(),
                        source=f"{name}/user-data")
