"""The image cache: which base images a lab needs, and fetching, checking and adding them.

The cache is the first folder in ``$GNS3LAB_IMAGES``, else ``~/.cache/gns3lab/images``; it may
be GNS3's own images folder (everything this module leaves there besides images is hidden:
``.<name>.part`` downloads, ``.<name>.lock`` locks, ``.<name>.sha256sum`` digests).

:func:`pull` downloads with urllib from the appliance's ``direct_download_url``, resuming a
partial download with an HTTP Range request, and decompresses it where the appliance says so
(``compression``: xz, lzma, gzip, bzip2). A file enters the cache only after its size and md5
match the appliance (and its sha256 the manifest, when that records one), by a rename: a
corrupt or partial file is never in place. One ``flock`` per image makes two pulls of one image
(threads or processes) download it once. Images with no direct URL (behind a login, e.g.
Cumulus VX) are reported with the page to fetch them from; :func:`import_file` then adds the
file got by hand, after the same checks.
"""

from __future__ import annotations

import bz2
import fcntl
import gzip
import json
import lzma
import os
import shutil
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, Any

from generator.blueprint.appliances import (
    REPO_APPLIANCES,
    Catalogue,
    ImageFile,
    check_filename,
    load_catalogue,
)
from generator.errors import ImageError
from generator.fileio import file_digests
from generator.paths import PROJECT_FILE, Layout
from generator.write.disks import ENV_IMAGES, default_cache, digests_of, search_dirs

MANIFEST = Layout(Path()).rel(Layout(Path()).manifest)

BLOCK = 1 << 20
DECOMPRESSORS: dict[str, Callable[[IO[bytes]], Any]] = {
    "xz": lambda f: lzma.open(f), "lzma": lambda f: lzma.open(f),
    "gzip": lambda f: gzip.open(f), "bzip2": lambda f: bz2.open(f),
}
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
        app = catalogue.find(appliance)
        info = app.images.get(filename)
        if info is None:
            raise ImageError(f"appliance '{appliance}' lists no image file {filename}")
        out.setdefault(filename, ImageNeed(
            filename=filename, appliance=app.name, version=version, size=info.filesize,
            md5=info.md5sum, url=info.direct_download_url,
            page=info.download_url or info.direct_download_url, compression=info.compression))
    return [out[f] for f in sorted(out)]


def with_sha256(needs: Iterable[ImageNeed], sha256: dict[str, str]) -> list[ImageNeed]:
    """``needs`` with the sha256 a manifest records (by file name) filled in."""
    return [replace(n, sha256=sha256.get(n.filename, n.sha256)) for n in needs]


def needs_of(source: Path, images_dirs: Iterable[Path] = ()) -> list[ImageNeed]:
    """The base images a blueprint (file or folder) or a ``.gns3project`` archive needs.

    An archive's ``gns3lab/manifest.json`` ``images`` list (name, size, md5, sha256) is
    trusted over the appliances; its other images come from the project's ``hda_disk_image``
    names, with what any known appliance says of them.
    """
    source = Path(source)
    dirs = tuple(images_dirs)
    if zipfile.is_zipfile(source):
        return _archive_needs(source, dirs)
    from generator.blueprint.load import load_blueprint
    from generator.build import load_lab

    lab = load_lab(source, dirs)
    _, src = load_blueprint(source)
    # The folders build.load_lab reads appliances from (see there), for the URLs it drops.
    catalogue = load_catalogue([src.folder / "appliances", REPO_APPLIANCES, *search_dirs(dirs)])
    return needs_from_catalogue(catalogue, sorted(
        {(n.image.appliance, n.image.appliance_version, n.image.filename)
         for n in lab.vms if n.image is not None}))


def _archive_needs(archive: Path, dirs: tuple[Path, ...]) -> list[ImageNeed]:
    """Needs of an archive: manifest records first, then the project's disk image names."""
    try:
        with zipfile.ZipFile(archive) as zf:
            names = set(zf.namelist())
            manifest = json.loads(zf.read(MANIFEST)) if MANIFEST in names else {}
            project = json.loads(zf.read(PROJECT_FILE)) if PROJECT_FILE in names else {}
    except (OSError, zipfile.BadZipFile, ValueError) as exc:
        raise ImageError(f"{archive}: not a readable .gns3project: {exc}") from None
    known: dict[str, tuple[str, ImageFile | None]] = {}
    for app in load_catalogue([REPO_APPLIANCES, *search_dirs(dirs)]).appliances:
        for image in app.images.values():
            known.setdefault(image.filename, (app.name, image))
    records = {}
    images = manifest.get("images", {}) if isinstance(manifest, dict) else {}
    if isinstance(images, dict):  # what build writes: {filename: {md5, size, sha256, ...}}
        images = [dict(rec, name=name) for name, rec in images.items() if isinstance(rec, dict)]
    for rec in images if isinstance(images, list) else []:
        if isinstance(rec, dict) and (rec.get("name") or rec.get("filename")):
            records[check_filename(rec.get("name") or rec.get("filename"), str(archive))] = rec
    for node in project.get("topology", {}).get("nodes", []):
        name = (node.get("properties") or {}).get("hda_disk_image")
        if name and node.get("node_type") == "qemu":
            records.setdefault(check_filename(name, str(archive)), {})
    out = []
    for filename, rec in sorted(records.items()):
        appliance, info = known.get(filename, ("", None))
        out.append(ImageNeed(
            filename=filename, appliance=appliance or "(no appliance here)",
            version=info.version if info else str(rec.get("version", "")),
            size=int(rec.get("size") or (info.filesize if info else 0)),
            md5=str(rec.get("md5") or (info.md5sum if info else "")),
            sha256=str(rec.get("sha256") or ""),
            url=info.direct_download_url if info else rec.get("url"),
            page=(info.download_url or info.direct_download_url) if info else rec.get("url"),
            compression=info.compression if info else None))
    return out


# --------------------------------------------------------------------------- checking


def check_file(path: Path, need: ImageNeed) -> str:
    """"" if ``path`` is the image ``need`` describes, else what is wrong (size, md5, sha256)."""
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


@contextmanager
def _image_lock(cache: Path, filename: str) -> Iterator[None]:
    """An exclusive flock on ``.<filename>.lock`` in ``cache`` (threads and processes)."""
    fd = os.open(cache / f".{filename}.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def login_message(need: ImageNeed) -> str:
    """What to tell a person about an image that cannot be downloaded directly."""
    page = need.page or "(the appliance names no download page)"
    return (f"{need.filename} ({need.appliance} {need.version}) has no direct download: get it "
            f"from {page} (size {need.size} bytes, md5 {need.md5}), then run "
            f"'gns3lab images import FILE'")


def pull_one(need: ImageNeed, cache: Path, progress: Progress | None = None,
             timeout: float = 60) -> Path:
    """Put ``need`` into ``cache`` (download, resume, decompress, check); its path.

    Already present and right: returned at once. Raises ImageError for an image behind a
    login, an HTTP error, an interrupted download (kept for resuming), or a file that is not
    the image (deleted).
    """
    check_filename(need.filename, f"appliance '{need.appliance}'")
    cache.mkdir(parents=True, exist_ok=True)
    target = cache / need.filename
    with _image_lock(cache, need.filename):
        if target.is_file() and not check_file(target, need):
            return target
        if not need.url:
            raise ImageError(login_message(need))
        part = cache / f".{need.filename}.part"
        _download(need, part, progress, timeout)
        ready = _unpack(need, part, cache)
        problem = check_file(ready, need)
        if problem:
            ready.unlink(missing_ok=True)
            for stale in (cache / f".{ready.name}.sha256sum", ready.with_name(ready.name +
                                                                              ".md5sum")):
                stale.unlink(missing_ok=True)
            raise ImageError(f"download of {need.filename} from {need.url} is not the image: "
                             f"{problem}; nothing was kept",
                             hint="the URL may serve another release; tell the appliance's "
                                  "maintainer, or get the file by hand and 'images import' it")
        os.replace(ready, target)
        _move_digests(ready, target)
        return target


def _download(need: ImageNeed, part: Path, progress: Progress | None, timeout: float) -> None:
    """Fetch ``need.url`` into ``part``, resuming from its length with a Range request."""
    assert need.url is not None
    have = part.stat().st_size if part.is_file() else 0
    request = urllib.request.Request(need.url, headers={"User-Agent": "gns3lab"})
    if have:
        request.add_header("Range", f"bytes={have}-")
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have:  # asked past the end: what we have is the whole file
            return
        raise ImageError(f"download of {need.filename} failed: HTTP {exc.code} {exc.reason} "
                         f"from {need.url}", hint=f"get it by hand from {need.page or need.url} "
                         "and run 'gns3lab images import FILE'") from None
    except (urllib.error.URLError, OSError) as exc:
        raise ImageError(f"download of {need.filename} from {need.url} failed: {exc}") from None
    with response:
        resumed = response.status == 206
        if not resumed:
            have = 0  # the server ignored the Range: start over
        length = int(response.headers.get("Content-Length") or 0)
        total = have + length if length else 0
        try:
            with open(part, "ab" if resumed else "wb") as out:
                while block := response.read(BLOCK):
                    out.write(block)
                    have += len(block)
                    if progress:
                        progress(need.filename, have, total)
        except OSError as exc:  # includes http.client.IncompleteRead and resets
            raise ImageError(f"download of {need.filename} was interrupted after {have} bytes: "
                             f"{exc}", hint="run 'gns3lab images pull' again: it resumes") \
                from None
    if total and have < total:
        raise ImageError(f"download of {need.filename} was interrupted after {have} of {total} "
                         "bytes", hint="run 'gns3lab images pull' again: it resumes")


def _unpack(need: ImageNeed, part: Path, cache: Path) -> Path:
    """The downloaded file ready to check: ``part`` itself, or decompressed next to it."""
    if not need.compression:
        return part
    opener = DECOMPRESSORS.get(need.compression)
    if opener is None:
        raise ImageError(f"{need.filename}: compression '{need.compression}' is not supported "
                         f"(supported: {', '.join(sorted(DECOMPRESSORS))})",
                         hint=f"unpack {part} by hand and run 'gns3lab images import FILE'")
    out = cache / f".{need.filename}.unpacked"
    try:
        with opener(part.open("rb")) as src, open(out, "wb") as dst:
            shutil.copyfileobj(src, dst, BLOCK)
    except (OSError, EOFError, lzma.LZMAError) as exc:
        out.unlink(missing_ok=True)
        part.unlink(missing_ok=True)
        raise ImageError(f"{need.filename}: the {need.compression} download does not unpack: "
                         f"{exc}; nothing was kept") from None
    part.unlink()
    return out


def _move_digests(old: Path, new: Path) -> None:
    """Keep the digests computed while checking ``old`` for ``new`` (same bytes, renamed
    just now under the lock)."""
    for src, dst in ((old.with_name(f".{old.name}.sha256sum"),
                      new.with_name(f".{new.name}.sha256sum")),
                     (old.with_name(old.name + ".md5sum"), new.with_name(new.name + ".md5sum"))):
        if src.is_file():
            os.replace(src, dst)
            os.utime(dst)  # newer than the rename, so the digest cache still trusts it


@dataclass(frozen=True)
class PullResult:
    """What one pull ended with: the cached path, or the problem."""

    need: ImageNeed
    path: Path | None
    problem: str = ""


def pull(needs: Iterable[ImageNeed], cache: Path, *, jobs: int = 3,
         progress: Progress | None = None) -> list[PullResult]:
    """Pull every image (at most ``jobs`` at once); one result per image, in order."""
    def one(need: ImageNeed) -> PullResult:
        try:
            return PullResult(need, pull_one(need, cache, progress))
        except ImageError as exc:
            return PullResult(need, None, "\n".join(exc.lines()))

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        return list(pool.map(one, list(needs)))


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
    cache.mkdir(parents=True, exist_ok=True)
    target = cache / need.filename
    tmp = cache / f".{need.filename}.import"
    with _image_lock(cache, need.filename):
        shutil.copyfile(source, tmp)
        problem = check_file(tmp, need)
        if problem:
            tmp.unlink(missing_ok=True)
            raise ImageError(f"{source} is not {need.filename}: {problem}")
        os.replace(tmp, target)
        _move_digests(tmp, target)
    return target


def image_folders(images_dirs: Iterable[Path] = ()) -> list[Path]:
    """Where base images are looked for: ``--images-dir``…, the cache, the build's folders."""
    dirs = list(images_dirs)
    return list(dict.fromkeys([*dirs, cache_dir(), *search_dirs(dirs)]))
