"""The canvas geometry of GNS3's clients, which the placement at resolution works with, and how
readable a canvas is, measured on a built ``project.gns3`` (pure; ``read/inspect.py`` reports
the measure too).

:func:`measure_canvas` takes the parsed project dict (ours or a hand-placed one) and returns a
:class:`CanvasQuality`: links that pass under a third node's icon, label boxes that collide, and
link crossings. The geometry is GNS3's own, read from its two clients:

- A node's ``x``/``y`` is the top-left corner of its symbol; a link is drawn between the symbol
  centres. Symbol sizes are those gns3-server computes from its built-in SVGs (SYMBOL_SIZES).
- A label's ``x``/``y`` is relative to its node's top-left corner. The desktop GUI draws it as a
  ``QGraphicsTextItem`` whose text starts 4 px (the document margin) right of and below that
  point; the web UI draws an SVG ``<text>`` whose *baseline* starts there. So every label has
  two boxes, one per client, and a collision in either client counts.
- A node name with ``x: null`` is centred above its symbol: the GUI at ``y``, the web UI on a
  baseline 8 px above the symbol.
- Font sizes are points (both clients read ``font-size: 10.0`` as 10 pt = 13.3 px). Text widths
  are the wider of Noto Sans Bold (the font both web UIs bundle, and the one the labels ask
  for) and DejaVu Sans Bold, the wide font the desktop GUI falls back to where Noto Sans is
  missing (most Linux desktops; Windows' and macOS' fallbacks are narrower); heights are Noto's
  (the taller). So a layout computed here reads with either font.
- The desktop GUI draws a port marker (a 10 px square) on each link 40 px from the symbol
  centre, pushed out 10 px at a time until it leaves the symbol; links between the same two
  nodes are drawn 5 px apart (:func:`port_markers`).
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass
from itertools import combinations
from typing import Any

#: (width, height) of GNS3's built-in symbols, as gns3server.utils.picture.get_size reads them.
SYMBOL_SIZES: dict[str, tuple[int, int]] = {
    "server.svg": (49, 70), "multilayer_switch.svg": (51, 48), "ethernet_switch.svg": (72, 32),
    "cloud.svg": (159, 71), "nat.svg": (159, 71), "qemu_guest.svg": (65, 59),
    "computer.svg": (65, 59), "router.svg": (66, 45), "firewall.svg": (66, 45),
    "access_server.svg": (51, 48), "gateway.svg": (66, 56), "hub.svg": (72, 32),
    "vpcs_guest.svg": (65, 59), "docker_guest.svg": (65, 59), "vbox_guest.svg": (65, 59),
    "vmware_guest.svg": (65, 59), "route_switch_processor.svg": (51, 66),
    "atm_switch.svg": (51, 48), "frame_relay_switch.svg": (51, 48),
}
DEFAULT_SYMBOL_SIZE = (65, 59)  # computer.svg: GNS3's fallback for an unknown symbol

#: Noto Sans Bold advance widths (per 1000 em) of ASCII 32..126, from the web UI's font file.
_ADVANCES = (
    260, 286, 472, 646, 572, 901, 750, 266, 339, 339, 545, 572, 285, 322, 285, 413, 572, 572,
    572, 572, 572, 572, 572, 572, 572, 572, 285, 285, 572, 572, 572, 477, 897, 690, 672, 637,
    740, 560, 549, 724, 765, 389, 331, 664, 565, 943, 813, 796, 628, 796, 660, 551, 579, 756,
    650, 967, 667, 624, 579, 331, 413, 331, 572, 411, 362, 604, 633, 514, 633, 591, 387, 633,
    657, 305, 305, 620, 305, 982, 657, 619, 633, 633, 454, 497, 434, 657, 569, 856, 578, 569,
    488, 394, 551, 394, 572)
#: DejaVu Sans Bold advance widths (per 1000 em) of ASCII 32..126, as Qt measures them.
_DEJAVU_ADVANCES = (
    348, 456, 521, 838, 696, 1002, 872, 306, 457, 457, 523, 838, 380, 415, 380, 365, 696, 696,
    696, 696, 696, 696, 696, 696, 696, 696, 400, 400, 838, 838, 838, 580, 1000, 774, 762, 734,
    830, 683, 683, 821, 837, 372, 372, 775, 637, 995, 837, 850, 733, 850, 770, 720, 682, 812,
    774, 1103, 771, 724, 725, 457, 365, 457, 838, 500, 500, 675, 716, 593, 716, 678, 435, 716,
    712, 343, 343, 665, 343, 1042, 712, 687, 716, 716, 493, 595, 478, 712, 652, 924, 645, 652,
    582, 712, 365, 712, 838)
_WIDEST = tuple(max(a, b) for a, b in zip(_ADVANCES, _DEJAVU_ADVANCES, strict=True))
ASCENT, DESCENT = 1.069, 0.293  # Noto Sans, per em
MARKER = 10  # px: the GUI's port marker (a square)
MARKER_AT = 40  # px from the symbol centre, then 10 px steps until off the symbol
MULTILINK_STEP = 5  # px between parallel links of one node pair in the GUI
GUI_MARGIN = 4  # QTextDocument's default margin around a QGraphicsTextItem's text
WEB_NAME_BASELINE = -8  # the web UI's baseline for a centred node name, above the symbol
#: The web UI's default view names a link's ports only on links longer than this (px).
WEB_UI_NAMED_LINK = 220
ICON_TOLERANCE = 2  # a link grazing an icon's bounding box by less than this does not count
CLIENTS = ("gui", "web")


@dataclass(frozen=True)
class Box:
    """An axis-aligned rectangle in scene coordinates."""

    x0: float
    y0: float
    x1: float
    y1: float

    def overlaps(self, other: Box, gap: float = 0.0) -> bool:
        """True when the boxes share area (or come closer than ``gap``)."""
        return (self.x0 < other.x1 + gap and other.x0 < self.x1 + gap
                and self.y0 < other.y1 + gap and other.y0 < self.y1 + gap)

    def shrunk(self, by: float) -> Box:
        return Box(self.x0 + by, self.y0 + by, self.x1 - by, self.y1 - by)

    def moved(self, dx: float, dy: float) -> Box:
        return Box(self.x0 + dx, self.y0 + dy, self.x1 + dx, self.y1 + dy)

    @property
    def centre(self) -> tuple[float, float]:
        return (self.x0 + self.x1) / 2, (self.y0 + self.y1) / 2


@dataclass(frozen=True)
class CanvasQuality:
    """Readability figures of one canvas; each list names its offenders, sorted."""

    nodes: int
    links: int
    #: (link, node under whose icon it passes), e.g. ("mgmt01:eth4 -- leaf02:swp40", "spine02")
    links_under_icons: tuple[tuple[str, str], ...]
    #: (label, label or icon it overlaps, client), e.g. ("infra1:eth1", "infra1:eth2", "gui")
    label_collisions: tuple[tuple[str, str, str], ...]
    crossings: int  #: pairs of links that cross (links sharing a node never count)
    #: single links no longer than WEB_UI_NAMED_LINK: the web UI's default view hides their ports
    short_links: tuple[str, ...]

    @property
    def readable(self) -> bool:
        """No link under a third icon and no label collision."""
        return not self.links_under_icons and not self.label_collisions

    def summary(self) -> str:
        """One line, e.g. for ``gns3lab inspect``."""
        return (f"{len(self.links_under_icons)} links under a third icon, "
                f"{len(self.label_collisions)} label collisions, {self.crossings} crossings, "
                f"{len(self.short_links)} links too short for port names in the web UI")


# -- text and symbols ---------------------------------------------------------------------
def symbol_size(symbol: str | None) -> tuple[int, int]:
    """(width, height) of a symbol id such as ``:/symbols/classic/server.svg``."""
    name = (symbol or "").rsplit("/", 1)[-1]
    return SYMBOL_SIZES.get(name, DEFAULT_SYMBOL_SIZE)


def font_px(style: str | None, default_pt: float = 10.0) -> float:
    """Font size in px of a GNS3 label style (``font-size: 9.0`` is points)."""
    match = re.search(r"font-size:\s*([0-9.]+)\s*(px|pt)?", style or "")
    if not match:
        return default_pt * 4 / 3
    size = float(match.group(1))
    return size if match.group(2) == "px" else size * 4 / 3


@functools.lru_cache(maxsize=4096)  # the label placement asks for the same text at every spot
def text_size(text: str, px: float) -> tuple[float, float]:
    """(width, height) of one line at ``px`` in the wider of Noto Sans Bold and DejaVu Sans
    Bold (see the module docstring)."""
    width = sum(_WIDEST[ord(c) - 32] if 32 <= ord(c) < 127 else 1000 for c in text)
    return width * px / 1000, (ASCENT + DESCENT) * px


def label_boxes(anchor_x: float, anchor_y: float, text: str, px: float) -> dict[str, Box]:
    """The text's box in each client for a label stored at scene point (anchor_x, anchor_y)."""
    w, h = text_size(text, px)
    gx, gy = anchor_x + GUI_MARGIN, anchor_y + GUI_MARGIN
    wy = anchor_y - ASCENT * px
    return {"gui": Box(gx, gy, gx + w, gy + h), "web": Box(anchor_x, wy, anchor_x + w, wy + h)}


def name_boxes(node_x: float, node_y: float, symbol: str | None, label: dict[str, Any]
               ) -> dict[str, Box]:
    """A node name's box in each client."""
    text = str(label.get("text", ""))
    px = font_px(label.get("style"))
    w, h = text_size(text, px)
    if label.get("x") is None:
        width, _ = symbol_size(symbol)
        gx = node_x + (width - w) / 2
        y = label.get("y")
        gy = node_y + (y if y is not None else -25) + GUI_MARGIN
        wy = node_y + WEB_NAME_BASELINE - ASCENT * px
        return {"gui": Box(gx, gy, gx + w, gy + h), "web": Box(gx + 3, wy, gx + 3 + w, wy + h)}
    return label_boxes(node_x + label["x"], node_y + label["y"], text, px)


def port_markers(here: tuple[float, float], there: tuple[float, float], icon: Box,
                 parallel: int = 1) -> list[Box]:
    """The GUI's port marker boxes at the ``here`` end of a link (one per parallel link of the
    pair: which link gets which offset is the GUI's business)."""
    length = math.dist(here, there)
    if length < 100:  # the GUI draws none on a short link
        return []
    ux, uy = (there[0] - here[0]) / length, (there[1] - here[1]) / length
    out = []
    for k in range(parallel):
        multi = k // 2 if k % 2 == 0 else -((k + 1) // 2)  # the GUI's order: 0, -1, 1, -2..
        ox, oy = -uy * multi * MULTILINK_STEP, ux * multi * MULTILINK_STEP
        d = MARKER_AT
        while (icon.x0 < here[0] + ox + ux * d < icon.x1
               and icon.y0 < here[1] + oy + uy * d < icon.y1):
            d += 10
        cx, cy = here[0] + ox + ux * d, here[1] + oy + uy * d
        out.append(Box(cx - MARKER / 2, cy - MARKER / 2, cx + MARKER / 2, cy + MARKER / 2))
    return out


# -- segments -----------------------------------------------------------------------------
def segment_hits_box(p: tuple[float, float], q: tuple[float, float], box: Box) -> bool:
    """True when segment p-q passes through the box (Liang-Barsky clipping)."""
    if (max(p[0], q[0]) < box.x0 or min(p[0], q[0]) > box.x1
            or max(p[1], q[1]) < box.y0 or min(p[1], q[1]) > box.y1):
        return False  # their bounding boxes are apart: most pairs, cheaply
    t0, t1 = 0.0, 1.0
    dx, dy = q[0] - p[0], q[1] - p[1]
    for edge_p, edge_q in ((-dx, p[0] - box.x0), (dx, box.x1 - p[0]),
                           (-dy, p[1] - box.y0), (dy, box.y1 - p[1])):
        if edge_p == 0:
            if edge_q < 0:
                return False
            continue
        t = edge_q / edge_p
        if edge_p < 0:
            t0 = max(t0, t)
        else:
            t1 = min(t1, t)
        if t0 > t1:
            return False
    return True


def segments_cross(a: tuple[tuple[float, float], tuple[float, float]],
                   b: tuple[tuple[float, float], tuple[float, float]]) -> bool:
    """True when two segments cross at a point inside both."""
    def orient(p: tuple[float, float], q: tuple[float, float], r: tuple[float, float]) -> float:
        return (q[0] - p[0]) * (r[1] - p[1]) - (q[1] - p[1]) * (r[0] - p[0])

    d1, d2 = orient(b[0], b[1], a[0]), orient(b[0], b[1], a[1])
    d3, d4 = orient(a[0], a[1], b[0]), orient(a[0], a[1], b[1])
    return d1 * d2 < 0 and d3 * d4 < 0


# -- the measure --------------------------------------------------------------------------
@dataclass(frozen=True)
class _Node:
    name: str
    icon: Box
    names: dict[str, Box]

    @property
    def centre(self) -> tuple[float, float]:
        return self.icon.centre


def _nodes(project: dict[str, Any]) -> dict[str, _Node]:
    out = {}
    for n in project["topology"]["nodes"]:
        w, h = symbol_size(n.get("symbol"))
        x, y = float(n.get("x") or 0), float(n.get("y") or 0)
        label = n.get("label") or {"text": n["name"], "x": None, "y": -25}
        out[n["node_id"]] = _Node(n["name"], Box(x, y, x + w, y + h), name_boxes(
            x, y, n.get("symbol"), {**label, "text": n["name"]}))
    return out


def _link_name(link: dict[str, Any], nodes: dict[str, _Node]) -> str:
    ends = []
    for end in link["nodes"]:
        text = (end.get("label") or {}).get("text") or f"{end['adapter_number']}/" \
                                                      f"{end['port_number']}"
        ends.append(f"{nodes[end['node_id']].name}:{text}")
    return " -- ".join(ends)


def measure_canvas(project: dict[str, Any]) -> CanvasQuality:
    """The readability figures of a parsed ``project.gns3`` (see the module docstring)."""
    nodes = _nodes(project)
    links = [lk for lk in project["topology"]["links"]
             if len(lk["nodes"]) == 2 and all(e["node_id"] in nodes for e in lk["nodes"])]
    names = {lk["link_id"]: _link_name(lk, nodes) for lk in links}
    ends = {lk["link_id"]: tuple(e["node_id"] for e in lk["nodes"]) for lk in links}

    under = set()
    for lk in links:
        a, b = ends[lk["link_id"]]
        for nid, node in nodes.items():
            if nid not in (a, b) and segment_hits_box(nodes[a].centre, nodes[b].centre,
                                                      node.icon.shrunk(ICON_TOLERANCE)):
                under.add((names[lk["link_id"]], node.name))

    crossings = 0
    for la, lb in combinations(links, 2):
        ea, eb = ends[la["link_id"]], ends[lb["link_id"]]
        if set(ea) & set(eb):
            continue
        if segments_cross((nodes[ea[0]].centre, nodes[ea[1]].centre),
                          (nodes[eb[0]].centre, nodes[eb[1]].centre)):
            crossings += 1

    pairs: dict[frozenset[str], int] = {}
    for lk in links:
        key = frozenset(ends[lk["link_id"]])
        pairs[key] = pairs.get(key, 0) + 1
    short = sorted(names[lk["link_id"]] for lk in links if pairs[frozenset(ends[lk["link_id"]])]
                   == 1 and math.dist(*(nodes[n].centre for n in ends[lk["link_id"]]))
                   <= WEB_UI_NAMED_LINK)

    return CanvasQuality(
        nodes=len(nodes), links=len(links), links_under_icons=tuple(sorted(under)),
        label_collisions=_label_collisions(nodes, links), crossings=crossings,
        short_links=tuple(short))


def _label_collisions(nodes: dict[str, _Node], links: list[dict[str, Any]]
                      ) -> tuple[tuple[str, str, str], ...]:
    """Label/label and label/icon overlaps, in each client's rendering."""
    labels: list[tuple[str, str | None, dict[str, Box]]] = []  # (label, its node id, boxes)
    for node in nodes.values():
        labels.append((node.name, None, node.names))
    for lk in links:
        for end in lk["nodes"]:
            label = end.get("label")
            if not label or not label.get("text") or label.get("x") is None:
                continue  # no stored position: the client places it
            node = nodes[end["node_id"]]
            labels.append((f"{node.name}:{label['text']}", end["node_id"], label_boxes(
                node.icon.x0 + label["x"], node.icon.y0 + label.get("y", 0), label["text"],
                font_px(label.get("style")))))
    found: set[tuple[str, str, str]] = set()
    for client in CLIENTS:
        for (na, _, ba), (nb, _, bb) in combinations(labels, 2):
            if ba[client].overlaps(bb[client]):
                first, second = sorted((na, nb))
                found.add((first, second, client))
        for name, owner, boxes in labels:
            for node in nodes.values():
                if owner is None and node.name == name:
                    continue  # a node's name sits on its own symbol's edge by design
                if boxes[client].overlaps(node.icon.shrunk(1)):
                    found.add((name, f"icon {node.name}", client))
    return tuple(sorted(found))
