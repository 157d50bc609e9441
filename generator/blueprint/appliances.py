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

import os
import stat
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from generator.blueprint.appliance_schema import (
    MAX_APPLIANCE_BYTES,
    ApplianceFile,
    ApplianceProblems,
    check_appliance,
    parse_json,
    qemu_settings,
)
from generator.blueprint.confine import confined
from generator.blueprint.source import format_path
from generator.errors import BlueprintError, ImageError, Problem, Refused
from generator.model import FirstBoot

REPO_APPLIANCES = Path(__file__).resolve().parents[2] / "appliances"
DEFAULT_VIRTUAL_SIZE = 20 * 1024**3
DEFAULT_PORT_NAME_FORMAT = "Ethernet{0}"
EMULATORS = ("qemu", "docker", "dynamips", "iou")
UNSUPPORTED = "docker/dynamips/iou appliances are not supported (use a qemu appliance)"
#: Keys of a v8 qemu set that live outside ``qemu`` in v4–v7 (the appliance's top level).
TOP_LEVEL_KEYS = ("port_name_format", "first_port_name", "symbol", "category", "usage")
CUMULUS_LOGIN = "cumulus"  # Cumulus Linux's default login (the .gns3a's usage text says so)
CUMULUS_LINUX = "cumulus-linux"
#: Appliances without a cloud-init seed that gns3lab prepares by writing into their disk (the
#: hostname, the lab key for the login), by the ``.gns3a``'s own ``vendor_name``: (login, system).
#: A .gns3a has no machine-readable field saying which login a guest has or that its disk is a
#: Linux gns3lab can write into (its ``usage`` is free text), so this one table holds that
#: knowledge. The vendor, not the appliance's name: a renamed copy is still Cumulus Linux, and a
#: file merely named "cumulus" is not.
INJECTED_LOGINS: dict[str, tuple[str, str]] = {
    "Cumulus Network": (CUMULUS_LOGIN, CUMULUS_LINUX),
}


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
    first_boot: FirstBoot = "none"  # see generator.model.BaseImage
    login: str | None = None
    system: str | None = None
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


def load_appliance(path: Path, sizes: dict[str, int] | None = None, *,
                   nofollow: bool = False) -> Appliance:
    """Load one ``.gns3a`` file (registry versions 4-8): read within bounds, every value gns3lab
    uses checked (see :mod:`generator.blueprint.appliance_schema`). A BlueprintError names the
    file, each bad key's JSON path and a fix. ``nofollow``: the file is a blueprint's, already
    confined; a symlink swapped in since is not followed."""
    path = Path(path)
    try:
        data = parse_json(read_capped(path, nofollow=nofollow))
        record = check_appliance(data)
        emulator = next((k for k in EMULATORS if k in data), "qemu")
        app = _parse(path, record, emulator, sizes if sizes is not None else _image_sizes())
        return _with_traits(app, data.get("vendor_name"))
    except Refused as exc:
        raise BlueprintError([Problem(str(path), None, "", exc.message, exc.fix)]) from None
    except ApplianceProblems as exc:
        raise BlueprintError(exc.problems(str(path))) from None


def read_capped(path: Path, limit: int = MAX_APPLIANCE_BYTES, nofollow: bool = False) -> bytes:
    """The bytes of ``path``, a regular file of at most ``limit`` bytes; Refused otherwise.

    A FIFO or a device is never opened (``stat`` first: opening one may block for ever or have
    effects), the open itself cannot block (a FIFO swapped in after the ``stat``), and the read
    stops at ``limit + 1`` bytes whatever the file claims (``/proc`` files say 0).
    """
    try:
        _check_regular(os.lstat(path) if nofollow else os.stat(path), limit)
        flags = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | (os.O_NOFOLLOW if nofollow else 0)
        fd = os.open(os.path.realpath(path) if nofollow else path, flags)
    except OSError as exc:
        raise Refused(f"cannot be read: {exc.strerror}", "check the file and its permissions"
                      ) from None
    try:
        _check_regular(os.fstat(fd), limit)
        chunks, left = [], limit + 1
        while left > 0 and (chunk := os.read(fd, min(left, 1 << 16))):
            chunks.append(chunk)
            left -= len(chunk)
    finally:
        os.close(fd)
    data = b"".join(chunks)
    if len(data) > limit:
        raise Refused(f"is larger than {limit} bytes", "a .gns3a is a small JSON file: "
                      "give the appliance's own file")
    return data


def _check_regular(st: os.stat_result, limit: int) -> None:
    """Refuse anything but a regular file of at most ``limit`` bytes."""
    if stat.S_ISDIR(st.st_mode):
        raise Refused("is a folder, not a file", "name a .gns3a file")
    if not stat.S_ISREG(st.st_mode):
        what = ("a FIFO" if stat.S_ISFIFO(st.st_mode) else "a socket"
                if stat.S_ISSOCK(st.st_mode) else "a device" if stat.S_ISCHR(st.st_mode)
                or stat.S_ISBLK(st.st_mode) else "a symlink" if stat.S_ISLNK(st.st_mode)
                else "not a regular file")
        raise Refused(f"is {what}, not a regular file", "give the appliance as a plain file")
    if st.st_size > limit:
        raise Refused(f"has {st.st_size} bytes (at most {limit} allowed)",
                      "a .gns3a is a small JSON file: give the appliance's own file")


def _parse(path: Path, rec: ApplianceFile, emulator: str, sizes: dict[str, int]) -> Appliance:
    """The record of one checked ``.gns3a`` document."""
    images = {i.filename: ImageFile(
        filename=i.filename, version=i.version, md5sum=i.md5sum or i.checksum or "",
        filesize=i.filesize, download_url=i.download_url,
        direct_download_url=i.direct_download_url, virtual_size=sizes.get(i.filename),
        compression=i.compression) for i in rec.images}
    sets = _sets(rec) if rec.registry_version >= 8 else []
    versions = []
    for index, v in enumerate(rec.versions):
        chosen = _settings_of(sets, v.settings, ("versions", index, "settings")) if sets else None
        versions.append(Version(
            name=v.name, images=dict(v.images), settings_name=v.settings,
            properties={**(_merged(sets, chosen) if chosen else {}),
                        **{k: getattr(v, k) for k in ("symbol", "category", "usage")
                           if getattr(v, k) is not None}},
            kind=chosen["template_type"] if chosen else "qemu"))
    name = rec.name or path.stem
    base = Appliance(
        name=name, stem=path.stem, path=path, category=rec.category,
        qemu=rec.qemu.model_dump(exclude_none=True) if rec.qemu else {},
        port_name_format=(DEFAULT_PORT_NAME_FORMAT if rec.port_name_format is None
                          else rec.port_name_format),
        first_port_name=rec.first_port_name, symbol=rec.symbol,
        usage=rec.usage, images=images, versions=tuple(versions),
        cloud_init=_uses_cloud_init(name, tuple(versions)),
        kind=_kind(emulator, sets), registry_version=rec.registry_version)
    if sets:
        default = _settings_of(sets, None, ("settings",))
        return replace(base, settings=dict(default["template_properties"]),
                       **_v8_fields(_merged(sets, default), base))
    return base


def _sets(rec: ApplianceFile) -> list[dict[str, Any]]:
    """The v8 settings sets as dicts; a qemu set keeps its checked properties, another set
    none (gns3lab never runs it: :meth:`Appliance.version` refuses it)."""
    return [{**s.model_dump(), "template_properties":
             qemu_settings(s.template_properties) if s.template_type == "qemu" else {}}
            for s in rec.settings or []]


def _kind(emulator: str, sets: list[dict[str, Any]]) -> str:
    """The emulator: v4-v7 by top-level key, v8 by the sets' ``template_type`` (qemu wins)."""
    if sets:
        kinds = {s["template_type"] for s in sets}
        return "qemu" if "qemu" in kinds else sorted(kinds)[0]
    return emulator


def _settings_of(sets: list[dict[str, Any]], name: str | None, where: tuple[Any, ...]
                 ) -> dict[str, Any]:
    """The set called ``name`` (ApplianceProblems at ``where``, the version's key, when there
    is none), else the default set (the first marked default, or the only one)."""
    if name is not None:
        for s in sets:
            if s["name"] == name:
                return s
        known = ", ".join(repr(s["name"]) for s in sets[:10])
        raise ApplianceProblems([(format_path(where), f"names settings {name!r}, which "
                                  f"settings[] does not hold (known: {known})",
                                  "name one of the settings sets")])
    defaults = [s for s in sets if s["default"]]
    if defaults:
        return defaults[0]
    if len(sets) == 1:
        return sets[0]
    raise ApplianceProblems([("settings", f"{len(sets)} settings sets and none is "
                              "marked default", "mark one set \"default\": true")])


def _merged(sets: list[dict[str, Any]], chosen: dict[str, Any]) -> dict[str, Any]:
    """``chosen``'s properties over the default set's (same emulator), unless it opts out."""
    props: dict[str, Any] = {}
    if not chosen["default"] and chosen["inherit_default_properties"]:
        default = next((s for s in sets if s["default"]), None)
        if default is not None and default["template_type"] == chosen["template_type"]:
            props.update(default["template_properties"])
    props.update(chosen["template_properties"])
    return props


def _v8_fields(props: dict[str, Any], app: Appliance) -> dict[str, Any]:
    """Appliance fields from merged v8 properties: ``qemu`` (``platform`` read as ``arch``,
    the v4 name) and the keys v4-v7 keep at the top level."""
    qemu = {k: v for k, v in props.items() if k not in TOP_LEVEL_KEYS}
    if "platform" in qemu:
        qemu.setdefault("arch", qemu["platform"])
    return {"qemu": qemu,
            "port_name_format": props.get("port_name_format", DEFAULT_PORT_NAME_FORMAT),
            "first_port_name": props.get("first_port_name"),
            "symbol": props.get("symbol", app.symbol),
            "category": props.get("category", app.category),
            "usage": props.get("usage", app.usage)}


def _with_traits(app: Appliance, vendor: object) -> Appliance:
    """``app`` with its first-boot traits: a cloud-init seed when it reads one, else injected
    files for a vendor :data:`INJECTED_LOGINS` knows, else neither."""
    if app.cloud_init:
        return replace(app, first_boot="cloud-init")
    known = INJECTED_LOGINS.get(vendor) if isinstance(vendor, str) else None
    if known is None:
        return app
    return replace(app, first_boot="injected", login=known[0], system=known[1])


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
    broken: tuple[BlueprintError, ...] = ()
    #: Files named by path, by real path, loaded once (a lab of 1,000 nodes may name one file).
    by_path: dict[str, Appliance | BlueprintError] = field(default_factory=dict, compare=False,
                                                           repr=False)

    def find(self, ref: str, base: Path | None = None) -> Appliance:
        """Look an appliance up by name, file stem, or a path to a ``.gns3a`` file inside the
        blueprint folder ``base`` (confined like every file a blueprint names: Refused when it
        is absolute, leaves the folder, or is no plain file). LookupError when unknown; a
        BlueprintError when the file it names is broken."""
        if ref.endswith(".gns3a"):
            if base is None:
                raise LookupError(f"appliance file {ref!r}: only a blueprint may name one")
            path = confined(base, ref, "file")
            key = os.path.realpath(path)
            if key not in self.by_path:
                try:
                    self.by_path[key] = load_appliance(path, nofollow=True)
                except BlueprintError as exc:
                    self.by_path[key] = exc
            found = self.by_path[key]
            if isinstance(found, BlueprintError):
                raise found
            return found
        key = ref.lower()
        for app in self.appliances:
            if app.name.lower() == key or app.stem.lower() == key:
                return app
        if self.broken:  # perhaps it is one that could not be read: say why of each
            raise BlueprintError([p for e in self.broken for p in e.problems])
        raise LookupError(f"unknown appliance '{ref}'")

    def names(self) -> list[str]:
        """Every appliance name, sorted."""
        return sorted({a.name for a in self.appliances})


def load_catalogue(folders: list[Path], strict: int | None = None) -> Catalogue:
    """Load every ``.gns3a`` in ``folders`` (first folder wins on a duplicate name). A broken
    file in the first ``strict`` folders (all by default) is an error (all of them in one
    BlueprintError); in the others (the user's image folders, which a lab may not even use) it
    is skipped and kept for lookups.

    A folder named ``appliances`` (a blueprint's, or this repository's) is read as blueprint
    files: it and its files must lie inside its parent folder, with no symlink, device, FIFO
    or hard link to a file elsewhere. The other folders (``--images-dir``, ``$GNS3LAB_IMAGES``,
    ``~/GNS3/images``) are the user's own and may hold symlinks; in every folder a file is
    read only when it is a regular file of at most 1 MiB.
    """
    sizes = _image_sizes()
    seen: dict[str, Appliance] = {}
    broken: list[BlueprintError] = []
    fatal: list[Problem] = []
    for index, folder in enumerate(folders):
        for loaded in _load_folder(folder, sizes):
            if isinstance(loaded, Appliance):
                seen.setdefault(loaded.name.lower(), loaded)
            elif strict is None or index < strict:
                fatal += loaded.problems
            else:
                broken.append(loaded)
    if fatal:
        raise BlueprintError(fatal)
    return Catalogue(tuple(seen.values()), tuple(broken))


BLUEPRINT_FOLDER = "appliances"  # a blueprint's appliance folder, and this repository's


def _load_folder(folder: Path, sizes: dict[str, int]) -> list[Appliance | BlueprintError]:
    """Every appliance of one folder, or the error that stops each (sorted by file name)."""
    if folder.name == BLUEPRINT_FOLDER:
        return _load_confined(folder, sizes)
    if not folder.is_dir():
        return []
    return [_load_or_error(path, sizes) for path in sorted(folder.glob("*.gns3a"))]


def _load_confined(folder: Path, sizes: dict[str, int]) -> list[Appliance | BlueprintError]:
    """A blueprint's ``appliances/``: the folder and each file go through the checks every
    file a blueprint names goes through (:func:`generator.blueprint.confine.confined`)."""
    if not os.path.lexists(folder):
        return []
    try:
        confined(folder.parent, folder.name, "dir")  # checks every entry: no links, no FIFOs
    except Refused as exc:
        return [BlueprintError([Problem(str(folder), None, "", exc.message, exc.fix)])]
    out: list[Appliance | BlueprintError] = []
    for entry in sorted(folder.glob("*.gns3a")):
        try:
            path = confined(folder.parent, f"{folder.name}/{entry.name}", "file")
        except Refused as exc:
            out.append(BlueprintError([Problem(str(entry), None, "", exc.message, exc.fix)]))
            continue
        out.append(_load_or_error(path, sizes, nofollow=True))
    return out


def _load_or_error(path: Path, sizes: dict[str, int], nofollow: bool = False
                   ) -> Appliance | BlueprintError:
    try:
        return load_appliance(path, sizes, nofollow=nofollow)
    except BlueprintError as exc:
        return exc
