"""A QEMU node's base image -> an appliance and version: by md5 where the archive or a local
image folder holds the image, else by file name, against the bundled and cached ``.gns3a``
files; an image nothing knows gets a generated ``.gns3a`` in the blueprint folder."""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from generator.archive_format import IMAGES_PREFIX
from generator.blueprint.appliances import Catalogue, check_filename
from generator.errors import BlueprintError, GeneratorError, Problem
from generator.importing.source import ProjectSource

GENERATED = "appliances"  # the blueprint's appliance folder


@dataclass(frozen=True)
class ImageRef:
    appliance: str
    version: str | None
    virtual_size: int | None
    note: str = ""


class ImageMatcher:
    """Finds each image's appliance once; generated appliances land in ``files``."""

    def __init__(self, source: ProjectSource, catalogue: Catalogue, local: list[Path]) -> None:
        self.source, self.catalogue, self.local = source, catalogue, local
        self.files: dict[str, bytes] = {}
        self.known: dict[str, ImageRef] = {}
        self.by_md5: dict[str, tuple[str, str, int | None]] = {}
        self.by_name: dict[str, tuple[str, str, int | None]] = {}
        for app in catalogue.appliances:
            if app.kind != "qemu":
                continue
            for version in app.versions:
                filename = version.images.get("hda_disk_image")
                info = app.images.get(filename or "")
                if info is None or version.kind != "qemu":
                    continue
                entry = (app.name, version.name, info.virtual_size)
                if info.md5sum:
                    self.by_md5.setdefault(info.md5sum.lower(), entry)
                self.by_name.setdefault(info.filename, entry)

    def match(self, node_id: str, filename: str, props: dict[str, Any], node: str) -> ImageRef:
        """The appliance (and version) of ``filename``; BlueprintError when it has none."""
        if not filename:
            raise BlueprintError([Problem(str(self.source.path), None, node,
                                          "the QEMU node has no disk image (hda)",
                                          "give it a disk image in GNS3, or remove it")])
        if filename in self.known:
            return self.known[filename]
        found = self.locate(node_id, filename)
        md5 = found[1] if found else None
        if md5 and md5 in self.by_md5:
            app, version, size = self.by_md5[md5]
            ref = ImageRef(app, version, size, f"image {filename} is appliance '{app}' "
                           f"{version} (md5)")
        elif filename in self.by_name:
            app, version, size = self.by_name[filename]
            ref = ImageRef(app, version, size, f"image {filename} is appliance '{app}' "
                           f"{version} (file name)")
        else:
            ref = self.generate(filename, found, props, node)
        self.known[filename] = ref
        return ref

    def locate(self, node_id: str, filename: str) -> tuple[int, str] | None:
        """(size, md5) of the image where the archive or a local image folder holds it."""
        member = self.source.node_file(node_id, "qemu", filename)
        if member is not None and member.startswith(IMAGES_PREFIX):
            size = self.source.archive.infos[member].file_size if self.source.archive else \
                os.path.getsize(self.source.path.parent / member)
            return size, self.source.md5(member)
        if "/" in filename or filename in (".", ".."):
            return None
        for folder in self.local:
            path = folder / filename
            try:
                st = os.stat(path)
            except OSError:
                continue
            if stat.S_ISREG(st.st_mode):
                return st.st_size, _md5(path)
        return None

    def generate(self, filename: str, found: tuple[int, str] | None, props: dict[str, Any],
                 node: str) -> ImageRef:
        """A ``.gns3a`` for an image no appliance knows, with the node's settings."""
        try:
            check_filename(filename, "hda_disk_image")
        except GeneratorError:
            raise BlueprintError([Problem(str(self.source.path), None, node,
                                          f"disk image name {filename[:60]!r} is not a bare "
                                          "file name", "rename the image in GNS3")]) from None
        stem = re.sub(r"[^A-Za-z0-9._-]+", "-", filename.rsplit(".", 1)[0])[:60] or "image"
        name = f"imported {stem}"
        image: dict[str, Any] = {"filename": filename, "version": "imported",
                                 "filesize": found[0] if found else 0}
        if found:
            image["md5sum"] = found[1]
        keys = ("adapter_type", "adapters", "ram", "cpus", "console_type", "hda_disk_interface")
        qemu: dict[str, Any] = {k: props[k] for k in keys if props.get(k) is not None}
        qemu.update({"arch": "x86_64", "kvm": "allow"})
        appliance = {"name": name, "category": "guest", "registry_version": 4,
                     "status": "experimental", "maintainer": "gns3lab import",
                     "description": f"Generated by gns3lab import for the image {filename}.",
                     "qemu": qemu, "images": [image],
                     "versions": [{"name": "imported", "images": {"hda_disk_image": filename}}]}
        self.files[f"{GENERATED}/{stem}.gns3a"] = (json.dumps(appliance, indent=4) +
                                                    "\n").encode()
        how = "with its md5 and size" if found else "no md5: the image is not here"
        return ImageRef(name, "imported", None, f"image {filename} is unknown: generated "
                        f"{GENERATED}/{stem}.gns3a ({how})")


def _md5(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
