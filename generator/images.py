"""Find and check base images; make the per-node disks (qemu-img overlays, blank data disks)."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path

from . import tools
from .errors import ImageError
from .layout import Layout
from .model import BaseImage, Lab

ENV_IMAGES = "GNS3LAB_IMAGES"


def search_dirs(extra: Iterable[Path] = ()) -> list[Path]:
    """Where base images are looked for: ``--images-dir``…, ``$GNS3LAB_IMAGES``, GNS3's own."""
    dirs = [Path(p) for p in extra]
    env = os.environ.get(ENV_IMAGES)
    if env:
        dirs += [Path(p) for p in env.split(os.pathsep) if p]
    dirs.append(Path.home() / "GNS3" / "images" / "QEMU")
    return list(dict.fromkeys(d.expanduser() for d in dirs))


def md5_of(path: Path, progress: Callable[[str], None] | None = None) -> str:
    """md5 of a file, cached GNS3-style in ``<file>.md5sum`` while the file is unchanged."""
    cache = path.with_name(path.name + ".md5sum")
    try:
        # Trust the cache only if it was written after the image last changed (mtime and
        # ctime: a copy with preserved times still gets a new ctime).
        st = path.stat()
        if cache.stat().st_mtime >= max(st.st_mtime, st.st_ctime):
            value = cache.read_text().strip()
            if len(value) == 32:
                return value
    except OSError:
        pass
    if progress:
        progress(f"checksum {path.name} ({path.stat().st_size >> 20} MiB)")
    digest = hashlib.md5()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    value = digest.hexdigest()
    try:
        cache.write_text(value + "\n")
    except OSError:
        pass  # a read-only image folder is fine; we hash again next time
    return value


def describe_missing(image: BaseImage, dirs: list[Path]) -> str:
    url = image.download_url or "(no download URL in the appliance)"
    return (f"base image '{image.filename}' of appliance '{image.appliance}' "
            f"{image.appliance_version} not found (size {image.filesize} bytes, md5 "
            f"{image.md5sum}, download: {url}); looked in: {', '.join(map(str, dirs))}")


def find_images(lab: Lab, dirs: list[Path],
                progress: Callable[[str], None] | None = None) -> dict[str, BaseImage]:
    """Find every base image the lab needs and check its size and md5 against the appliance.

    Returns the checked images by file name, with ``path`` set. Every problem is reported at
    once: a missing image with its name, size, checksum and URL; a wrong one with both sums.
    """
    needed = {n.image.filename: n.image for n in lab.vms if n.image is not None}
    found: dict[str, BaseImage] = {}
    problems: list[str] = []
    for filename, image in sorted(needed.items()):
        path = next((d / filename for d in dirs if (d / filename).is_file()), None)
        if path is None:
            problems.append(describe_missing(image, dirs))
            continue
        size = path.stat().st_size
        if image.filesize and size != image.filesize:
            problems.append(f"base image {path} has {size} bytes, but appliance "
                            f"'{image.appliance}' expects {image.filesize}: wrong or partial file")
            continue
        md5 = md5_of(path, progress)
        if image.md5sum and md5 != image.md5sum:
            problems.append(f"base image {path} has md5 {md5}, but appliance "
                            f"'{image.appliance}' expects {image.md5sum}: wrong file")
            continue
        info = tools.image_info(path)
        found[filename] = replace(image, path=path, format=info["format"],
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


def write_disks(lab: Lab, layout: Layout, images: dict[str, BaseImage] | None) -> None:
    """One linked-clone overlay per VM, plus blank data disks.

    With ``images`` the overlay is made against the checked base (then its header names the
    bare file name); without (``--no-images``) it is made from the known virtual size alone.
    """
    for node in lab.vms:
        assert node.image is not None
        base = images.get(node.image.filename) if images is not None else None
        fmt = base.format if base else node.image.format
        size = max(node.disk_size, (base or node.image).virtual_size)
        tools.create_overlay(layout.overlay(node), node.image.filename, fmt,
                             size=size, backing_path=base.path if base else None)
        for disk in node.data_disks:
            tools.create_blank_disk(layout.data_disk(node, disk), disk.size)
