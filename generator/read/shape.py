"""What every reader of an archive relies on: the member names gns3lab writes, and the shape of
``project.gns3`` and ``gns3lab/manifest.json`` that ``inspect`` and ``verify`` read them in.

An archive comes from a stranger as far as these readers know, so nothing about its documents is
assumed: :func:`project_problem` and :func:`manifest_problem` say what is off, and
:func:`project_nodes` picks the nodes a per-node check can read.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from generator.paths import Layout

#: The archive holds the staging tree, so its member names are the tree's relative paths.
MEMBERS = Layout(Path())
MANIFEST = MEMBERS.rel(MEMBERS.manifest)
#: The folder of the base images an archive may carry, with its trailing slash.
IMAGES_PREFIX = MEMBERS.rel_dir(MEMBERS.images_dir)
#: The folder of every node's own files, with its trailing slash.
NODES_PREFIX = MEMBERS.rel_dir(MEMBERS.project_files)
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


def manifest_problem(doc: Any) -> str | None:
    """Why ``doc`` is not a manifest the members can be checked against (None when it is): its
    ``files`` map member names to ``{sha256: ...}``, and its ``images`` (if any) map file names
    to records whose size is a number of bytes and whose checksums are strings."""
    files = doc.get("files") if isinstance(doc, dict) else None
    if not isinstance(files, dict) or not all(
            isinstance(v, dict) and isinstance(v.get("sha256"), str) for v in files.values()):
        return "'files' must map member names to {sha256: ...}"
    return images_problem(doc.get("images"))


def images_problem(images: Any) -> str | None:
    """Why a manifest's ``images`` cannot be read (None when they can): build writes
    ``{filename: {size, md5, sha256, ...}}``; a list of records with a ``name`` is read too."""
    if images is None:
        return None
    if isinstance(images, dict):
        records = list(images.items())
    elif isinstance(images, list):
        records = [(r.get("name") or r.get("filename") if isinstance(r, dict) else i, r)
                   for i, r in enumerate(images)]
    else:
        return "'images' must map image file names to records"
    for name, rec in records:
        if not isinstance(rec, dict):
            return f"images.{name} must be a record (size, md5, sha256)"
        size = rec.get("size")
        if size is not None and (type(size) is not int or size < 0):
            return f"images.{name}.size is {repr(size)[:40]}, not a number of bytes"
        for key in ("md5", "sha256", "url", "version", "appliance"):
            if not isinstance(rec.get(key, ""), str | None):
                return f"images.{name}.{key} must be a string"
    return None
