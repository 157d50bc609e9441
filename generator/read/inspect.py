"""Reopen an archive and describe it: nodes, links, images, sizes, secrets, QEMU options and the
manifest check. Safe on a stranger's archive: names and types are checked, members are
streamed (constant memory), and nothing is extracted."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from generator.errors import ArchiveError
from generator.paths import PROJECT_FILE
from generator.read.reader import SafeArchive
from generator.read.verify import check_members
from generator.render.canvas_quality import measure_canvas

MANIFEST = "gns3lab/manifest.json"
MAX_NODES = 10_000
PRIVATE_KEY = re.compile(rb"-----BEGIN [A-Z ]*PRIVATE KEY-----")
PASSWORD_KEYS = re.compile(rb"^\s*-?\s*(passwd|hashed_passwd|plain_text_passwd|password):",
                           re.MULTILINE)
OVERLAP = 64  # bytes kept between chunks, so a marker split across two is still found


def inspect_archive(archive: Path) -> dict[str, Any]:
    """What a ``.gns3project`` holds, as data (``gns3lab inspect`` prints it)."""
    with SafeArchive(archive) as zf:
        if PROJECT_FILE not in zf.infos:
            raise ArchiveError(f"{archive}: no {PROJECT_FILE} at the archive root",
                               hint="is this a GNS3 portable project?")
        raw = zf.json(PROJECT_FILE)
        project = _project(archive, raw)
        manifest = _manifest(archive, zf.json(MANIFEST)) if MANIFEST in zf.infos else None
        bad = _check_manifest(zf, manifest) if manifest else []
        sizes = {name: info.file_size for name, info in zf.infos.items()}
        secrets = _secrets(zf, manifest)
    topo = project["topology"]
    by_id = {n["node_id"]: n for n in topo["nodes"]}
    nodes = []
    for n in topo["nodes"]:
        props = n.get("properties") if isinstance(n.get("properties"), dict) else {}
        folder = f"project-files/qemu/{n['node_id']}/"
        nodes.append({
            "name": str(n["name"]), "type": str(n["node_type"]), "ram": props.get("ram"),
            "cpus": props.get("cpus"), "adapters": props.get("adapters"),
            "image": _text(props.get("hda_disk_image")),
            "seed": _text(props.get("cdrom_image")) or None,
            "options": _text(props.get("options")),
            "files_bytes": sum(s for name, s in sizes.items() if name.startswith(folder))})
    links = []
    for link in topo["links"]:
        ends = link.get("nodes") if isinstance(link, dict) else None
        if not isinstance(ends, list):
            raise ArchiveError(f"{archive}: {PROJECT_FILE}: a link without 'nodes'")
        links.append(" -- ".join(
            f"{by_id.get(e.get('node_id'), {}).get('name', '?')}:{_label(e)}"
            for e in ends if isinstance(e, dict)))
    images = sorted({n["image"] for n in nodes if n["image"]})
    return {
        "name": str(project["name"]), "revision": project["revision"], "nodes": nodes,
        "links": links, "images_needed": images,
        "images_included": sorted(n for n in sizes if n.startswith("images/")),
        "archive_bytes": archive.stat().st_size,
        "unpacked_bytes": sum(sizes.values()),
        "totals": _totals(manifest),
        "manifest_ok": (not bad) if manifest else None, "manifest_mismatches": bad,
        "secrets": secrets,
        "qemu_options": {n["name"]: n["options"] for n in nodes if n["options"]},
        "layout": _layout(raw),
    }


def _layout(project: dict[str, Any]) -> str:
    """The canvas's readability figures, or why a stranger's project can't be measured."""
    try:
        return measure_canvas(project).summary()
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        return f"not measurable ({type(exc).__name__}: {exc})"


def _totals(manifest: dict[str, Any] | None) -> dict[str, int] | None:
    totals = (manifest or {}).get("totals")
    keys = ("ram_mb", "vcpus", "disk_bytes")
    if isinstance(totals, dict) and all(type(totals.get(k)) is int for k in keys):
        return {k: totals[k] for k in keys}
    return None


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _label(end: dict[str, Any]) -> str:
    label = end.get("label")
    return str(label.get("text", "?")) if isinstance(label, dict) else "?"


def _project(archive: Path, doc: Any) -> dict[str, Any]:
    """``project.gns3`` with the shape inspect reads, or ArchiveError naming what is off."""
    where = f"{archive}: {PROJECT_FILE}"
    if not isinstance(doc, dict) or not isinstance(doc.get("topology"), dict):
        raise ArchiveError(f"{where}: not a GNS3 project (no 'topology' mapping)")
    topo = doc["topology"]
    nodes, links = topo.get("nodes", []), topo.get("links", [])
    if not isinstance(nodes, list) or not isinstance(links, list):
        raise ArchiveError(f"{where}: 'topology.nodes' and 'topology.links' must be lists")
    if len(nodes) > MAX_NODES or len(links) > 100 * MAX_NODES:
        raise ArchiveError(f"{where}: {len(nodes)} nodes and {len(links)} links are too many")
    for i, n in enumerate(nodes):
        if not isinstance(n, dict) or not all(isinstance(n.get(k), str)
                                              for k in ("node_id", "name", "node_type")):
            raise ArchiveError(f"{where}: node {i} lacks a string node_id, name or node_type")
    if not isinstance(doc.get("name"), str) or not isinstance(doc.get("revision"), int):
        raise ArchiveError(f"{where}: 'name' must be a string and 'revision' a number")
    return {"name": doc["name"], "revision": doc["revision"],
            "topology": {"nodes": nodes, "links": links}}


def _manifest(archive: Path, doc: Any) -> dict[str, Any]:
    where = f"{archive}: {MANIFEST}"
    files = doc.get("files") if isinstance(doc, dict) else None
    if not isinstance(files, dict) or not all(
            isinstance(v, dict) and isinstance(v.get("sha256"), str) for v in files.values()):
        raise ArchiveError(f"{where}: 'files' must map member names to {{sha256: ...}}")
    return doc


def _check_manifest(zf: SafeArchive, manifest: dict[str, Any]) -> list[str]:
    """Every member against the manifest, as ``verify`` checks them (streamed sha256)."""
    return [p.render() for p in check_members(zf, manifest["files"])[0]]


def _secrets(zf: SafeArchive, manifest: dict[str, Any] | None) -> list[str]:
    """Every secret the archive carries: what the manifest declares, and what a scan of every
    member but the base images finds (private keys, in plain files or inside overlays;
    password hashes in seeds) — a stranger's manifest may not say."""
    found = [f"declared: {s}" for s in (manifest or {}).get("secrets", []) if isinstance(s, str)]
    for name in sorted(zf.infos):
        if name.startswith("images/"):
            continue
        key = password = False
        tail = b""
        try:
            for chunk in zf.chunks(name):
                window = tail + chunk
                key = key or bool(PRIVATE_KEY.search(window))
                password = password or bool(PASSWORD_KEYS.search(window))
                tail = window[-OVERLAP:]
        except ArchiveError:
            continue  # reported by the manifest check
        if key:
            where = "inside this disk overlay" if name.endswith(".qcow2") else \
                "in a plain member"
            found.append(f"found: {name}: a private key {where}")
        if password and name.endswith(".iso"):
            found.append(f"found: {name}: a console password hash (cloud-init user-data)")
    return found
