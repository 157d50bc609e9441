"""``gns3lab verify``: is this archive exactly what gns3lab built, and will it work here?

Checked, each problem reported once with its own precise reason:

- members: every member matches the sha256 (and size) the manifest records, streamed through
  :class:`~generator.read.reader.SafeArchive`; none is missing, none was added;
- project: ``project.gns3`` passes the real servers' schemas (:mod:`generator.read.schemas`:
  gns3-server 2.2.61's and 3.0.6's), the topology as the controller loads it and each node as
  the controller sends it to the compute;
- overlays: each qcow2's backing file, read from its header inside the zip (nothing is
  extracted), is a bare file name that the manifest lists among its images (and, for a node's
  ``hda_disk.qcow2``, the node's own ``hda_disk_image``);
- seeds: each node's seed ISO is labelled ``cidata`` and holds ``user-data`` (a
  ``#cloud-config`` YAML mapping) and ``meta-data`` (a mapping with an ``instance-id``);
- images: every base the archive needs is in it (``images/QEMU/``) or in the image folders
  (``--images-dir``…, the image cache, ``$GNS3LAB_IMAGES``, GNS3's), with the size, md5 and
  sha256 the manifest records: an overlay on another file of the same name reads garbage.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import Any

from generator import qcow2
from generator.archive_format import MANIFEST, FileRecord, ImageRecord, Manifest, ManifestError
from generator.errors import ArchiveError, ImageError, SeedError
from generator.images.baseimages import digests_of
from generator.images.cache import ImageNeed, check_folder, image_folders, needs_of
from generator.paths import PROJECT_FILE
from generator.read.bounded import parse_yaml
from generator.read.reader import SafeArchive
from generator.read.schemas import check_project
from generator.read.shape import (
    NODES_PREFIX,
    image_member,
    node_folder,
    overlay_member,
    project_nodes,
    project_problem,
)
from generator.read.snapshots import check_snapshot
from generator.write.iso import MAX_SEED_ISO, read_seed_iso


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an archive: which check, about what, and why."""

    check: str  # members, project, overlays, seeds, images
    subject: str  # a member name, an image file name
    message: str

    def render(self) -> str:
        return f"{self.subject}: {self.message}"


@dataclass(frozen=True)
class VerifyReport:
    """What ``verify`` checked and found; ``ok`` when nothing."""

    archive: str
    checked: dict[str, int] = field(default_factory=dict)
    problems: tuple[Problem, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_json(self) -> dict[str, Any]:
        return {"archive": self.archive, "ok": self.ok, "checked": self.checked,
                "problems": [asdict(p) for p in self.problems]}


def verify_archive(archive: Path, images_dirs: Iterable[Path] = ()) -> VerifyReport:
    """Run every check on ``archive``; ArchiveError only if it cannot be opened at all."""
    dirs = tuple(images_dirs)
    with SafeArchive(archive) as zf:
        if MANIFEST not in zf.infos:
            return VerifyReport(str(archive), problems=(Problem(
                "members", MANIFEST, "missing: this archive was not built by gns3lab (or was "
                "repacked), so there is nothing to check it against"),))
        try:
            manifest = zf.manifest()
        except ManifestError as exc:
            return _unreadable(archive, exc.problem)
        except ArchiveError as exc:
            return _unreadable(archive, exc.message)
        if manifest is None or manifest.files is None:
            return _unreadable(archive, "it records no 'files' (member name -> {sha256, size})")
        files = manifest.files
        problems, digests = check_members(zf, files)
        snapshots, found = check_snapshots(zf, manifest)
        problems += found
        project, found = _project(zf)
        problems += _for_capturing_server(found, manifest)
        nodes = project_nodes(project)
        overlays, found = check_overlays(zf, nodes, set(manifest.images))
        problems += found
        seeds, found = check_seeds(zf, nodes)
        problems += found
    images = 0
    if project is not None:  # without a project, there are no needs to check
        images, found = check_images(archive, manifest, digests, dirs)
        problems += found
    checked = {"members": len(files), "overlays": overlays, "seeds": seeds,
               "images": images}
    if manifest.capture is not None:
        checked["snapshots"] = snapshots
    return VerifyReport(str(archive), checked, tuple(problems))


def _unreadable(archive: Path, why: str) -> VerifyReport:
    return VerifyReport(str(archive), problems=(
        Problem("members", MANIFEST, f"unreadable: {why}"),))


# --------------------------------------------------------------------------- members


def check_members(zf: SafeArchive, files: dict[str, FileRecord]
                  ) -> tuple[list[Problem], dict[str, str]]:
    """Each manifest entry against the member it names (streamed sha256), then the members
    the manifest does not name; also the digests computed, by member name."""
    problems, digests = [], {}
    for name, entry in sorted(files.items()):
        want, size = entry.sha256, entry.size
        info = zf.infos.get(name)
        if info is None:
            problems.append(Problem("members", name, "in the manifest, missing from the "
                                    "archive"))
        elif size is not None and info.file_size != size:
            problems.append(Problem("members", name, f"is {info.file_size} bytes, the "
                                    f"manifest records {size}"))
        else:
            try:
                digests[name] = zf.digest(name)
            except ArchiveError as exc:
                problems.append(Problem("members", name, "unreadable: "
                                        + exc.message.rsplit(": ", 1)[-1]))
                continue
            if digests[name] != want:
                problems.append(Problem("members", name, f"sha256 is {digests[name]}, the "
                                        f"manifest records {want}: changed after the build"))
    for name in sorted(set(zf.infos) - set(files) - {MANIFEST}):
        problems.append(Problem("members", name, "in the archive, not in the manifest: "
                                "added after the build"))
    return problems, digests


def _for_capturing_server(problems: list[Problem], manifest: Manifest) -> list[Problem]:
    """A captured archive is the project file GNS3 exported: it opens in that GNS3's major
    version (3.x writes keys 2.2 refuses), so only that version's schema judges it."""
    if manifest.capture is None or not manifest.capture.gns3_version:
        return problems
    major = manifest.capture.gns3_version.split(".")[0] + "."
    return [p for p in problems if not p.message.startswith("GNS3 ")
            or p.message.startswith(f"GNS3 {major}")]


def check_snapshots(zf: SafeArchive, manifest: Manifest) -> tuple[int, list[Problem]]:
    """A captured archive's snapshots, each against its own members' record (gns3lab
    capture): the outer digest only says the snapshot changed, this says where."""
    records = manifest.capture.snapshots if manifest.capture else {}
    problems = []
    for member, record in sorted(records.items()):
        if member not in zf.infos:
            continue  # check_members reports it missing
        problems += [Problem("snapshots", member, message)
                     for message in check_snapshot(zf, member, record)]
    return len(records), problems


# --------------------------------------------------------------------------- project


def _project(zf: SafeArchive) -> tuple[dict[str, Any] | None, list[Problem]]:
    """The project document and its problems: None and one problem when there is no project
    to check (missing, past the readers' limits, not a project at all), else the servers'
    schema problems, or the shape problem that keeps a node from the per-node checks."""
    if PROJECT_FILE not in zf.infos:
        return None, [Problem("project", PROJECT_FILE, "missing: GNS3 cannot import it")]
    try:
        doc = zf.json(PROJECT_FILE)
    except ArchiveError as exc:
        return None, [Problem("project", PROJECT_FILE, exc.message.split(": ", 1)[-1])]
    if not isinstance(doc, dict) or not isinstance(doc.get("topology"), dict):
        return None, [Problem("project", PROJECT_FILE, str(project_problem(doc)))]
    problems = [Problem("project", PROJECT_FILE, p) for p in check_project(doc)]
    if not problems and (problem := project_problem(doc)):
        problems.append(Problem("project", PROJECT_FILE, problem))
    return doc, problems


# --------------------------------------------------------------------------- overlays


def check_overlays(zf: SafeArchive, nodes: list[dict[str, Any]], images: set[str]
                   ) -> tuple[int, list[Problem]]:
    """Each qcow2 under ``project-files/``: its backing file is a bare name the manifest lists
    (and a node's ``hda_disk.qcow2`` names that node's ``hda_disk_image``)."""
    hda = {overlay_member(n["node_id"]):
           (n.get("name"), (n.get("properties") or {}).get("hda_disk_image")) for n in nodes}
    names = sorted(n for n in zf.infos if n.startswith(NODES_PREFIX) and
                   n.endswith(".qcow2"))
    problems = []
    for name in names:
        try:
            backing = qcow2.backing_name(zf.head(name, qcow2.HEAD))
        except (ValueError, ArchiveError) as exc:
            problems.append(Problem("overlays", name, str(getattr(exc, "message", exc))))
            continue
        node, base = hda.get(name, (None, None))
        if backing is None:
            if base:
                problems.append(Problem("overlays", name, f"has no backing file, but node "
                                        f"{node!r} runs it on base image {base!r}"))
            continue
        if PurePosixPath(backing).name != backing or backing in (".", "..") or \
                "\\" in backing:
            problems.append(Problem("overlays", name, f"backing file {backing!r} is a path, "
                                    "not a bare file name: GNS3 finds bases by name in its "
                                    "images folder, and a path points into the builder's "
                                    "machine"))
        elif backing not in images:
            problems.append(Problem("overlays", name, f"backing file {backing!r} is not among "
                                    "the manifest's images"))
        elif base and backing != base:
            problems.append(Problem("overlays", name, f"backing file {backing!r} is not node "
                                    f"{node!r}'s base image {base!r}"))
    return len(names), problems


# --------------------------------------------------------------------------- seeds


def check_seeds(zf: SafeArchive, nodes: list[dict[str, Any]]) -> tuple[int, list[Problem]]:
    """The seed ISO each QEMU node names as its CD-ROM."""
    count, problems = 0, []
    for node in nodes:
        seed = (node.get("properties") or {}).get("cdrom_image")
        if node.get("node_type") != "qemu" or not isinstance(seed, str) or not seed:
            continue
        name = f"{node_folder(node['node_id'])}{seed}"
        count += 1
        if name not in zf.infos:
            problems.append(Problem("seeds", name, f"node {node.get('name')!r}'s seed ISO is "
                                    "not in the archive"))
            continue
        with tempfile.NamedTemporaryFile(suffix=".iso") as tmp:
            try:
                zf.copy(name, tmp, MAX_SEED_ISO)  # streamed: a seed is a few KB
                tmp.flush()
                found = check_seed_file(Path(tmp.name))
            except ArchiveError as exc:
                found = [exc.message.rsplit(": ", 1)[-1]]
        problems += [Problem("seeds", name, p) for p in found]
    return count, problems


def check_seed_iso(data: bytes) -> list[str]:
    """Why cloud-init's NoCloud would not take this seed ISO ([] if it would)."""
    with tempfile.NamedTemporaryFile(suffix=".iso") as tmp:
        tmp.write(data)
        tmp.flush()
        return check_seed_file(Path(tmp.name))


def check_seed_file(path: Path) -> list[str]:
    """Why cloud-init's NoCloud would not take the seed ISO at ``path`` ([] if it would);
    its files are read within the seed limits of :func:`read_seed_iso`, its YAML within
    :func:`~generator.read.bounded.parse_yaml`'s."""
    try:
        seed = read_seed_iso(path)
    except SeedError as exc:  # damaged, or past a limit (which the message names)
        damaged = exc.message.startswith("cannot read seed ISO")
        return ["not a readable ISO 9660 image" if damaged else exc.message]
    problems = []
    if seed.label != "cidata":
        problems.append(f"volume label is {seed.label!r}, not 'cidata': NoCloud ignores it")
    user = seed.files.get("user-data")
    if user is None:
        problems.append("no user-data: cloud-init ignores a NoCloud seed without it")
    elif not user.startswith(b"#cloud-config"):
        problems.append("user-data does not start with '#cloud-config'")
    else:
        doc, why = _yaml(user)
        if not isinstance(doc, dict):
            problems.append(f"user-data is not a #cloud-config YAML mapping{why}")
    meta = seed.files.get("meta-data")
    if meta is None:
        problems.append("no meta-data: cloud-init ignores a NoCloud seed without it")
    else:
        doc, why = _yaml(meta)
        if not isinstance(doc, dict) or not doc.get("instance-id"):
            problems.append(f"meta-data has no instance-id{why}")
    return problems


def _yaml(data: bytes) -> tuple[Any, str]:
    """The document and "" (or None and ": why it cannot be read")."""
    try:
        return parse_yaml(data), ""
    except ValueError as exc:
        return None, f": {exc}"


# --------------------------------------------------------------------------- images


def image_needs(archive: Path, manifest: Manifest, dirs: tuple[Path, ...]
                ) -> list[ImageNeed]:
    """The bases the archive needs, with the size, md5 and sha256 its manifest records
    (trusted over what an appliance here says of a file of that name)."""
    out = []
    for need in needs_of(archive, dirs):
        rec = manifest.images.get(need.filename, ImageRecord())
        out.append(replace(need, size=rec.size or need.size or 0, md5=rec.md5 or need.md5,
                           sha256=rec.sha256 or need.sha256))
    return out


def check_images(archive: Path, manifest: Manifest, digests: dict[str, str],
                 dirs: tuple[Path, ...]) -> tuple[int, list[Problem]]:
    """Every base the archive needs: in the archive with the recorded sha256, else in the
    image folders with the recorded size, md5 and sha256."""
    try:
        needs = image_needs(archive, manifest, dirs)
    except (ImageError, ArchiveError) as exc:
        return 0, [Problem("images", PROJECT_FILE, exc.message)]
    problems, outside = [], []
    for need in needs:
        member = image_member(need.filename)
        if member not in digests:
            outside.append(need)
        elif need.sha256 and digests[member] != need.sha256:
            problems.append(Problem("images", need.filename, f"the archive's {member} has "
                                    f"sha256 {digests[member]}, but its overlays were made on "
                                    f"sha256 {need.sha256}"))
    folders = image_folders(dirs)
    for state in check_folder(outside, folders):
        if not state.ok:
            problems.append(Problem("images", state.need.filename,
                                    _image_problem(state.need, state.path, folders)))
    return len(needs), problems


def _image_problem(need: ImageNeed, path: Path | None, folders: list[Path]) -> str:
    """A missing or wrong base: its name, both checksums, and the fix."""
    wanted = f"md5 {need.md5 or '?'}, sha256 {need.sha256 or '?'}, {need.size or '?'} bytes"
    source = f"gns3lab images pull ARCHIVE (from {need.url})" if need.url else \
        f"get it from {need.page}" if need.page else "get it from whoever built the archive"
    if path is None:
        return (f"base image not found ({wanted}); looked in {', '.join(map(str, folders))}. "
                f"Fix: {source}, or point --images-dir at a folder holding it")
    md5, sha256 = digests_of(path)
    return (f"{path} is not the base image the archive was built on: it has md5 {md5}, "
            f"sha256 {sha256}, {path.stat().st_size} bytes; the archive needs {wanted}. Its "
            "overlays would start on the wrong base and read garbage. Fix: replace it with "
            f"the archive's image ({source}), or rebuild the archive on this image")
