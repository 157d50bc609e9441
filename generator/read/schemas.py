"""``project.gns3`` against the real servers' schemas: gns3-server 2.2.61's JSON Schema and
3.0.6's models, exported into ``generator/data/schemas/``. The topology is checked as each
controller loads it, and each node as the controller sends it to its compute."""

from __future__ import annotations

import json
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any

from generator.errors import GeneratorError

SCHEMAS = Path(__file__).parents[1] / "data" / "schemas"
SERVER_SCHEMAS = ("gns3-2.2.61.json", "gns3-3.0.6.json")
MAX_TEXT = 300  # a schema message quotes the value it refuses; keep one line readable


@cache
def _server_schemas() -> tuple[tuple[str, dict[str, Any]], ...]:
    out = []
    for name in SERVER_SCHEMAS:
        doc = json.loads((SCHEMAS / name).read_text(encoding="utf-8"))
        out.append((str(doc["version"]), doc["schemas"]))
    return tuple(out)


def check_project(doc: Any) -> list[str]:
    """Why the real servers would refuse ``doc`` as a project file ([] if neither would): the
    topology as each controller loads it, each node as it sends it to the compute."""
    try:
        import jsonschema
    except ImportError:  # pragma: no cover - a dependency of gns3lab
        raise GeneratorError("verify needs the jsonschema package",
                             hint="pip install jsonschema") from None
    problems: list[str] = []
    for version, schemas in _server_schemas():
        validator = jsonschema.Draft4Validator if version.startswith("2.") \
            else jsonschema.Draft202012Validator
        errors = [(_where(e.absolute_path) or "the top level", _message(e))
                  for e in validator(schemas["topology"]).iter_errors(doc)]
        nodes = (doc.get("topology") or {}).get("nodes") if isinstance(doc, dict) else None
        for node in nodes if isinstance(nodes, list) else []:
            schema = schemas.get(str(node.get("node_type"))) if isinstance(node, dict) else None
            if schema is not None and isinstance(node.get("properties", {}), dict):
                errors += [(f"node {node.get('name')!r} as sent to the compute"
                            + (f" at {_where(e.absolute_path)}" if e.absolute_path else ""),
                            _message(e))
                           for e in validator(schema).iter_errors(_node_payload(node))]
        problems += [f"GNS3 {version} refuses {where}: {_short(message)}"
                     for where, message in sorted(set(errors))]
    return problems


def _node_payload(node: dict[str, Any]) -> dict[str, Any]:
    """What a controller sends its compute to create ``node`` (the parts a project holds)."""
    payload = {k: v for k, v in node.get("properties", {}).items()
               if v is not None and v != {}}
    payload["name"] = node.get("name")
    payload["node_id"] = node.get("node_id")
    if node.get("node_type") == "qemu" and node.get("console_type"):
        payload["console_type"] = node["console_type"]
    return payload


def _message(error: Any) -> str:
    """A schema error's reason; for "not valid under any of the given schemas" (3.0's
    optional fields are ``anyOf: [T, null]``) the reasons of the branches that matter."""
    useful = [c.message for c in error.context or ()
              if not c.message.endswith("is not of type 'null'")]
    return "; or ".join(dict.fromkeys(useful)) if useful else error.message


def _where(path: Iterable[Any]) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".")


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_TEXT else text[:MAX_TEXT - 1] + "…"
