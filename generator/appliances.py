"""Appliances are data: GNS3 ``.gns3a`` files loaded into frozen records.

The catalogue is the repo's ``appliances/`` folder, the blueprint folder's ``appliances/``,
and every ``*.gns3a`` in the image search path (``gns3lab images build`` writes one there).
A blueprint may also name a ``.gns3a`` file by path.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .errors import GeneratorError

REPO_APPLIANCES = Path(__file__).resolve().parent.parent / "appliances"
DEFAULT_VIRTUAL_SIZE = 20 * 1024**3


@dataclass(frozen=True)
class ImageFile:
    """One image file an appliance knows: name, size and checksum as the registry gives them."""

    filename: str
    version: str
    md5sum: str
    filesize: int
    download_url: str | None = None
    direct_download_url: str | None = None
    virtual_size: int | None = None


@dataclass(frozen=True)
class Version:
    name: str
    images: dict[str, str]


@dataclass(frozen=True)
class Appliance:
    """A loaded appliance: what a QEMU node made from it looks like by default."""

    name: str
    stem: str
    path: Path
    category: str
    qemu: dict[str, Any]
    port_name_format: str
    first_port_name: str | None
    symbol: str | None
    usage: str
    images: dict[str, ImageFile]
    versions: tuple[Version, ...]
    cloud_init: bool
    settings: dict[str, Any] = field(default_factory=dict)

    def version(self, wanted: str | None) -> Version:
        """The version named ``wanted`` (exact name, image version or unique substring)."""
        if not self.versions:
            raise LookupError(f"appliance '{self.name}' lists no versions")
        if wanted is None:
            return self.versions[0]
        for v in self.versions:
            if v.name == wanted:
                return v
        by_image = [v for v in self.versions
                    if any(self.images.get(f) and self.images[f].version == wanted
                           for f in v.images.values())]
        if len(by_image) == 1:
            return by_image[0]
        partial = [v for v in self.versions if wanted in v.name]
        if len(partial) == 1:
            return partial[0]
        names = ", ".join(v.name for v in self.versions[:10])
        raise LookupError(f"appliance '{self.name}' has no version '{wanted}' (known: {names})")


def _image_sizes() -> dict[str, int]:
    """Known virtual sizes of registry images, for ``--no-images`` builds."""
    path = REPO_APPLIANCES / "virtual-sizes.yaml"
    if not path.is_file():
        return {}
    data = yaml.safe_load(path.read_text()) or {}
    from .blueprint import parse_size

    return {name: parse_size(size) for name, size in data.items()}


def load_appliance(path: Path, sizes: dict[str, int] | None = None) -> Appliance:
    """Load one ``.gns3a`` file (registry versions 4–8)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise GeneratorError(f"{path}: not a readable appliance file: {exc}",
                             hint="appliance files are GNS3 .gns3a JSON") from None
    sizes = sizes if sizes is not None else _image_sizes()
    qemu = dict(data.get("qemu") or {})
    settings: dict[str, Any] = {}
    if not qemu and data.get("settings"):  # registry v8: settings[].template_properties
        first = data["settings"][0]
        settings = dict(first.get("template_properties") or {})
        qemu = dict(settings)
        qemu.setdefault("arch", settings.get("platform", "x86_64"))
    images = {
        img["filename"]: ImageFile(
            filename=img["filename"], version=str(img.get("version", "")),
            md5sum=img.get("md5sum") or img.get("checksum", ""), filesize=int(img["filesize"]),
            download_url=img.get("download_url"),
            direct_download_url=img.get("direct_download_url"),
            virtual_size=sizes.get(img["filename"]))
        for img in data.get("images", [])
    }
    versions = tuple(Version(name=str(v["name"]), images=dict(v.get("images", {})))
                     for v in data.get("versions", []))
    name = data.get("name", path.stem)
    return Appliance(
        name=name, stem=path.stem, path=path, category=data.get("category", "guest"),
        qemu=qemu, port_name_format=data.get("port_name_format", "Ethernet{0}"),
        first_port_name=data.get("first_port_name"), symbol=data.get("symbol"),
        usage=data.get("usage", ""), images=images, versions=versions,
        cloud_init=_uses_cloud_init(name, versions), settings=settings)


def _uses_cloud_init(name: str, versions: tuple[Version, ...]) -> bool:
    """Cloud images read a NoCloud seed: the registry marks them with a seed ``cdrom_image``."""
    lowered = name.lower()
    if "cloud" in lowered or lowered.startswith("gns3lab"):
        return True
    return any("cloud-init" in v.images.get("cdrom_image", "") for v in versions)


@dataclass(frozen=True)
class Catalogue:
    """Every appliance gns3lab can see, by lowercase name and by file stem."""

    appliances: tuple[Appliance, ...]

    def find(self, ref: str, base: Path | None = None) -> Appliance:
        """Look an appliance up by name, file stem, or a path to a ``.gns3a`` file."""
        if ref.endswith(".gns3a"):
            path = Path(ref) if base is None else (base / ref)
            if path.is_file():
                return load_appliance(path)
            raise LookupError(f"appliance file not found: {path}")
        key = ref.lower()
        for app in self.appliances:
            if app.name.lower() == key or app.stem.lower() == key:
                return app
        raise LookupError(f"unknown appliance '{ref}'")

    def names(self) -> list[str]:
        return sorted({a.name for a in self.appliances})


def load_catalogue(folders: list[Path]) -> Catalogue:
    """Load every ``.gns3a`` in ``folders`` (first folder wins on a duplicate name)."""
    sizes = _image_sizes()
    seen: dict[str, Appliance] = {}
    for folder in folders:
        if not folder.is_dir():
            continue
        for path in sorted(folder.glob("*.gns3a")):
            app = load_appliance(path, sizes)
            seen.setdefault(app.name.lower(), app)
    return Catalogue(tuple(seen.values()))
