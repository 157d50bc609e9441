"""JSON and YAML from a stranger's archive, parsed within bounds.

Every reader (``inspect``, ``verify``, ``diff``, and whoever opens an archive through
:class:`~generator.read.reader.SafeArchive`) parses the documents an archive carries here, so a
hostile one costs a few MB and a fraction of a second, never a RecursionError or gigabytes:

- JSON: at most MAX_JSON bytes (the caller's read cap), and before :func:`json.loads` builds
  anything, one linear scan refuses nesting past MAX_DEPTH (a 10,000-deep list ended in
  RecursionError in the schema check), more than MAX_CONTAINERS objects and lists, or more than
  MAX_VALUES values. A gns3lab project holds about 16 containers, 90 values and 4 KB per node:
  the limits take a 2,000-node project (ten times the largest lab benchmarked) and keep the
  parsed document under about 100 MB whatever its shape.
- YAML (the cloud-init documents of a seed): composed with the same depth limit, then the node
  graph is measured once per node (memoised) so aliases that expand past MAX_VALUES values
  (billion laughs: 387 million) or nest past MAX_DEPTH are refused before anything is built.

Both raise :class:`ValueError` with a one-line reason, as :func:`json.loads` does; the callers
say which member it was.
"""

from __future__ import annotations

import json
import re
from typing import Any

import yaml

MAX_JSON = 8 << 20  # bytes of one JSON document (project, manifest, stages)
MAX_DEPTH = 64  # nesting of objects and lists (a project needs 8)
MAX_CONTAINERS = 200_000  # objects and lists of one document
MAX_VALUES = 1_000_000  # values of one document (YAML: after expanding aliases)
#: What the scan stops at: quotes and escapes (to skip strings), brackets and commas.
_JSON_TOKENS = re.compile(r'["\\\[\]{},]')


def parse_json(data: bytes) -> Any:
    """``data`` parsed as JSON, or ValueError (bad JSON, or past one of the limits)."""
    if len(data) > MAX_JSON:
        raise ValueError(f"{len(data)} bytes, more than the {MAX_JSON >> 20} MiB read")
    text = data.decode(json.detect_encoding(data), "surrogatepass")
    check_json_bounds(text)
    try:
        return json.loads(text)
    except RecursionError:  # pragma: no cover - check_json_bounds refuses the depth first
        raise ValueError(f"nested deeper than {MAX_DEPTH} levels") from None


def check_json_bounds(text: str) -> None:
    """Refuse JSON text nested past MAX_DEPTH or with too many containers or values, in one
    pass over its brackets, commas and string delimiters (the C regex engine finds them)."""
    depth = containers = commas = 0
    in_string, skip = False, -1
    for match in _JSON_TOKENS.finditer(text):
        pos = match.start()
        if pos < skip:
            continue  # the character after a backslash in a string
        char = text[pos]
        if in_string:
            if char == "\\":
                skip = pos + 2
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth, containers = depth + 1, containers + 1
            if depth > MAX_DEPTH:
                raise ValueError(f"nested deeper than {MAX_DEPTH} levels")
            if containers > MAX_CONTAINERS:
                raise ValueError(f"more than {MAX_CONTAINERS} objects and lists")
        elif char in "]}":
            depth -= 1
        elif char == ",":
            commas += 1
            if commas > MAX_VALUES:
                raise ValueError(f"more than {MAX_VALUES} values")


class _DepthLoader(yaml.SafeLoader):
    """A SafeLoader that refuses nesting past MAX_DEPTH while it composes (the composer
    recurses, so deep nesting would otherwise end in RecursionError)."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                raise ValueError(f"nested deeper than {MAX_DEPTH} levels")
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


def parse_yaml(data: bytes) -> Any:
    """``data`` (UTF-8) parsed as one YAML document with the safe loader, or ValueError (bad
    YAML, or aliases or nesting past the limits)."""
    loader = None
    try:
        loader = _DepthLoader(data.decode("utf-8"))
        root = loader.get_single_node()
        if root is None:
            return None
        check_yaml_graph(root)
        return loader.construct_document(root)
    except (UnicodeDecodeError, yaml.YAMLError, OverflowError) as exc:
        raise ValueError(f"not readable YAML: {' '.join(str(exc).split())[:200]}") from None
    finally:
        if loader is not None:
            loader.dispose()


def check_yaml_graph(root: yaml.Node) -> None:
    """Refuse a composed YAML graph whose aliases recurse, or expand past MAX_VALUES values
    or MAX_DEPTH levels. Each node is measured once, so a billion-laughs document is refused
    after a few dozen steps."""
    memo: dict[int, tuple[int, int]] = {}  # id(node) -> (values, height) once expanded
    active: set[int] = set()

    def measure(node: yaml.Node, depth: int) -> tuple[int, int]:
        if id(node) in active:
            raise ValueError("a recursive alias (a value that contains itself)")
        if id(node) not in memo:
            active.add(id(node))
            memo[id(node)] = expand(node, depth)
            active.discard(id(node))
        values, height = memo[id(node)]
        if depth + height > MAX_DEPTH:
            raise ValueError(f"aliases nest it deeper than {MAX_DEPTH} levels")
        return values, height

    def expand(node: yaml.Node, depth: int) -> tuple[int, int]:
        if isinstance(node, yaml.MappingNode):
            children = [child for pair in node.value for child in pair]
        elif isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        else:
            return 1, 0
        values, height = 1, 0
        for child in children:
            v, h = measure(child, depth + 1)
            values, height = values + v, max(height, h + 1)
            if values > MAX_VALUES:
                raise ValueError(f"aliases expand it past {MAX_VALUES} values")
        return values, height

    measure(root, 1)
