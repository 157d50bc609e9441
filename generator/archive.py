"""Staging folder -> a deterministic ``.gns3project`` zip, written atomically.

Sorted members, fixed timestamps, fixed modes, deflate (never zstd: GNS3 2.2 cannot read it),
Zip64 on. Base images (``--include-images``) are stored uncompressed: they barely compress and
deflating gigabytes is slow.
"""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .errors import ArchiveError
from .layout import Layout

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


def write_manifest(layout: Layout, info: dict[str, Any]) -> None:
    """``gns3lab/manifest.json``: build facts and the sha256 of every other member."""
    files = {layout.rel(p): {"sha256": sha256_of(p), "size": p.stat().st_size}
             for p in members(layout) if p != layout.manifest}
    layout.manifest.parent.mkdir(parents=True, exist_ok=True)
    doc = dict(info, files=files)
    layout.manifest.write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n")


def write_archive(layout: Layout, target: Path,
                  progress: Callable[[str], None] | None = None) -> Path:
    """Zip the staging tree into ``target`` through a temp file and a rename."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        with zipfile.ZipFile(tmp, "w", allowZip64=True) as zf:
            for path in members(layout):
                name = layout.rel(path)
                info = zipfile.ZipInfo(name, date_time=FIXED_TIME)
                info.external_attr = 0o100644 << 16
                info.create_system = 3
                stored = name.startswith("images/")
                info.compress_type = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
                if progress and path.stat().st_size > 64 * CHUNK:
                    progress(f"adding {name} ({path.stat().st_size >> 20} MiB)")
                info.file_size = path.stat().st_size  # lets zipfile pick Zip64 when needed
                with path.open("rb") as src, zf.open(info, "w") as dst:
                    for chunk in iter(lambda: src.read(CHUNK), b""):
                        dst.write(chunk)
        os.replace(tmp, target)
    except OSError as exc:
        raise ArchiveError(f"cannot write {target}: {exc}") from exc
    finally:
        tmp.unlink(missing_ok=True)
    return target


def read_member(archive: Path, name: str) -> bytes:
    try:
        with zipfile.ZipFile(archive) as zf:
            return zf.read(name)
    except KeyError:
        raise ArchiveError(f"{archive}: no member '{name}'",
                           hint="is this a .gns3project built by gns3lab?") from None
    except (OSError, zipfile.BadZipFile) as exc:
        raise ArchiveError(f"{archive}: not a readable zip archive: {exc}") from None
