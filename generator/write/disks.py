"""Make the per-node disks: qemu-img linked-clone overlays on the checked base images and blank
data disks (finding and checking the bases is :mod:`generator.images.baseimages`)."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from generator import tools
from generator.images.baseimages import check_one_image_per_name
from generator.model import BaseImage, Lab
from generator.paths import Layout


def write_disks(lab: Lab, layout: Layout, images: dict[str, BaseImage] | None) -> None:
    """One linked-clone overlay per VM, plus blank data disks.

    Each overlay is ONE ``qemu-img create -u``: its header names the bare file name of the base
    (GNS3 rebases it onto its own image folder before every start) and its virtual size is
    known, from the checked base (``find_images`` opened it) or, with ``--no-images``, from the
    appliance. The bytes are the same as creating against the real base and rebasing to the
    bare name. Injection reaches the base through :func:`bases_beside`, not by a rebase.
    """
    check_one_image_per_name(lab)
    for node in lab.vms:
        assert node.image is not None
        base = images.get(node.image.filename) if images is not None else None
        fmt = base.format if base else node.image.format
        size = max(node.disk_size, (base or node.image).virtual_size)
        create_overlay(layout.overlay(node), node.image.filename, fmt, size)
        for disk in node.data_disks:
            create_blank_disk(layout.data_disk(node, disk), disk.size)


def create_overlay(path: Path, backing_name: str, backing_format: str, size: int) -> None:
    """A qcow2 linked clone whose header names ``backing_name`` (a bare file name, opened
    relative to the overlay's folder), of virtual ``size`` bytes: one ``qemu-img create -u``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tools.qemu_img("create", "-q", "-f", "qcow2", "-u", "-F", backing_format, "-b",
                   backing_name, path, str(size))


def create_blank_disk(path: Path, size: int) -> None:
    """An empty qcow2 data disk of ``size`` bytes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tools.qemu_img("create", "-q", "-f", "qcow2", path, str(size))


@contextmanager
def bases_beside(overlays: Iterable[tuple[Path, BaseImage]]) -> Iterator[None]:
    """Let each overlay reach its base by the bare name its header holds, for the injection.

    qemu opens a relative backing file name beside the overlay, so a symlink of that name in
    the overlay's own folder (one folder per node) is all it takes: the header is never
    rewritten, so it still names the bare file name afterwards. Where that name is already
    taken in the folder, the header is pointed at the real path for the injection and back
    (two ``qemu-img rebase -u``). The links go when the block ends, even on error, so none is
    archived.
    """
    links: list[Path] = []
    rebased: list[tuple[Path, BaseImage]] = []
    try:
        for overlay, image in overlays:
            assert image.path is not None
            link = overlay.parent / image.filename
            if not os.path.lexists(link):
                link.symlink_to(image.path.resolve())
                links.append(link)
            else:
                tools.qemu_img("rebase", "-u", "-F", image.format, "-b", image.path.resolve(),
                               overlay)
                rebased.append((overlay, image))
        yield
    finally:
        for link in links:
            link.unlink(missing_ok=True)
        for overlay, image in rebased:
            tools.qemu_img("rebase", "-u", "-F", image.format, "-b", image.filename, overlay)
