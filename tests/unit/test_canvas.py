"""The canvas a network engineer reads first: layout, port labels, symbols and notes, measured
on the project.gns3 that ``gns3lab build --no-images`` writes (generator.resolve.canvas_quality).

The project is rendered here as the build renders it (``dump_project(render_project(lab))``), so
no qemu-img or ssh-keygen runs; tests/integration/test_canvas_build.py checks that the built
archives hold exactly these bytes."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from generator.build import load_lab
from generator.render.project import dump_project, render_project
from generator.resolve.canvas import CONTROLLER_SYMBOL, place_nodes, symbol_for, tier_of
from generator.resolve.canvas_quality import (
    Box,
    CanvasQuality,
    font_px,
    label_boxes,
    measure_canvas,
    name_boxes,
    port_markers,
    segment_hits_box,
    symbol_size,
    text_size,
)
from generator.resolve.canvas_scene import place_canvas
from tests.helpers import BLUEPRINTS, DATA, REPO, make_tiny_appliance

BUNDLED = ["demo", "openstack-ceph", "openstack-ceph-mini"]
TEST_LABS = sorted(p.name for p in BLUEPRINTS.iterdir() if (p / "lab.yaml").exists())
LABS = [f"blueprints/{n}" for n in BUNDLED] + [f"tests/data/blueprints/{n}" for n in TEST_LABS]
SERVER = ":/symbols/classic/server.svg"


@pytest.fixture(scope="module")
def appliances(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("canvas-images")
    make_tiny_appliance(folder, "gns3lab Debian 12", "gns3lab-debian-12-canvas.qcow2")
    return folder


@pytest.fixture(scope="module")
def results(appliances: Path) -> dict[str, Any]:
    """The resolved model of every lab, as ``gns3lab build --no-images`` resolves it."""
    return {lab: load_lab(REPO / lab, (appliances,)) for lab in LABS}


def built_project(lab: Any) -> dict[str, Any]:
    """project.gns3 of a resolved lab, rendered and serialised as the build writes it."""
    return json.loads(dump_project(render_project(lab)))


@pytest.fixture(scope="module")
def built(results: dict[str, Any]) -> dict[str, Any]:
    """project.gns3 of every lab, as ``gns3lab build --no-images`` writes it."""
    return {lab: built_project(result) for lab, result in results.items()}


def centres(project: dict[str, Any]) -> dict[str, tuple[float, float]]:
    out = {}
    for n in project["topology"]["nodes"]:
        w, h = symbol_size(n["symbol"])
        out[n["name"]] = (n["x"] + w / 2, n["y"] + h / 2)
    return out


def link_ends(project: dict[str, Any]) -> list[tuple[str, str]]:
    names = {n["node_id"]: n["name"] for n in project["topology"]["nodes"]}
    return [(names[lk["nodes"][0]["node_id"]], names[lk["nodes"][1]["node_id"]])
            for lk in project["topology"]["links"]]


# -- the must-show figures ----------------------------------------------------------------
@pytest.mark.parametrize("lab", LABS)
def test_no_link_under_a_third_icon_and_no_label_collision(lab: str, built: dict) -> None:
    quality = measure_canvas(built[lab])
    assert quality.links_under_icons == ()
    assert quality.label_collisions == ()
    assert quality.links == len(built[lab]["topology"]["links"])


@pytest.mark.parametrize("lab", [f"blueprints/{n}" for n in BUNDLED])
def test_bundled_links_are_long_enough_for_the_web_ui_to_name_their_ports(
        lab: str, built: dict) -> None:
    assert measure_canvas(built[lab]).short_links == ()


# -- what the desktop GUI draws (tests/integration/test_desktop_gui.py checks it in gns3-gui) --
def _gui_boxes(project: dict[str, Any]) -> dict[str, Any]:
    """Scene boxes as gns3-gui draws them: icons, names, port labels, port markers, notes."""
    nodes = {n["node_id"]: n for n in project["topology"]["nodes"]}
    icons, names, ports, markers, lines = {}, {}, [], [], []
    for n in nodes.values():
        w, h = symbol_size(n["symbol"])
        icons[n["name"]] = Box(n["x"], n["y"], n["x"] + w, n["y"] + h)
        label = n["label"]
        names[n["name"]] = label_boxes(n["x"] + label["x"], n["y"] + label["y"], n["name"],
                                       font_px(label["style"]))["gui"]
    pairs: dict[frozenset, int] = {}
    for link in project["topology"]["links"]:
        ends = [nodes[e["node_id"]] for e in link["nodes"]]
        pairs[frozenset(e["name"] for e in ends)] = pairs.get(
            frozenset(e["name"] for e in ends), 0) + 1
        for end, node in zip(link["nodes"], ends, strict=True):
            label = end["label"]
            ports.append((f"{node['name']}:{label['text']}", label_boxes(
                node["x"] + label["x"], node["y"] + label["y"], label["text"],
                font_px(label["style"]))["gui"]))
        lines.append(tuple(icons[e["name"]].centre for e in ends))
    for pair, count in pairs.items():
        a, b = sorted(pair)
        for here, there in ((a, b), (b, a)):
            markers += port_markers(icons[here].centre, icons[there].centre, icons[here], count)
    notes = []
    for d in project["topology"]["drawings"]:
        w = int(d["svg"].split('width="')[1].split('"')[0])
        h = int(d["svg"].split('height="')[1].split('"')[0])
        notes.append(Box(d["x"], d["y"], d["x"] + w, d["y"] + h))
    return {"icons": icons, "names": names, "ports": ports, "markers": markers,
            "lines": lines, "notes": notes}


@pytest.mark.parametrize("lab", LABS)
def test_the_scene_holds_everything_the_layout_places(lab: str, built: dict) -> None:
    project = built[lab]
    boxes = _gui_boxes(project)
    half_w, half_h = project["scene_width"] / 2, project["scene_height"] / 2
    every = [*boxes["icons"].values(), *boxes["names"].values(),
             *(b for _, b in boxes["ports"]), *boxes["markers"], *boxes["notes"]]
    assert all(-half_w + 50 <= b.x0 and b.x1 <= half_w - 50 and -half_h + 50 <= b.y0
               and b.y1 <= half_h - 50 for b in every)


@pytest.mark.parametrize("lab", LABS)
def test_names_sit_where_no_link_or_port_marker_is(lab: str, built: dict) -> None:
    boxes = _gui_boxes(built[lab])
    crossed = [(name, p, q) for name, box in boxes["names"].items()
               for p, q in boxes["lines"] if segment_hits_box(p, q, box)]
    assert crossed == []
    assert [n for n, box in boxes["names"].items()
            if any(box.overlaps(m) for m in boxes["markers"])] == []


@pytest.mark.parametrize("lab", LABS)
def test_no_port_label_on_a_port_marker(lab: str, built: dict) -> None:
    boxes = _gui_boxes(built[lab])
    assert [p for p, box in boxes["ports"] if any(box.overlaps(m) for m in boxes["markers"])] \
        == []


def test_text_is_measured_in_the_wider_fallback_font() -> None:
    """DejaVu Sans Bold (the GUI's fallback for Noto Sans) is wider: "swp45" at 12 px."""
    assert text_size("swp45", 12)[0] >= 43.5


def test_the_gui_port_marker_leaves_the_symbol() -> None:
    icon = Box(0, 0, 72, 32)  # ethernet_switch.svg, centre (36, 16)
    (marker,) = port_markers((36, 16), (36, 300), icon)
    assert marker.centre == (36.0, 16.0 + 40)  # 40 px out is already off the symbol
    (across,) = port_markers((36, 16), (400, 16), icon)
    assert across.centre == (36.0 + 40, 16.0)
    assert port_markers((36, 16), (36, 100), icon) == []  # under 100 px: none drawn
    assert len(port_markers((36, 16), (36, 300), icon, 3)) == 3


# -- the measure itself ---------------------------------------------------------------------
def _node(name: str, x: int, y: int, symbol: str = SERVER) -> dict[str, Any]:
    return {"name": name, "node_id": name, "x": x, "y": y, "symbol": symbol,
            "label": {"text": name, "x": None, "y": -25, "rotation": 0,
                      "style": "font-family: Noto Sans;font-size: 10.0;font-weight: bold;"}}


def _link(lid: str, a: str, b: str, la: tuple[str, int, int], lb: tuple[str, int, int]
          ) -> dict[str, Any]:
    style = "font-family: Noto Sans;font-size: 9.0;font-weight: bold;"
    return {"link_id": lid, "nodes": [
        {"node_id": a, "adapter_number": 0, "port_number": 0,
         "label": {"text": la[0], "x": la[1], "y": la[2], "style": style, "rotation": 0}},
        {"node_id": b, "adapter_number": 1, "port_number": 0,
         "label": {"text": lb[0], "x": lb[1], "y": lb[2], "style": style, "rotation": 0}}]}


def test_the_measure_finds_what_the_old_layout_did() -> None:
    """mgmt01, spine02 and leaf02 in one column; two labels on one spot; crossing links."""
    project = {"topology": {"drawings": [], "nodes": [
        _node("mgmt01", 0, 0), _node("spine02", 0, 170), _node("leaf02", 0, 340),
        _node("a", -200, 600), _node("b", 200, 600), _node("c", -200, 800),
        _node("d", 200, 800)], "links": [
        _link("l1", "mgmt01", "leaf02", ("eth4", 20, 80), ("swp40", 20, -40)),
        _link("l2", "leaf02", "a", ("swp1", 63, 8), ("eth1", 20, -40)),
        _link("l3", "leaf02", "a", ("swp21", 63, 8), ("eth2", 60, -40)),
        _link("l4", "a", "d", ("eth3", 40, 60), ("eth3", -40, -20)),
        _link("l5", "b", "c", ("eth3", -40, 60), ("eth3", 60, -20))]}}
    quality = measure_canvas(project)
    assert quality.links_under_icons == (("mgmt01:eth4 -- leaf02:swp40", "spine02"),)
    assert ("leaf02:swp1", "leaf02:swp21", "gui") in quality.label_collisions
    assert ("leaf02:swp1", "leaf02:swp21", "web") in quality.label_collisions
    assert quality.crossings == 1
    assert not quality.readable
    assert "1 links under a third icon" in quality.summary()
    assert isinstance(quality, CanvasQuality)


def test_label_boxes_are_boxes_not_points() -> None:
    """Labels 5 px apart still collide; a port label over its node's name ("seeth11") too."""
    near = label_boxes(0, 0, "swp1", 12)
    far = label_boxes(5, 3, "swp21", 12)
    assert near["gui"].overlaps(far["gui"]) and near["web"].overlaps(far["web"])
    name = name_boxes(0, 0, SERVER, {"text": "server1", "x": None, "y": -25})
    over = label_boxes(10, -22, "eth1", 12)
    assert over["gui"].overlaps(name["gui"])


def test_a_hand_written_project_can_be_measured() -> None:
    project = json.loads((DATA / "minimal-handwritten-rev9.gns3").read_text())
    quality = measure_canvas(project)
    assert quality.nodes == len(project["topology"]["nodes"])


# -- layout ---------------------------------------------------------------------------------
def test_tiers_follow_the_topology(built: dict) -> None:
    at = centres(built["blueprints/openstack-ceph"])
    servers = ["infra1", "infra2", "infra3", "log1", "compute1", "compute2", "osd1", "osd2",
               "osd3"]
    row = {round(at[s][1]) for s in servers}
    assert len(row) == 1
    assert at["mgmt01"][1] < at["spine01"][1] == at["spine02"][1] < at["leaf01"][1] \
        == at["leaf02"][1] < row.pop() < at["swmgmt"][1], "controller, spines, leaves, " \
                                                          "servers, then the OOB switch"
    # NAT and cloud beside the controller, one each side, and nothing between them and it
    assert at["nat1"][0] < at["mgmt01"][0] < at["cloud1"][0]
    assert abs(at["nat1"][1] - at["mgmt01"][1]) <= 1 and abs(at["cloud1"][1] - at["mgmt01"][1]) <= 1
    # the leaves spread over their servers' span
    xs = sorted(at[s][0] for s in servers)
    assert at["leaf02"][0] - at["leaf01"][0] >= (xs[-1] - xs[0]) / 3
    assert xs[0] < at["leaf01"][0] < at["leaf02"][0] < xs[-1]


def test_rows_leave_room_for_labels(built: dict) -> None:
    for lab in BUNDLED:
        ys = sorted({round(y) for _, y in centres(built[f"blueprints/{lab}"]).values()})
        assert all(b - a >= 220 for a, b in zip(ys, ys[1:], strict=False)), lab


@pytest.mark.parametrize("lab", ["openstack-ceph", "openstack-ceph-mini"])
def test_bond_members_are_visibly_separate_links(lab: str, built: dict) -> None:
    """Each server's uplinks to the two leaves leave it at clearly different angles."""
    project = built[f"blueprints/{lab}"]
    at = centres(project)
    for a, b in link_ends(project):
        if not b.startswith("leaf01"):
            continue
        here, one, two = at[a], at["leaf01"], at["leaf02"]
        angle = abs(math.atan2(one[1] - here[1], one[0] - here[0])
                    - math.atan2(two[1] - here[1], two[0] - here[0]))
        assert math.degrees(angle) >= 15, a


def test_layout_is_deterministic_and_idempotent(appliances: Path) -> None:
    lab = load_lab(REPO / "blueprints" / "openstack-ceph", (appliances,))
    assert render_project(lab) == render_project(load_lab(REPO / "blueprints" /
                                                          "openstack-ceph", (appliances,)))
    once = place_nodes(lab.nodes, lab.links)
    assert place_nodes(once, lab.links) == once
    assert place_canvas(lab) == lab  # resolve placed it once, with the links


def test_position_overrides_one_node(tmp_path: Path, appliances: Path) -> None:
    folder = tmp_path / "bp"
    folder.mkdir()
    text = (REPO / "blueprints" / "openstack-ceph-mini" / "lab.yaml").read_text()
    text = text.replace("  infra1: {group: [infra, servers]}",
                        "  infra1: {group: [infra, servers], position: {x: -900, y: 400}}")
    (folder / "lab.yaml").write_text(text)
    project = render_project(load_lab(folder, (appliances,)))
    nodes = {n["name"]: n for n in project["topology"]["nodes"]}
    assert (nodes["infra1"]["x"], nodes["infra1"]["y"]) == (-900, 400)
    assert measure_canvas(project).label_collisions == ()


# -- port labels ----------------------------------------------------------------------------
@pytest.mark.parametrize("lab", LABS)
def test_port_labels_sit_along_their_link_near_their_own_end(lab: str, built: dict) -> None:
    project = built[lab]
    at = centres(project)
    names = {n["node_id"]: n for n in project["topology"]["nodes"]}
    for link in project["topology"]["links"]:
        for me, other in ((0, 1), (1, 0)):
            end, far = link["nodes"][me], link["nodes"][other]
            node, peer = names[end["node_id"]], names[far["node_id"]]
            label = end["label"]
            assert label["text"] and label["x"] is not None
            box = label_boxes(node["x"] + label["x"], node["y"] + label["y"], label["text"],
                              12)["gui"]
            centre = box.centre
            here, there = at[node["name"]], at[peer["name"]]
            assert math.dist(centre, here) < math.dist(centre, there), label
            # beside the line: no further from it than half the label plus a few px
            length = math.dist(here, there)
            off = abs((there[0] - here[0]) * (here[1] - centre[1])
                      - (here[0] - centre[0]) * (there[1] - here[1])) / length
            assert off <= math.hypot(box.x1 - box.x0, box.y1 - box.y0) / 2 + 6, label


# -- symbols and notes ----------------------------------------------------------------------
def test_symbols_by_role() -> None:
    classic = ":/symbols/classic/"
    assert symbol_for("server", False, None, None, SERVER) == SERVER
    assert symbol_for("leaf", False, None, classic + "multilayer_switch.svg", SERVER) \
        == classic + "multilayer_switch.svg"
    assert symbol_for("oob", False, None, classic + "multilayer_switch.svg", SERVER) \
        == classic + "ethernet_switch.svg"
    assert symbol_for("server", True, None, None, SERVER) == CONTROLLER_SYMBOL
    assert symbol_for("oob", True, ":/symbols/mine.svg", None, SERVER) == ":/symbols/mine.svg"
    assert symbol_for("server", False, None, classic + "router.svg", SERVER) \
        == classic + "router.svg"


def test_built_projects_use_role_symbols(built: dict) -> None:
    symbols = {n["name"]: n["symbol"].rsplit("/", 1)[-1]
               for n in built["blueprints/openstack-ceph"]["topology"]["nodes"]}
    assert {symbols[n] for n in ("infra1", "log1", "compute1", "osd1")} == {"server.svg"}
    assert {symbols[n] for n in ("spine01", "leaf02")} == {"multilayer_switch.svg"}
    assert symbols["swmgmt"] == "ethernet_switch.svg"
    assert symbols["mgmt01"] == CONTROLLER_SYMBOL.rsplit("/", 1)[-1]
    demo = {n["name"]: n["symbol"].rsplit("/", 1)[-1]
            for n in built["blueprints/demo"]["topology"]["nodes"]}
    assert demo == {"mgmt": "computer.svg", "switch": "ethernet_switch.svg",
                    "srv1": "server.svg", "srv2": "server.svg"}


@pytest.mark.parametrize("lab", LABS)
def test_notes_and_labels_use_a_font_the_clients_have(lab: str, built: dict) -> None:
    text = json.dumps(built[lab])
    assert "TypeWriter" not in text
    drawings = built[lab]["topology"]["drawings"]
    assert all('font-family="Noto Sans"' in d["svg"] for d in drawings)


def test_title_names_the_lab_and_its_version_centred(results: dict) -> None:
    lab = place_canvas(replace(results["blueprints/openstack-ceph"], version="2.1"))
    project = render_project(lab)
    title = next(d for d in project["topology"]["drawings"] if ">openstack-ceph" in d["svg"])
    assert ">openstack-ceph v2.1<" in title["svg"]
    width = int(title["svg"].split('width="')[1].split('"')[0]) - 10
    nodes = project["topology"]["nodes"]
    left = min(n["x"] for n in nodes)
    right = max(n["x"] + symbol_size(n["symbol"])[0] for n in nodes)
    assert abs(title["x"] + width / 2 - (left + right) / 2) <= 6
    assert title["y"] < min(n["y"] for n in nodes) - 40
    legend = next(d for d in project["topology"]["drawings"] if d is not title)
    assert "controller: mgmt01" in legend["svg"] and "oob: swmgmt" in legend["svg"]
    assert legend["x"] + int(legend["svg"].split('width="')[1].split('"')[0]) < left
    unversioned = render_project(place_canvas(replace(lab, version="")))[
        "topology"]["drawings"]
    assert any(">openstack-ceph<" in d["svg"] for d in unversioned)


def test_tier_of_puts_the_oob_switch_below_the_servers(appliances: Path) -> None:
    lab = load_lab(REPO / "blueprints" / "openstack-ceph", (appliances,))
    tiers = {n.name: tier_of(n) for n in lab.nodes}
    assert tiers["mgmt01"] == tiers["nat1"] < tiers["spine01"] < tiers["leaf01"] \
        < tiers["infra1"] < tiers["swmgmt"]
