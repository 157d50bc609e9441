"""Port labels on the canvas: where each link end's port name goes, and the text styles of
port labels and node names. Positions come from :mod:`.canvas` first; the geometry (symbol,
name and label boxes in both GNS3 clients) is :mod:`.canvas_quality`'s.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from generator.model import Link, Node
from generator.render.canvas_quality import (
    CLIENTS,
    GUI_MARGIN,
    Box,
    font_px,
    label_boxes,
    name_boxes,
    symbol_size,
    text_size,
)

NAME_STYLE = ("font-family: Noto Sans;font-size: 10.0;font-weight: bold;fill: #000000;"
              "fill-opacity: 1.0;")
PORT_STYLE = ("font-family: Noto Sans;font-size: 9.0;font-weight: bold;fill: #1a3c6e;"
              "fill-opacity: 1.0;")
NAME_Y = -25  # GNS3's own offset of a centred node name
LABEL_GAP = 5  # least gap between a port label and anything else (px): the clients round


def place_labels(nodes: Sequence[Node], links: Sequence[Link]
                 ) -> dict[tuple[str, int], tuple[int, int]]:
    """Where each link end's port label goes, relative to its node's top-left corner.

    Each label sits beside its link, as near its own node as it can without touching any
    symbol, any node name or another label, in either GNS3 client (the two draw a stored label
    at different heights: see :mod:`.canvas_quality`). Crowded nodes are served first.
    """
    by_name = {n.name: n for n in nodes}
    size = {n.name: symbol_size(n.symbol) for n in nodes}
    centre = {n.name: (n.x + size[n.name][0] / 2, n.y + size[n.name][1] / 2) for n in nodes}
    icons = [Box(n.x, n.y, n.x + size[n.name][0], n.y + size[n.name][1]) for n in nodes]
    names = [name_boxes(n.x, n.y, n.symbol, {"text": n.name, "x": None, "y": NAME_Y,
                                             "style": NAME_STYLE}) for n in nodes]
    taken: dict[str, list[Box]] = {c: icons + [nb[c] for nb in names] for c in CLIENTS}
    ends: dict[str, list[tuple[str, int, str, str]]] = {n.name: [] for n in nodes}
    for link in links:
        for i, (me, other) in enumerate(((link.a, link.b), (link.b, link.a))):
            ends[me.node].append((link.link_id, i, me.port_name, other.node))
    px = font_px(PORT_STYLE)
    out: dict[tuple[str, int], tuple[int, int]] = {}
    for name in sorted(ends, key=lambda n: (-len(ends[n]), n)):
        node = by_name[name]
        here = centre[name]

        def angle(end: tuple[str, int, str, str], here: tuple[float, float] = here) -> float:
            there = centre[end[3]]
            return math.atan2(there[1] - here[1], there[0] - here[0])

        for link_id, i, text, other in sorted(ends[name], key=lambda e: (angle(e), e[2])):
            ax, ay = _label_spot(here, centre[other], text, px, taken)
            out[(link_id, i)] = (ax - node.x, ay - node.y)
            for client, box in label_boxes(ax, ay, text, px).items():
                taken[client].append(box)
    return out


def _label_spot(here: tuple[float, float], there: tuple[float, float], text: str, px: float,
                taken: dict[str, list[Box]]) -> tuple[int, int]:
    """The stored anchor (scene coordinates) of a label beside the link here -> there."""
    length = max(math.dist(here, there), 1.0)
    ux, uy = (there[0] - here[0]) / length, (there[1] - here[1]) / length
    nx, ny = -uy, ux
    w, h = text_size(text, px)
    support = (w * abs(nx) + h * abs(ny)) / 2 + 3
    best: tuple[int, tuple[int, int]] | None = None
    for d in range(6, max(int(length * 0.7), 7), 4):
        for side in (1, -1):
            cx = here[0] + ux * d + nx * side * support
            cy = here[1] + uy * d + ny * side * support
            anchor = (int(round(cx - w / 2 - GUI_MARGIN)), int(round(cy - h / 2 - GUI_MARGIN)))
            boxes = label_boxes(anchor[0], anchor[1], text, px)
            clashes = sum(boxes[c].overlaps(o, LABEL_GAP) for c in CLIENTS for o in taken[c])
            if clashes == 0:
                return anchor
            if best is None or clashes < best[0]:
                best = (clashes, anchor)
    assert best is not None
    return best[1]
