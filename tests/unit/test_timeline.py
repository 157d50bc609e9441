"""The timeline of a push (generator/server/timeline.py): boots, cloud-init, stages, lab ready,
from stamped console events and the consoles' transcripts (issue 24)."""

from __future__ import annotations

import json

import pytest

from generator.server.consoles import PushEvent, parse_console_line
from generator.server.timeline import build_timeline, render_text, timeline_json

T0 = 1000.0  # the host's monotonic clock when push started the first node

CI = ("Cloud-init v. 22.4.2 finished at Sun, 06 Dec 2026 20:00:00 +0000. Datasource "
      "DataSourceNoCloud [seed=/dev/sr0][dsmode=net].  Up {up} seconds")

# What the consoles printed, with the host's clock when each line was read.
CONSOLE = [
    (T0 + 62.0, "mgmt", CI.format(up="60.50")),  # mgmt's kernel started at +1.5
    (T0 + 95.0, "srv1", CI.format(up="90.00")),  # srv1's at +5.0
    (T0 + 118.5, "srv2", CI.format(up="110.25")),  # the slowest guest
    (T0 + 130.0, "mgmt", "gns3lab: stage servers ok"),
    (T0 + 133.0, "mgmt", "gns3lab: check srv2 10.10.0.12 ok"),
    (T0 + 133.2, "mgmt", "gns3lab: check mgmt 10.10.0.1 ok"),
    (T0 + 134.0, "mgmt", "gns3lab: stage check ok"),
    (T0 + 134.1, "mgmt", "gns3lab: lab ready"),
]
# Lines that are no event: read off the transcripts (the controller's own uptime clock).
MARKS = ["gns3lab: at 50.00 bootstrap start", "gns3lab: at 50.10 stage servers start",
         "gns3lab: at 95.50 host srv1 up", "gns3lab: at 108.50 host srv2 up",
         "gns3lab: at 128.60 stage check start"]
STAGES = {"controller": "mgmt", "stages": [
    {"name": "servers", "hosts": ["srv1", "srv2"]},
    {"name": "check", "hosts": ["mgmt", "srv1", "srv2"]}]}


def stamped_events() -> list[tuple[float, PushEvent]]:
    events = [(T0 + i * 0.5, PushEvent("started", "started", node))
              for i, node in enumerate(("mgmt", "srv1", "srv2"))]
    for t, node, line in CONSOLE:
        event = parse_console_line(node, line)
        assert event is not None, line
        events.append((t, event))
    return events


def transcripts() -> dict[str, str]:
    text = {node: "" for _, node, _ in CONSOLE}
    for _, node, line in CONSOLE:
        text[node] += f"[  OK  ] noise\n{line}\n"
    text["mgmt"] += "\n".join(MARKS) + "\n"
    return text


@pytest.fixture()
def timeline():  # type: ignore[no-untyped-def]
    return build_timeline(stamped_events(), transcripts(), STAGES)


def test_the_mark_lines_are_no_console_events() -> None:
    """The timeline's extra console lines never look like a stage, check or ready line."""
    assert all(parse_console_line("mgmt", line) is None for line in MARKS)


def test_each_node_boot_cloud_init_and_ssh(timeline) -> None:  # type: ignore[no-untyped-def]
    nodes = {n.node: n for n in timeline.nodes}
    assert [n.node for n in timeline.nodes] == ["mgmt", "srv1", "srv2"]
    assert (nodes["mgmt"].started, nodes["srv1"].started, nodes["srv2"].started) == (0, .5, 1)
    assert nodes["mgmt"].booted == 1.5 and nodes["srv1"].booted == 5.0
    assert nodes["srv2"].booted == 8.2  # 118.5 - 110.25, to a tenth
    assert nodes["srv1"].cloud_init == 95.0 and nodes["srv2"].cloud_init == 118.5
    # the controller's uptime 95.5 is +1.5 + 95.5 on the host's clock
    assert nodes["srv1"].ssh_up == 97.0 and nodes["srv2"].ssh_up == 110.0
    assert nodes["mgmt"].ssh_up is None  # the controller is local: never probed
    assert timeline.bootstrap_start == 51.5 and timeline.controller == "mgmt"


def test_stages_start_end_and_waits(timeline) -> None:  # type: ignore[no-untyped-def]
    servers, check = timeline.stages
    assert (servers.name, servers.start, servers.hosts_up, servers.end, servers.ok) == \
        ("servers", 51.6, 110.0, 130.0, True)
    assert servers.seconds == pytest.approx(78.4) and servers.waiting == pytest.approx(58.4)
    assert (check.start, check.end) == (130.1, 134.0)
    assert check.hosts_up == 130.1  # its hosts were up before it started: no wait
    assert check.waiting == 0


def test_ready_ratio_and_the_orchestration_after_the_guests(timeline) -> None:  # type: ignore[no-untyped-def]
    assert timeline.ready == 134.1 and timeline.guests_ready == 118.5
    assert timeline.ratio == pytest.approx(134.1 / 118.5)
    # 15.6 s after the slowest guest: 11.5 of stage servers, 3.9 of check, 0.2 else
    assert timeline.after_guests() == {"stage servers": 11.5, "stage check": 3.9, "other": 0.2}


def test_json_is_plain_data_with_shares(timeline) -> None:  # type: ignore[no-untyped-def]
    doc = json.loads(json.dumps(timeline_json(timeline)))
    assert doc["ready"] == 134.1 and doc["ratio_ready_vs_guests"] == round(134.1 / 118.5, 3)
    assert doc["nodes"]["srv2"] == {"started": 1.0, "booted": 8.2, "ssh_up": 110.0,
                                    "cloud_init": 118.5, "share": 88.4}
    assert [(s["name"], s["seconds"], s["share"]) for s in doc["stages"]] == [
        ("servers", 78.4, 58.5), ("check", 3.9, 2.9)]
    assert doc["after_guests"] == {"seconds": 15.6, "parts": {
        "stage servers": 11.5, "stage check": 3.9, "other": 0.2}}


def test_text_table(timeline) -> None:  # type: ignore[no-untyped-def]
    text = render_text(timeline)
    lines = text.splitlines()
    assert lines[0] == "timeline (seconds from the first node's start)"
    assert lines[1].split() == ["node", "started", "booted", "ssh", "up", "cloud-init", "share"]
    assert lines[4].split() == ["srv2", "1.0", "8.2", "110.0", "118.5", "88%"]
    assert lines[6].split() == ["(bootstrap)", "51.5"]
    assert lines[7].split() == ["servers", "51.6", "110.0", "130.0", "78.4", "58%"]
    assert lines[-2] == "lab ready at 134.1 s"
    assert lines[-1] == ("slowest guest's cloud-init finished at 118.5 s: lab ready 1.13x that, "
                         "15.6 s after (stage servers 11.5 s, stage check 3.9 s, other 0.2 s)")


def test_a_failed_lab_and_no_marks() -> None:
    """Without the controller's cloud-init line its marks cannot be placed: a stage then
    starts when the one before it ended, the first one unknown; no ready, no ratio."""
    events = [(T0, PushEvent("started", "started", "mgmt")),
              (T0 + 40, PushEvent("stage", "stage a ok", "mgmt", True, ("a",))),
              (T0 + 70, PushEvent("stage", "stage b failed", "mgmt", False, ("b",)))]
    tl = build_timeline(events, {"mgmt": "\n".join(MARKS)}, None)
    assert [(s.name, s.start, s.end, s.ok) for s in tl.stages] == [
        ("a", None, 40, True), ("b", 40, 70, False)]
    assert tl.ready is None and tl.ratio is None and tl.after_guests() == {}
    text = render_text(tl)
    assert "FAILED" in text.splitlines()[-2] and text.endswith("lab ready: not seen\n")
    assert build_timeline([], {}, None).stages == ()


def checkpointed() -> tuple[list[tuple[float, PushEvent]], dict[str, str]]:
    """The same lab captured with --checkpoints: after 'servers' the guests rest, GNS3
    snapshots them and they boot again; the controller's second boot prints its own
    'bootstrap start', cloud-init line (Up 65 s, seen at +220: that boot's uptime 0 is +155)
    and 'stage check start' at its uptime 60 (+215)."""
    first = [(t, n, line) for t, n, line in CONSOLE if "check" not in line and "ready" not in line]
    events = [(T0 + i * 0.5, PushEvent("started", "started", node))
              for i, node in enumerate(("mgmt", "srv1", "srv2"))]
    for t, node, line in first:
        events.append((t, parse_console_line(node, line)))  # type: ignore[arg-type]
    events += [(T0 + 130.5, PushEvent("stopped", "checkpoint after stage servers: pausing and "
                                      "powering off the guests", args=("checkpoint", "servers"))),
               (T0 + 150.0, PushEvent("stopped", "snapshot 'servers' taken; starting the lab "
                                      "again", args=("restart", "servers")))]
    second = [(T0 + 220.0, "mgmt", CI.format(up="65.00")),
              (T0 + 222.0, "mgmt", "gns3lab: stage check ok"),
              (T0 + 222.2, "mgmt", "gns3lab: lab ready")]
    for t, node, line in second:
        events.append((t, parse_console_line(node, line)))  # type: ignore[arg-type]
    text = {node: "".join(f"{line}\n" for _, n, line in first if n == node)
            for node in ("mgmt", "srv1", "srv2")}
    text["mgmt"] = (f"{CI.format(up='60.50')}\n" + "\n".join(MARKS[:4]) + "\n"
                    "gns3lab: stage servers ok\n[  OK  ] Reached target Power-Off.\n"
                    "gns3lab: at 50.00 bootstrap start\n"
                    "gns3lab: stage servers done before\n"
                    f"{CI.format(up='65.00')}\n"
                    "gns3lab: at 60.00 stage check start\n"
                    "gns3lab: stage check ok\ngns3lab: lab ready\n")
    return events, text


def test_a_checkpoint_is_its_own_part_and_the_next_boot_has_its_own_clock() -> None:
    """capture --checkpoints: the second boot's marks are placed on that boot's clock (they
    were placed on the first boot's, so 'check' started before 'servers' ended), and the
    checkpoint (servers' end to check's start) is left out of the ratio."""
    events, text = checkpointed()
    tl = build_timeline(events, text, STAGES)
    starts = {s.name: (s.start, s.end) for s in tl.stages}
    assert starts == {"servers": (50.1 + 1.5, 130.0), "check": (215.0, 222.0)}
    assert [(c.after, c.start, c.end) for c in tl.checkpoints] == [("servers", 130.0, 215.0)]
    assert tl.paused == 85.0 and tl.ready == 222.2
    assert tl.ratio == pytest.approx((222.2 - 85.0) / 118.5)
    assert tl.after_guests() == {"stage servers": 11.5, "checkpoints": 85.0,
                                 "stage check": 7.0, "other": 0.2}
    assert tl.bootstrap_start == 51.5  # the first boot's
    assert {n.node: n.booted for n in tl.nodes}["mgmt"] == 1.5  # the first boot's kernel
    data = timeline_json(tl)
    assert data["checkpoints"] == [{"after": "servers", "start": 130.0, "end": 215.0,
                                    "seconds": 85.0}]
    assert "(checkpoint)" in render_text(tl) and "85.0 s of it in checkpoints" in render_text(tl)


def test_a_later_boot_without_its_cloud_init_line_is_placed_by_the_restart() -> None:
    """The real demo's second boot: the controller said 'lab ready' before its cloud-init line
    came, so the wait ended without it; its marks go through the checkpoint's restart (+150:
    'stage check start' at uptime 60 is +210), not dropped (the stage's start then fell back
    to the previous stage's end and the checkpoint disappeared into the check stage)."""
    events, text = checkpointed()
    events = [(t, e) for t, e in events if not (e.kind == "cloud-init" and t > T0 + 200)]
    tl = build_timeline(events, text, STAGES)
    assert {s.name: s.start for s in tl.stages} == {"servers": 51.6, "check": 210.0}
    assert [(c.after, c.start, c.end) for c in tl.checkpoints] == [("servers", 130.0, 210.0)]
    assert tl.ratio == pytest.approx((222.2 - 80.0) / 118.5)


def test_without_the_first_cloud_init_line_no_boot_is_placed_by_a_restart() -> None:
    """No clock for the first boot (its cloud-init line never seen): its marks are not put on
    the restart's clock, which is the second boot's."""
    events, text = checkpointed()
    events = [(t, e) for t, e in events if not (e.kind == "cloud-init" and e.node == "mgmt")]
    tl = build_timeline(events, text, STAGES)
    assert tl.bootstrap_start is None
    assert {s.name: s.start for s in tl.stages} == {"servers": None, "check": 130.0}
