"""``push`` grown up: nodes start in the order the controller's stages imply, the live display,
and ``stop``/``delete`` of a pushed lab, against real gns3-server 2.2.61 and 3.0.6.

The order the server saw is read from the server's own log ("Starting QEMU with: … -name X"),
written as each node's QEMU is launched; push starts one node at a time.
"""

from __future__ import annotations

import io
import re

from rich.console import Console

from generator.server.consoles import PushEvent
from generator.server.push import start_order
from generator.server.pushview import PushDisplay

#: Blueprint order b1, a1, ctl, x1; stages: first (a1), second (b1), then check (all managed).
BLUEPRINT = """\
name: {name}
networks:
  lab: {{cidr: 10.30.0.0/24}}
defaults: {{appliance: Tiny Push Guest, ram: 64}}
nodes:
  b1: {{interfaces: {{eth0: {{network: lab, address: 12}}}}}}
  a1: {{interfaces: {{eth0: {{network: lab, address: 11}}}}}}
  ctl: {{interfaces: {{eth0: {{network: lab, address: 1}}}}}}
  x1: {{}}
links:
  - ctl:eth0 -- a1:eth0
controller:
  node: ctl
  dhcp: [lab]
  stages:
    - {{name: first, hosts: [a1]}}
    - {{name: second, hosts: [b1]}}
"""
EXPECTED = ["ctl", "a1", "b1", "x1"]
_QEMU_START = re.compile(r"Starting QEMU with: .*?-name'?,? '?([\w.-]+)")


def test_start_order_follows_the_stages() -> None:
    stages = {"controller": "ctl", "stages": [{"name": "first", "hosts": ["a1"]},
                                              {"name": "second", "hosts": ["b1", "a1"]},
                                              {"name": "check", "hosts": ["b1", "a1", "ctl"]}]}
    assert start_order(["b1", "a1", "ctl", "x1", "x0"], stages) == ["ctl", "a1", "b1", "x1",
                                                                    "x0"]
    assert start_order(["b", "a"], None) == ["b", "a"]  # no stages: project order


def test_display_plain_lines_when_not_a_terminal() -> None:
    out = io.StringIO()
    with PushDisplay(out) as display:
        display(PushEvent("imported", "imported as 'lab'"))
        display(PushEvent("started", "started", "r1"))
    assert out.getvalue().splitlines() == ["imported as 'lab'", "r1: started"]


def test_display_live_table_per_node() -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=120, color_system=None)
    with PushDisplay(out, live=True, console=console) as display:
        display(PushEvent("opened", "opened on local", "ctl", args=("local",)))
        display(PushEvent("opened", "opened on remote1", "web1", args=("remote1",)))
        display(PushEvent("started", "started", "ctl"))
        display(PushEvent("cloud-init", "cloud-init 22.4.2 finished", "ctl"))
        display(PushEvent("stage", "stage base ok", "ctl", True, ("base",)))
        display(PushEvent("stage", "stage web failed", "ctl", False, ("web",)))
        display(PushEvent("images", "base image x.qcow2 on local: md5 1 matches the archive"))
    assert display.rows() == [
        {"node": "ctl", "compute": "local", "opened": "yes", "started": "yes",
         "cloud-init": "finished", "stages": "base ok, web FAILED"},
        {"node": "web1", "compute": "remote1", "opened": "yes", "started": "", "cloud-init": "",
         "stages": ""}]
    text = out.getvalue()
    assert "\x1b[" in text  # drawn live (cursor moves), not printed line by line
    last = text[text.rindex("gns3lab push"):]
    for cell in ("ctl", "web1", "remote1", "finished", "base ok, web FAILED",
                 "md5 1 matches the archive"):
        assert cell in last, cell
