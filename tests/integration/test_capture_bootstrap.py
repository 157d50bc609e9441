"""Issue 22, part 2: a lab that was built says it is ready again. bootstrap.sh run by bash in a
temp root with the stub ssh and ansible-playbook of test_bootstrap_tools: a later boot runs only
the check stage; a lab restored from the checkpoint after a stage goes on with the next one."""

from __future__ import annotations

import pytest

from tests.integration import test_bootstrap_tools as tools_tests

# Fixtures shared under the names pytest finds them by.
demo = tools_tests.demo
demo_root = tools_tests.demo_root
demo_tree = tools_tests.demo_tree
images_dir = tools_tests.images_dir
sandbox = tools_tests.sandbox

pytestmark = pytest.mark.slow

CHECKS = sorted(tools_tests.CHECKS)
STATE = "var/lib/gns3lab"


def _playbooks(read) -> list[str]:  # type: ignore[no-untyped-def]
    return [c.split()[-3] for c in read("../calls") if c.startswith("ansible-playbook")]


def test_a_built_lab_runs_only_the_check_on_a_later_boot(sandbox) -> None:  # type: ignore[no-untyped-def]
    start, read = sandbox
    assert start().returncode == 0
    first = read(f"{STATE}/status")
    assert start().returncode == 0  # the next boot of the built (or captured) lab
    again = read(f"{STATE}/status")[len(first):]
    assert tools_tests._status(again) == ["gns3lab: stage servers done before", *CHECKS,
                                          "gns3lab: stage check ok", "gns3lab: lab ready"]
    assert _playbooks(read) == ["playbooks/servers.yml"]  # Ansible ran once, at the first boot
    assert read(f"{STATE}/bootstrap.done") == ["ok"]
    console = read("dev/console")
    assert console.count("gns3lab: lab ready") == 2
    assert console.count("gns3lab: lab built before: only the check stage runs") == 1


def test_every_stage_and_ready_follow_a_sync_of_every_node(sandbox) -> None:  # type: ignore[no-untyped-def]
    start, read = sandbox
    assert start().returncode == 0
    synced = [c.split()[-2] for c in read("../calls") if c.endswith(" sync")]
    # after the check stage and before "lab ready" every node answers: at least twice each
    for host in ("lab@10.10.0.11", "lab@10.10.0.12", "lab@10.10.0.2"):
        assert synced.count(host) >= 2, synced


def test_a_restored_checkpoint_goes_on_with_the_next_stage(sandbox, tmp_path) -> None:  # type: ignore[no-untyped-def]
    start, read = sandbox
    root = tmp_path / "root"
    (root / STATE / "stages").mkdir(parents=True)
    (root / STATE / "stages" / "servers").touch()  # the disks as the snapshot after 'servers'
    assert start().returncode == 0
    assert tools_tests._status(read(f"{STATE}/status")) == [
        "gns3lab: stage servers done before", *CHECKS, "gns3lab: stage check ok",
        "gns3lab: lab ready"]
    assert _playbooks(read) == []
    assert "gns3lab: lab built before: only the check stage runs" not in read("dev/console")


def test_force_runs_every_stage_again(sandbox) -> None:  # type: ignore[no-untyped-def]
    start, read = sandbox
    assert start().returncode == 0
    assert start("--force").returncode == 0
    assert _playbooks(read) == ["playbooks/servers.yml", "playbooks/servers.yml"]


def test_a_failed_lab_stays_failed_on_a_later_boot(sandbox) -> None:  # type: ignore[no-untyped-def]
    start, read = sandbox
    assert start(STUB_FAIL="playbooks/servers.yml").returncode == 1
    assert start().returncode == 0  # logs that it ran (failed) and does nothing
    assert read(f"{STATE}/status") == ["gns3lab: stage servers failed"]
