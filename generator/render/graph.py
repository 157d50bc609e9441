"""The topology diagram: the lab model as a Graphviz graph (pure).

:func:`render_dot` builds the graph with the ``graphviz`` binding: one row per canvas tier (oob,
spines, leaves, servers, named on the left), each node with its role and addresses, each link
with its two port names and the networks it carries, and a legend of the networks. Ranks come
only from the tiers (links do not pull nodes between rows), so the picture follows the canvas.
:mod:`generator.write.diagram` lays it out with ``dot`` (render runs no program).

Determinism: everything is emitted in blueprint or sorted order.
"""

from __future__ import annotations

import textwrap
from html import escape

import graphviz

from generator.model import Endpoint, Lab, Node
from generator.resolve.canvas import tier_of

#: What each canvas tier is called in the diagram (see resolve/canvas.py ROLE_TIERS).
TIER_NAMES = {0: "edge", 1: "spines", 2: "leaves", 3: "servers", 4: "oob"}
TIER_COLOURS = {0: "#eeeeee", 1: "#f7e8e8", 2: "#f7f1e0", 3: "#e6f2e6", 4: "#e8eef7"}
#: Colours given to the lab's networks in the order they are declared (then grey).
NETWORK_COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b",
                   "#e377c2", "#17becf", "#bcbd22", "#7f7f7f")
TRUNK_COLOUR = "#333333"  # a link that carries several networks
PLAIN_COLOUR = "#999999"  # a link with no network known at either end
SHAPES = {"qemu": "box", "cloud": "ellipse", "nat": "hexagon", "ethernet_switch": "box3d"}
FONT = "Helvetica"


def tier_name(tier: int) -> str:
    """The row label of a canvas tier."""
    return TIER_NAMES.get(tier, f"tier {tier}")


def port_networks(node: Node, port: str) -> tuple[str, ...]:
    """The networks a NIC carries: its own interface's, and those of every bond, VLAN and
    bridge stacked on top of it (sorted)."""
    stack = {port}
    grew = True
    while grew:
        grew = False
        for iface in node.interfaces:
            if iface.name not in stack and (stack & set(iface.members) or iface.link in stack):
                stack.add(iface.name)
                grew = True
    return tuple(sorted({i.network for i in node.interfaces if i.name in stack and i.network}))


def link_networks(lab: Lab, a: Endpoint, b: Endpoint) -> tuple[str, ...]:
    """The networks on a link: what either end puts on its port."""
    return tuple(sorted(set(port_networks(lab.node(a.node), a.port_name))
                        | set(port_networks(lab.node(b.node), b.port_name))))


def network_colours(lab: Lab) -> dict[str, str]:
    """A colour per network, by declaration order."""
    return {net.name: NETWORK_COLOURS[min(i, len(NETWORK_COLOURS) - 1)]
            for i, net in enumerate(lab.networks)}


def _node_label(node: Node) -> str:
    rows = [f"<b>{escape(node.name)}</b>", escape(node.role or node.type)]
    if node.is_vm:
        rows.append(f"{node.ram} MB, {node.cpus} vCPU")
    rows += [escape(f"{i.network or i.name} {a}") for i in node.interfaces
             for a in i.addresses]
    return "<" + "<br/>".join(rows) + ">"


def _legend(lab: Lab, colours: dict[str, str]) -> str:
    cells = ['<tr><td colspan="2"><b>networks</b></td></tr>']
    for net in lab.networks:
        extra = "".join(f", {k} {v}" for k, v in (("vlan", net.vlan), ("gw", net.gateway))
                        if v is not None)
        cells.append(f'<tr><td bgcolor="{colours[net.name]}"> </td>'
                     f'<td align="left">{escape(f"{net.name} {net.cidr}{extra}")}</td></tr>')
    return '<<table border="0" cellborder="1" cellspacing="0" cellpadding="3">' \
        + "".join(cells) + "</table>>"


def render_dot(lab: Lab) -> str:
    """The lab's diagram as DOT source (pure)."""
    g = graphviz.Graph(lab.name, graph_attr={
        "rankdir": "TB", "ranksep": "0.9", "nodesep": "0.4", "fontname": FONT,
        "labelloc": "t", "fontsize": "14", "newrank": "true",
        "label": f"{lab.name} {lab.version}".strip()
                 + "".join(f"\n{line}" for line in textwrap.wrap(lab.description, 100))},
        node_attr={"fontname": FONT, "fontsize": "10", "style": "rounded,filled"},
        edge_attr={"fontname": FONT, "fontsize": "8", "labelfontsize": "8"})
    tiers: dict[int, list[Node]] = {}
    for node in lab.nodes:
        tiers.setdefault(tier_of(node), []).append(node)
    rows = [f"tier_{tier}" for tier in sorted(tiers)]  # (no ":": DOT reads it as a port)
    for tier, row in zip(sorted(tiers), rows, strict=True):
        with g.subgraph(name=f"tier{tier}", graph_attr={"rank": "same"}) as sub:
            sub.node(row, tier_name(tier), shape="plaintext", style="", fontsize="12")
            for node in tiers[tier]:
                sub.node(node.name, _node_label(node), shape=SHAPES.get(node.type, "box"),
                         fillcolor=TIER_COLOURS.get(tier, "#eeeeee"))
    colours = network_colours(lab)
    if lab.networks:
        g.node("legend", _legend(lab, colours), shape="plaintext", style="")
        rows.append("legend")
    for upper, lower in zip(rows, rows[1:], strict=False):  # the rows, top to bottom
        g.edge(upper, lower, style="invis", weight="100")
    for link in lab.links:
        a, b = link.a, link.b
        if tier_of(lab.node(b.node)) < tier_of(lab.node(a.node)):
            a, b = b, a  # draw from the upper row down
        nets = link_networks(lab, a, b)
        colour = colours.get(nets[0], PLAIN_COLOUR) if len(nets) == 1 else \
            TRUNK_COLOUR if nets else PLAIN_COLOUR
        g.edge(a.node, b.node, taillabel=a.port_name, headlabel=b.port_name,
               label=",\n".join(nets), color=colour, fontcolor=colour)
    return g.source
