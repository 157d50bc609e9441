"""Base-image knowledge in one place: where images are looked for, the digest cache (md5 and
sha256 kept beside each image while it is unchanged), and finding and checking the images a lab
needs against its appliances.

``write/`` (the overlays, bundling), ``read/verify``, ``server/imagecheck`` and the image cache
(``images/cache``) all read base images through this module; none of them hashes or looks up an
image by itself.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path

from generator import tools
from generator.errors import ImageError
from generator.fileio import atomic_write, file_digests
from generator.model import BaseImage, Lab
from generator.paths import gns3_images_dir

ENV_IMAGES = "GNS3LAB_IMAGES"


def default_cache() -> Path:
    """The image cache when ``$GNS3LAB_IMAGES`` is unset: ``~/.cache/gns3lab/images``."""
    return Path.home() / ".cache" / "gns3lab" / "images"


def search_dirs(extra: Iterable[Path] = ()) -> list[Path]:
    """Where base images are looked for: ``--images-dir``…, ``$GNS3LAB_IMAGES`` (else the
    default cache that ``gns3lab images pull`` fills), GNS3's own."""
    dirs = [Path(p) for p in extra]
    env = [Path(p) for p in os.environ.get(ENV_IMAGES, "").split(os.pathsep) if p]
    dirs += env or [default_cache()]
    dirs.append(gns3_images_dir())
    return list(dict.fromkeys(d.expanduser() for d in dirs))


def _cached_digest(path: Path, cache: Path, length: int) -> str | None:
    """A digest from a sidecar written after ``path`` last changed (mtime and ctime: a copy
    with preserved times still gets a new ctime), or None."""
    try:
        st = path.stat()
        if cache.stat().st_mtime >= max(st.st_mtime, st.st_ctime):
            value = cache.read_text().strip()
            if len(value) == length:
                return value
    except OSError:
        pass
    return None


def _store_digest(cache: Path, value: str) -> None:
    """Write a digest sidecar, private (0600) like the images a pull writes into the cache."""
    try:
        atomic_write(cache, value + "\n", mode=0o600)
    except OSError:
        pass  # a read-only image folder is fine; we hash again next time


def trusted_sha256(path: Path) -> str | None:
    """The sha256 the digest cache holds for ``path`` while it is still valid (the file is
    unchanged since the sidecar was written), else None: then only reading the file tells."""
    return _cached_digest(path, path.with_name(f".{path.name}.sha256sum"), 64)


def digests_of(path: Path, progress: Callable[[str], None] | None = None) -> tuple[str, str]:
    """md5 and sha256 of a file, each cached while the file is unchanged: md5 GNS3-style in
    ``<file>.md5sum``, sha256 in the hidden ``.<file>.sha256sum`` (GNS3 lists neither).
    A missing digest is computed by streaming the file once."""
    md5_cache = path.with_name(path.name + ".md5sum")
    sha_cache = path.with_name(f".{path.name}.sha256sum")
    md5 = _cached_digest(path, md5_cache, 32)
    sha256 = _cached_digest(path, sha_cache, 64)
    if md5 and sha256:
        return md5, sha256
    if progress:
        progress(f"checksum {path.name} ({path.stat().st_size >> 20} MiB)")
    sums = file_digests(path, ("sha256",) if md5 else ("md5", "sha256"))  # one read
    sha256 = sums["sha256"]
    if not md5:
        md5 = sums["md5"]
        _store_digest(md5_cache, md5)
    _store_digest(sha_cache, sha256)
    return md5, sha256


def md5_of(path: Path, progress: Callable[[str], None] | None = None) -> str:
    """md5 of a file, cached GNS3-style in ``<file>.md5sum`` while the file is unchanged."""
    cached = _cached_digest(path, path.with_name(path.name + ".md5sum"), 32)
    return cached or digests_of(path, progress)[0]


def check_one_image_per_name(lab: Lab) -> None:
    """Refuse two different images (appliance checksum or size) under one file name: GNS3
    keeps images by bare name, so one of the two nodes would boot the other's disk."""
    seen: dict[str, tuple[BaseImage, str]] = {}
    problems = []
    for node in lab.vms:
        image = node.image
        if image is None:
            continue
        first = seen.setdefault(image.filename, (image, node.name))
        other, other_node = first
        if (other.md5sum, other.filesize) != (image.md5sum, image.filesize):
            problems.append(
                f"two different images share the file name '{image.filename}': node "
                f"'{other_node}' ({other.appliance} {other.appliance_version}, md5 "
                f"{other.md5sum}, {other.filesize} bytes) and node '{node.name}' "
                f"({image.appliance} {image.appliance_version}, md5 {image.md5sum}, "
                f"{image.filesize} bytes)")
    if problems:
        raise ImageError("\n".join(dict.fromkeys(problems)),
                         hint="GNS3 keeps images by file name: rename one image (and its "
                              "appliance entry) or use one version for both nodes")


def describe_missing(image: BaseImage, dirs: list[Path]) -> str:
    url = image.download_url or "(no download URL in the appliance)"
    return (f"base image '{image.filename}' of appliance '{image.appliance}' "
            f"{image.appliance_version} not found (size {image.filesize} bytes, md5 "
            f"{image.md5sum}, download: {url}); looked in: {', '.join(map(str, dirs))}")


def unchecked(image: BaseImage, path: Path) -> str:
    """Why a found image whose appliance declares no md5sum is not used (a size alone does
    not tell one file from another of that length)."""
    return (f"base image {path} cannot be checked: appliance '{image.appliance}' declares no "
            f"md5sum for {image.filename}, so any file of that name would be shipped; add the "
            "image's md5sum and filesize to the appliance (from its publisher, or 'md5sum' and "
            "'stat -c %s' of a file you trust)")


def find_images(lab: Lab, dirs: list[Path],
                progress: Callable[[str], None] | None = None) -> dict[str, BaseImage]:
    """Find every base image the lab needs and check its size and md5 against the appliance.
    An image whose appliance declares no md5sum is refused: nothing proves the file is it.

    Returns the checked images by file name, with ``path`` and ``sha256`` set. Two different
    images under one file name are refused first. Every problem is reported at once: a
    missing image with its name, size, checksum and URL; a wrong one with both sums.
    """
    check_one_image_per_name(lab)
    needed = {n.image.filename: n.image for n in lab.vms if n.image is not None}
    found: dict[str, BaseImage] = {}
    problems: list[str] = []
    for filename, image in sorted(needed.items()):
        path = next((d / filename for d in dirs if (d / filename).is_file()), None)
        if path is None:
            problems.append(describe_missing(image, dirs))
            continue
        if not image.md5sum:  # as images.cache.check_file: a file of the right name is no proof
            problems.append(unchecked(image, path))
            continue
        size = path.stat().st_size
        if image.filesize and size != image.filesize:
            problems.append(f"base image {path} has {size} bytes, but appliance "
                            f"'{image.appliance}' expects {image.filesize}: wrong or partial file")
            continue
        md5, sha256 = digests_of(path, progress)
        if image.md5sum and md5 != image.md5sum:
            problems.append(f"base image {path} has md5 {md5}, but appliance "
                            f"'{image.appliance}' expects {image.md5sum}: wrong file")
            continue
        info = tools.image_info(path)
        found[filename] = replace(image, path=path, format=info["format"], sha256=sha256,
                                  virtual_size=int(info["virtual-size"]))
    for node in lab.vms:
        base = found.get(node.image.filename) if node.image else None
        if base and 0 < node.disk_size < base.virtual_size:
            problems.append(f"node '{node.name}' asks for a {node.disk_size >> 20} MiB disk, "
                            f"smaller than its base image {base.filename} "
                            f"({base.virtual_size >> 20} MiB): grow 'disk' or drop it")
    if problems:
        raise ImageError("\n".join(problems),
                         hint="put the images in --images-dir or $GNS3LAB_IMAGES, or build "
                              "with --no-images to leave them out of the check")
    return found


def attach_images(lab: Lab, images: dict[str, BaseImage]) -> Lab:
    """The lab with each node's image replaced by the checked one (path, real virtual size)."""
    nodes = tuple(replace(n, image=images[n.image.filename]) if n.image else n
                  for n in lab.nodes)
    return replace(lab, nodes=nodes)


def content_name(image: BaseImage) -> str:
    """The name an archive bundles a checked image by: ``<stem>.<sha256[:12]>.<ext>``, or the
    image's own name when it already carries that digest (gns3lab names what it builds
    ``gns3lab-<recipe>-<sha256[:12]>.qcow2``)."""
    tag = image.sha256[:12]
    if len(tag) != 12:
        raise ImageError(f"base image {image.filename} has no sha256 yet: it must be found "
                         "and checked before it is named by content")
    if tag in image.filename:
        return image.filename
    stem, dot, ext = image.filename.rpartition(".")
    return f"{stem}.{tag}.{ext}" if dot and stem else f"{image.filename}.{tag}"


def name_by_content(images: dict[str, BaseImage], bundled: Callable[[BaseImage], bool]
                    ) -> dict[str, BaseImage]:
    """``images`` (checked, by the name their appliance gives) with every one that goes into
    the archive renamed to its :func:`content_name`, its published name kept in
    ``original_filename``; the keys stay the published names, as :func:`attach_images` wants.

    GNS3 (2.2 and 3.0, ``import_project._import_images``) skips a bundled image when its
    images folder already holds a file of that name, and the nodes then run on that file: a
    name that changes with the content cannot meet a different file. An image that is not
    bundled keeps its name: the user puts it on the server by the name it is published under,
    and ``push`` checks its md5 there before anything is imported."""
    out = {}
    for key, image in images.items():
        name = content_name(image) if bundled(image) else image.filename
        out[key] = image if name == image.filename else \
            replace(image, filename=name, original_filename=image.filename)
    return out


def by_filename(images: dict[str, BaseImage]) -> dict[str, BaseImage]:
    """``images`` keyed by the name the nodes use (after :func:`name_by_content`)."""
    return {image.filename: image for image in images.values()}
