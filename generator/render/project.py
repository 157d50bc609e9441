"""The lab model -> ``project.gns3`` as data (pure).

Revision 9 in the GNS3 2.2 dialect, which 2.2 opens as is and 3.x upgrades on load. Only keys
that GNS3 itself writes when it saves a project appear (2.2 rejects any other key, and some
allowed keys crash its loader: see the formats spec, section 8).
"""

from __future__ import annotations

import json
import math
from html import escape
from typing import Any

from generator.model import Lab, Link, Node
from generator.naming import derive_id
from generator.render.canvas import place_nodes, tier_of
from generator.render.canvas_labels import (
    NAME_STYLE,
    PORT_STYLE,
    place_labels,
    place_names,
)
from generator.render.canvas_quality import font_px, label_boxes, symbol_size, text_size

REVISION = 9
VERSION = "2.2.59"
LABEL_STYLE = PORT_STYLE
NODE_LABEL_STYLE = NAME_STYLE
DISK_SLOTS = ("hda", "hdb", "hdc", "hdd")
#: Notes use Noto Sans: both GNS3 web UIs bundle it, and it is their own default for notes.
NOTE_FONT = "Noto Sans"
TITLE_PT, LEGEND_PT = 16, 9  # the least sizes; larger labs get larger notes
LEGEND_WIDTH = 64  # characters per legend line
#: The desktop GUI's canvas in a 1600 x 1000 window (a little under what gns3-gui 2.2 shows):
#: at View > Fit in view, the notes must keep these heights on screen (px).
FIT_VIEW = (1200, 650)
TITLE_PX, LEGEND_PX = 13.0, 9.0
LINE_EM = 1.164  # the GUI's line height per em in DejaVu Sans, its fallback for Noto Sans
SCENE_MARGIN = 100  # px around everything the layout places
SCENE_MIN = (2000, 1000)  # GNS3's own default scene


def render_project(lab: Lab) -> dict[str, Any]:
    """The whole project file as a dict."""
    placed = place_nodes(lab.nodes, lab.links)  # again with the links: idempotent
    nodes = {n.name: n for n in placed}
    names = place_names(placed, lab.links)
    labels = place_labels(placed, lab.links, names)
    links = [render_link(link, nodes, labels) for link in lab.links]
    rendered = [render_node(node, names[node.name]) for node in placed]
    drawings = render_notes(lab, placed)
    width, height = scene_size(rendered, links, drawings)
    return {
        "auto_close": True,
        "auto_open": False,
        "auto_start": False,
        "drawing_grid_size": 25,
        "grid_size": 75,
        "name": f"{lab.name}-{lab.version}" if lab.version else lab.name,  # as the archive
        "project_id": lab.project_id,
        "revision": REVISION,
        "scene_height": height,
        "scene_width": width,
        "show_grid": False,
        "show_interface_labels": True,
        "show_layers": False,
        "snap_to_grid": False,
        "supplier": None,
        "topology": {
            "computes": [],
            "drawings": drawings,
            "links": links,
            "nodes": rendered,
        },
        "type": "topology",
        # GNS3 shows project variables in the project's properties
        "variables": [{"name": "lab_version", "value": lab.version}] if lab.version else None,
        "version": VERSION,
        "zoom": 100,
    }


def dump_project(project: dict[str, Any]) -> bytes:
    """Serialise as GNS3 does: indent 4, sorted keys, UTF-8."""
    return (json.dumps(project, indent=4, sort_keys=True, ensure_ascii=False) + "\n").encode()


def scene_size(nodes: list[dict[str, Any]], links: list[dict[str, Any]],
               drawings: list[dict[str, Any]]) -> tuple[int, int]:
    """(width, height) of a scene, centred on 0 as GNS3 centres it, that holds every symbol,
    name, port label and note with SCENE_MARGIN to spare (else the GUI cannot scroll to them)."""
    boxes = []
    at = {n["node_id"]: n for n in nodes}
    for n in nodes:
        w, h = symbol_size(n["symbol"])
        boxes.append((n["x"], n["y"], n["x"] + w, n["y"] + h))
        label = n["label"]
        boxes += [(b.x0, b.y0, b.x1, b.y1) for b in label_boxes(
            n["x"] + label["x"], n["y"] + label["y"], label["text"],
            font_px(label["style"])).values()]
    for link in links:
        for end in link["nodes"]:
            n, label = at[end["node_id"]], end["label"]
            boxes += [(b.x0, b.y0, b.x1, b.y1) for b in label_boxes(
                n["x"] + label["x"], n["y"] + label["y"], label["text"],
                font_px(label["style"])).values()]
    for d in drawings:
        w, h = _svg_size(d["svg"])
        boxes.append((d["x"], d["y"], d["x"] + w, d["y"] + h))
    half_w = max((max(abs(b[0]), abs(b[2])) for b in boxes), default=0) + SCENE_MARGIN
    half_h = max((max(abs(b[1]), abs(b[3])) for b in boxes), default=0) + SCENE_MARGIN
    return (max(SCENE_MIN[0], 200 * math.ceil(half_w / 100)),
            max(SCENE_MIN[1], 200 * math.ceil(half_h / 100)))


def _svg_size(svg: str) -> tuple[int, int]:
    head = svg.split(">", 1)[0]
    height = int(head.split('height="', 1)[1].split('"', 1)[0])
    width = int(head.split('width="', 1)[1].split('"', 1)[0])
    return width, height


def render_node(node: Node, name_at: tuple[int, int]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "compute_id": "local",
        "console": None,
        "console_auto_start": False,
        "console_type": node.console_type,
        "custom_adapters": [],
        "first_port_name": node.first_port_name,
        "label": {"rotation": 0, "style": NODE_LABEL_STYLE, "text": node.name,
                  "x": name_at[0], "y": name_at[1]},
        "locked": False,
        "name": node.name,
        "node_id": node.node_id,
        "node_type": node.type,
        "port_name_format": node.port_name_format if node.is_vm else "Ethernet{0}",
        "port_segment_size": 0,
        "properties": render_properties(node),
        "symbol": node.symbol,
        "template_id": None,
        "x": node.x,
        "y": node.y,
        "z": 1,
    }
    return out


def render_properties(node: Node) -> dict[str, Any]:
    if node.type == "qemu":
        return render_qemu(node)
    if node.type == "cloud":
        return {"ports_mapping": [{"interface": p.name, "name": p.name, "port_number": p.port,
                                   "type": "ethernet"} for p in node.ports]}
    if node.type == "nat":
        return {"ports_mapping": [{"interface": "virbr0", "name": "nat0", "port_number": 0,
                                   "type": "ethernet"}]}
    return {"ports_mapping": [{"name": p.name, "port_number": p.port, "type": p.type,
                               "vlan": p.vlan} for p in node.ports]}


def render_qemu(node: Node) -> dict[str, Any]:
    assert node.image is not None
    props: dict[str, Any] = {
        "adapter_type": node.adapter_type,
        "adapters": node.adapters,
        "bios_image": "",
        "boot_priority": "c",
        "cdrom_image": node.seed_name if node.cloud_init else "",
        "console_type": node.console_type,
        "cpu_throttling": 0,
        "cpus": node.cpus,
        "create_config_disk": False,
        "initrd": "",
        "kernel_command_line": "",
        "kernel_image": "",
        "linked_clone": True,
        "mac_address": node.nics[0].mac if node.nics else None,
        "on_close": "power_off",
        "options": node.options,
        "platform": "x86_64",
        "process_priority": "normal",
        "ram": node.ram,
        "replicate_network_connection_state": True,
        "usage": "",
    }
    disks = {"hda": (node.image.filename, node.disk_interface)}
    disks.update({d.slot: (d.filename, d.interface) for d in node.data_disks})
    for slot in DISK_SLOTS:
        image, interface = disks.get(slot, ("", "none"))
        props[f"{slot}_disk_image"] = image
        props[f"{slot}_disk_interface"] = interface
    if props["mac_address"] is None:
        del props["mac_address"]
    return props


def render_link(link: Link, nodes: dict[str, Node],
                labels: dict[tuple[str, int], tuple[int, int]] | None = None) -> dict[str, Any]:
    """A link; its port labels where :func:`place_labels` put them (else near each end)."""
    ends = []
    for i, (end, other) in enumerate(((link.a, link.b), (link.b, link.a))):
        me, them = nodes[end.node], nodes[other.node]
        spot = (labels or {}).get((link.link_id, i)) or _near_end(me, them)
        ends.append({
            "adapter_number": end.adapter,
            "label": {"rotation": 0, "style": LABEL_STYLE, "text": end.port_name,
                      "x": spot[0], "y": spot[1]},
            "node_id": me.node_id,
            "port_number": end.port,
        })
    return {
        "filters": {kind: list(values) for kind, values in link.filters},
        "link_id": link.link_id,
        "link_style": {},
        "nodes": ends,
        "suspend": False,
    }


def _near_end(me: Node, them: Node) -> tuple[int, int]:
    dx, dy = them.x - me.x, them.y - me.y
    length = max((dx * dx + dy * dy) ** 0.5, 1.0)
    return int(round(20 + 45 * dx / length)), int(round(20 + 45 * dy / length))


# -- notes --------------------------------------------------------------------------------
def render_notes(lab: Lab, nodes: list[Node]) -> list[dict[str, Any]]:
    """The title (the lab's name and version) centred above the nodes, and a legend (the
    description and who is who) to their left, both large enough to read at View > Fit in
    view (FIT_VIEW) however wide the lab is."""
    if not nodes:
        return [_note(lab, "title", 0, 0, [lab.name], TITLE_PT, bold=True)]
    x0 = min(n.x for n in nodes) - 40  # room for names beside a symbol
    y0 = min(n.y for n in nodes) - 40  # above the node names
    x1 = max(n.x + symbol_size(n.symbol)[0] for n in nodes) + 40
    y1 = max(n.y + symbol_size(n.symbol)[1] for n in nodes) + 40
    title = lab.name + (f" v{lab.version}" if lab.version[:1].isdigit() else
                        f" {lab.version}" if lab.version else "")
    lines = _legend_lines(lab, nodes)
    title_pt, legend_pt = TITLE_PT, LEGEND_PT
    for _ in range(4):  # bigger notes widen the view they must be read in: settle
        notes = _place_notes(lab, (x0, y0, x1, y1), title, lines, title_pt, legend_pt)
        left = min(x0, notes[1]["x"])
        top = notes[0]["y"]
        width, height = x1 - left + 40, y1 - top + 40
        scale = min(FIT_VIEW[0] / width, FIT_VIEW[1] / height)
        want = (max(TITLE_PT, _pt_for(TITLE_PX, scale)), max(LEGEND_PT, _pt_for(LEGEND_PX, scale)))
        if want == (title_pt, legend_pt):
            break
        title_pt, legend_pt = want
    return notes


def _pt_for(px_on_screen: float, scale: float) -> int:
    """The least font size (pt) whose line is ``px_on_screen`` high at ``scale``."""
    return math.ceil(px_on_screen / (LINE_EM * 4 / 3 * scale))


def _place_notes(lab: Lab, extent: tuple[float, float, float, float], title: str,
                 lines: list[str], title_pt: int, legend_pt: int) -> list[dict[str, Any]]:
    x0, y0, x1, _ = extent
    width, height = text_size(title, title_pt * 4 / 3)
    legend_w = max(text_size(line, legend_pt * 4 / 3)[0] for line in lines)
    return [_note(lab, "title", int(round((x0 + x1) / 2 - width / 2)),
                  int(round(y0 - 30 - 1.4 * height)), [title], title_pt, bold=True),
            _note(lab, "legend", int(round(x0 - legend_w - 60)), int(y0), lines, legend_pt,
                  bold=False)]


def _legend_lines(lab: Lab, nodes: list[Node]) -> list[str]:
    lines = _wrap(lab.description, LEGEND_WIDTH) if lab.description else []
    by_role: dict[str, list[str]] = {}
    for n in sorted(nodes, key=lambda n: (tier_of(n), n.y, n.x)):
        role = "controller" if lab.controller and n.name == lab.controller.node else n.role
        by_role.setdefault(role, []).append(n.name)
    if lines:
        lines.append("")
    for role, names in by_role.items():
        lines += _wrap(f"{role}: {', '.join(names)}", LEGEND_WIDTH)
    return lines


def _wrap(text: str, width: int) -> list[str]:
    lines: list[str] = []
    for word in text.split():
        if lines and len(lines[-1]) + 1 + len(word) <= width:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return lines


def _note(lab: Lab, kind: str, x: int, y: int, lines: list[str], pt: int, bold: bool
          ) -> dict[str, Any]:
    px = pt * 4 / 3
    width = int(max(text_size(line, px)[0] for line in lines)) + 10
    height = int(len(lines) * 1.4 * px) + 10
    weight = ' font-weight="bold"' if bold else ""
    text = escape("\n".join(lines))
    svg = (f'<svg height="{height}" width="{width}"><text font-family="{NOTE_FONT}" '
           f'font-size="{pt:.1f}"{weight} fill="#000000">{text}</text></svg>')
    return {"drawing_id": _note_id(lab, kind), "locked": False, "rotation": 0, "svg": svg,
            "x": x, "y": y, "z": 2}


def _note_id(lab: Lab, kind: str) -> str:
    return derive_id(lab.name, "drawing", kind)
