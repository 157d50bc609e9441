"""Canvas layout: tiers by role (OOB on top, then spines, leaves, servers), no overlaps."""

from __future__ import annotations

from dataclasses import replace

from .model import Node

#: Row of each role; unknown roles go to the server row.
ROLE_TIERS = {
    "external": 0, "oob": 0, "management": 0, "controller": 0,
    "spine": 1, "core": 1,
    "leaf": 2, "switch": 2, "tor": 2, "access": 2,
}
SERVER_TIER = 3
DX, DY = 170, 170  # spacing: wide enough for a label under each symbol
ROW_MAX = 10  # nodes per row before a tier wraps onto another row
MIN_GAP = 110  # two node origins closer than this overlap


def tier_of(node: Node) -> int:
    if node.tier >= 0:
        return node.tier
    return ROLE_TIERS.get(node.role, SERVER_TIER)


def place_nodes(nodes: list[Node]) -> list[Node]:
    """Give every node without a pinned position a grid slot in its tier's row(s)."""
    tiers: dict[int, list[Node]] = {}
    for node in nodes:
        tiers.setdefault(tier_of(node), []).append(node)
    pinned = [(n.x, n.y) for n in nodes if n.pinned]
    placed: dict[str, Node] = {}
    y = -((len(tiers) - 1) * DY) // 2
    for tier in sorted(tiers):
        members = [n for n in tiers[tier] if not n.pinned]
        for row_start in range(0, len(members), ROW_MAX):
            row = members[row_start:row_start + ROW_MAX]
            while any(abs(py - y) < MIN_GAP for _, py in pinned):
                y += DY // 2
            x0 = -((len(row) - 1) * DX) // 2
            for i, node in enumerate(row):
                placed[node.name] = replace(node, x=x0 + i * DX, y=y, tier=tier)
            y += DY
        for node in tiers[tier]:
            if node.pinned:
                placed[node.name] = replace(node, tier=tier)
    return [placed[n.name] for n in nodes]
