"""The whole canvas, decided once at resolution: node positions (:mod:`.canvas`), names and port
labels (:mod:`.canvas_labels`), the title and legend notes and the scene size. The results are
fields of the model (``Node.x/y/tier/name_at``, ``Endpoint.label_at``, ``Lab.canvas``), so
``gns3lab show`` prints the positions the archive holds and ``render/project.py`` only formats.
"""

from __future__ import annotations

import math
from dataclasses import replace

from generator import model as m
from generator.blueprint.schema import CanvasSpec
from generator.naming import derive_id
from generator.resolve.canvas import place_nodes, tier_of
from generator.resolve.canvas_labels import NAME_STYLE, PORT_STYLE, place_labels, place_names
from generator.resolve.canvas_quality import font_px, label_boxes, symbol_size, text_size

TITLE_PT, LEGEND_PT = 16, 9  # the least sizes; larger labs get larger notes
LEGEND_WIDTH = 64  # characters per legend line
#: The desktop GUI's canvas in a 1600 x 1000 window (a little under what gns3-gui 2.2 shows):
#: at View > Fit in view, the notes must keep these heights on screen (px).
FIT_VIEW = (1200, 650)
TITLE_PX, LEGEND_PX = 13.0, 9.0
LINE_EM = 1.164  # the GUI's line height per em in DejaVu Sans, its fallback for Noto Sans
SCENE_MARGIN = 100  # px around everything the layout places
SCENE_MIN = (2000, 1000)  # GNS3's own default scene


def place_canvas(lab: m.Lab, spec: CanvasSpec | None = None) -> m.Lab:
    """The lab with every canvas decision made: positions (with the links), names, port labels,
    notes and scene size. What the blueprint pins (``position:``, ``label:``, ``canvas:``) is
    kept as written. Running it on its own output gives the same lab."""
    spec = spec or CanvasSpec()
    placed = place_nodes(lab.nodes, lab.links)
    names = place_names(placed, lab.links)
    names.update({n.name: n.name_at for n in placed if n.name_pinned})
    labels = place_labels(placed, lab.links, names)
    nodes = tuple(replace(n, name_at=names[n.name]) for n in placed)
    links = tuple(replace(lk, a=replace(lk.a, label_at=labels[(lk.link_id, 0)]),
                          b=replace(lk.b, label_at=labels[(lk.link_id, 1)]))
                  for lk in lab.links)
    notes = tuple(place_notes(lab, nodes)) if spec.notes else ()
    drawings = pinned_drawings(lab, spec)
    if spec.scene is not None:
        width, height = spec.scene.width, spec.scene.height
    else:
        width, height = scene_size(nodes, links, notes, drawings)
    return replace(lab, nodes=nodes, links=links,
                   canvas=m.Canvas(width, height, notes, drawings))


def pinned_drawings(lab: m.Lab, spec: CanvasSpec) -> tuple[m.Drawing, ...]:
    """The blueprint's drawings as written, each with an id derived from its place in the list
    (the title and legend notes derive theirs from their kind, so none collide)."""
    return tuple(m.Drawing(derive_id(lab.name, "drawing", f"pinned-{i}"), d.x, d.y, d.z,
                           d.rotation, d.svg) for i, d in enumerate(spec.drawings))


# -- scene --------------------------------------------------------------------------------
def scene_size(nodes: tuple[m.Node, ...], links: tuple[m.Link, ...],
               notes: tuple[m.Note, ...], drawings: tuple[m.Drawing, ...] = ()
               ) -> tuple[int, int]:
    """(width, height) of a scene, centred on 0 as GNS3 centres it, that holds every symbol,
    name, port label and note with SCENE_MARGIN to spare (else the GUI cannot scroll to them)."""
    boxes: list[tuple[float, float, float, float]] = []
    at = {n.name: n for n in nodes}
    name_px, port_px = font_px(NAME_STYLE), font_px(PORT_STYLE)
    for n in nodes:
        w, h = symbol_size(n.symbol)
        boxes.append((n.x, n.y, n.x + w, n.y + h))
        boxes += [(b.x0, b.y0, b.x1, b.y1) for b in label_boxes(
            n.x + n.name_at[0], n.y + n.name_at[1], n.name, name_px).values()]
    for link in links:
        for end in (link.a, link.b):
            n = at[end.node]
            boxes += [(b.x0, b.y0, b.x1, b.y1) for b in label_boxes(
                n.x + end.label_at[0], n.y + end.label_at[1], end.port_name,
                port_px).values()]
    for note in notes:
        boxes.append((note.x, note.y, note.x + note.width, note.y + note.height))
    for drawing in drawings:  # its size is inside its SVG: hold its corner at least
        boxes.append((drawing.x, drawing.y, drawing.x, drawing.y))
    half_w = max((max(abs(b[0]), abs(b[2])) for b in boxes), default=0) + SCENE_MARGIN
    half_h = max((max(abs(b[1]), abs(b[3])) for b in boxes), default=0) + SCENE_MARGIN
    return (max(SCENE_MIN[0], 200 * math.ceil(half_w / 100)),
            max(SCENE_MIN[1], 200 * math.ceil(half_h / 100)))


# -- notes --------------------------------------------------------------------------------
def place_notes(lab: m.Lab, nodes: tuple[m.Node, ...]) -> list[m.Note]:
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
        left = min(x0, notes[1].x)
        top = notes[0].y
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


def _place_notes(lab: m.Lab, extent: tuple[float, float, float, float], title: str,
                 lines: list[str], title_pt: int, legend_pt: int) -> list[m.Note]:
    x0, y0, x1, _ = extent
    width, height = text_size(title, title_pt * 4 / 3)
    legend_w = max(text_size(line, legend_pt * 4 / 3)[0] for line in lines)
    return [_note(lab, "title", int(round((x0 + x1) / 2 - width / 2)),
                  int(round(y0 - 30 - 1.4 * height)), [title], title_pt, bold=True),
            _note(lab, "legend", int(round(x0 - legend_w - 60)), int(y0), lines, legend_pt,
                  bold=False)]


def _legend_lines(lab: m.Lab, nodes: tuple[m.Node, ...]) -> list[str]:
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


def _note(lab: m.Lab, kind: str, x: int, y: int, lines: list[str], pt: int, bold: bool
          ) -> m.Note:
    """A note's record; its box is the one its SVG declares (text width + 10, 1.4 em a line)."""
    px = pt * 4 / 3
    width = int(max(text_size(line, px)[0] for line in lines)) + 10
    height = int(len(lines) * 1.4 * px) + 10
    return m.Note(derive_id(lab.name, "drawing", kind), x, y, tuple(lines), pt, bold, width,
                  height)
