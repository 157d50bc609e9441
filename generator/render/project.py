"""The lab model -> ``project.gns3`` as data (pure).

Revision 9 in the GNS3 2.2 dialect, which 2.2 opens as is and 3.x upgrades on load. Only keys
that GNS3 itself writes when it saves a project appear (2.2 rejects any other key, and some
allowed keys crash its loader: see the formats spec, section 8).
"""

from __future__ import annotations

import json
from html import escape
from typing import Any

from generator.model import Lab, Link, Node
from generator.naming import derive_id
from generator.render.canvas import place_nodes, tier_of
from generator.render.canvas_labels import NAME_STYLE, NAME_Y, PORT_STYLE, place_labels
from generator.render.canvas_quality import text_size

REVISION = 9
VERSION = "2.2.59"
LABEL_STYLE = PORT_STYLE
NODE_LABEL_STYLE = NAME_STYLE
DISK_SLOTS = ("hda", "hdb", "hdc", "hdd")
#: Notes use Noto Sans: both GNS3 web UIs bundle it, and it is their own default for notes.
NOTE_FONT = "Noto Sans"
TITLE_PT, LEGEND_PT = 16, 9
LEGEND_WIDTH = 64  # characters per legend line


def render_project(lab: Lab) -> dict[str, Any]:
    """The whole project file as a dict."""
    placed = place_nodes(lab.nodes, lab.links)  # again with the links: idempotent
    nodes = {n.name: n for n in placed}
    labels = place_labels(placed, lab.links)
    return {
        "auto_close": True,
        "auto_open": False,
        "auto_start": False,
        "drawing_grid_size": 25,
        "grid_size": 75,
        "name": f"{lab.name}-{lab.version}" if lab.version else lab.name,  # as the archive
        "project_id": lab.project_id,
        "revision": REVISION,
        "scene_height": 1000,
        "scene_width": 2000,
        "show_grid": False,
        "show_interface_labels": True,
        "show_layers": False,
        "snap_to_grid": False,
        "supplier": None,
        "topology": {
            "computes": [],
            "drawings": render_notes(lab, placed),
            "links": [render_link(link, nodes, labels) for link in lab.links],
            "nodes": [render_node(node) for node in placed],
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


def render_node(node: Node) -> dict[str, Any]:
    out: dict[str, Any] = {
        "compute_id": "local",
        "console": None,
        "console_auto_start": False,
        "console_type": node.console_type,
        "custom_adapters": [],
        "first_port_name": node.first_port_name,
        "label": {"rotation": 0, "style": NODE_LABEL_STYLE, "text": node.name, "x": None,
                  "y": NAME_Y},
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
    description and who is who) to their left."""
    if not nodes:
        return [_note(lab, "title", 0, 0, [lab.name], TITLE_PT, bold=True)]
    x0 = min(n.x for n in nodes)
    y0 = min(n.y for n in nodes) - 40  # above the node names
    x1 = max(n.x + 80 for n in nodes)
    title = lab.name + (f" v{lab.version}" if lab.version[:1].isdigit() else
                        f" {lab.version}" if lab.version else "")
    width, _ = text_size(title, TITLE_PT * 4 / 3)
    notes = [_note(lab, "title", int(round((x0 + x1) / 2 - width / 2)), y0 - 70, [title],
                   TITLE_PT, bold=True)]
    lines = _legend_lines(lab, nodes)
    legend_w = max(text_size(line, LEGEND_PT * 4 / 3)[0] for line in lines)
    notes.append(_note(lab, "legend", int(round(x0 - legend_w - 90)), y0, lines, LEGEND_PT,
                       bold=False))
    return notes


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
