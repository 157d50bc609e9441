"""The parts of a GNS3 ``.gns3a`` file gns3lab uses, as typed records, and how a bad one is told.

An appliance may come from a stranger (a blueprint's ``appliances/`` folder, a download), and
its values end up in the project file GNS3 opens. So they are checked like blueprint values:
types, the ranges and choices GNS3 itself accepts (gns3-server's ``qemu_template`` schema of
2.2 and ``qemu_templates``/``qemu_nodes`` of 3.0: RAM above 0, 1-255 vCPUs, 0-275 adapters, its
console, adapter and disk-interface choices), and no control characters in any string.

Keys gns3lab does not read are ignored (the registry has many); a key it does read must be
right even when the lab would not use it, so ``validate`` finds what ``build`` would trip on.
Every problem becomes one :class:`~generator.errors.Problem` naming the file and the JSON path.
"""

from __future__ import annotations

import json
import re
from itertools import accumulate
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from generator.blueprint.source import format_path
from generator.errors import Problem

MAX_APPLIANCE_BYTES = 1 << 20  # the registry's largest .gns3a is ~60 KB
MAX_JSON_DEPTH = 32  # a .gns3a is 4 levels deep (settings[].template_properties.x)
MAX_RAM_MB = 1 << 20  # 1 TiB, as for a blueprint's ram:
MAX_IMAGE_BYTES = 1 << 46  # 64 TiB, a blueprint's largest disk
MAX_PROBLEMS = 10  # per file: the first few say enough
#: The registry versions this loader reads (4-7: a ``qemu`` object; 8: ``settings[]``).
REGISTRY_VERSIONS = (1, 8)

#: GNS3's own choices (gns3server/schemas/qemu_template.py, 2.2.61; the same in 3.0.6).
CONSOLE_TYPES = ("telnet", "vnc", "spice", "spice+agent", "none")
ADAPTER_TYPES = ("e1000", "e1000-82544gc", "e1000-82545em", "e1000e", "i82550", "i82551",
                 "i82557a", "i82557b", "i82557c", "i82558a", "i82558b", "i82559a", "i82559b",
                 "i82559c", "i82559er", "i82562", "i82801", "igb", "ne2k_pci", "pcnet", "rocker",
                 "rtl8139", "virtio", "virtio-net-pci", "vmxnet3")
DISK_INTERFACES = ("ide", "sata", "nvme", "scsi", "sd", "mtd", "floppy", "pflash", "virtio",
                   "none")
PLATFORMS = ("aarch64", "alpha", "arm", "cris", "i386", "lm32", "m68k", "microblaze",
             "microblazeel", "mips", "mips64", "mips64el", "mipsel", "moxie", "or32", "ppc",
             "ppc64", "ppcemb", "s390x", "sh4", "sh4eb", "sparc", "sparc64", "tricore",
             "unicore32", "x86_64", "xtensa", "xtensaeb", "")

#: C0 and C1 controls, and the invisible characters that reorder or hide text on a terminal
#: (zero-width, bidirectional overrides and isolates: "Trojan Source").
INVISIBLE = "\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff"
STRINGS = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')  # JSON strings, unrolled: linear time
STEP = {"[": 1, "{": 1, "]": -1, "}": -1}
CONTROL = re.compile(f"[\x00-\x1f\x7f-\x9f{INVISIBLE}]")
CONTROL_BUT_LAYOUT = re.compile(f"[\x00-\x08\x0b-\x1f\x7f-\x9f{INVISIBLE}]")  # text keeps \t \n


def _one_line(value: str) -> str:
    found = CONTROL.search(value)
    if found:
        raise ValueError(f"holds the control or invisible character {found.group()!r}")
    return value


def _text(value: str) -> str:
    found = CONTROL_BUT_LAYOUT.search(value)
    if found:
        raise ValueError(f"holds the control or invisible character {found.group()!r}")
    return value


def _bare_name(value: str) -> str:
    """A file name GNS3 keeps flat in one folder (issue 7: ``../../x`` left the staging)."""
    if value in ("", ".", "..") or "/" in value or "\\" in value:
        raise ValueError("is not a bare file name")
    return value


Line = Annotated[str, Field(max_length=256), AfterValidator(_one_line)]
Name = Annotated[str, Field(min_length=1, max_length=256), AfterValidator(_one_line)]
Text = Annotated[str, Field(max_length=65536), AfterValidator(_text)]
Url = Annotated[str, Field(max_length=4096), AfterValidator(_one_line)]
FileName = Annotated[str, Field(max_length=255), AfterValidator(_one_line),
                     AfterValidator(_bare_name)]
Md5 = Annotated[str, Field(pattern=r"^([0-9a-fA-F]{32})?$")]


class Record(BaseModel):
    """Strict types (no ``"5"`` for 5, no 1.0 for 1), other keys ignored."""

    model_config = ConfigDict(extra="ignore", strict=True, frozen=True)


class QemuSettings(Record):
    """A ``qemu`` object (v4-7) or a qemu set's ``template_properties`` (v8)."""

    ram: int | None = Field(None, ge=1, le=MAX_RAM_MB)
    cpus: int | None = Field(None, ge=1, le=255)
    adapters: int | None = Field(None, ge=0, le=275)
    adapter_type: Literal[ADAPTER_TYPES] | None = None  # type: ignore[valid-type]
    console_type: Literal[CONSOLE_TYPES] | None = None  # type: ignore[valid-type]
    hda_disk_interface: Literal[DISK_INTERFACES] | None = None  # type: ignore[valid-type]
    arch: Literal[PLATFORMS] | None = None  # type: ignore[valid-type]
    platform: Literal[PLATFORMS] | None = None  # type: ignore[valid-type]
    options: Annotated[str, Field(max_length=4096), AfterValidator(_one_line)] | None = None
    # v8 keeps these in the set; v4-7 at the top level (see ApplianceFile)
    port_name_format: Line | None = None
    first_port_name: Line | None = None
    symbol: Line | None = None
    category: Line | None = None
    usage: Text | None = None


class ImageEntry(Record):
    """One ``images[]`` entry."""

    filename: FileName
    version: Line = ""
    md5sum: Md5 | None = None
    checksum: Md5 | None = None  # v8's name for the md5
    filesize: int = Field(ge=0, le=MAX_IMAGE_BYTES)
    download_url: Url | None = None
    direct_download_url: Url | None = None
    compression: Line | None = None


class VersionEntry(Record):
    """One ``versions[]`` entry: its image file per slot, and (v8) the set it runs."""

    name: Name
    images: dict[Line, FileName] = Field(default_factory=dict)
    settings: Line | None = None
    symbol: Line | None = None
    category: Line | None = None
    usage: Text | None = None


class SettingsSet(Record):
    """One v8 ``settings[]`` entry (its properties are checked as QemuSettings when qemu)."""

    name: Line | None = None
    default: bool = False
    inherit_default_properties: bool = True
    template_type: Line = "qemu"
    template_properties: dict[str, Any] = Field(default_factory=dict)


class ApplianceFile(Record):
    """The top level of a ``.gns3a``."""

    registry_version: int = Field(4, ge=REGISTRY_VERSIONS[0], le=REGISTRY_VERSIONS[1])
    name: Name | None = None
    category: Line = "guest"
    usage: Text = ""
    symbol: Line | None = None
    port_name_format: Line | None = None
    first_port_name: Line | None = None
    qemu: QemuSettings | None = None
    images: list[ImageEntry] = Field(default_factory=list, max_length=10_000)
    versions: list[VersionEntry] = Field(default_factory=list, max_length=10_000)
    settings: list[SettingsSet] | None = Field(None, max_length=1_000)


# --------------------------------------------------------------------------- checking


class ApplianceProblems(ValueError):
    """What is wrong with one appliance file, as (JSON path, message, fix) triples."""

    def __init__(self, found: list[tuple[str, str, str]]) -> None:
        super().__init__("; ".join(f"{p}: {m}" if p else m for p, m, _ in found))
        self.found = found

    def problems(self, file: str) -> list[Problem]:
        """One :class:`Problem` per finding, naming ``file`` (the first few, then a count)."""
        shown = [Problem(file, None, path, message, fix)
                 for path, message, fix in self.found[:MAX_PROBLEMS]]
        if len(self.found) > MAX_PROBLEMS:
            shown.append(Problem(file, None, "", f"and {len(self.found) - MAX_PROBLEMS} more "
                                 "problems", "fix the ones above and run validate again"))
        return shown


def parse_json(raw: bytes) -> dict[str, Any]:
    """The JSON object of a ``.gns3a``'s bytes; ApplianceProblems if it is not one."""
    fix = "give a GNS3 .gns3a file: a JSON object, as the registry writes it"
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ApplianceProblems([("", f"is not UTF-8 text ({exc.reason} at byte "
                                      f"{exc.start})", fix)]) from None
    depth = json_depth(text)
    if depth > MAX_JSON_DEPTH:
        raise ApplianceProblems([("", f"is nested {depth} levels deep (at most "
                                      f"{MAX_JSON_DEPTH} allowed)", fix)])
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise ApplianceProblems([("", f"is not valid JSON: {exc}", fix)]) from None
    if not isinstance(data, dict):
        raise ApplianceProblems([("", f"holds a JSON {_kind(data)} at the top level, not an "
                                      "object", fix)])
    return data


def json_depth(text: str) -> int:
    """How deeply ``text``'s arrays and objects nest (strings skipped), without parsing it:
    the JSON parser recurses, so a file 5,000 levels deep must not reach it."""
    # A parser stops at the first closing bracket that has no opening one, so the running
    # count (negative only there) bounds how deep it can recurse.
    brackets = re.findall(r"[\[\]{}]", STRINGS.sub("", text))
    return max(0, max(accumulate(map(STEP.__getitem__, brackets)), default=0))


def check_appliance(data: dict[str, Any]) -> ApplianceFile:
    """``data`` as a checked record; ApplianceProblems naming every bad value."""
    try:
        record = ApplianceFile.model_validate(data)
    except ValidationError as exc:
        raise ApplianceProblems([_finding(e) for e in exc.errors()]) from None
    found = []
    for i, chosen in enumerate(record.settings or []):
        if chosen.template_type != "qemu":
            continue
        try:
            QemuSettings.model_validate(chosen.template_properties)
        except ValidationError as exc:
            found += [_finding(e, ("settings", i, "template_properties"))
                      for e in exc.errors()]
    if found:
        raise ApplianceProblems(found)
    return record


def qemu_settings(props: dict[str, Any]) -> dict[str, Any]:
    """The checked keys of a qemu set's properties that it gives (others dropped)."""
    return QemuSettings.model_validate(props).model_dump(exclude_none=True)


FIXES = {"too_long": "shorten it", "too_short": "give a value",
         "pattern": "give the file's md5 as 32 hex digits",
         "int": "write a whole number", "bool": "write true or false",
         "string": "write a string", "dict": "write an object", "model": "write an object",
         "list": "write a list", "literal": "use one of the values GNS3 accepts",
         "greater": "give a value in the range GNS3 accepts",
         "less": "give a value in the range GNS3 accepts",
         "missing": "add it: the registry's schema lists the keys each version needs"}


def _finding(error: Any, prefix: tuple[Any, ...] = ()) -> tuple[str, str, str]:
    """A pydantic error as (JSON path, message, fix)."""
    path = format_path(prefix + tuple(error["loc"]))
    kind = error["type"]
    message = error["msg"].removeprefix("Value error, ").removeprefix("Input ")
    message = re.sub(r"a valid dictionary or instance of \w+", "an object", message)
    message = "is missing" if kind == "missing" else message[:1].lower() + message[1:]
    if kind != "missing":
        message += f" (got {_shown(error.get('input'))})"
    fix = next((f for key, f in FIXES.items() if kind.startswith(key) or key in kind),
               "see the registry's schema for this key")
    if path == "registry_version":
        fix = (f"gns3lab reads registry versions {REGISTRY_VERSIONS[0]}-{REGISTRY_VERSIONS[1]}"
               ": use the file as the GNS3 registry publishes it")
    elif kind == "value_error" and "invisible character" in message:
        fix = "remove the control and invisible characters"
    elif kind == "value_error":
        fix = "give a file name without '/', '\\' or '..': GNS3 keeps images flat in one folder"
    return path, message, fix


def _shown(value: Any) -> str:
    """A value for a message: scalars as written (shortened, escaped), containers by kind
    (a deeply nested one must not be printed)."""
    if isinstance(value, (dict, list)):
        return f"a JSON {_kind(value)}"
    text = repr(value) if isinstance(value, (str, float)) else json.dumps(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _kind(value: Any) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean", int: "number",
            float: "number"}.get(type(value), "null")
