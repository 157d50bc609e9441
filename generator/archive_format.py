"""The archive format in one place: the member names gns3lab writes and the typed manifest.

``build`` writes ``gns3lab/manifest.json`` with :func:`render_manifest`; ``read/``, ``server/``
and ``images/`` read it only through :func:`parse_manifest`, which turns a stranger's document
into a frozen :class:`Manifest` or raises :class:`ManifestError` with one message naming the
first value of the wrong shape. Readers then use the record's fields, never ``.get()`` on a
dict. A field build always writes may be missing from a stranger's (or an older gns3lab's)
manifest: it has a default that means "not recorded". Only the form build writes is read:
``images`` maps image file names to records (a list of records is refused).
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from generator.errors import ArchiveError

#: The project file at the archive root.
PROJECT_FILE = "project.gns3"
#: gns3lab's own files inside the project folder (GNS3 carries them along).
META_DIR = "gns3lab"
#: The manifest member: build facts and the sha256 of every other member.
MANIFEST = f"{META_DIR}/manifest.json"
#: The folder of the base images an archive may carry, with its trailing slash.
IMAGES_PREFIX = "images/QEMU/"
#: The folder of every node's own files, with its trailing slash.
NODES_PREFIX = "project-files/"
#: The folder of GNS3's snapshots (a captured archive carries them), with its trailing slash.
SNAPSHOTS_PREFIX = "snapshots/"

_RECORD = ConfigDict(strict=True, frozen=True, extra="ignore")


class FileRecord(BaseModel):
    """One member's digest (and size) as the build recorded it."""

    model_config = _RECORD
    sha256: str
    size: int | None = Field(None, ge=0)


class ImageRecord(BaseModel):
    """One base image the lab's nodes run on."""

    model_config = _RECORD
    appliance: str = ""
    version: str = ""
    md5: str = ""
    size: int | None = Field(None, ge=0)
    sha256: str | None = None
    url: str | None = None
    public_url: bool = False
    included: bool = False
    #: the name the image is published under, when the archive names it by content
    #: (``<stem>.<sha256[:12]>.<ext>``); left out of the manifest when the name is its own
    original: str | None = None


class ComputeRecord(BaseModel):
    """A GNS3 compute the blueprint declares (``server``: its name or id on the controller)."""

    model_config = _RECORD
    ram_mb: int | None = None
    server: str | None = None


class CaptureStage(BaseModel):
    """One stage as a capture saw it: its name, outcome and seconds from its start to its line."""

    model_config = _RECORD
    name: str
    ok: bool
    seconds: float = Field(ge=0)


class SnapshotRecord(BaseModel):
    """A GNS3 snapshot a captured archive carries (``snapshots/<name>_<ddmmyy_HHMMSS>.gns3project``,
    an uncompressed project zip): its name, the stage it follows, and its own members."""

    model_config = _RECORD
    name: str
    stage: str = ""
    created_at: int = 0
    files: dict[str, FileRecord] = Field(default_factory=dict)


class CaptureRecord(BaseModel):
    """What ``gns3lab capture`` captured: from which archive, on which GNS3, when, the stages
    with their durations, and the snapshots (member name -> record)."""

    model_config = _RECORD
    captured_at: str = ""
    source_archive: str = ""
    source_sha256: str = ""
    gns3_version: str = ""
    ready_seconds: float | None = None
    stages: tuple[CaptureStage, ...] = Field((), strict=False)  # a JSON list
    snapshots: dict[str, SnapshotRecord] = Field(default_factory=dict)


class Manifest(BaseModel):
    """``gns3lab/manifest.json``: the facts of one build. ``files`` is None only in a manifest
    that records no members (a stranger's, or the facts of a build not yet staged)."""

    model_config = _RECORD
    generator: str = ""
    lab: str = ""
    gns3: str | None = None
    version: str | None = None
    archive: str = ""
    lab_key: str = ""
    source_date_epoch: int | None = None
    secrets: tuple[str, ...] = Field((), strict=False)  # a JSON list
    redacted: bool = False
    images: dict[str, ImageRecord] = Field(default_factory=dict)
    images_included: bool = False
    images_checked: bool = False
    totals: dict[str, int] = Field(default_factory=dict)
    placement: dict[str, str] = Field(default_factory=dict)
    computes: dict[str, ComputeRecord] = Field(default_factory=dict)
    files: dict[str, FileRecord] | None = None
    capture: CaptureRecord | None = None  #: only in a captured archive


class ManifestError(ArchiveError):
    """A manifest that is not in the shape build writes; ``problem`` says what is off."""

    def __init__(self, problem: str, where: str = "") -> None:
        self.problem = problem
        super().__init__(f"{where + ': ' if where else ''}{MANIFEST}: {problem}",
                         hint="gns3lab reads the manifest its build writes; rebuild the archive")


def render_manifest(manifest: Manifest) -> bytes:
    """The manifest's bytes: sorted keys, two-space indent, a final newline (deterministic)."""
    doc = manifest.model_dump(mode="json")
    if doc["files"] is None:
        del doc["files"]
    for image in doc["images"].values():
        if image["original"] is None:
            del image["original"]  # most images keep their name: no key, same bytes as before
    if doc["capture"] is None:  # built archives keep their bytes
        del doc["capture"]
    return (json.dumps(doc, indent=2, sort_keys=True) + "\n").encode()


def parse_manifest(doc: Any, where: str = "") -> Manifest:
    """``doc`` (a parsed JSON document) as a :class:`Manifest`; ManifestError naming the first
    value of the wrong shape (``where``: the archive, for the message)."""
    if not isinstance(doc, dict):
        raise ManifestError(f"is {_shown(doc)}, not a mapping", where)
    try:
        return Manifest.model_validate(doc)
    except ValidationError as exc:
        raise ManifestError(_problem(exc), where) from None


def _problem(exc: ValidationError) -> str:
    """The first error as ``images.base.qcow2.size is 'lots': input should be ...``."""
    error = exc.errors()[0]
    path = ".".join(str(p) for p in error["loc"])
    why = error["msg"][:1].lower() + error["msg"][1:]
    if error["loc"] == ("images",):
        why += " (build writes a mapping of image file names to records)"
    return f"{path} is {_shown(error.get('input'))}: {why}"


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
