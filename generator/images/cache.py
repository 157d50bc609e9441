"""The image cache: which base images a lab needs, and fetching, checking and adding them.

The cache is the first folder in ``$GNS3LAB_IMAGES``, else ``~/.cache/gns3lab/images``; it may
be GNS3's own images folder (everything this module leaves there besides images is hidden:
``.<name>.part`` downloads, ``.<name>.lock`` locks, ``.<name>.sha256sum`` digests).

:func:`pull` downloads from the appliance's ``direct_download_url`` (http and https only, every
byte bounded: see :mod:`generator.images.download`), resuming a partial download with an HTTP
Range request, and decompresses it where the appliance says so (``compression``: xz, lzma,
gzip, bzip2). Only an image whose appliance (or manifest) declares its size and a checksum is
pulled: the size bounds the download, the checksum proves it. A file enters the cache only after
its size and md5 match the appliance (and its sha256 the manifest, when that records one), by a
rename: a corrupt or partial file is never in place. The cache is private: a folder this module
makes is mode 0700, every file it writes 0600 (images are the builder's; GNS3 runs as the same
user, and ``push --upload-images`` sends them to a remote server). One ``flock`` per image
makes two pulls of one image (threads or processes) download it once. Images with no direct
URL (behind a login, e.g. Cumulus VX) are reported with the page to fetch them from;
:func:`import_file` then adds the file got by hand, after the same checks.
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from generator.archive_format import MANIFEST, PROJECT_FILE, ImageRecord, Manifest
from generator.blueprint.appliances import (
    REPO_APPLIANCES,
    Appliance,
    Catalogue,
    ImageFile,
    check_filename,
    load_catalogue,
)
from generator.errors import ImageError
from generator.fileio import file_digests
from generator.images.baseimages import ENV_IMAGES, default_cache, digests_of, search_dirs
from generator.images.download import (
    DECOMPRESSORS,
    Bounds,
    Cancelled,
    Fetch,
    Transfers,
    check_url,
    fetch,
    open_private,
    unpack,
)
from generator.interrupt import wait_for
from generator.model import BaseImage, Lab
from generator.read.reader import SafeArchive, is_archive

BLOCK = 1 << 20
MD5 = re.compile(r"[0-9a-f]{32}")
SHA256 = re.compile(r"[0-9a-f]{64}")
#: progress(filename, bytes done, bytes expected or 0)
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class ImageNeed:
    """One base image a lab needs: what the appliance (and the manifest) say of it."""

    filename: str
    appliance: str
    version: str
    size: int
    md5: str
    sha256: str = ""  # known from a manifest or a build; "" if only the appliance is known
    url: str | None = None  # direct download URL, None when the image is behind a login
    page: str | None = None  # where a person downloads it from
    compression: str | None = None
    origin: str = ""  # who names the URL, size and md5: "appliance 'X' (path)", an archive

    @property
    def where(self) -> str:
        """Who declares this image, for messages."""
        return self.origin or f"appliance '{self.appliance}'"


@dataclass(frozen=True)
class ImageState:
    """An image need and what the cache holds for it."""

    need: ImageNeed
    path: Path | None  # where it is, if present
    ok: bool  # present with the expected size and checksums
    problem: str = ""


def cache_dir() -> Path:
    """The cache folder: the first ``$GNS3LAB_IMAGES`` entry, else ``~/.cache/gns3lab/images``."""
    first = next((p for p in os.environ.get(ENV_IMAGES, "").split(os.pathsep) if p), None)
    return Path(first).expanduser() if first else default_cache()


def needs_from_catalogue(catalogue: Catalogue, wanted: Iterable[tuple[str, str, str]]
                         ) -> list[ImageNeed]:
    """:class:`ImageNeed` for each (appliance name, version name, file name), with the URLs
    and compression of the appliance's ``images[]`` entry; sorted by file name, one each."""
    out: dict[str, ImageNeed] = {}
    for appliance, version, filename in wanted:
        out.setdefault(filename, _need(catalogue.find(appliance), version, filename))
    return [out[f] for f in sorted(out)]


def _need(app: Appliance, version: str, filename: str) -> ImageNeed:
    """The need for ``filename`` as ``app``'s ``images[]`` entry describes it."""
    info = app.images.get(filename)
    if info is None:
        raise ImageError(f"appliance '{app.name}' lists no image file {filename}")
    return ImageNeed(
        filename=filename, appliance=app.name, version=version, size=info.filesize,
        md5=info.md5sum, url=info.direct_download_url,
        page=info.download_url or info.direct_download_url, compression=info.compression,
        origin=f"appliance '{app.name}' ({app.path})")


def with_sha256(needs: Iterable[ImageNeed], sha256: dict[str, str]) -> list[ImageNeed]:
    """``needs`` with the sha256 a manifest records (by file name) filled in."""
    return [replace(n, sha256=sha256.get(n.filename, n.sha256)) for n in needs]


def needs_of(source: Path, images_dirs: Iterable[Path] = ()) -> list[ImageNeed]:
    """The base images a blueprint (file or folder) or a ``.gns3project`` archive needs.

    An archive's manifest ``images`` records (size, md5, sha256, url) are
    trusted over the appliances; its other images come from the project's ``hda_disk_image``
    names, with what any known appliance says of them.
    """
    source = Path(source)
    dirs = tuple(images_dirs)
    if is_archive(source):
        return _archive_needs(source, dirs)
    lab = _resolved(source, dirs)
    out: dict[str, ImageNeed] = {}
    for node in lab.vms:
        image = node.image
        if image is not None and image.filename not in out:
            out[image.filename] = _need_of_image(image)
    return [out[f] for f in sorted(out)]


def _resolved(source: Path, dirs: tuple[Path, ...]) -> Lab:
    """The lab ``build`` resolves from the blueprint ``source`` (as
    :func:`generator.build.load_lab`): its images carry what their appliances say (URLs,
    compression, the appliance file), so no catalogue is loaded a second time."""
    from generator.images.recipe_images import lookups
    from generator.resolve.lab import resolve_blueprint

    folders = search_dirs(dirs)
    return resolve_blueprint(source, folders, lookups(folders))[0]


def _need_of_image(image: BaseImage) -> ImageNeed:
    """The need for a resolved node's base image, as its appliance described it."""
    return ImageNeed(
        filename=image.filename, appliance=image.appliance, version=image.appliance_version,
        size=image.filesize, md5=image.md5sum, url=image.direct_url, page=image.download_page,
        compression=image.compression,
        origin=f"appliance '{image.appliance}' ({image.appliance_file})")


def _archive_needs(archive: Path, dirs: tuple[Path, ...]) -> list[ImageNeed]:
    """Needs of an archive: manifest records first, then the project's disk image names.

    The archive is a stranger's: it is read through :class:`SafeArchive` (checked names,
    capped reads: a zip bomb ends in ArchiveError, not in memory) and every value is checked
    for its type before use."""
    with SafeArchive(archive) as arc:
        manifest = arc.manifest() or Manifest()
        project = arc.json(PROJECT_FILE) if PROJECT_FILE in arc.infos else {}
    known: dict[str, tuple[str, ImageFile | None, str]] = {}
    for app in load_catalogue([REPO_APPLIANCES, *search_dirs(dirs)]).appliances:
        for image in app.images.values():
            known.setdefault(image.filename, (app.name, image, f"appliance '{app.name}' "
                                                                f"({app.path})"))
    records = {check_filename(name, str(archive)): rec for name, rec in manifest.images.items()}
    for name in _project_images(project):
        records.setdefault(check_filename(name, str(archive)), ImageRecord())
    return [_archive_need(archive, filename, rec, known.get(filename, ("", None, "")))
            for filename, rec in sorted(records.items())]


def _archive_need(archive: Path, filename: str, rec: ImageRecord,
                  known: tuple[str, ImageFile | None, str]) -> ImageNeed:
    """One base of an archive: what an appliance here says of its file, else the manifest's
    record (whose size, md5 and sha256 are trusted over the appliance's)."""
    appliance, info, origin = known
    where = f"{archive} ({MANIFEST})"
    return ImageNeed(
        filename=filename, appliance=appliance or "(no appliance here)",
        version=info.version if info else rec.version,
        size=rec.size or (info.filesize if info else 0),
        md5=rec.md5 or (info.md5sum if info else ""),
        sha256=rec.sha256 or "", url=info.direct_download_url if info else rec.url,
        page=(info.download_url or info.direct_download_url) if info else rec.url,
        compression=info.compression if info else None,
        origin=origin if info else where)


def _project_images(project: Any) -> list[object]:
    """The ``hda_disk_image`` of each QEMU node of a project document of any shape."""
    topology = project.get("topology") if isinstance(project, dict) else None
    nodes = topology.get("nodes") if isinstance(topology, dict) else None
    out = []
    for node in nodes if isinstance(nodes, list) else []:
        props = node.get("properties") if isinstance(node, dict) else None
        if isinstance(props, dict) and node.get("node_type") == "qemu" and \
                props.get("hda_disk_image"):
            out.append(props["hda_disk_image"])
    return out


# --------------------------------------------------------------------------- checking


def check_file(path: Path, need: ImageNeed) -> str:
    """"" if ``path`` is the image ``need`` describes, else what is wrong (size, md5, sha256).

    A need with no md5 and no sha256 is never met: a file of the right name is not proof."""
    if not need.md5 and not need.sha256:
        return (f"{path} cannot be checked: {need.where} declares no md5 or sha256 for "
                f"{need.filename}")
    size = path.stat().st_size
    if need.size and size != need.size:
        return f"{path} has {size} bytes, expected {need.size}: wrong or partial file"
    md5, sha256 = digests_of(path)
    if need.md5 and md5 != need.md5:
        return f"{path} has md5 {md5}, expected {need.md5}: wrong file"
    if need.sha256 and sha256 != need.sha256:
        return f"{path} has sha256 {sha256}, expected {need.sha256}: wrong file"
    return ""


def check_folder(needs: Iterable[ImageNeed], folders: Iterable[Path]) -> list[ImageState]:
    """Where each needed image is in ``folders`` (first hit by file name) and whether it is
    the right file; ``gns3lab images list|verify`` and ``verify --images-dir`` use this."""
    dirs = list(folders)
    out = []
    for need in needs:
        path = next((d / need.filename for d in dirs if (d / need.filename).is_file()), None)
        if path is None:
            out.append(ImageState(need, None, False, f"{need.filename} is not in "
                                  f"{', '.join(map(str, dirs))}"))
            continue
        problem = check_file(path, need)
        out.append(ImageState(need, path, not problem, problem))
    return out


# --------------------------------------------------------------------------- pulling


def make_cache(cache: Path) -> None:
    """Create the cache folder private (0700) if it is missing; an existing one (GNS3's own
    images folder, say) keeps its mode."""
    if cache.is_dir():
        return
    try:
        cache.mkdir(parents=True, exist_ok=True, mode=0o700)
        cache.chmod(0o700)
    except OSError as exc:
        raise ImageError(f"cannot make the image cache {cache}: {exc.strerror or exc}",
                         hint=f"set {ENV_IMAGES} to a folder you can write") from None


@contextmanager
def _image_lock(cache: Path, filename: str, transfers: Transfers | None = None
                ) -> Iterator[None]:
    """An exclusive flock on ``.<filename>.lock`` in ``cache`` (threads and processes);
    waiting for it stops when ``transfers`` is cancelled."""
    fd = os.open(cache / f".{filename}.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if transfers:
                    transfers.check()
                time.sleep(0.1)
        yield
    finally:
        os.close(fd)


def login_message(need: ImageNeed) -> str:
    """What to tell a person about an image that cannot be downloaded directly."""
    page = need.page or "(the appliance names no download page)"
    return (f"{need.filename} ({need.appliance} {need.version}) has no direct download: get it "
            f"from {page} (size {need.size} bytes, md5 {need.md5}), then run "
            f"'gns3lab images import FILE'")


def check_pullable(need: ImageNeed) -> None:
    """Refuse, before anything is downloaded, an image whose URL is not http(s) or whose size
    or checksum is not declared (the size bounds the download, the checksum proves it)."""
    check_filename(need.filename, need.where)
    if need.url is None:
        return
    check_url(need.url, f"{need.where}: image {need.filename}")
    if need.size <= 0 or not (MD5.fullmatch(need.md5) or SHA256.fullmatch(need.sha256)):
        raise ImageError(f"{need.where} declares no size or no checksum for {need.filename} "
                         f"(size {need.size}, md5 {need.md5 or 'none'}): not pulled, since "
                         "only the declared size bounds a download and only a checksum proves "
                         "it", hint="fix the appliance, or get the file by hand and check it")
    if need.compression and need.compression not in DECOMPRESSORS:
        raise ImageError(f"{need.where}: {need.filename}: compression '{need.compression}' is "
                         f"not supported (supported: {', '.join(sorted(DECOMPRESSORS))})",
                         hint="unpack it by hand and run 'gns3lab images import FILE'")


def download_cap(need: ImageNeed) -> int:
    """The most bytes the download of ``need`` may have: its size, or for a compressed
    download its size plus 2 % and 1 MiB (what xz, gzip or bzip2 add to data that does not
    compress)."""
    return need.size + (need.size // 50 + (1 << 20) if need.compression else 0)


def pull_one(need: ImageNeed, cache: Path, progress: Progress | None = None,
             bounds: Bounds | None = None, transfers: Transfers | None = None) -> Path:
    """Put ``need`` into ``cache`` (download, resume, decompress, check); its path.

    Already present and right: returned at once. Raises ImageError for an image behind a
    login, a refused URL or size, an HTTP error, an interrupted download (kept for
    resuming), or a file that is not the image (deleted). A signal, or ``transfers`` being
    cancelled, removes the partial files.
    """
    check_pullable(need)
    transfers = transfers or Transfers()
    make_cache(cache)
    target = cache / need.filename
    with _image_lock(cache, need.filename, transfers):
        if target.is_file() and not check_file(target, need):
            return target
        if not need.url:
            raise ImageError(login_message(need))
        part = cache / f".{need.filename}.part"
        tick = (lambda done, total: progress(need.filename, done, total)) if progress else None
        fetch(Fetch(need.url, part, download_cap(need), need.where, need.filename),
              bounds or Bounds(), transfers, tick)
        ready = part
        if need.compression:
            ready = cache / f".{need.filename}.unpacked"
            unpack(part, ready, need.compression, need.size, transfers, need.filename)
        try:
            problem = check_file(ready, need)
        except BaseException:
            _discard(ready)
            raise
        if problem:
            _discard(ready)
            raise ImageError(f"download of {need.filename} from {need.url} is not the image: "
                             f"{problem}; nothing was kept",
                             hint="the URL may serve another release; tell the appliance's "
                                  "maintainer, or get the file by hand and 'images import' it")
        os.replace(ready, target)
        _move_digests(ready, target)
        return target


def _discard(ready: Path) -> None:
    """Remove a checked-and-refused download and the digests computed for it."""
    ready.unlink(missing_ok=True)
    for stale in (ready.with_name(f".{ready.name}.sha256sum"),
                  ready.with_name(ready.name + ".md5sum")):
        stale.unlink(missing_ok=True)


def _move_digests(old: Path, new: Path) -> None:
    """Keep the digests computed while checking ``old`` for ``new`` (same bytes, renamed
    just now under the lock), private like the image."""
    for src, dst in ((old.with_name(f".{old.name}.sha256sum"),
                      new.with_name(f".{new.name}.sha256sum")),
                     (old.with_name(old.name + ".md5sum"), new.with_name(new.name + ".md5sum"))):
        if src.is_file():
            os.replace(src, dst)
            dst.chmod(0o600)
            os.utime(dst)  # newer than the rename, so the digest cache still trusts it


class PullRefused(ImageError):
    """Images a pull refuses before downloading anything: one message line each."""

    def __init__(self, messages: list[str], hint: str) -> None:
        super().__init__("; ".join(messages), hint)
        self.messages = messages

    def lines(self) -> list[str]:
        return [*self.messages, f"hint: {self.hint}"]


@dataclass(frozen=True)
class PullResult:
    """What one pull ended with: the cached path, or the problem."""

    need: ImageNeed
    path: Path | None
    problem: str = ""


def pull(needs: Iterable[ImageNeed], cache: Path, *, jobs: int = 3,
         progress: Progress | None = None, bounds: Bounds | None = None) -> list[PullResult]:
    """Pull every image (at most ``jobs`` at once); one result per image, in order.

    Every URL, size and checksum is checked first: one refused image stops the pull before
    anything is downloaded (ImageError naming each). A signal in the calling thread cancels
    every download at once (their sockets are shut down, their partial files removed) and
    is raised again once the workers have ended."""
    needs = list(needs)
    refused = []
    for need in needs:
        try:
            check_pullable(need)
        except ImageError as exc:
            refused.append(exc.message)
    if refused:
        raise PullRefused(refused, hint="nothing was downloaded; fix the appliance or the "
                          "archive, or get the files by hand and 'images import' them")
    transfers = Transfers()

    def one(need: ImageNeed) -> PullResult:
        try:
            return PullResult(need, pull_one(need, cache, progress, bounds, transfers))
        except ImageError as exc:
            return PullResult(need, None, "\n".join(exc.lines()))
        except Cancelled:
            return PullResult(need, None, "cancelled")

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = [pool.submit(one, need) for need in needs]
        wait_for(futures, transfers.cancel)
        return [f.result() for f in futures]


# --------------------------------------------------------------------------- importing


def import_file(source: Path, needs: Iterable[ImageNeed], cache: Path) -> Path:
    """Add a file got by hand to ``cache`` under the name of the need it matches (by size and
    md5, whatever its own name), after checking it; the cached path."""
    source = Path(source)
    if not source.is_file():
        raise ImageError(f"{source}: no such file")
    size = source.stat().st_size
    candidates = [n for n in needs if n.size == size or not n.size]
    if candidates:
        md5 = file_digests(source, ("md5",))["md5"]  # outside the cache: no digest files
        candidates = [n for n in candidates if n.md5 == md5]
    if not candidates:
        raise ImageError(f"{source} ({size} bytes) is none of the images known here",
                         hint="check the file's version against 'gns3lab images list'")
    need = candidates[0]
    make_cache(cache)
    target = cache / need.filename
    tmp = cache / f".{need.filename}.import"
    with _image_lock(cache, need.filename):
        try:
            with source.open("rb") as src, open_private(tmp) as dst:
                shutil.copyfileobj(src, dst, BLOCK)
            problem = check_file(tmp, need)
        except BaseException:
            _discard(tmp)
            raise
        if problem:
            _discard(tmp)
            raise ImageError(f"{source} is not {need.filename}: {problem}")
        os.replace(tmp, target)
        _move_digests(tmp, target)
    return target


def image_folders(images_dirs: Iterable[Path] = ()) -> list[Path]:
    """Where base images are looked for: ``--images-dir``…, the cache, the build's folders."""
    dirs = list(images_dirs)
    return list(dict.fromkeys([*dirs, cache_dir(), *search_dirs(dirs)]))
