"""Re-pack GNS3's export of a captured lab as a gns3lab archive (``<lab>-<version>-ready``).

GNS3's export is a portable project, but it forgets what gns3lab knows: the manifest (images,
placement, the sha256 of every member), and it writes snapshots in the form of the version that
took them. The re-pack keeps every member GNS3 exported, and:

- writes each snapshot in the portable form (``read/snapshots.py``) and drops the index;
- points each overlay's backing file at the bare image name again (GNS3 wrote the capturing
  server's absolute path into the qcow2 header; it rebases on start anyway, but a bare name
  is what ``verify`` and every other server expect);
- appends a "Captured" section to the README and writes the manifest last: the build's facts
  (images, placement, computes) plus the :class:`~generator.archive_format.CaptureRecord` and
  the digest of every member.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from collections.abc import Iterator, Mapping
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

from generator import qcow2
from generator.archive_format import (
    MANIFEST,
    META_DIR,
    NODES_PREFIX,
    PROJECT_FILE,
    SNAPSHOTS_PREFIX,
    CaptureRecord,
    FileRecord,
    Manifest,
    SnapshotRecord,
    render_manifest,
)
from generator.errors import ArchiveError
from generator.read.reader import SafeArchive
from generator.read.shape import project_problem
from generator.read.snapshots import files_of, is_snapshot, portable_member
from generator.server.facts import MAX_DOCUMENT
from generator.server.replies import BadReply, load_json

README = f"{META_DIR}/README.md"
#: Fixed member time: the same capture re-packed gives the same bytes.
DATE = (1980, 1, 1, 0, 0, 0)
INDEX = f"{SNAPSHOTS_PREFIX}snapshots.conf"


def repack_capture(exported: Path, target: Path, manifest: Manifest, capture: CaptureRecord,
                   taken: Mapping[str, tuple[str, str, int]], workdir: Path) -> Manifest:
    """Write ``target`` from GNS3's export ``exported``. ``taken`` maps each exported snapshot
    file name to (snapshot name, stage it follows, created_at). Returns the manifest written."""
    files: dict[str, FileRecord] = {}
    snapshots: dict[str, SnapshotRecord] = {}
    check_export(exported)
    with SafeArchive(exported) as src, zipfile.ZipFile(
            target, "w", zipfile.ZIP_DEFLATED, allowZip64=True, compresslevel=1) as dst:
        for name in sorted(src.infos, key=lambda n: (n != PROJECT_FILE, n)):
            if name.endswith("/") or name in (MANIFEST, INDEX, README):
                continue
            out = name
            if is_snapshot(name):
                base = PurePosixPath(name).name
                snap, stage, created = taken.get(base, (base.rsplit(".", 1)[0], "", 0))
                out = portable_member(snap, created)
                piece, portable = workdir / "snapshot.zip", workdir / "portable.zip"
                with piece.open("wb") as fh:
                    src.copy(name, fh, src.infos[name].file_size)
                _portable_snapshot(piece, portable, name)
                piece.unlink()
                snapshots[out] = SnapshotRecord(name=snap, stage=stage, created_at=created,
                                                files=_snapshot_files(portable, name))
                files[out] = _write(dst, out, _file_chunks(portable))
                portable.unlink()
                continue
            chunks = src.chunks(name)
            if name.startswith(NODES_PREFIX) and name.endswith(".qcow2"):
                chunks = _bare_backing(chunks)
            files[out] = _write(dst, out, chunks)
        readme = _readme(src, capture, snapshots)
        files[README] = _write(dst, README, iter([readme]))
        final = manifest.model_copy(update={
            "archive": target.name, "files": files,
            "capture": capture.model_copy(update={"snapshots": snapshots})})
        _write(dst, MANIFEST, iter([render_manifest(final)]))
    return final


def check_export(exported: Path) -> None:
    """Refuse an export whose ``project.gns3`` is missing, not JSON or not a GNS3 project
    (re-packed as it is, it would make an archive no GNS3 opens). Raises ArchiveError."""
    with SafeArchive(exported) as src:
        if PROJECT_FILE not in src.infos:
            raise ArchiveError(f"{exported}: no {PROJECT_FILE} at its root")
        doc = _json(src, PROJECT_FILE)
        if problem := project_problem(doc):
            raise ArchiveError(f"{exported}: {PROJECT_FILE}: {problem}")


def _portable_snapshot(piece: Path, out: Path, member: str) -> None:
    """GNS3's snapshot ``piece`` rewritten to ``out`` so that any server restores it: GNS3
    2.2 writes into a snapshot's project file the absolute path of each node's seed ISO in the
    capturing project's folder (its export makes the main project file's paths bare, not the
    snapshots'), and a restore elsewhere, or after that project is deleted, fails with "The
    image ... is missing". Each node's ``*_image`` path is made bare, as in the archive's
    project file, and each overlay's backing name too; the rest is copied as it is (stored,
    as GNS3 writes snapshots). ArchiveError naming ``member`` when it is no readable zip."""
    try:
        with SafeArchive(piece) as src, zipfile.ZipFile(
                out, "w", zipfile.ZIP_STORED, allowZip64=True) as dst:
            for name in src.names:
                info = zipfile.ZipInfo(name, date_time=DATE)
                info.external_attr = src.infos[name].external_attr
                if name.endswith("/"):
                    dst.writestr(info, b"")
                    continue
                if name == PROJECT_FILE:
                    doc = _json(src, name)
                    if problem := project_problem(doc):
                        raise ArchiveError(f"{piece}: {PROJECT_FILE}: {problem}")
                    dst.writestr(info, json.dumps(bare_image_paths(doc), indent=4))
                    continue
                chunks = src.chunks(name)
                if name.startswith(NODES_PREFIX) and name.endswith(".qcow2"):
                    chunks = _bare_backing(chunks)
                with dst.open(info, "w", force_zip64=True) as fh:
                    for chunk in chunks:
                        fh.write(chunk)
    except ArchiveError as exc:
        raise _in_snapshot(exc, piece, member) from None


def _in_snapshot(exc: ArchiveError, piece: Path, member: str) -> ArchiveError:
    """``exc`` about the working copy ``piece``, told about the snapshot ``member``."""
    return ArchiveError(f"snapshot {member}: {exc.message.removeprefix(f'{piece}: ')}")


def _json(src: SafeArchive, name: str) -> Any:
    try:
        return load_json(src.read(name, MAX_DOCUMENT))
    except (BadReply, ValueError) as exc:
        raise ArchiveError(f"{src.path}: {name} is not readable JSON: {exc}") from None


def bare_image_paths(doc: Any) -> Any:
    """``doc`` (a project file) with every node's absolute ``*_image`` path cut to its file
    name (GNS3 finds a bare name in the node's folder, then in its images)."""
    nodes = doc.get("topology", {}).get("nodes", []) if isinstance(doc, dict) else []
    for node in nodes if isinstance(nodes, list) else []:
        props = node.get("properties") if isinstance(node, dict) else None
        if not isinstance(props, dict):
            continue
        for key, value in props.items():
            if key.endswith("image") and isinstance(value, str) and _absolute(value):
                props[key] = PureWindowsPath(value).name if "\\" in value \
                    else PurePosixPath(value).name
    return doc


def _absolute(path: str) -> bool:
    return path.startswith("/") or "\\" in path or (len(path) > 2 and path[1] == ":")


def _snapshot_files(piece: Path, member: str) -> dict[str, FileRecord]:
    """The members of the snapshot ``member`` (copied to ``piece``); ArchiveError naming
    ``member`` when it is no readable zip."""
    try:
        return files_of(piece)
    except ArchiveError as exc:
        raise _in_snapshot(exc, piece, member) from None


def _write(dst: zipfile.ZipFile, name: str, chunks: Iterator[bytes]) -> FileRecord:
    info = zipfile.ZipInfo(name, date_time=DATE)
    info.compress_type, info.external_attr = zipfile.ZIP_DEFLATED, 0o644 << 16
    digest, size = hashlib.sha256(), 0
    with dst.open(info, "w", force_zip64=True) as out:
        for chunk in chunks:
            digest.update(chunk)
            size += len(chunk)
            out.write(chunk)
    return FileRecord(sha256=digest.hexdigest(), size=size)


def _file_chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as fh:
        yield from iter(lambda: fh.read(1 << 20), b"")


def _bare_backing(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """The qcow2 stream with its backing file name cut to the bare file name (written in the
    same place, shorter, so nothing else in the image moves)."""
    head = b""
    for chunk in chunks:
        head += chunk
        if len(head) >= qcow2.HEAD:
            break
    yield patch_backing(head)
    yield from chunks


def patch_backing(head: bytes) -> bytes:
    """``head`` (a qcow2's first bytes) with its backing file name made bare; unchanged if it
    has none, is bare already, or is no qcow2 header."""
    try:
        name = qcow2.backing_name(head)
    except ValueError:
        return head
    if not name or "/" not in name:
        return head
    bare = PurePosixPath(name).name.encode()
    offset, size = int.from_bytes(head[8:16], "big"), int.from_bytes(head[16:20], "big")
    patched = bytearray(head)
    patched[offset:offset + size] = bare + b"\0" * (size - len(bare))
    patched[16:20] = len(bare).to_bytes(4, "big")
    return bytes(patched)


def _readme(src: SafeArchive, capture: CaptureRecord,
            snapshots: Mapping[str, SnapshotRecord]) -> bytes:
    """The build's README with a "Captured" section after it."""
    text = src.read(README).decode(errors="replace") if README in src.infos else ""
    lines = ["", "## Captured", "",
             f"This archive holds the lab as it stood when it was ready: captured by "
             f"`gns3lab capture` on {capture.captured_at} in GNS3 {capture.gns3_version}, "
             f"from `{capture.source_archive}` (sha256 {capture.source_sha256}).",
             "Import it and start it: the controller's bootstrap sees that the lab was built, "
             "runs only the check stage and prints `gns3lab: lab ready`.", "",
             "| stage | outcome | seconds |", "|---|---|---|"]
    lines += [f"| {s.name} | {'ok' if s.ok else 'failed'} | {s.seconds:.0f} |"
              for s in capture.stages]
    if snapshots:
        lines += ["", "Snapshots (GNS3: right-click the project > Manage snapshots), each "
                  "the lab's disks just after its stage; the bootstrap goes on from there:", ""]
        lines += [f"- `{r.name}` after stage {r.stage or '?'} ({m})"
                  for m, r in sorted(snapshots.items(), key=lambda i: i[1].created_at)]
    return (text.rstrip("\n") + "\n" + "\n".join(lines) + "\n").encode()
