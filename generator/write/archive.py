"""Staging folder -> a deterministic ``.gns3project`` zip, written atomically.

Sorted members, fixed timestamps, fixed modes, deflate (never zstd: GNS3 2.2 cannot read it),
Zip64 on. Base images (``--include-images``) are stored uncompressed: they barely compress and
deflating gigabytes is slow. They are *extra* members (archive name -> source file) that stream
straight from their file into the zip, never copied into the staging folder: bundling writes
each image's bytes once. Their manifest sha256 comes from :func:`images.digests_of` (cached
beside the image, so usually no read at all); the bytes streamed are hashed on the way and
must match it.
"""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from generator.errors import ArchiveError
from generator.paths import PROJECT_FILE, Layout
from generator.write.disks import digests_of

#: Extra members: archive name -> the file whose bytes it holds (base images).
Extra = Mapping[str, Path]

FIXED_TIME = (1980, 1, 1, 0, 0, 0)
CHUNK = 1 << 20


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def members(layout: Layout) -> list[Path]:
    """Every file of the staging tree, in archive order (``project.gns3`` first, then sorted)."""
    files = sorted((p for p in layout.root.rglob("*") if p.is_file()), key=layout.rel)
    files.sort(key=lambda p: p != layout.project_file)
    return files


def write_manifest(layout: Layout, info: dict[str, Any], extra: Extra | None = None) -> None:
    """``gns3lab/manifest.json``: build facts and the sha256 of every other member, the
    ``extra`` ones included (from the image digest cache)."""
    files = {layout.rel(p): {"sha256": sha256_of(p), "size": p.stat().st_size}
             for p in members(layout) if p != layout.manifest}
    for name, path in (extra or {}).items():
        files[name] = {"sha256": digests_of(path)[1], "size": path.stat().st_size}
    layout.manifest.parent.mkdir(parents=True, exist_ok=True)
    doc = dict(info, files=files)
    layout.manifest.write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n")


def _entries(layout: Layout, extra: Extra) -> list[tuple[str, Path]]:
    """(member name, source file) in archive order: ``project.gns3`` first, then by name."""
    staged = {layout.rel(p): p for p in members(layout)}
    clash = sorted(set(staged) & set(extra))
    if clash:
        raise ArchiveError(f"{clash[0]} is both a staged file and an extra member")
    return sorted({**staged, **extra}.items(), key=lambda e: (e[0] != PROJECT_FILE, e[0]))


def write_archive(layout: Layout, target: Path,
                  progress: Callable[[str], None] | None = None,
                  extra: Extra | None = None) -> Path:
    """Zip the staging tree and the ``extra`` members into ``target`` through a temp file and
    a rename. An extra member whose bytes differ from the sha256 the manifest records for it
    (the file changed under the build) leaves no archive."""
    extra = dict(extra or {})
    entries = _entries(layout, extra)
    recorded = _recorded(layout)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        with zipfile.ZipFile(tmp, "w", allowZip64=True) as zf:
            for name, path in entries:
                info = zipfile.ZipInfo(name, date_time=FIXED_TIME)
                info.external_attr = 0o100644 << 16
                info.create_system = 3
                stored = name.startswith("images/")
                info.compress_type = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
                size = path.stat().st_size
                if progress and size > 64 * CHUNK:
                    progress(f"adding {name} ({size >> 20} MiB)")
                info.file_size = size  # lets zipfile pick Zip64 when needed
                sha = _copy_member(path, zf, info)
                if name in extra and sha != recorded.get(name, sha):
                    raise ArchiveError(f"{path.name} changed while it was bundled (its sha256 "
                                       f"is now {sha}, not the one the manifest records)",
                                       hint="do not change base images during a build; "
                                            "build again")
        os.replace(tmp, target)
    except OSError as exc:
        raise ArchiveError(f"cannot write {target}: {exc}") from exc
    finally:
        tmp.unlink(missing_ok=True)
    return target


def _recorded(layout: Layout) -> dict[str, str]:
    """The sha256 per member that the staged manifest records ({} before it is written)."""
    if not layout.manifest.is_file():
        return {}
    files = json.loads(layout.manifest.read_text()).get("files", {})
    return {name: entry["sha256"] for name, entry in files.items()}


def _copy_member(path: Path, zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> str:
    """Stream ``path`` into ``zf`` as ``info``; the sha256 of the bytes written."""
    digest = hashlib.sha256()
    with path.open("rb") as src, zf.open(info, "w") as dst:
        for chunk in iter(lambda: src.read(CHUNK), b""):
            dst.write(chunk)
            digest.update(chunk)
    return digest.hexdigest()


def read_member(archive: Path, name: str) -> bytes:
    try:
        with zipfile.ZipFile(archive) as zf:
            return zf.read(name)
    except KeyError:
        raise ArchiveError(f"{archive}: no member '{name}'",
                           hint="is this a .gns3project built by gns3lab?") from None
    except (OSError, zipfile.BadZipFile) as exc:
        raise ArchiveError(f"{archive}: not a readable zip archive: {exc}") from None
