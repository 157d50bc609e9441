"""The canvas: node positions by tier and topology, and symbols by role (port labels:
:mod:`.canvas_labels`).

Rows from the top: the controller with its NAT/cloud beside it, spines, leaves, servers; the OOB
switch below the servers, so its management links stay out of the data-plane tiers. A row of
switches spreads over the span of the nodes it serves below it, and a NAT or cloud hangs beside
the node it connects to. Then no link may pass under a third node's icon: a node in the way moves
aside (and its row makes room) until none does. Every step is deterministic; a node with
``position:`` in the blueprint keeps it. Geometry follows GNS3: ``x``/``y`` is the symbol's
top-left corner and links join symbol centres (see :mod:`.canvas_quality`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace

from generator.model import Link, Node
from generator.resolve.canvas_quality import (
    ICON_TOLERANCE,
    Box,
    segment_hits_box,
    symbol_size,
)

#: Row of each role; unknown roles go to the server row, OOB switches below it.
ROLE_TIERS = {
    "external": 0, "controller": 0, "management": 0,
    "spine": 1, "core": 1,
    "leaf": 2, "switch": 2, "tor": 2, "access": 2, "bridge": 2,
}
OOB_ROLES = frozenset({"oob"})
SERVER_TIER = 3
OOB_TIER = 4  # below the server rows
DY = 250  # row spacing (symbol centres): links between rows stay longer than 220 px
DX = 170  # least spacing of symbol centres in a row
PEER_DX = 240  # ... between linked nodes of a row: the web UI names ports on links > 220 px
BESIDE_DX = 290  # a NAT/cloud beside the node it hangs off (centres)
ROW_MAX = 12  # nodes per row before a tier wraps onto another row
MAX_GAP = 2.5 * DY  # past this a wide row's shallow links are left to the repair
MIN_GAP = 110  # a row keeps this far (vertically) from a pinned node
CLEARANCE = 14  # how far a link stays from a third icon
REPAIR_STEPS = 40
REPAIR_MAX_NODES = 60  # larger labs keep the row layout (inspect reports what is left)
REPAIR_MOVES = (20, -20, 40, -40, 80, -80, 160, -160)
FIT_ROUNDS = 12

_CLASSIC = ":/symbols/classic/"
#: Role -> built-in symbol, for nodes whose blueprint names none.
ROLE_SYMBOLS = {
    "spine": "multilayer_switch.svg", "core": "multilayer_switch.svg",
    "leaf": "multilayer_switch.svg", "tor": "multilayer_switch.svg",
    "switch": "ethernet_switch.svg", "access": "ethernet_switch.svg",
    "bridge": "ethernet_switch.svg", "oob": "ethernet_switch.svg",
    "management": "ethernet_switch.svg", "router": "router.svg", "firewall": "firewall.svg",
}
CONTROLLER_SYMBOL = _CLASSIC + "computer.svg"


def symbol_for(role: str, is_controller: bool, written: str | None, category: str | None,
               default: str) -> str:
    """A QEMU node's symbol: as written > the controller's > by role > by appliance category >
    ``default``."""
    if written:
        return written
    if is_controller:
        return CONTROLLER_SYMBOL
    if role in ROLE_SYMBOLS:
        return _CLASSIC + ROLE_SYMBOLS[role]
    return category or default


def tier_of(node: Node) -> int:
    if node.tier >= 0:
        return node.tier
    if node.role in OOB_ROLES:
        return OOB_TIER
    return ROLE_TIERS.get(node.role, SERVER_TIER)


# -- node positions -----------------------------------------------------------------------
def place_nodes(nodes: Sequence[Node], links: Sequence[Link] = ()) -> list[Node]:
    """Give every node without a pinned position a place; see the module docstring.

    Without ``links`` only the tiers are known, and rows are simply centred. Running it again
    on its own output gives the same positions.
    """
    tiers = {n.name: tier_of(n) for n in nodes}
    size = {n.name: symbol_size(n.symbol) for n in nodes}
    centre = {n.name: (n.x + size[n.name][0] / 2, n.y + size[n.name][1] / 2)
              for n in nodes if n.pinned}
    rows = _rows(nodes, tiers)
    pinned_ys = [c[1] for c in centre.values()]
    nbrs = _neighbours(nodes, links)
    order = sorted(range(len(rows)), key=lambda i: (tiers[rows[i][0]] >= OOB_TIER, -i))
    for i in order:  # data rows bottom-up, then the OOB rows
        _place_row(rows[i], centre, nbrs, below={n for j in range(i + 1, len(rows))
                                                  for n in rows[j]})
    pairs = sorted({tuple(sorted((lk.a.node, lk.b.node))) for lk in links
                    if lk.a.node != lk.b.node})
    for _ in range(FIT_ROUNDS):  # rows make room for the links that cross them, then the
        before = dict(centre)    # gaps grow for what got wider, until nothing moves
        ys = _row_ys(rows, pinned_ys, _gaps(rows, centre, size, nbrs))
        for row, y in zip(rows, ys, strict=True):
            for n in row:
                centre[n] = (centre[n][0], y)
        for row in rows:
            _fit_row(row, centre, size, pairs)
        if centre == before:
            break
    pinned = {n.name for n in nodes if n.pinned}
    row_of = {name: i for i, row in enumerate(rows) for name in row}
    if len(nodes) <= REPAIR_MAX_NODES:  # its search grows with nodes x links x moves
        _repair(rows, row_of, centre, size, links, pinned)
    out = []
    for node in nodes:
        if node.pinned:
            out.append(replace(node, tier=tiers[node.name]))
            continue
        cx, cy = centre[node.name]
        w, h = size[node.name]
        out.append(replace(node, x=int(round(cx - w / 2)), y=int(round(cy - h / 2)),
                           tier=tiers[node.name]))
    return out


def _rows(nodes: Sequence[Node], tiers: dict[str, int]) -> list[list[str]]:
    """Unpinned node names per row, top to bottom, in blueprint order; long tiers wrap."""
    by_tier: dict[int, list[str]] = {}
    for n in nodes:
        if not n.pinned:
            by_tier.setdefault(tiers[n.name], []).append(n.name)
    rows = []
    for tier in sorted(by_tier):
        members = by_tier[tier]
        rows += [members[i:i + ROW_MAX] for i in range(0, len(members), ROW_MAX)]
    return rows


def _gaps(rows: list[list[str]], centre: dict[str, tuple[float, float]],
          size: dict[str, tuple[int, int]], nbrs: dict[str, list[str]]) -> list[float]:
    """The vertical gap below each row: DY, or more where a long, shallow link to the next row
    would graze the neighbour of its lower end (a link that runs dx across must climb half a
    symbol and CLEARANCE over DX)."""
    gaps = []
    for upper, lower in zip(rows, rows[1:], strict=False):
        gap = float(DY)
        lower_set = set(lower)
        for a in upper:
            for b in nbrs[a]:
                if b in lower_set:
                    dx = abs(centre[a][0] - centre[b][0])
                    half = max(size[n][1] for n in (a, b)) / 2
                    gap = max(gap, dx * (half + CLEARANCE + 2) / DX)
        gaps.append(min(gap, MAX_GAP))
    return gaps


def _row_ys(rows: list[list[str]], pinned_ys: list[float], gaps: list[float]) -> list[float]:
    ys, y = [], -sum(gaps) / 2
    for i, _ in enumerate(rows):
        while any(abs(py - y) < MIN_GAP for py in pinned_ys):
            y += DY / 2
        ys.append(y)
        y += gaps[i] if i < len(gaps) else DY
    return ys


def _neighbours(nodes: Sequence[Node], links: Sequence[Link]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {n.name: [] for n in nodes}
    for link in links:
        a, b = link.a.node, link.b.node
        if a != b and b not in out[a]:
            out[a].append(b)
            out[b].append(a)
    return out


def _place_row(row: list[str], centre: dict[str, tuple[float, float]],
               nbrs: dict[str, list[str]], below: set[str]) -> None:
    """x of one row's nodes: over the span of what they serve below, else centred; nodes that
    only hang off a node of their own row go beside it."""
    lower = {n: [centre[m][0] for m in nbrs[n]
                 if m in centre and (m in below or m not in row)]
             for n in row}
    anchored = [n for n in row if lower[n]]
    xs: dict[str, float] = {}
    if anchored:
        bary = [sum(lower[n]) / len(lower[n]) for n in anchored]
        if all(b - a >= DX for a, b in zip(bary, bary[1:], strict=False)):
            xs.update(zip(anchored, bary, strict=True))
        else:
            lo = min(min(lower[n]) for n in anchored)
            hi = max(max(lower[n]) for n in anchored)
            step = max((hi - lo) / len(anchored), DX)
            mid = (lo + hi) / 2
            for i, n in enumerate(anchored):
                xs[n] = mid + (i - (len(anchored) - 1) / 2) * step
    side: dict[str, int] = {}
    for n in row:
        if n in xs:
            continue
        host = next((m for m in nbrs[n] if m in xs), None)
        if host is not None:  # beside its host, alternately left and right
            k = side[host] = side.get(host, 0) + 1
            offset = ((k + 1) // 2) * BESIDE_DX * (-1 if k % 2 else 1)
            xs[n] = xs[host] + offset
    rest = [n for n in row if n not in xs]
    if rest and not xs:
        for i, n in enumerate(rest):
            xs[n] = (i - (len(rest) - 1) / 2) * DX
    else:
        right = max(xs.values(), default=-DX)
        for i, n in enumerate(rest):
            xs[n] = right + (i + 1) * DX
    _spread(row, xs, nbrs)
    for n in row:
        centre[n] = (xs[n], 0.0)


def _spread(row: list[str], xs: dict[str, float], nbrs: dict[str, list[str]]) -> None:
    """Keep DX between neighbours in a row (PEER_DX between linked ones), pushing outwards
    from the middle."""
    ordered = sorted(row, key=lambda n: xs[n])
    mid = len(ordered) // 2
    for i in range(mid + 1, len(ordered)):
        a, b = ordered[i - 1], ordered[i]
        xs[b] = max(xs[b], xs[a] + (PEER_DX if b in nbrs[a] else DX))
    for i in range(mid - 1, -1, -1):
        a, b = ordered[i], ordered[i + 1]
        xs[a] = min(xs[a], xs[b] - (PEER_DX if b in nbrs[a] else DX))


def _fit_row(row: list[str], centre: dict[str, tuple[float, float]],
             size: dict[str, tuple[int, int]], pairs: list[tuple[str, ...]]) -> None:
    """Keep a row's nodes off every link that crosses the row (from a row above to one below):
    from the middle outwards, a node in a link's way moves past it, and the rest make room."""
    if not row:
        return
    y = centre[row[0]][1]
    members = set(row)
    crossings = []  # (x where the link crosses the row, dx per dy)
    for a, b in pairs:
        if a in members or b in members:
            continue
        (ax, ay), (bx, by) = centre[a], centre[b]
        if min(ay, by) < y < max(ay, by):
            slope = (bx - ax) / (by - ay)
            crossings.append((ax + slope * (y - ay), abs(slope)))

    def blocked(name: str, x: float) -> tuple[float, float] | None:
        w, h = size[name]
        for cx, slope in crossings:
            reach = w / 2 + CLEARANCE + (h / 2 + CLEARANCE) * slope
            if abs(x - cx) < reach:
                return cx - reach, cx + reach
        return None

    def free(name: str, x: float, way: int) -> float:
        while (hole := blocked(name, x)) is not None:
            x = hole[1] + 1 if way > 0 else hole[0] - 1
        return x

    linked = set(pairs)
    ordered = sorted(row, key=lambda n: centre[n][0])
    mid = len(ordered) // 2
    xs = {n: centre[n][0] for n in ordered}
    x = xs[ordered[mid]]
    right, left = free(ordered[mid], x, 1), free(ordered[mid], x, -1)
    xs[ordered[mid]] = right if right - x <= x - left else left
    for way, indices in ((1, range(mid + 1, len(ordered))), (-1, range(mid - 1, -1, -1))):
        for i in indices:
            n, prev = ordered[i], xs[ordered[i - way]]
            gap = PEER_DX if tuple(sorted((n, ordered[i - way]))) in linked else DX
            xs[n] = free(n, max(xs[n] * way, prev * way + gap) * way, way)
    for n in ordered:
        centre[n] = (xs[n], y)


def _icon(name: str, centre: dict[str, tuple[float, float]], size: dict[str, tuple[int, int]],
          grow: float = 0.0) -> Box:
    (cx, cy), (w, h) = centre[name], size[name]
    return Box(cx - w / 2 - grow, cy - h / 2 - grow, cx + w / 2 + grow, cy + h / 2 + grow)


def _repair(rows: list[list[str]], row_of: dict[str, int],
            centre: dict[str, tuple[float, float]], size: dict[str, tuple[int, int]],
            links: Sequence[Link], pinned: set[str]) -> None:
    """What the rows could not avoid (a link within a row, a hand-placed node): move a node in
    a link's way sideways (its row making room) by the least step that lowers the number of
    such hits; stop when none is left or no step helps."""
    pairs = sorted({tuple(sorted((lk.a.node, lk.b.node))) for lk in links
                    if lk.a.node != lk.b.node})
    movable = sorted(n for n in centre if n not in pinned)

    def score(where: dict[str, tuple[float, float]]) -> tuple[int, int]:
        return (len(_hits(pairs, where, size, movable, -ICON_TOLERANCE)),
                len(_hits(pairs, where, size, movable, CLEARANCE)))

    now = score(centre)
    for _ in range(REPAIR_STEPS):
        if now == (0, 0):
            return
        best = None
        for c in sorted({c for _, c in _hits(pairs, centre, size, movable, CLEARANCE)}):
            for step in REPAIR_MOVES:
                trial = dict(centre)
                _shift(c, step, rows[row_of[c]], trial, pinned)
                got = score(trial)
                if got < now and (best is None or got < best[0]):
                    best = (got, trial)
        if best is None:
            return
        now = best[0]
        centre.update(best[1])


def _hits(pairs: list[tuple[str, ...]], centre: dict[str, tuple[float, float]],
          size: dict[str, tuple[int, int]], movable: list[str], grow: float
          ) -> list[tuple[tuple[str, ...], str]]:
    """(link ends, node) for every movable node within ``grow`` of a link between two others."""
    icons = {c: _icon(c, centre, size, grow) for c in movable}  # once, not once per link
    out = []
    for pair in pairs:
        p, q = centre[pair[0]], centre[pair[1]]
        lo_x, hi_x, lo_y, hi_y = min(p[0], q[0]), max(p[0], q[0]), min(p[1], q[1]), max(p[1], q[1])
        for c in movable:
            box = icons[c]
            if hi_x < box.x0 or lo_x > box.x1 or hi_y < box.y0 or lo_y > box.y1:
                continue  # apart (segment_hits_box's own first test): most pairs, cheaply
            if c not in pair and segment_hits_box(p, q, box):
                out.append((pair, c))
    return out


def _shift(name: str, dx: float, row: list[str], centre: dict[str, tuple[float, float]],
           pinned: set[str]) -> None:
    """Move a node sideways; row neighbours on that side make room."""
    x, y = centre[name]
    centre[name] = (x + dx, y)
    others = sorted((n for n in row if n != name and n not in pinned
                     and (centre[n][0] - x) * dx > 0), key=lambda n: abs(centre[n][0] - x))
    prev = centre[name][0]
    for n in others:
        nx, ny = centre[n]
        if abs(nx - prev) >= DX:
            break
        centre[n] = (prev + math.copysign(DX, dx), ny)
        prev = centre[n][0]
