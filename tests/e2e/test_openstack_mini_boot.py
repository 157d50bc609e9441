"""The small OpenStack lab pushed to GNS3, booted and built by its controller (split from
tests/unit/test_openstack_mini.py)."""

from __future__ import annotations

import os
import re
import time

import pytest

from generator.build import BuildOptions, build_lab
from generator.server.push import push_archive
from tests.e2e.timing import Stamped, record_timeline
from tests.helpers import judging_pushed_lab, link_image
from tests.support.readback import launches
from tests.unit.test_openstack_mini import (
    BLUEPRINT,
    HOST_NUMBERS,
    PLANNED,
    STAGES,
    STALL,
    WAIT,
)

pytestmark = [pytest.mark.slow, pytest.mark.boot]


@pytest.mark.slow
@pytest.mark.boot
def test_mini_lab_builds_itself(lab_image, gns3_server_22,  # type: ignore[no-untyped-def]
                                tmp_path_factory: pytest.TempPathFactory) -> None:
    started = time.monotonic()
    messages: list[str] = []
    result = build_lab(BLUEPRINT, BuildOptions(out_dir=tmp_path_factory.mktemp("dist"),
                                               images_dirs=(lab_image.path.parent,)),
                       messages.append)
    assert launches(messages) == 1  # every overlay injected in one launch
    assert set(result.injected) == set(PLANNED)
    built = time.monotonic()
    link_image(lab_image.path, gns3_server_22.images_dir)
    events = Stamped()
    load = os.getloadavg()
    push = push_archive(result.archive, gns3_server_22.url, start=True, wait=True, stall=STALL,
                        timeout=WAIT, progress=events)
    done = time.monotonic()
    timeline = record_timeline("openstack-mini", push, events, done - built, load)
    controller = push.transcripts.get("mgmt01", "")
    lines = [ln.strip() for ln in controller.splitlines() if "gns3lab" in ln]
    print(f"\nbuild {built - started:.0f} s, push and wait {done - built:.0f} s")
    print("\n".join(f"  {event}" for _, event in events if event.kind != "console"))
    print("\n".join(f"  {ln}" for ln in lines if ln.startswith("gns3lab-mini:")))
    with judging_pushed_lab(gns3_server_22, push, "e2e-openstack-mini"):
        assert push.ready, f"lab not ready: {push.failure}"
        assert push.stages == [(name, True) for name in STAGES]
        assert {c.node: (c.address, c.ok) for c in push.checks} == {
            name: (address, True) for name, address in PLANNED.items()}
        for leaf in ("leaf01", "leaf02"):
            assert f"gns3lab-mini: oob {leaf} eth0 {PLANNED[leaf]} leased from " \
                   f"{PLANNED['mgmt01']}" in lines
            assert f"gns3lab-mini: fabric {leaf} br0 vlans 10,20 on eth1,eth2,eth3,eth4" in lines
        for server in HOST_NUMBERS:
            other = next(h for s, h in HOST_NUMBERS.items() if s != server)
            line = next(ln for ln in lines
                        if ln.startswith(f"gns3lab-mini: servers-ready {server} "))
            assert re.fullmatch(
                rf"gns3lab-mini: servers-ready {server} bond0 802\.3ad eth1\+eth2 up, LACP partner "
                rf"none; traffic on (eth[12]), then on (?!\1)eth[12] after \1 went down; "
                rf"br-mgmt reaches 172\.29\.236\.{other},172\.29\.236\.1; "
                rf"br-storage reaches 172\.29\.244\.{other}", line), line
        assert not [ln for ln in lines if ln.startswith("gns3lab-mini:") and "FAILED" in ln]
        assert "gns3lab: lab ready" in lines
        assert [s["name"] for s in timeline["stages"]] == STAGES
        assert done - started < WAIT
