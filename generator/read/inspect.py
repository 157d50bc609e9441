"""Reopen an archive and describe it: nodes, links, images, sizes, secrets, QEMU options and the
manifest check. Safe on a stranger's archive: names and types are checked, members are
streamed (constant memory), and nothing is extracted."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from generator.archive_format import PROJECT_FILE, Manifest, ManifestError
from generator.errors import ArchiveError
from generator.read.reader import SafeArchive
from generator.read.secrets import scan
from generator.read.shape import (
    IMAGES_PREFIX,
    NODES_PREFIX,
    node_folder,
    project_nodes,
    project_problem,
)
from generator.read.snapshots import is_snapshot
from generator.read.verify import check_members
from generator.render.image_advice import image_advice
from generator.resolve.canvas_quality import measure_canvas


def inspect_archive(archive: Path) -> dict[str, Any]:
    """What a ``.gns3project`` holds, as data (``gns3lab inspect`` prints it)."""
    with SafeArchive(archive) as zf:
        if PROJECT_FILE not in zf.infos:
            raise ArchiveError(f"{archive}: no {PROJECT_FILE} at the archive root",
                               hint="is this a GNS3 portable project?")
        raw = zf.json(PROJECT_FILE)
        if problem := project_problem(raw):
            raise ArchiveError(f"{archive}: {PROJECT_FILE}: {problem}")
        manifest = zf.manifest()
        if manifest is not None and manifest.files is None:
            raise ManifestError("it records no 'files' (member name -> {sha256, size})",
                                str(archive))
        bad = _check_manifest(zf, manifest) if manifest else []
        sizes = {name: info.file_size for name, info in zf.infos.items()}
        secrets = _secrets(zf, manifest)
    topology = project_nodes(raw)
    by_id = {n["node_id"]: n for n in topology}
    folders = _folder_sizes(sizes)
    nodes = []
    for n in topology:
        props = n.get("properties", {})
        nodes.append({
            "name": str(n["name"]), "type": str(n["node_type"]), "ram": props.get("ram"),
            "cpus": props.get("cpus"), "adapters": props.get("adapters"),
            "image": _text(props.get("hda_disk_image")),
            "seed": _text(props.get("cdrom_image")) or None,
            "options": _text(props.get("options")),
            "files_bytes": folders.get(node_folder(n["node_id"]), 0)})
    links = []
    for link in raw["topology"].get("links", []):
        ends = link.get("nodes") if isinstance(link, dict) else None
        if not isinstance(ends, list):
            raise ArchiveError(f"{archive}: {PROJECT_FILE}: a link without 'nodes'")
        links.append(" -- ".join(
            f"{by_id.get(e.get('node_id'), {}).get('name', '?')}:{_label(e)}"
            for e in ends if isinstance(e, dict)))
    images = sorted({n["image"] for n in nodes if n["image"]})
    included = sorted(n for n in sizes if n.startswith(IMAGES_PREFIX))
    return {
        "name": raw["name"], "revision": raw["revision"], "nodes": nodes,
        "links": links, "images_needed": images,
        "images_included": included,
        # The archive README's advice, in the same words: what GNS3 does without the images.
        "image_advice": image_advice(images, [n.rsplit("/", 1)[-1] for n in included]),
        "archive_bytes": archive.stat().st_size,
        "unpacked_bytes": sum(sizes.values()),
        "totals": _totals(manifest),
        "manifest_ok": (not bad) if manifest else None, "manifest_mismatches": bad,
        "secrets": secrets,
        "qemu_options": {n["name"]: n["options"] for n in nodes if n["options"]},
        "layout": _layout(raw),
        "capture": _capture(manifest, sizes),
    }


def _capture(manifest: Manifest | None, sizes: dict[str, int]) -> dict[str, Any] | None:
    """A captured archive's record (gns3lab capture) and its snapshots, each with its size,
    its own members and the stage it follows; None for a built archive without snapshots."""
    record = manifest.capture if manifest else None
    members = sorted(n for n in sizes if is_snapshot(n))
    if record is None and not members:
        return None
    known = record.snapshots if record else {}
    snapshots = [{"member": m, "name": known[m].name if m in known else "",
                  "stage": known[m].stage if m in known else "", "bytes": sizes[m],
                  "members": len(known[m].files) if m in known else None} for m in members]
    snapshots.sort(key=lambda s: (known[s["member"]].created_at if s["member"] in known else 0,
                                  s["member"]))
    if record is None:
        return {"snapshots": snapshots}
    return {"captured_at": record.captured_at, "source_archive": record.source_archive,
            "source_sha256": record.source_sha256, "gns3_version": record.gns3_version,
            "ready_seconds": record.ready_seconds,
            "stages": [s.model_dump() for s in record.stages], "snapshots": snapshots}


def _folder_sizes(sizes: dict[str, int]) -> dict[str, int]:
    """Bytes under each node folder (``project-files/<type>/<id>/``), in one pass over the
    members: a sum per node over every member was nodes x members."""
    out: dict[str, int] = {}
    for name, size in sizes.items():
        parts = name.split("/", 3)
        if len(parts) == 4 and name.startswith(NODES_PREFIX):
            folder = "/".join(parts[:3]) + "/"
            out[folder] = out.get(folder, 0) + size
    return out


def _layout(project: dict[str, Any]) -> str:
    """The canvas's readability figures, or why a stranger's project can't be measured."""
    try:
        return measure_canvas(project).summary()
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        return f"not measurable ({type(exc).__name__}: {exc})"


def _totals(manifest: Manifest | None) -> dict[str, int] | None:
    """The lab's totals as the manifest records them (None unless all three are there)."""
    keys = ("ram_mb", "vcpus", "disk_bytes")
    if manifest is not None and all(k in manifest.totals for k in keys):
        return {k: manifest.totals[k] for k in keys}
    return None


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _label(end: dict[str, Any]) -> str:
    label = end.get("label")
    return str(label.get("text", "?")) if isinstance(label, dict) else "?"


def _check_manifest(zf: SafeArchive, manifest: Manifest) -> list[str]:
    """Every member against the manifest, as ``verify`` checks them (streamed sha256)."""
    return [p.render() for p in check_members(zf, manifest.files or {})[0]]


def _secrets(zf: SafeArchive, manifest: Manifest | None) -> list[str]:
    """Every secret the archive carries: what the manifest declares, and what a scan of every
    member but the base images finds (private keys, in plain files or inside overlays;
    password hashes in seeds) — a stranger's manifest may not say."""
    secrets = [f"declared: {s}" for s in (manifest.secrets if manifest else ())]
    for name in sorted(zf.infos):
        if name.startswith(IMAGES_PREFIX):
            continue
        try:
            found = scan(zf.chunks(name))
        except ArchiveError:
            continue  # reported by the manifest check
        if found.private_key:
            where = "inside this disk overlay" if name.endswith(".qcow2") else \
                "in a plain member"
            secrets.append(f"found: {name}: a private key {where}")
        if found.password and name.endswith(".iso"):
            secrets.append(f"found: {name}: a console password hash (cloud-init user-data)")
    return secrets
