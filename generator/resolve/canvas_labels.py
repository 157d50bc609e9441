"""Labels on the canvas: where each node's name and each link end's port name go, and their
text styles. Positions come from :mod:`.canvas` first; the geometry (symbol, name, label and
port-marker boxes in both GNS3 clients) is :mod:`.canvas_quality`'s.

A node's name goes above its symbol (GNS3's own place) unless a link attaches there: then
below, right or left, wherever no link, port marker, symbol or other name is. Port labels come
after the names and keep off every symbol, name, port marker and other label.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from generator.model import Link, Node
from generator.resolve.canvas_quality import (
    CLIENTS,
    GUI_MARGIN,
    MULTILINK_STEP,
    Box,
    font_px,
    label_boxes,
    port_markers,
    segment_hits_box,
    symbol_size,
    text_size,
)

NAME_STYLE = ("font-family: Noto Sans;font-size: 10.0;font-weight: bold;fill: #000000;"
              "fill-opacity: 1.0;")
PORT_STYLE = ("font-family: Noto Sans;font-size: 9.0;font-weight: bold;fill: #1a3c6e;"
              "fill-opacity: 1.0;")
NAME_Y = -25  # GNS3's own offset of a centred node name
LABEL_GAP = 5  # least gap between a port label and anything else (px): the clients round
NAME_GAP = 4  # between a name and its symbol (px)
LINK_CLEARANCE = 6  # a name keeps this far from a link (parallel links: 5 px more per pair)
RING_RADII = range(50, 170, 10)  # px from a crowded symbol's centre to its name's centre
RING_ANGLES = tuple(math.pi * (k / 12 - 0.5) for k in range(24))  # from straight up, clockwise


def _centres(nodes: Sequence[Node]) -> dict[str, tuple[float, float]]:
    out = {}
    for n in nodes:
        w, h = symbol_size(n.symbol)
        out[n.name] = (n.x + w / 2, n.y + h / 2)
    return out


def _markers(nodes: Sequence[Node], links: Sequence[Link]) -> list[Box]:
    """Every port marker the desktop GUI draws."""
    by_name = {n.name: n for n in nodes}
    centre = _centres(nodes)
    pairs: dict[tuple[str, str], int] = {}
    for link in links:
        if link.a.node != link.b.node:
            key = (link.a.node, link.b.node)
            pairs[key] = pairs.get(key, 0) + 1
    out = []
    for (a, b), count in sorted(pairs.items()):
        for here, there in ((a, b), (b, a)):
            node = by_name[here]
            w, h = symbol_size(node.symbol)
            out += port_markers(centre[here], centre[there],
                                Box(node.x, node.y, node.x + w, node.y + h), count)
    return out


def place_names(nodes: Sequence[Node], links: Sequence[Link]) -> dict[str, tuple[int, int]]:
    """Each node name's stored position (relative to its symbol's top-left corner): above the
    symbol, else below, right or left, the first where no link, port marker, symbol or name
    already placed is (else the least crowded)."""
    centre = _centres(nodes)
    pairs: dict[frozenset[str], int] = {}
    for lk in links:
        if lk.a.node != lk.b.node:
            key = frozenset((lk.a.node, lk.b.node))
            pairs[key] = pairs.get(key, 0) + 1
    segments = [(centre[a], centre[b], LINK_CLEARANCE + MULTILINK_STEP * (count // 2))
                for (a, b), count in ((tuple(sorted(k)), c) for k, c in sorted(
                    pairs.items(), key=lambda kc: sorted(kc[0])))]
    icons = [Box(n.x, n.y, n.x + symbol_size(n.symbol)[0], n.y + symbol_size(n.symbol)[1])
             for n in nodes]
    markers = _markers(nodes, links)
    px = font_px(NAME_STYLE)
    placed: list[Box] = []
    out = {}
    for node in nodes:
        w, h = symbol_size(node.symbol)
        tw, th = text_size(node.name, px)
        reach = RING_RADII[-1] + tw + th + w + h + 2 * LINK_CLEARANCE  # no spot is further
        here = centre[node.name]
        lines = [(p, q, c, (min(p[0], q[0]), min(p[1], q[1]), max(p[0], q[0]), max(p[1], q[1])))
                 for p, q, c in segments if segment_hits_box(p, q, Box(
                     here[0] - reach, here[1] - reach, here[0] + reach, here[1] + reach))]
        things = _edges(_near(here, reach, icons + markers + placed), 2)
        spots = [  # anchors (relative): above, below, right, left
            ((w - tw) / 2 - GUI_MARGIN, NAME_Y),
            ((w - tw) / 2 - GUI_MARGIN, h + NAME_GAP + 1.069 * px),
            (w + NAME_GAP, (h - th) / 2 - GUI_MARGIN + 0.6 * px),
            (-tw - NAME_GAP - GUI_MARGIN, (h - th) / 2 - GUI_MARGIN + 0.6 * px)]
        # a crowded node: the gaps between its links widen further out
        spots += [(w / 2 + r * math.cos(a) - tw / 2 - GUI_MARGIN,
                   h / 2 + r * math.sin(a) - th / 2 - GUI_MARGIN + 0.6 * px)
                  for r in RING_RADII for a in RING_ANGLES]
        best: tuple[int, tuple[int, int], list[Box]] | None = None
        for sx, sy in spots:
            anchor = (int(round(node.x + sx)), int(round(node.y + sy)))
            boxes = list(label_boxes(anchor[0], anchor[1], node.name, px).values())
            clashes = _line_hits(lines, boxes)
            limit = best[0] if best is not None else math.inf  # no win past it: stop counting
            for b in boxes:
                clashes += _overlap_count(b, things, 2, limit - clashes)
            if best is None or clashes < best[0]:
                best = (clashes, anchor, boxes)
            if clashes == 0:
                break
        assert best is not None
        placed += best[2]
        out[node.name] = (best[1][0] - node.x, best[1][1] - node.y)
    return out


def place_labels(nodes: Sequence[Node], links: Sequence[Link],
                 names: dict[str, tuple[int, int]] | None = None
                 ) -> dict[tuple[str, int], tuple[int, int]]:
    """Where each link end's port label goes, relative to its node's top-left corner.

    Each label sits beside its link, as near its own node as it can without touching any
    symbol, node name (at ``names``, from :func:`place_names`), port marker or another label,
    in either GNS3 client (the two draw a stored label at different heights: see
    :mod:`.canvas_quality`). Crowded nodes are served first.
    """
    by_name = {n.name: n for n in nodes}
    size = {n.name: symbol_size(n.symbol) for n in nodes}
    centre = _centres(nodes)
    icons = [Box(n.x, n.y, n.x + size[n.name][0], n.y + size[n.name][1]) for n in nodes]
    names = names if names is not None else place_names(nodes, links)
    name_px = font_px(NAME_STYLE)
    name_at = [label_boxes(n.x + names[n.name][0], n.y + names[n.name][1], n.name, name_px)
               for n in nodes]
    markers = _markers(nodes, links)
    taken: dict[str, list[Box]] = {c: icons + markers + [nb[c] for nb in name_at]
                                   for c in CLIENTS}
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

        for link_id, i, text, peer in sorted(ends[name], key=lambda e: (angle(e), e[2])):
            ax, ay = _label_spot(here, centre[peer], text, px, taken)
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
    reach = length * 0.5 + support + w + h + LABEL_GAP + 2 * GUI_MARGIN + 20
    near = {c: _edges(_near(here, reach, boxes), LABEL_GAP)  # big labs: fewer tests
            for c, boxes in taken.items()}
    best: tuple[int, tuple[int, int]] | None = None
    for d in range(6, max(int(length * 0.5) - 2, 7), 4):  # nearer its own end
        for side in (1, -1):
            cx = here[0] + ux * d + nx * side * support
            cy = here[1] + uy * d + ny * side * support
            anchor = (int(round(cx - w / 2 - GUI_MARGIN)), int(round(cy - h / 2 - GUI_MARGIN)))
            boxes = label_boxes(anchor[0], anchor[1], text, px)
            # a spot with as many clashes as the best so far cannot win: stop counting there
            limit = best[0] if best is not None else math.inf
            clashes = 0
            for c in CLIENTS:
                clashes += _overlap_count(boxes[c], near[c], LABEL_GAP, limit - clashes)
            if clashes == 0:
                return anchor
            if best is None or clashes < best[0]:
                best = (clashes, anchor)
    assert best is not None
    return best[1]


def _near(at: tuple[float, float], reach: float, boxes: list[Box]) -> list[Box]:
    """The boxes that come within ``reach`` of a point (a cheap prefilter, same answers)."""
    x, y = at
    return [b for b in boxes
            if b.x0 - reach < x < b.x1 + reach and b.y0 - reach < y < b.y1 + reach]


def _line_hits(lines: Sequence[tuple[tuple[float, float], tuple[float, float], float,
                                     tuple[float, float, float, float]]], boxes: list[Box]) -> int:
    """How many (line, box) pairs touch: ``segment_hits_box(p, q, box.shrunk(-clear))`` for
    each line ``(p, q, clear, its bounding box)``. Most pairs lie apart, so their bounding boxes
    are compared here first (the same test segment_hits_box starts with, on the same sums),
    sparing a call and a Box per pair."""
    count = 0
    for p, q, clear, (lx0, ly0, lx1, ly1) in lines:
        for b in boxes:
            if (lx1 < b.x0 + -clear or lx0 > b.x1 - -clear
                    or ly1 < b.y0 + -clear or ly0 > b.y1 - -clear):
                continue
            count += segment_hits_box(p, q, b.shrunk(-clear))
    return count


def _edges(boxes: list[Box], gap: float) -> list[tuple[float, float, float, float]]:
    """Boxes as (x0, y0, x1 + gap, y1 + gap), for :func:`_overlap_count`: the placement tests
    each candidate spot against hundreds of boxes, and plain tuples spare a method call and
    two additions per test (the sums are the ones ``Box.overlaps`` makes, so the answers are
    the same to the last bit)."""
    return [(b.x0, b.y0, b.x1 + gap, b.y1 + gap) for b in boxes]


def _overlap_count(box: Box, edges: list[tuple[float, float, float, float]], gap: float,
                   limit: float = math.inf) -> int:
    """How many of the boxes ``edges`` (from :func:`_edges` with the same ``gap``) ``box``
    overlaps: ``sum(box.overlaps(o, gap) for o in boxes)``, faster; the count stops once it
    reaches ``limit`` (a caller that only wants to know whether it beats ``limit``)."""
    x0, y0, x1, y1 = box.x0, box.y0, box.x1 + gap, box.y1 + gap
    count = 0
    if limit <= 0:
        return count
    for ox0, oy0, ox1, oy1 in edges:
        if x0 < ox1 and ox0 < x1 and y0 < oy1 and oy0 < y1:
            count += 1
            if count >= limit:
                break
    return count
