"""What ``push`` reads from an archive before it talks to a server: the project file, the
manifest (base images and their checksums) and the controller's stages (the start order)."""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from generator.paths import PROJECT_FILE
from generator.read.shape import MANIFEST, MEMBERS
from generator.render.guest_paths import STAGES_FILE

STAGES = MEMBERS.rel(MEMBERS.bootstrap_dir / STAGES_FILE.lstrip("/"))


@dataclass(frozen=True)
class ArchiveFacts:
    """What push reads from the archive before talking to the server."""

    project: dict[str, Any]
    manifest: dict[str, Any] | None
    stages: dict[str, Any] | None
    members: frozenset[str]

    @property
    def name(self) -> str | None:
        name = self.project.get("name")
        return name if isinstance(name, str) and name else None


def read_archive(archive: Path) -> ArchiveFacts:
    """The project file, manifest and stages of an archive (the server judges a broken one)."""
    try:
        with zipfile.ZipFile(archive) as zf:
            names = frozenset(zf.namelist())
            project = json.loads(zf.read(PROJECT_FILE))
            manifest = json.loads(zf.read(MANIFEST)) if MANIFEST in names else None
            stages = json.loads(zf.read(STAGES)) if STAGES in names else None
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        return ArchiveFacts({}, None, None, frozenset())
    return ArchiveFacts(project if isinstance(project, dict) else {}, manifest, stages, names)
