"""Reopen an archive and describe it: nodes, links, images needed, sizes, manifest check."""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path
from typing import Any

from .errors import ArchiveError
from .layout import PROJECT_FILE


def inspect_archive(archive: Path) -> dict[str, Any]:
    """What a ``.gns3project`` holds, as data (``gns3lab inspect`` prints it)."""
    try:
        zf = zipfile.ZipFile(archive)
    except (OSError, zipfile.BadZipFile) as exc:
        raise ArchiveError(f"{archive}: not a readable .gns3project: {exc}") from None
    with zf:
        names = zf.namelist()
        if PROJECT_FILE not in names:
            raise ArchiveError(f"{archive}: no {PROJECT_FILE} at the archive root",
                               hint="is this a GNS3 portable project?")
        project = json.loads(zf.read(PROJECT_FILE))
        manifest = json.loads(zf.read("gns3lab/manifest.json")) \
            if "gns3lab/manifest.json" in names else None
        bad = _check_manifest(zf, manifest) if manifest else []
        sizes = {i.filename: i.file_size for i in zf.infolist()}
    topo = project["topology"]
    by_id = {n["node_id"]: n for n in topo["nodes"]}
    nodes = []
    for n in topo["nodes"]:
        props = n.get("properties", {})
        folder = f"project-files/qemu/{n['node_id']}/"
        nodes.append({
            "name": n["name"], "type": n["node_type"], "ram": props.get("ram"),
            "cpus": props.get("cpus"), "adapters": props.get("adapters"),
            "image": props.get("hda_disk_image"), "seed": props.get("cdrom_image") or None,
            "files_bytes": sum(s for name, s in sizes.items() if name.startswith(folder))})
    links = [" -- ".join(f"{by_id[e['node_id']]['name']}:{e.get('label', {}).get('text', '?')}"
                         for e in link["nodes"]) for link in topo["links"]]
    images = sorted({n["image"] for n in nodes if n["image"]})
    return {
        "name": project["name"], "revision": project["revision"], "nodes": nodes,
        "links": links, "images_needed": images,
        "images_included": sorted(n for n in names if n.startswith("images/")),
        "archive_bytes": archive.stat().st_size,
        "unpacked_bytes": sum(sizes.values()),
        "totals": manifest.get("totals") if manifest else None,
        "manifest_ok": (not bad) if manifest else None, "manifest_mismatches": bad,
    }


def _check_manifest(zf: zipfile.ZipFile, manifest: dict[str, Any]) -> list[str]:
    bad = []
    for name, entry in manifest.get("files", {}).items():
        try:
            digest = hashlib.sha256(zf.read(name)).hexdigest()
        except KeyError:
            bad.append(f"{name}: missing")
            continue
        if digest != entry["sha256"]:
            bad.append(f"{name}: sha256 differs")
    return bad
