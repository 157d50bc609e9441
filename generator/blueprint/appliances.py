"""Appliances are data: GNS3 ``.gns3a`` files loaded into frozen records.

The catalogue is the repo's ``appliances/`` folder, the blueprint folder's ``appliances/``,
and every ``*.gns3a`` in the image search path (``gns3lab images build`` writes one there).
A blueprint may also name a ``.gns3a`` file by path.

Registry versions 4–7 keep the emulator settings in one top-level ``qemu`` object (plus
top-level ``port_name_format``/``first_port_name``). Version 8 keeps named sets in
``settings[]`` (``template_properties``); a version may name its set (``versions[].settings``),
else it runs the default set. A non-default set inherits the default set's properties unless
``inherit_default_properties`` is false. :meth:`Appliance.for_version` applies the set of the
chosen version, so RAM, CPUs, adapters and port names follow the version the lab runs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from generator.errors import GeneratorError, ImageError

REPO_APPLIANCES = Path(__file__).resolve().parents[2] / "appliances"
DEFAULT_VIRTUAL_SIZE = 20 * 1024**3
DEFAULT_PORT_NAME_FORMAT = "Ethernet{0}"
EMULATORS = ("qemu", "docker", "dynamips", "iou")
UNSUPPORTED = "docker/dynamips/iou appliances are not supported (use a qemu appliance)"
#: Keys of a v8 qemu set that live outside ``qemu`` in v4–v7 (the appliance's top level).
TOP_LEVEL_KEYS = ("port_name_format", "first_port_name", "symbol", "category", "usage")


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
    compression: str | None = None  # how ``direct_download_url`` is packed (xz, gzip, bzip2…)


@dataclass(frozen=True)
class Version:
    """One version: its image files by slot and, for registry v8, its merged settings."""

    name: str
    images: dict[str, str]
    settings_name: str | None = None
    properties: dict[str, Any] = field(default_factory=dict)  # v8 template_properties, merged
    kind: str = "qemu"  # the emulator of the set it runs


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
    kind: str = "qemu"  # qemu, docker, dynamips or iou (only qemu can be used)
    registry_version: int = 4
    selected: str | None = None  # the version for_version() applied

    def version(self, wanted: str | None) -> Version:
        """The version named ``wanted`` (exact name, image version or unique substring).

        Raises LookupError for a non-QEMU appliance or version (docker, dynamips, iou), an
        appliance without versions, or an unknown version (listing the known ones).
        """
        if self.kind != "qemu":
            raise LookupError(f"appliance '{self.name}': {UNSUPPORTED}")
        if not self.versions:
            raise LookupError(f"appliance '{self.name}' lists no versions")
        v = self._find(self.selected if wanted is None else wanted)
        if v.kind != "qemu":
            raise LookupError(f"appliance '{self.name}' version '{v.name}': {UNSUPPORTED}")
        return v

    def _find(self, wanted: str | None) -> Version:
        """The version ``wanted`` matches (see :meth:`version`)."""
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

    def for_version(self, wanted: str | None) -> Appliance:
        """This appliance with the settings of version ``wanted`` applied (registry v8).

        For v4–v7 the settings are the same for every version, so only ``selected`` changes.
        Raises LookupError like :meth:`version`.
        """
        v = self.version(wanted)
        if self.registry_version < 8:
            return replace(self, selected=v.name)
        return replace(self, selected=v.name, **_v8_fields(v.properties, self))


# --------------------------------------------------------------------------- loading


def _image_sizes() -> dict[str, int]:
    """Known virtual sizes of registry images, for ``--no-images`` builds."""
    path = REPO_APPLIANCES / "virtual-sizes.yaml"
    if not path.is_file():
        return {}
    data = yaml.safe_load(path.read_text()) or {}
    from generator.blueprint.schema import parse_size

    return {name: parse_size(size) for name, size in data.items()}


def check_filename(name: object, where: str) -> str:
    """``name`` if it is a bare file name; an ImageError for paths (``a/b``, ``..``)."""
    if (not isinstance(name, str) or not name or name in (".", "..") or "/" in name
            or "\\" in name or "\0" in name):
        raise ImageError(f"{where}: image file name {name!r} is not a bare file name",
                             hint="a .gns3a 'filename' may not hold '/', '\\' or be '..': "
                                  "GNS3 keeps images flat in one folder")
    return name


def load_appliance(path: Path, sizes: dict[str, int] | None = None) -> Appliance:
    """Load one ``.gns3a`` file (registry versions 4–8)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            raise ValueError("the top level is not an object")
        return _parse(Path(path), data, sizes if sizes is not None else _image_sizes())
    except KeyError as exc:
        raise GeneratorError(f"{path}: not a readable appliance file: missing key {exc}",
                             hint="appliance files are GNS3 .gns3a JSON; see the registry's "
                             "schema for the keys each version needs") from None
    except (OSError, ValueError, TypeError) as exc:
        raise GeneratorError(f"{path}: not a readable appliance file: {exc}",
                             hint="appliance files are GNS3 .gns3a JSON") from None


def _parse(path: Path, data: dict[str, Any], sizes: dict[str, int]) -> Appliance:
    """The record of one parsed ``.gns3a`` document."""
    registry_version = int(data.get("registry_version", 4))
    images = {}
    for img in data.get("images", []):
        filename = check_filename(img.get("filename"), f"{path}: images[]")
        images[filename] = ImageFile(
            filename=filename, version=str(img.get("version", "")),
            md5sum=img.get("md5sum") or img.get("checksum", ""), filesize=int(img["filesize"]),
            download_url=img.get("download_url"),
            direct_download_url=img.get("direct_download_url"),
            virtual_size=sizes.get(filename), compression=img.get("compression"))
    sets = list(data.get("settings") or []) if registry_version >= 8 else []
    versions = []
    for v in data.get("versions", []):
        slots = {slot: check_filename(f, f"{path}: versions[{v.get('name')!r}].images.{slot}")
                 for slot, f in dict(v.get("images", {})).items()}
        chosen = _settings_of(sets, v.get("settings"), path) if sets else None
        versions.append(Version(
            name=str(v["name"]), images=slots, settings_name=v.get("settings"),
            properties={**(_merged(sets, chosen) if chosen else {}),
                        **{k: v[k] for k in ("symbol", "category", "usage") if k in v}},
            kind=chosen.get("template_type", "qemu") if chosen else "qemu"))
    name = data.get("name", path.stem)
    base = Appliance(
        name=name, stem=path.stem, path=path, category=data.get("category", "guest"),
        qemu=dict(data.get("qemu") or {}),
        port_name_format=data.get("port_name_format", DEFAULT_PORT_NAME_FORMAT),
        first_port_name=data.get("first_port_name"), symbol=data.get("symbol"),
        usage=data.get("usage", ""), images=images, versions=tuple(versions),
        cloud_init=_uses_cloud_init(name, tuple(versions)),
        kind=_kind(data, sets), registry_version=registry_version)
    if sets:
        default = _settings_of(sets, None, path)
        return replace(base, settings=dict(default.get("template_properties") or {}),
                       **_v8_fields(_merged(sets, default), base))
    return base


def _kind(data: dict[str, Any], sets: list[dict[str, Any]]) -> str:
    """The emulator: v4–v7 by top-level key, v8 by the sets' ``template_type`` (qemu wins)."""
    if sets:
        kinds = {s.get("template_type", "qemu") for s in sets}
        return "qemu" if "qemu" in kinds else sorted(kinds)[0]
    return next((k for k in EMULATORS if k in data), "qemu")


def _settings_of(sets: list[dict[str, Any]], name: str | None, path: Path) -> dict[str, Any]:
    """The set called ``name``, else the default set (the first marked default, or the only
    one)."""
    if name is not None:
        for s in sets:
            if s.get("name") == name:
                return s
        raise ValueError(f"settings '{name}' named by a version is not in settings[] "
                         f"(known: {', '.join(str(s.get('name')) for s in sets)})")
    defaults = [s for s in sets if s.get("default")]
    if defaults:
        return defaults[0]
    if len(sets) == 1:
        return sets[0]
    raise ValueError(f"{len(sets)} settings sets and none is marked default")


def _merged(sets: list[dict[str, Any]], chosen: dict[str, Any]) -> dict[str, Any]:
    """``chosen``'s properties over the default set's (same emulator), unless it opts out."""
    props: dict[str, Any] = {}
    if not chosen.get("default") and chosen.get("inherit_default_properties", True):
        default = next((s for s in sets if s.get("default")), None)
        if default is not None and default.get("template_type") == chosen.get("template_type"):
            props.update(default.get("template_properties") or {})
    props.update(chosen.get("template_properties") or {})
    return props


def _v8_fields(props: dict[str, Any], app: Appliance) -> dict[str, Any]:
    """Appliance fields from merged v8 properties: ``qemu`` (``platform`` read as ``arch``,
    the v4 name) and the keys v4–v7 keep at the top level."""
    qemu = {k: v for k, v in props.items() if k not in TOP_LEVEL_KEYS}
    if "platform" in qemu:
        qemu.setdefault("arch", qemu["platform"])
    return {"qemu": qemu,
            "port_name_format": props.get("port_name_format", DEFAULT_PORT_NAME_FORMAT),
            "first_port_name": props.get("first_port_name"),
            "symbol": props.get("symbol", app.symbol),
            "category": props.get("category", app.category),
            "usage": props.get("usage", app.usage)}


def _uses_cloud_init(name: str, versions: tuple[Version, ...]) -> bool:
    """Cloud images read a NoCloud seed: the registry marks them with a seed ``cdrom_image``."""
    lowered = name.lower()
    if "cloud" in lowered or lowered.startswith("gns3lab"):
        return True
    return any("cloud-init" in v.images.get("cdrom_image", "") for v in versions)


# --------------------------------------------------------------------------- the catalogue


@dataclass(frozen=True)
class Catalogue:
    """Every appliance gns3lab can see, by lowercase name and by file stem."""

    appliances: tuple[Appliance, ...]
    #: Unreadable files of the image folders: skipped, unless nothing else answers a lookup.
    broken: tuple[GeneratorError, ...] = ()

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
        if self.broken:  # perhaps it is the one that could not be read: say why
            raise self.broken[0]
        raise LookupError(f"unknown appliance '{ref}'")

    def names(self) -> list[str]:
        """Every appliance name, sorted."""
        return sorted({a.name for a in self.appliances})


def load_catalogue(folders: list[Path], strict: int | None = None) -> Catalogue:
    """Load every ``.gns3a`` in ``folders`` (first folder wins on a duplicate name). A broken
    file in the first ``strict`` folders (all by default) is an error; in the others (the
    user's image folders, which a lab may not even use) it is skipped and kept for lookups."""
    sizes = _image_sizes()
    seen: dict[str, Appliance] = {}
    broken: list[GeneratorError] = []
    for index, folder in enumerate(folders):
        if not folder.is_dir():
            continue
        for path in sorted(folder.glob("*.gns3a")):
            try:
                app = load_appliance(path, sizes)
            except GeneratorError as exc:
                if strict is None or index < strict:
                    raise
                broken.append(exc)
                continue
            seen.setdefault(app.name.lower(), app)
    return Catalogue(tuple(seen.values()), tuple(broken))
