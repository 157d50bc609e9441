"""The lab model -> ``project.gns3`` as data (pure).

Revision 9 in the GNS3 2.2 dialect, which 2.2 opens as is and 3.x upgrades on load. Only keys
that GNS3 itself writes when it saves a project appear (2.2 rejects any other key, and some
allowed keys crash its loader: see the formats spec, section 8).
"""

from __future__ import annotations

import json
from html import escape
from typing import Any

from generator.model import Drawing, Lab, Link, Node, Note
from generator.resolve.canvas_labels import NAME_STYLE, PORT_STYLE

REVISION = 9
VERSION = "2.2.59"
LABEL_STYLE = PORT_STYLE
NODE_LABEL_STYLE = NAME_STYLE
DISK_SLOTS = ("hda", "hdb", "hdc", "hdd")
#: Notes use Noto Sans: both GNS3 web UIs bundle it, and it is their own default for notes.
NOTE_FONT = "Noto Sans"


def render_project(lab: Lab) -> dict[str, Any]:
    """The whole project file as a dict: every position, label and note as resolve placed it
    (``resolve/canvas_scene.py``)."""
    nodes = {n.name: n for n in lab.nodes}
    return {
        "auto_close": True,
        "auto_open": False,
        "auto_start": False,
        "drawing_grid_size": 25,
        "grid_size": 75,
        "name": f"{lab.name}-{lab.version}" if lab.version else lab.name,  # as the archive
        "project_id": lab.project_id,
        "revision": REVISION,
        "scene_height": lab.canvas.height,
        "scene_width": lab.canvas.width,
        "show_grid": False,
        "show_interface_labels": True,
        "show_layers": False,
        "snap_to_grid": False,
        "supplier": None,
        "topology": {
            "computes": [],
            "drawings": [render_note(note) for note in lab.canvas.notes]
            + [render_drawing(d) for d in lab.canvas.drawings],
            "links": [render_link(link, nodes) for link in lab.links],
            "nodes": [render_node(node) for node in lab.nodes],
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
        "custom_adapters": [render_custom_adapter(a) for a in node.custom_adapters],
        "first_port_name": node.first_port_name,
        "label": {"rotation": 0, "style": NODE_LABEL_STYLE, "text": node.name,
                  "x": node.name_at[0], "y": node.name_at[1]},
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


def render_custom_adapter(adapter: tuple[int, str | None, str | None]) -> dict[str, Any]:
    """One of ``custom_adapters``: only the keys the blueprint sets (GNS3 fills the rest)."""
    number, kind, mac = adapter
    out: dict[str, Any] = {"adapter_number": number}
    if kind:
        out["adapter_type"] = kind
    if mac:
        out["mac_address"] = mac
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
        "boot_priority": node.boot_priority,
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


def render_link(link: Link, nodes: dict[str, Node]) -> dict[str, Any]:
    """A link; its port labels where resolve put them."""
    ends = []
    for end in (link.a, link.b):
        ends.append({
            "adapter_number": end.adapter,
            "label": {"rotation": 0, "style": LABEL_STYLE, "text": end.port_name,
                      "x": end.label_at[0], "y": end.label_at[1]},
            "node_id": nodes[end.node].node_id,
            "port_number": end.port,
        })
    return {
        "filters": {kind: list(values) for kind, values in link.filters},
        "link_id": link.link_id,
        "link_style": {},
        "nodes": ends,
        "suspend": False,
    }


def render_note(note: Note) -> dict[str, Any]:
    """A note (title, legend) as a GNS3 drawing: an SVG text of the size resolve gave it."""
    weight = ' font-weight="bold"' if note.bold else ""
    text = escape("\n".join(note.lines))
    svg = (f'<svg height="{note.height}" width="{note.width}"><text font-family="{NOTE_FONT}" '
           f'font-size="{note.pt:.1f}"{weight} fill="#000000">{text}</text></svg>')
    return {"drawing_id": note.drawing_id, "locked": False, "rotation": 0, "svg": svg,
            "x": note.x, "y": note.y, "z": 2}


def render_drawing(drawing: Drawing) -> dict[str, Any]:
    """A drawing the blueprint pins, as written (its SVG verbatim, as GNS3 stores it)."""
    return {"drawing_id": drawing.drawing_id, "locked": False, "rotation": drawing.rotation,
            "svg": drawing.svg, "x": drawing.x, "y": drawing.y, "z": drawing.z}
