"""What ``push`` reads from an archive before it talks to a server: the project file, the
manifest (base images and their checksums) and the controller's stages (the start order).

The archive may be a stranger's, so it is opened through the one safe reader
(:class:`~generator.read.reader.SafeArchive`: member names checked, zip bombs refused, reads
capped), its documents are parsed within bounds, and their shapes are checked before push reads
a key of them: a broken archive ends in an ArchiveError before the server is asked anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from generator.archive_format import (
    MANIFEST,
    PROJECT_FILE,
    Manifest,
    ManifestError,
    parse_manifest,
)
from generator.errors import ArchiveError
from generator.read.reader import SafeArchive
from generator.read.shape import MEMBERS, project_problem
from generator.render.guest_paths import STAGES_FILE
from generator.server.replies import BadReply, load_json

STAGES = MEMBERS.rel(MEMBERS.bootstrap_dir / STAGES_FILE.lstrip("/"))
#: Largest project file, manifest or stages file push reads (a 1000-node project is ~3 MB).
MAX_DOCUMENT = 16 << 20


@dataclass(frozen=True)
class ArchiveFacts:
    """What push reads from the archive before talking to the server."""

    project: dict[str, Any]
    manifest: Manifest  #: an empty record when the archive has none
    stages: dict[str, Any] | None
    members: frozenset[str]

    @property
    def name(self) -> str | None:
        name = self.project.get("name")
        return name if isinstance(name, str) and name else None


def read_archive(archive: Path) -> ArchiveFacts:
    """The project file, manifest and stages of an archive, each checked for the shape push
    reads. Raises ArchiveError for an unsafe, unreadable or misshapen archive."""
    with SafeArchive(archive, cap=MAX_DOCUMENT) as zf:
        if PROJECT_FILE not in zf.infos:
            raise ArchiveError(f"{archive}: no {PROJECT_FILE} at the archive root",
                               hint="is this a GNS3 portable project?")
        project = _document(zf, PROJECT_FILE)
        if problem := project_problem(project):
            raise ArchiveError(f"{archive}: {PROJECT_FILE}: {problem}")
        manifest = parse_manifest(_document(zf, MANIFEST) if MANIFEST in zf.infos else {},
                                  str(archive))
        if unchecked := sorted(name for name, rec in manifest.images.items() if not rec.md5):
            # push compares this md5 with the server's image: without it nothing is checked
            raise ManifestError(f"images.{unchecked[0]}.md5 is missing", str(archive))
        stages = _document(zf, STAGES) if STAGES in zf.infos else None
        if stages is not None and (problem := stages_problem(stages)):
            raise ArchiveError(f"{archive}: {STAGES}: {problem}")
        return ArchiveFacts(project, manifest, stages, frozenset(zf.infos))


def _document(zf: SafeArchive, name: str) -> Any:
    """A member parsed as JSON, within :data:`MAX_DOCUMENT` bytes and bounded values."""
    try:
        return load_json(zf.read(name))
    except (BadReply, ValueError) as exc:
        raise ArchiveError(f"{zf.path}: {name} is not readable JSON: {exc}") from None


def stages_problem(doc: Any) -> str | None:
    """Why ``doc`` is not a stages file push can read (None when it is): a ``controller``
    name and ``stages``, each with a list of ``hosts``."""
    if not isinstance(doc, dict) or not isinstance(doc.get("controller", ""), str):
        return "not a mapping with a 'controller' name"
    stages = doc.get("stages") or []
    if not isinstance(stages, list) or not all(
            isinstance(s, dict) and isinstance(s.get("hosts", []), list)
            and all(isinstance(h, str) for h in s.get("hosts", [])) for s in stages):
        return "'stages' must be a list of mappings with a list of 'hosts'"
    return None
