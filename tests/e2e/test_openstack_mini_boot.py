"""blueprints/openstack-ceph-mini (the open reference lab scaled down to 6 VMs) pushed to a
real gns3-server 2.2.61: its FRR fabric converges by itself, the check stage proves it (one
console line per fact: BGP sessions from ``vtysh -c 'show bgp summary json'``, EVPN routes of
types 1-4, an LACP partner on both members of every server bond, every server reaching every
other one and mgmt01 on every fabric network), and the servers keep reaching each other when a
leaf is stopped through GNS3's API (a second check round, with a ping watch of every path that
reports the longest outage, under 10 s).

This boot also proves issue 19's built-in recipes: the switches run ``frr`` and compute1
``debian-12-netplan`` (its bond, VLANs and bridges rendered by netplan, infra1's by ifupdown).
Consoles are kept in test-artifacts/e2e-openstack-mini/ when it fails.
"""

from __future__ import annotations

import os
import re
import time

import pytest

from generator.build import BuildOptions, build_lab
from generator.server.consoles import ConsoleTail
from generator.server.push import PushResult, push_archive
from tests.e2e.timing import Stamped, record_timeline
from tests.helpers import REPO, judging_pushed_lab, link_image
from tests.support.gns3client import stop_node
from tests.support.images import images_dir
from tests.support.readback import launches

pytestmark = [pytest.mark.slow, pytest.mark.boot]

BLUEPRINT = REPO / "blueprints" / "openstack-ceph-mini"
WAIT = 1500  # seconds; six TCG guests on two cores, then two stages of Ansible
STALL = 600  # seconds without a console line: the guests stopped progressing, fail now
STAGES = ["fabric", "fabric-check", "check"]
PLANNED = {"mgmt01": "192.168.50.1", "spine01": "192.168.50.3", "leaf01": "192.168.50.5",
           "leaf02": "192.168.50.6", "infra1": "192.168.50.11", "compute1": "192.168.50.21"}
SERVERS = ("compute1", "infra1", "mgmt01")  # every bond on both leaves: an Ethernet segment
SYS_MAC = "44:38:39:ff:00:01"
FAILED_LEAF = "leaf01"
# seconds every server pings every target while the leaf fails; the leaf stops 1-3 s after the
# watch starts, and a gap runs to the watch's end, so an outage that never heals still measures
# 17 s or more, well over the 10 s asserted
WATCH = 20
ROUND_WAIT = 900  # seconds for the second round (Ansible on a TCG controller)
ANSIBLE = "/opt/gns3lab/ansible"


def fabric_lines(text: str, round_name: str) -> list[str]:
    """The check's console lines of one round, whitespace-normalised."""
    prefix = f"gns3lab-fabric: {round_name} "
    return [" ".join(ln.split()) for ln in text.splitlines() if ln.strip().startswith(prefix)]


def expect_round(lines: list[str], round_name: str, down: tuple[str, ...] = ()) -> None:
    """One line per fact: BGP sessions (all to live switches), EVPN types, LACP partners on
    every live member, every server reaching every target."""
    p = f"gns3lab-fabric: {round_name} "
    sessions = {"spine01": 2 - len(down), "leaf01": 1, "leaf02": 1}
    for switch, n in sessions.items():
        if switch not in down:
            assert any(ln.startswith(f"{p}bgp {switch} {n}/{n} sessions Established")
                       and ln.endswith(f", bfd {n}/{n} up") for ln in lines), (switch, lines)
    for leaf in ("leaf01", "leaf02"):
        if leaf not in down:
            line = next(ln for ln in lines if ln.startswith(f"{p}evpn {leaf} "))
            counts = dict(re.findall(r"type-(\d) (\d+)", line))
            assert sorted(counts) == ["1", "2", "3", "4"] and all(
                int(c) > 0 for c in counts.values()), line
    members = ("eth2",) if down == ("leaf01",) else ("eth1", "eth2")
    for server in SERVERS:
        bond_members = ("eth6",) if server == "mgmt01" and down else (
            ("eth5", "eth6") if server == "mgmt01" else members)
        assert f"{p}lacp {server} bond0 partner {SYS_MAC} on {','.join(bond_members)}, " \
               "one aggregator" in lines, (server, lines)
        assert any(ln.startswith(f"{p}reach {server} ") for ln in lines), (server, lines)


def run_failover_round(push: PushResult, server: object) -> tuple[list[str], float]:
    """Log in on mgmt01's console, run the check round with a watch, stop the leaf through
    GNS3's API once the watch runs; the console text of the round and when the leaf stopped."""
    nodes = {n.name: n for n in push.nodes}
    ctl = nodes["mgmt01"]
    assert ctl.console_host and ctl.console_port
    round_name = f"{FAILED_LEAF}-down"
    command = (f"cd {ANSIBLE} && ansible-playbook -i inventory.yml -e fabric_round={round_name} "
               f"-e '{{\"fabric_down\": [\"{FAILED_LEAF}\"]}}' -e fabric_watch={WATCH} "
               "playbooks/fabric-frr-check.yml >/var/log/gns3lab-failover.log 2>&1; "
               f"echo \"gns3lab-fabric: {round_name} done rc=$?\" >/dev/console\r")
    text: list[str] = []
    stopped_at = 0.0
    with ConsoleTail(ctl.console_host, ctl.console_port) as tail:
        send = tail._sock.sendall  # the product's console reader only reads
        send(b"\r")
        time.sleep(2)
        send(b"root\r")
        time.sleep(3)
        send(command.encode())
        deadline = time.monotonic() + ROUND_WAIT
        while time.monotonic() < deadline:
            for line in tail.lines(timeout=2):
                text.append(line)
                print(f"  mgmt01| {line}", flush=True)
                if f"{round_name} watch started" in line and not stopped_at:
                    stop_node(server.client, push.project_id,  # type: ignore[attr-defined]
                              nodes[FAILED_LEAF].node_id)
                    stopped_at = time.monotonic()
                if re.search(rf"gns3lab-fabric: {round_name} done rc=\d", line):
                    return text, stopped_at
    raise AssertionError(f"round {round_name} did not finish: " + " | ".join(text[-20:]))


@pytest.mark.slow
@pytest.mark.boot
def test_mini_lab_builds_itself(  # type: ignore[no-untyped-def]
        lab_image, recipe_images, gns3_server_22,
        tmp_path_factory: pytest.TempPathFactory) -> None:
    started = time.monotonic()
    messages: list[str] = []
    result = build_lab(BLUEPRINT, BuildOptions(out_dir=tmp_path_factory.mktemp("dist"),
                                               images_dirs=(images_dir(),)), messages.append)
    assert launches(messages) == 1  # every overlay injected in one launch
    built = time.monotonic()
    assert {n.name: n.image.filename for n in result.lab.vms if n.image} == {
        "mgmt01": lab_image.path.name, "infra1": lab_image.path.name,
        "compute1": recipe_images["debian-12-netplan"].path.name,
        **{s: recipe_images["frr"].path.name for s in ("spine01", "leaf01", "leaf02")}}
    for image in (lab_image, recipe_images["frr"], recipe_images["debian-12-netplan"]):
        link_image(image.path, gns3_server_22.images_dir)
    events = Stamped()
    load = os.getloadavg()
    push = push_archive(result.archive, gns3_server_22.url, start=True, wait=True, stall=STALL,
                        timeout=WAIT, progress=events)
    done = time.monotonic()
    timeline = record_timeline("openstack-mini", push, events, done - built, load)
    boot = fabric_lines(push.transcripts.get("mgmt01", ""), "boot")
    print(f"\nbuild {built - started:.0f} s, push and wait {done - built:.0f} s")
    print("\n".join(f"  {ln}" for ln in boot))
    with judging_pushed_lab(gns3_server_22, push, "e2e-openstack-mini"):
        assert push.ready, f"lab not ready: {push.failure}"
        assert push.stages == [(name, True) for name in STAGES]
        assert {c.node: (c.address, c.ok) for c in push.checks} == {
            name: (address, True) for name, address in PLANNED.items()}
        expect_round(boot, "boot")
        # the fabric stage saw every switch's seeded fabric: verified, or (FRR up without its
        # configuration after a loaded first boot) installed again
        controller = push.transcripts.get("mgmt01", "")
        for switch in ("spine01", "leaf01", "leaf02"):
            assert re.search(rf"gns3lab-fabric: (verified|installed) {switch} \(", controller), \
                switch
        assert [s["name"] for s in timeline["stages"]] == STAGES
        text, stopped_at = run_failover_round(push, gns3_server_22)
        failover = fabric_lines("\n".join(text), f"{FAILED_LEAF}-down")
        print("\n".join(f"  {ln}" for ln in failover))
        assert stopped_at, "the watch never started"
        assert f"gns3lab-fabric: {FAILED_LEAF}-down done rc=0" in [
            " ".join(ln.split()) for ln in text]
        outages = [float(m) for ln in failover for m in re.findall(r"outage \S+ max (\S+) s", ln)]
        assert len(outages) == len(SERVERS) and max(outages) < 10, failover
        expect_round(failover, f"{FAILED_LEAF}-down", down=(FAILED_LEAF,))
