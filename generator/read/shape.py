"""What every reader of an archive relies on: the member names gns3lab writes (spelled once, in
:mod:`generator.archive_format`) and the shape of ``project.gns3`` that ``inspect`` and
``verify`` read it in (the manifest's shape is :func:`generator.archive_format.parse_manifest`).

An archive comes from a stranger as far as these readers know, so nothing about its documents is
assumed: :func:`project_problem` says what is off, and :func:`project_nodes` picks the nodes a
per-node check can read.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from generator.archive_format import IMAGES_PREFIX, MANIFEST, NODES_PREFIX
from generator.paths import Layout

__all__ = ["IMAGES_PREFIX", "MANIFEST", "MEMBERS", "NODES_PREFIX", "image_member",
           "node_folder", "overlay_member", "project_nodes", "project_problem"]

#: The archive holds the staging tree, so its member names are the tree's relative paths.
MEMBERS = Layout(Path())
MAX_NODES = 10_000


def image_member(filename: str) -> str:
    """The member name of a base image the archive carries."""
    return MEMBERS.rel(MEMBERS.image(filename))


def node_folder(node_id: str) -> str:
    """The folder (with its trailing slash) holding a node's files."""
    return MEMBERS.rel_dir(MEMBERS.node_dir_of(node_id))


def overlay_member(node_id: str) -> str:
    """The member name of a node's linked clone."""
    return MEMBERS.rel(MEMBERS.overlay_of(node_id))


def _readable_node(node: Any) -> bool:
    return isinstance(node, dict) and all(
        isinstance(node.get(k), str) for k in ("node_id", "name", "node_type")) \
        and isinstance(node.get("properties", {}), dict)


def project_problem(doc: Any) -> str | None:
    """Why ``doc`` is not a project file in the shape gns3lab reads (None when it is): a
    ``topology`` mapping with lists of ``nodes`` and ``links``, each node a mapping with a
    string ``node_id``, ``name`` and ``node_type`` and a mapping of ``properties`` (or none),
    a string ``name`` and a numeric ``revision``."""
    if not isinstance(doc, dict) or not isinstance(doc.get("topology"), dict):
        return "not a GNS3 project (no 'topology' mapping)"
    topo = doc["topology"]
    nodes, links = topo.get("nodes", []), topo.get("links", [])
    if not isinstance(nodes, list) or not isinstance(links, list):
        return "'topology.nodes' and 'topology.links' must be lists"
    if len(nodes) > MAX_NODES or len(links) > 100 * MAX_NODES:
        return f"{len(nodes)} nodes and {len(links)} links are too many"
    for i, node in enumerate(nodes):
        if not _readable_node(node):
            return f"node {i} lacks a string node_id, name or node_type, or a properties mapping"
    if not isinstance(doc.get("name"), str) or not isinstance(doc.get("revision"), int):
        return "'name' must be a string and 'revision' a number"
    return None


def project_nodes(doc: Any) -> list[dict[str, Any]]:
    """The nodes of ``doc`` in the shape :func:`project_problem` asks for, whatever else is
    wrong with it (the schema check reports that)."""
    topo = doc.get("topology") if isinstance(doc, dict) else None
    nodes = topo.get("nodes") if isinstance(topo, dict) else None
    return [n for n in nodes if _readable_node(n)] if isinstance(nodes, list) else []
