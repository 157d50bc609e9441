"""A GNS3 project file (revisions 5-10) -> typed records, every problem collected.

The JSON was parsed within :mod:`generator.read.bounded`'s limits; here each value the importer
uses is checked for its type and range, so a hostile file ends in one message per problem (its
place in the file, e.g. ``topology.nodes[3].name``) and never in a traceback.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from generator.errors import BlueprintError, Problem

REVISIONS = range(5, 11)  # GNS3 2.0-2.2 write 5-9, 3.x writes 10
MAX_NAME = 255
ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,63}$")  # a UUID; never a path
MAX_SVG = 1 << 16
MAX_COORD = 1 << 20
MAX_ITEMS = 10_000  # nodes, links or drawings of one project
#: Characters a node name may not hold: control characters (terminal escapes) and the shell's
#: metacharacters (a name ends up in host names, file names and commands).
BAD_NAME = re.compile(r"[\x00-\x1f\x7f-\x9f;&|$`<>(){}\[\]!*?~#'\"\\]")


@dataclass(frozen=True)
class GEnd:
    node_id: str
    adapter: int
    port: int


@dataclass(frozen=True)
class GLink:
    where: str
    a: GEnd
    b: GEnd
    filters: dict[str, Any]


@dataclass(frozen=True)
class GNode:
    where: str
    node_id: str
    name: str
    node_type: str
    x: int
    y: int
    symbol: str | None
    label: tuple[int, int] | None
    console_type: str | None
    port_name_format: str | None
    first_port_name: str | None
    port_segment_size: int
    properties: dict[str, Any]
    custom_adapters: list[Any]


@dataclass(frozen=True)
class GDrawing:
    x: int
    y: int
    z: int
    rotation: int
    svg: str


@dataclass(frozen=True)
class GProject:
    """The parts of a project file the blueprint can hold."""

    name: str
    revision: int
    scene: tuple[int, int] | None
    nodes: tuple[GNode, ...]
    links: tuple[GLink, ...]
    drawings: tuple[GDrawing, ...]
    variables: dict[str, str] = field(default_factory=dict)


class _Checker:
    """Reads values out of the parsed JSON, noting a problem for each that is not as GNS3
    writes it (and returning a harmless stand-in, so every problem is found in one pass)."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.problems: list[Problem] = []

    def problem(self, where: str, message: str, fix: str) -> None:
        self.problems.append(Problem(self.file, None, where, message, fix))

    def get(self, obj: dict[str, Any], key: str, where: str, kind: type | tuple[type, ...],
            default: Any = None, required: bool = False) -> Any:
        value = obj.get(key, default)
        if key not in obj and required:
            self.problem(_at(where, key), "missing", "a project saved by GNS3 has it")
            return default
        if value is None and not required:
            return default
        if isinstance(value, bool) and kind in (int, float, (int, float)):
            ok = False
        else:
            ok = isinstance(value, kind)
        if not ok:
            self.problem(_at(where, key), f"is {_kind(value)}, not {_name(kind)}",
                         "a project saved by GNS3 has one")
            return default
        return value

    def number(self, obj: dict[str, Any], key: str, where: str, low: int, high: int,
               default: int = 0) -> int:
        value = self.get(obj, key, where, (int, float), default)
        if not isinstance(value, int | float) or value != value or not low <= value <= high:
            self.problem(_at(where, key), f"{value!r} is out of range ({low}..{high})",
                         "a project saved by GNS3 has a value in range")
            return default
        return int(round(value))

    def items(self, obj: dict[str, Any], key: str, where: str) -> list[dict[str, Any]]:
        values = self.get(obj, key, where, list, [])
        if len(values) > MAX_ITEMS:
            self.problem(_at(where, key), f"{len(values)} entries, more than {MAX_ITEMS}",
                         "split the project")
            return []
        out = []
        for i, item in enumerate(values):
            if isinstance(item, dict):
                out.append(item)
            else:
                self.problem(f"{_at(where, key)}[{i}]", f"is {_kind(item)}, not an object",
                             "a project saved by GNS3 has objects here")
        return out


def _at(where: str, key: str) -> str:
    """The JSON path of ``key`` in the object at ``where`` (the top level: ``''``)."""
    return f"{where}.{key}" if where else key


def _kind(value: Any) -> str:
    return {type(None): "null", bool: "a boolean", int: "a number", float: "a number",
            str: "a string", list: "a list", dict: "an object"}.get(type(value), "a value")


def _name(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(sorted({_kind(k()) if k is not type(None) else "null" for k in kinds}))


def parse_project(data: Any, file: str) -> GProject:
    """The project's records; BlueprintError with every problem found."""
    c = _Checker(file)
    if not isinstance(data, dict):
        c.problem("", f"the project is {_kind(data)}, not an object", "give a .gns3 file")
        raise BlueprintError(c.problems)
    revision = c.get(data, "revision", "", int, 0, required=True)
    if isinstance(revision, int) and revision and revision not in REVISIONS:
        c.problem("revision", f"revision {revision} is not one gns3lab reads (5-10)",
                  "open and save the project in GNS3 2.2 or 3.0 first")
    name = c.get(data, "name", "", str, "", required=True)
    if len(name) > MAX_NAME or BAD_NAME.search(name):
        c.problem("name", f"project name {name[:40]!r} holds control or shell characters or is "
                  "too long", "rename the project in GNS3")
    width = c.number(data, "scene_width", "", 0, 2 * MAX_COORD, 0)
    height = c.number(data, "scene_height", "", 0, 2 * MAX_COORD, 0)
    topology = c.get(data, "topology", "", dict, {}, required=True)
    nodes = [n for i, item in enumerate(c.items(topology, "nodes", "topology"))
             if (n := _node(c, item, f"topology.nodes[{i}]")) is not None]
    _check_unique(c, nodes)
    ids = {n.node_id for n in nodes}
    links = [lk for i, item in enumerate(c.items(topology, "links", "topology"))
             if (lk := _link(c, item, f"topology.links[{i}]", ids)) is not None]
    drawings = [d for i, item in enumerate(c.items(topology, "drawings", "topology"))
                if (d := _drawing(c, item, f"topology.drawings[{i}]")) is not None]
    variables = {}
    for i, var in enumerate(c.items(data, "variables", "")):
        key = c.get(var, "name", f"variables[{i}]", str, "")
        value = c.get(var, "value", f"variables[{i}]", str, "")
        variables[key] = value
    if c.problems:
        raise BlueprintError(c.problems)
    return GProject(name=name, revision=revision,
                    scene=(width, height) if width and height else None, nodes=tuple(nodes),
                    links=tuple(links), drawings=tuple(drawings), variables=variables)


def _node(c: _Checker, item: dict[str, Any], where: str) -> GNode | None:
    before = len(c.problems)
    node_id = c.get(item, "node_id", where, str, "", required=True)
    if node_id and not ID_RE.match(node_id):
        c.problem(f"{where}.node_id", "is not a node id", "a project saved by GNS3 has a UUID")
    name = c.get(item, "name", where, str, "", required=True)
    if name and (len(name) > MAX_NAME or BAD_NAME.search(name)):
        c.problem(f"{where}.name", f"node name {name[:40]!r} holds control or shell characters "
                  "or is too long", "rename the node in GNS3 (letters, digits, '-')")
    elif item.get("name") == "":
        c.problem(f"{where}.name", "is empty", "name the node in GNS3")
    node_type = c.get(item, "node_type", where, str, "", required=True)
    label = c.get(item, "label", where, dict, None)
    label_at = None
    if label is not None and "x" in label and label.get("x") is not None:
        label_at = (c.number(label, "x", f"{where}.label", -MAX_COORD, MAX_COORD),
                    c.number(label, "y", f"{where}.label", -MAX_COORD, MAX_COORD))
    node = GNode(
        where=where, node_id=node_id, name=name, node_type=node_type,
        x=c.number(item, "x", where, -MAX_COORD, MAX_COORD),
        y=c.number(item, "y", where, -MAX_COORD, MAX_COORD),
        symbol=c.get(item, "symbol", where, str, None), label=label_at,
        console_type=c.get(item, "console_type", where, str, None),
        port_name_format=c.get(item, "port_name_format", where, str, None),
        first_port_name=c.get(item, "first_port_name", where, str, None),
        port_segment_size=c.number(item, "port_segment_size", where, 0, 1 << 16),
        properties=c.get(item, "properties", where, dict, {}),
        custom_adapters=c.get(item, "custom_adapters", where, list, []))
    return node if len(c.problems) == before else None


def _check_unique(c: _Checker, nodes: list[GNode]) -> None:
    seen_ids: dict[str, str] = {}
    seen_names: dict[str, str] = {}
    for n in nodes:
        if n.node_id in seen_ids:
            c.problem(f"{n.where}.node_id", f"node id {n.node_id} is also {seen_ids[n.node_id]}'s",
                      "give each node its own id (a project saved by GNS3 does)")
        seen_ids.setdefault(n.node_id, n.where)
        if n.name in seen_names:
            c.problem(f"{n.where}.name", f"node name {n.name!r} is also {seen_names[n.name]}'s",
                      "rename one of them in GNS3")
        seen_names.setdefault(n.name, n.where)


def _link(c: _Checker, item: dict[str, Any], where: str, ids: set[str]) -> GLink | None:
    before = len(c.problems)
    ends = []
    for j, end in enumerate(c.items(item, "nodes", where)):
        at = f"{where}.nodes[{j}]"
        node_id = c.get(end, "node_id", at, str, "", required=True)
        if node_id and node_id not in ids:
            c.problem(f"{at}.node_id", f"links to node {node_id[:40]!r}, which the project "
                      "does not have", "remove the link or the missing node's reference")
        ends.append(GEnd(node_id, c.number(end, "adapter_number", at, 0, 1 << 16),
                         c.number(end, "port_number", at, 0, 1 << 16)))
    if len(ends) != 2 and len(c.problems) == before:
        c.problem(f"{where}.nodes", f"has {len(ends)} ends, not 2", "a link joins two ports")
    filters = c.get(item, "filters", where, dict, {})
    if len(c.problems) != before:
        return None
    return GLink(where, ends[0], ends[1], filters)


def _drawing(c: _Checker, item: dict[str, Any], where: str) -> GDrawing | None:
    before = len(c.problems)
    svg = c.get(item, "svg", where, str, "", required=True)
    if len(svg) > MAX_SVG:
        c.problem(f"{where}.svg", f"{len(svg)} characters, more than {MAX_SVG}",
                  "simplify the drawing")
    elif svg and not re.match(r"<svg[\s>]", svg):
        c.problem(f"{where}.svg", "is not an SVG document", "draw it again in GNS3")
    drawing = GDrawing(x=c.number(item, "x", where, -MAX_COORD, MAX_COORD),
                       y=c.number(item, "y", where, -MAX_COORD, MAX_COORD),
                       z=c.number(item, "z", where, -1000, 1000, 1),
                       rotation=c.number(item, "rotation", where, -360, 360),
                       svg=svg)
    return drawing if len(c.problems) == before else None
