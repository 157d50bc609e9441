"""Load a blueprint: YAML with line numbers, shape and type checks, the as-written records.

A blueprint is a folder holding ``lab.yaml`` (plus the files it references) or a single YAML
file. This module knows the *written* form only; :mod:`generator.resolve.lab` turns it into the
frozen lab model. Every problem found here is collected with its file, line and path, and
raised together as one :class:`BlueprintError`.
"""

from __future__ import annotations

import codecs
import difflib
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    field_validator,
)

from generator.errors import BlueprintError, Problem

SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]i?B?|B)?\s*$", re.IGNORECASE)
#: Names that end up in generated configs follow the grammar of the strictest reader.
NAME_RE = r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"  # RFC 1123 hostname label
DOMAIN_RE = r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$"
IFACE_RE = r"^[A-Za-z0-9_.-]{1,15}$"  # Linux interface names (IFNAMSIZ - 1)
WORD_RE = r"^[a-z0-9][a-z0-9_-]{0,62}$"  # network, role and tag names (dnsmasq tags, Ansible)
USER_RE = r"^[a-z_][a-z0-9_-]{0,31}$"  # POSIX user names as useradd takes them
STAGE_RE = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$"  # printed on the console, a shell word
VERSION_RE = r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$"  # goes into the archive's file name
MODE_RE = r"^0?[0-7]{3,4}$"  # an octal file mode
POOL_RE = r"^\s*\d{1,9}\s*-\s*\d{1,9}\s*$"  # first-last host numbers
LINE_RE = r"^[^\n\r\x00]*$"  # one line, no NUL
MAX_TEXT = 1 << 20  # longest string a blueprint may hold (a file's content inline)
MAX_RAM_MB = 1 << 20  # 1 TiB
MAX_NODES = 1000  # per lab

IfaceName = Annotated[str, Field(pattern=IFACE_RE, description="Interface name (1-15 of "
                                                                "A-Za-z0-9_.-).")]
OneLine = Annotated[str, Field(pattern=LINE_RE, max_length=4096)]


class Strict(BaseModel):
    """Base of every blueprint record: unknown keys are errors, records are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, strict=True,
                              str_max_length=MAX_TEXT)


Size = Annotated[str | int, Field(description="Size: bytes as an int, or '512M', '20G', '1T'.")]


def parse_size(value: str | int) -> int:
    """Turn ``20G``/``512M``/an int of bytes into bytes (binary units)."""
    if isinstance(value, bool):
        raise ValueError(f"not a size: {value!r} (write e.g. 512M, 20G)")
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"size {value} is negative (write e.g. 512M, 20G)")
        return value
    m = SIZE_RE.match(value)
    if not m:
        raise ValueError(f"not a size: {value!r} (write e.g. 512M, 20G)")
    number, unit = float(m.group(1)), (m.group(2) or "B").upper().rstrip("B").rstrip("I")
    return int(number * 1024 ** " KMGT".index(unit or " "))


class Users(Strict):
    """A guest user made by cloud-init."""

    name: str = Field(pattern=USER_RE)
    sudo: bool = True
    shell: str = Field("/bin/bash", pattern=r"^/[A-Za-z0-9_./+-]*$")
    ssh_keys: list[OneLine] = Field(default_factory=list, description="Authorized public keys.")
    password: str | None = Field(
        None, max_length=1024, description="Console password: hashed (SHA-512 crypt) before it "
        "reaches a seed; the archived blueprint carries the hash.")
    password_hash: str | None = Field(
        None, pattern=r"^\$(6|5|y|2[aby])\$[./0-9A-Za-z$=,]{8,200}$",
        description="Console password as a crypt(3) hash, e.g. from `openssl passwd -6`.")
    groups: list[Annotated[str, Field(pattern=USER_RE)]] = Field(default_factory=list)


class WriteFile(Strict):
    """A file cloud-init writes at first boot."""

    path: str
    content: str
    permissions: str = "0644"
    owner: str = "root:root"


class CloudInit(Strict):
    """Per-node cloud-init settings; lists from node, group and defaults are concatenated."""

    users: list[Users] | None = None
    ssh_keys: list[OneLine] | None = Field(None, description="Extra keys for the default user.")
    packages: list[Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9+._:=~*-]{0,127}$")]
                   ] | None = None
    write_files: list[WriteFile] | None = None
    bootcmd: list[str | list[str]] | None = None
    runcmd: list[str | list[str]] | None = None
    user_data: dict[str, Any] | None = Field(
        None, description="Raw #cloud-config keys merged over the generated document.")


class Inject(Strict):
    """A file, directory or symlink written into the node's overlay with libguestfs."""

    path: str = Field(pattern=r"^/[^\n\r\x00]{0,4095}$", description="Absolute path in the guest.")
    content: str | None = None
    source: str | None = Field(None, description="File or folder in the blueprint folder.")
    mode: str | None = Field(None, pattern=MODE_RE, description="Octal mode, e.g. '0755'.")
    owner: str = Field("root", pattern=USER_RE)
    group: str = Field("root", pattern=USER_RE)
    symlink: OneLine | None = Field(None, description="Make `path` a symlink to this target.")
    enable: bool = Field(False, description="A systemd unit to enable for first boot.")


class Bond(Strict):
    """An 802.3ad (or other) bond of physical interfaces."""

    interfaces: list[IfaceName]
    mode: Literal["802.3ad", "balance-rr", "active-backup", "balance-xor", "broadcast",
                  "balance-tlb", "balance-alb"] = "802.3ad"
    lacp_rate: Literal["fast", "slow"] | None = "fast"
    hash_policy: Literal["layer2", "layer3+4", "layer2+3", "encap2+3", "encap3+4"] | None = \
        "layer3+4"
    mii_monitor: int = Field(100, ge=0, le=60000)


class Vlan(Strict):
    id: int = Field(ge=1, le=4094)
    link: IfaceName


class Bridge(Strict):
    interfaces: list[IfaceName] = Field(default_factory=list)
    stp: bool = False


class Interface(Strict):
    """One guest interface: a NIC (named after its GNS3 port), a bond, a VLAN or a bridge."""

    bond: Bond | list[IfaceName] | None = None
    vlan: Vlan | None = None
    bridge: Bridge | list[IfaceName] | None = None
    network: str | None = Field(None, description="Name of a network from `networks`.")
    address: str | int | None = Field(
        None, description="IP (prefix from the network), host number in the network, or 'auto'.")
    dhcp: bool = False
    gateway: bool | str | None = Field(
        None, description="true: the network's gateway is the default route; or an IP.")
    dns: list[str] | None = None
    mtu: int | None = Field(None, ge=68, le=65535)
    routes: list[dict[str, str]] | None = None


class Disk(Strict):
    size: Size
    interface: Literal["virtio", "ide", "sata", "scsi"] = "virtio"


class Position(Strict):
    x: int
    y: int


class NodeSettings(Strict):
    """Settings shared by nodes, groups and defaults (node > group > appliance > defaults)."""

    appliance: str | None = None
    version: str | None = Field(None, description="Appliance version (name or image version).")
    ram: int | None = Field(None, ge=32, le=MAX_RAM_MB, description="RAM in MB.")
    cpus: int | None = Field(None, ge=1, le=255)
    disk: Size | None = Field(None, description="Size of the system disk overlay.")
    nics: Annotated[int, Field(ge=1, le=275)] | Literal["auto"] | None = Field(
        None, description="NIC count or 'auto'.")
    console: Literal["telnet", "vnc", "spice", "none"] | None = None
    role: str | None = Field(None, pattern=WORD_RE)
    tier: int | None = Field(None, ge=0, le=9, description="Row on the canvas (0 = top).")
    adapter_type: str | None = None
    disk_interface: Literal["virtio", "ide", "sata", "scsi"] | None = None
    port_name_format: str | None = Field(None, max_length=32)
    first_port_name: IfaceName | None = None
    options: str | None = Field(None, description="Extra QEMU options (GNS3 `options`).")
    disks: list[Disk] | None = Field(None, description="Extra blank data disks.")
    interfaces: dict[IfaceName, Interface] | None = None
    cloud_init: CloudInit | None = None
    inject: list[Inject] | None = None
    symbol: str | None = None
    compute: str | None = Field(
        None, description="Name of a compute from `computes` to run on (default: the "
        "controller's local compute, or placed by `placement: spread`).")
    seed: bool | None = Field(
        None, description="Give the node a cloud-init NoCloud seed ISO (default: when the "
        "appliance is a cloud image, i.e. its name says 'cloud' or it ships a seed ISO).")


class Group(NodeSettings):
    pass


class Node(NodeSettings):
    """A node as written. `type` picks a GNS3 built-in; otherwise it is a QEMU VM."""

    type: Literal["qemu", "cloud", "nat", "ethernet_switch"] = "qemu"
    group: str | list[str] | None = None
    mac: str | None = Field(None, pattern=r"^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$",
                            description="Base MAC (adapter 0); adapter N is base + N.")
    position: Position | None = None
    ports: list[IfaceName] | None = Field(None, description="cloud: host interfaces to expose.")
    vlans: dict[str, Annotated[int, Field(ge=1, le=4094)] | Literal["trunk"]] | None = Field(
        None, description="ethernet_switch: port -> access VLAN, or 'trunk'.")


class LinkSpec(Strict):
    """A link between two interfaces, with optional GNS3 link filters."""

    a: str
    b: str
    delay: int | None = Field(None, ge=0, le=60000, description="Latency in ms.")
    jitter: int | None = Field(None, ge=0, le=60000)
    loss: float | None = Field(None, ge=0, le=100, description="Packet loss in percent.")
    corrupt: float | None = Field(None, ge=0, le=100)


class LinkEach(Strict):
    """Generated links: one set of link templates per member of a group or list.

    Templates use ``{node}``, ``{i}`` (0-based), ``{n}`` (1-based) and ``{num}`` (the number
    at the end of the node's name), with ``+K``/``-K`` allowed, e.g. ``swp{n+20}``.
    """

    each: str | list[str]
    links: list[str | LinkSpec]


def _link_kind(value: Any) -> str:
    if isinstance(value, dict):
        return "each" if "each" in value else "spec"
    return "text" if isinstance(value, str) else "spec"


LinkItem = Annotated[
    Annotated[str, Tag("text")] | Annotated[LinkSpec, Tag("spec")]
    | Annotated[LinkEach, Tag("each")],
    Discriminator(_link_kind),
]


class Network(Strict):
    cidr: str
    vlan: int | None = Field(None, ge=1, le=4094)
    gateway: str | None = None
    dns: list[str] | None = None
    pool: str | None = Field(None, pattern=POOL_RE,
                             description="First-last host numbers for 'auto', e.g. 100-199.")
    domain: str | None = Field(None, pattern=DOMAIN_RE, max_length=253)


class Compute(Strict):
    """A GNS3 compute the lab may run on; `push` maps it onto a registered compute."""

    ram_mb: int = Field(ge=64, le=1 << 24, description="RAM this compute gives the lab (MB).")
    server: str | None = Field(None, description="The compute's name or id on the GNS3 "
                               "controller (default: the same name).")


StrList = list[str] | str


class Stage(Strict):
    """One bootstrap stage: wait for its hosts' SSH, then run its playbooks in order."""

    name: str = Field(pattern=STAGE_RE,
                      description="One word; printed as `gns3lab: stage <name> ok|failed`.")
    hosts: list[Annotated[str, Field(pattern=WORD_RE)]] | \
        Annotated[str, Field(pattern=WORD_RE)] = Field(
            default_factory=lambda: ["all"],
            description="`all`, groups, roles or node names.")
    playbooks: StrList = Field(default_factory=list,
                               description="Playbooks in the blueprint folder, run in order.")
    generated: StrList = Field(default_factory=list,
                               description="Add-on playbooks, e.g. playbooks/fabric.yml.")
    timeout: int | None = Field(None, ge=1, le=86400,
                                description="Seconds to wait for the hosts (default: the "
                                "controller's).")


class Controller(Strict):
    """The node that bootstraps the lab (DHCP, DNS, NAT, Ansible)."""

    node: str
    uplink: IfaceName | None = Field(None, description="Interface used for NAT to the outside.")
    dhcp: list[str] = Field(default_factory=list, description="Networks it serves by DHCP.")
    playbooks: list[str] = Field(default_factory=list)
    stages: list[Stage] = Field(default_factory=list)
    timeout: int = Field(1800, ge=1, le=86400, description="Seconds a stage waits for its hosts.")


class Blueprint(Strict):
    """The whole blueprint file (version 1)."""

    format: Literal[1] = Field(1, description="Blueprint format version.")
    name: str = Field(pattern=NAME_RE)
    version: Annotated[str, Field(pattern=VERSION_RE)] | int | None = Field(
        None, description="The lab's own version (free text, e.g. 1.4.0 or 2026-12-01): names "
        "the archive <name>-<version>.gns3project.")
    description: str = Field("", max_length=4096)
    gns3: Literal["2.2", "3.0"] = "2.2"
    domain: str = Field("lab.internal", pattern=DOMAIN_RE, max_length=253,
                        description="DNS domain of the lab (lowercase, dot-separated labels).")
    defaults: NodeSettings = Field(default_factory=lambda: NodeSettings())
    groups: dict[str, Group] = Field(default_factory=dict)
    networks: dict[Annotated[str, Field(pattern=WORD_RE)], Network] = Field(default_factory=dict)
    nodes: dict[str, Node] = Field(max_length=MAX_NODES)
    links: list[LinkItem] = Field(default_factory=list)
    controller: Controller | None = None
    ssh_key: str | None = Field(None, description="Private key file for the lab (else generated).")
    computes: dict[str, Compute] = Field(default_factory=dict,
                                         description="GNS3 computes the lab spans.")
    placement: Literal["spread"] | None = Field(
        None, description="spread: place nodes without `compute:` on the computes by RAM.")
    extra: dict[str, Any] = Field(default_factory=dict,
                                  description="Free data for playbooks and renderers.")

    @field_validator("nodes")
    @classmethod
    def _nonempty(cls, v: dict[str, Node]) -> dict[str, Node]:
        if not v:
            raise ValueError("a lab needs at least one node")
        return v


def json_schema() -> dict[str, Any]:
    """The JSON Schema of blueprint files, for editors (``gns3lab schema``)."""
    schema = Blueprint.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "gns3lab blueprint"
    return schema


# --------------------------------------------------------------------------- YAML with lines


# Limits of what the loader reads. A blueprint is a few KB; these stop a hostile file early,
# before any of it is turned into Python objects.
MAX_BLUEPRINT_BYTES = 1 << 20  # 1 MiB
MAX_YAML_DEPTH = 64  # nesting of mappings and lists, aliases included
MAX_YAML_VALUES = 200_000  # values after expanding aliases (billion laughs: 387 million)
MAX_STRING = 256 << 10  # characters in one key or value


class _LineLoader(yaml.SafeLoader):
    """A SafeLoader that refuses nesting past MAX_YAML_DEPTH while it composes (PyYAML's
    composer recurses, so a 900-deep file would otherwise end in RecursionError), and turns a
    constructor's ValueError (``2026-13-45``, a 5000-digit int) into a marked YAML error."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        self._depth += 1
        try:
            if self._depth > MAX_YAML_DEPTH:
                raise _Refused(self.peek_event().start_mark.line + 1, (),
                               f"nesting deeper than {MAX_YAML_DEPTH} levels",
                               "flatten the data; a blueprint needs only a few levels")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep)
        except (ValueError, OverflowError) as exc:
            raise yaml.constructor.ConstructorError(
                None, None, f"cannot read this value ({exc})", node.start_mark) from None


class _Refused(Exception):
    """A limit of the loader, found at a line and path."""

    def __init__(self, line: int | None, path: tuple, message: str, fix: str) -> None:
        self.line, self.path, self.message, self.fix = line, path, message, fix


def _check_graph(root: yaml.Node) -> None:
    """Refuse recursive aliases, non-scalar keys, long strings, and aliases that expand past
    MAX_YAML_VALUES values or MAX_YAML_DEPTH levels. Each node is visited once (memoised), so
    a billion-laughs file is refused after a few hundred steps and a few KB."""
    memo: dict[int, tuple[int, int]] = {}  # id(node) -> (values, height) once expanded
    active: set[int] = set()

    def visit(node: yaml.Node, depth: int, path: tuple) -> tuple[int, int]:
        line = node.start_mark.line + 1
        if id(node) in active:
            raise _Refused(line, path, "recursive alias: this value contains itself",
                           "write the data out; an alias may not point into itself")
        if id(node) not in memo:
            active.add(id(node))
            memo[id(node)] = measure(node, depth, path)
            active.discard(id(node))
        values, height = memo[id(node)]
        if depth + height > MAX_YAML_DEPTH:
            raise _Refused(line, path, f"nesting deeper than {MAX_YAML_DEPTH} levels "
                           "(through aliases)", "use fewer nested aliases")
        return values, height

    def measure(node: yaml.Node, depth: int, path: tuple) -> tuple[int, int]:
        if isinstance(node, yaml.ScalarNode):
            if len(node.value) > MAX_STRING:
                raise _Refused(node.start_mark.line + 1, path,
                               f"a string of {len(node.value)} characters (at most "
                               f"{MAX_STRING})", "put long content into a file beside the "
                               "blueprint (inject: source:)")
            return 1, 0
        children: list[tuple[yaml.Node, tuple]] = []
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if not isinstance(key, yaml.ScalarNode):
                    raise _Refused(key.start_mark.line + 1, path, "a key that is a list or "
                                   "mapping", "write keys as plain names")
                children += [(key, path), (value, path + (key.value,))]
        else:
            children = [(item, path + (i,)) for i, item in enumerate(node.value)]
        values, height = 1, 0
        for child, child_path in children:
            v, h = visit(child, depth + 1, child_path)
            values, height = values + v, max(height, h + 1)
            if values > MAX_YAML_VALUES:
                raise _Refused(node.start_mark.line + 1, path,
                               f"this expands to more than {MAX_YAML_VALUES} values "
                               "(aliases repeated inside aliases)",
                               "write the data out, or use fewer aliases")
        return values, height

    visit(root, 1, ())


def _record_lines(node: yaml.Node, path: tuple, lines: dict[tuple, int]) -> None:
    """The line of every mapping key and sequence item, by path. Bounded by _check_graph."""
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: set[Any] = set()
        for key_node, value_node in node.value:
            key = key_node.value
            if key in seen:
                raise _Refused(key_node.start_mark.line + 1, path + (key,),
                               f"duplicate key '{key}'",
                               "each name may appear once; rename or merge them")
            seen.add(key)
            lines[path + (key,)] = key_node.start_mark.line + 1
            _record_lines(value_node, path + (key,), lines)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            lines[path + (i,)] = item.start_mark.line + 1
            _record_lines(item, path + (i,), lines)


@dataclass(frozen=True)
class Source:
    """Where a blueprint came from: its file, its folder, and the line of every path."""

    file: Path
    folder: Path
    lines: dict[tuple, int]

    def line(self, path: tuple) -> int | None:
        """The line of ``path``, or of its closest recorded parent."""
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get((), None)

    def problem(self, path: tuple, message: str, fix: str | None = None) -> Problem:
        return Problem(self.display, self.line(path), format_path(path), message, fix)

    @property
    def display(self) -> str:
        return str(self.file)


def format_path(path: tuple) -> str:
    """``('links', 3, 'b')`` -> ``links[3].b``."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def closest(word: str, choices: list[str] | set[str]) -> str:
    """A 'did you mean' hint naming the closest choice, or the known ones."""
    known = sorted(str(c) for c in choices)
    match = difflib.get_close_matches(word, known, n=1)
    if match:
        return f"did you mean '{match[0]}'?"
    listed = ", ".join(known[:12]) + (", ..." if len(known) > 12 else "")
    return f"known: {listed}" if known else "none are defined"


def locate(path: Path) -> Path:
    """The YAML file of a blueprint given as a folder or a file. Only ``stat``s, never opens:
    a FIFO or device named as the blueprint is refused instead of read."""
    try:
        is_dir = stat.S_ISDIR(os.stat(path).st_mode)
    except (OSError, ValueError):  # ValueError: a NUL in the path
        is_dir = False
    if is_dir:
        for name in ("lab.yaml", "lab.yml"):
            if os.path.lexists(path / name):
                return _checked_file(path / name)
        raise BlueprintError([Problem(str(path), None, "", "no lab.yaml in this folder",
                                      "create lab.yaml, or pass the YAML file itself")])
    return _checked_file(path)


def _checked_file(file: Path) -> Path:
    """``file`` if it is a regular file that is not a symlink out of its own folder."""
    def refuse(message: str, fix: str) -> BlueprintError:
        return BlueprintError([Problem(str(file), None, "", message, fix)])

    if file.is_symlink():
        folder, real = os.path.realpath(file.parent), os.path.realpath(file)
        if os.path.commonpath([folder, real]) != folder:
            raise refuse(f"is a symlink that leads out of its folder (to {real})",
                         "replace the link by the file itself")
    try:
        mode = os.stat(file).st_mode
    except (OSError, ValueError):
        raise refuse("no such file or folder", "check the path") from None
    if not stat.S_ISREG(mode):
        raise refuse(f"is a {_file_kind(mode)}, not a YAML file",
                     "pass a blueprint folder or its lab.yaml")
    return file


def _file_kind(mode: int) -> str:
    for test, name in ((stat.S_ISDIR, "folder"), (stat.S_ISFIFO, "FIFO (named pipe)"),
                       (stat.S_ISCHR, "character device"), (stat.S_ISBLK, "block device"),
                       (stat.S_ISSOCK, "socket")):
        if test(mode):
            return name
    return "special file"


def _read_text(file: Path) -> str:
    """The blueprint's text: at most MAX_BLUEPRINT_BYTES of UTF-8 without NUL bytes. A
    problem names the byte offset and line. O_NONBLOCK: a file swapped for a FIFO after
    :func:`locate` cannot block the open."""
    def refuse(line: int | None, message: str, fix: str) -> BlueprintError:
        return BlueprintError([Problem(str(file), line, "", message, fix)])

    try:
        fd = os.open(file, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as exc:
        raise refuse(None, f"cannot be read: {exc.strerror}", "check the file's permissions"
                     ) from None
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise refuse(None, "is not a regular file", "pass a blueprint folder or its lab.yaml")
        data = fh.read(MAX_BLUEPRINT_BYTES + 1)
    if len(data) > MAX_BLUEPRINT_BYTES:
        raise refuse(None, f"the file is larger than {MAX_BLUEPRINT_BYTES >> 10} KiB",
                     "a blueprint is a few KB; keep big content in files beside it "
                     "(inject: source:)")
    for bom, name in ((codecs.BOM_UTF32_LE, "UTF-32"), (codecs.BOM_UTF32_BE, "UTF-32"),
                      (codecs.BOM_UTF16_LE, "UTF-16"), (codecs.BOM_UTF16_BE, "UTF-16")):
        if data.startswith(bom):
            raise refuse(1, f"the file is {name} (it starts with a {name} byte-order mark)",
                         "save it as UTF-8")
    nul = data.find(b"\0")
    if nul >= 0:
        line = data.count(b"\n", 0, nul) + 1
        if min(data[0::2].count(0), data[1::2].count(0)) * 4 < len(data) < \
                max(data[0::2].count(0), data[1::2].count(0)) * 4:
            raise refuse(line, "the file looks like UTF-16 (a NUL byte after every character)",
                         "save it as UTF-8")
        raise refuse(line, f"NUL byte at byte offset {nul}", "remove it; a blueprint is text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise refuse(line, f"not UTF-8: byte 0x{data[exc.start]:02x} at byte offset "
                     f"{exc.start} ({exc.reason})", "save the file as UTF-8 (it may be "
                     "Latin-1 or Windows-1252)") from None


def _parse(file: Path, text: str) -> tuple[Any, dict[tuple, int]]:
    """Compose once, check the node graph against the limits, record lines, construct."""
    loader = None
    try:
        loader = _LineLoader(text)  # the reader checks every character here
        root = loader.get_single_node()
        lines: dict[tuple, int] = {}
        if root is not None:
            _check_graph(root)
            _record_lines(root, (), lines)
        data = loader.construct_document(root) if root is not None else None
    except _Refused as exc:
        raise BlueprintError([Problem(str(file), exc.line, format_path(exc.path), exc.message,
                                      exc.fix)]) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        raise BlueprintError([Problem(str(file), line, "", f"malformed YAML: {exc.problem}",
                                      "fix the YAML syntax at that line")]) from None
    except yaml.reader.ReaderError as exc:  # a character YAML does not allow (e.g. ESC)
        line = text.count("\n", 0, exc.position) + 1
        raise BlueprintError([Problem(str(file), line, "", f"character U+{exc.character:04X} "
                                      f"is not allowed in YAML",
                                      "remove it, or write it as an escape in a "
                                      "double-quoted string")]) from None
    finally:
        if loader is not None:
            loader.dispose()
    return data, lines


def load_blueprint(path: Path) -> tuple[Blueprint, Source]:
    """Read and check a blueprint. Raises BlueprintError listing every problem."""
    file = locate(Path(path))
    data, lines = _parse(file, _read_text(file))
    source = Source(file=file, folder=file.parent, lines=lines)
    if not isinstance(data, dict):
        raise BlueprintError([source.problem((), "a blueprint must be a YAML mapping",
                                             "start with 'name: mylab' and 'nodes:'")])
    try:
        return Blueprint.model_validate(data), source
    except ValidationError as exc:
        problems: dict[str, Problem] = {}
        errors = [dict(e) for e in exc.errors()]
        # A value that fails every member of a union gets one error per member; keep the
        # telling one (a bound, a pattern) over "should be 'auto'" or "should be a string".
        telling = {_place(e) for e in errors if e["type"] not in VAGUE}
        for err in errors:
            if err["type"] in VAGUE and _place(err) in telling:
                continue
            p = _problem_from(source, err)
            problems.setdefault(p.render(), p)
        raise BlueprintError(sorted(problems.values(), key=lambda p: p.line or 0)) from None


VAGUE = {"literal_error", "string_type", "int_type", "bool_type", "list_type", "dict_type",
         "model_type", "model_attributes_type", "float_type"}


def _place(err: dict[str, Any]) -> tuple:
    """An error's location without pydantic's union member names."""
    loc = err["loc"]
    return tuple(p for i, p in enumerate(loc)
                 if not (_is_union_tag(p) and (i == 0 or loc[i - 1] not in FREE_KEYS)))


def _problem_from(source: Source, err: dict[str, Any]) -> Problem:
    """Turn one pydantic error into a Problem with a line and a fix."""
    loc = _place(err)
    kind, msg = err["type"], err["msg"]
    if "[key]" in loc and kind == "string_type":
        key = loc[loc.index("[key]") - 1]
        return source.problem(loc[:loc.index("[key]") - 1], f"name {key!r} is not text",
                              f"quote it: '{key}'")
    if kind == "extra_forbidden":
        key = loc[-1]
        allowed = _allowed_keys(loc[:-1])
        fix = f"remove it; {closest(str(key), allowed)}" if allowed else "remove it"
        return source.problem(loc, f"unknown key '{key}'", fix)
    if kind == "missing":
        return source.problem(loc, f"missing required key '{loc[-1]}'", f"add '{loc[-1]}:'")
    if kind == "string_pattern_mismatch" and loc == ("name",):
        return source.problem(loc, "lab name must be a lowercase hostname ([a-z0-9-])",
                              "e.g. name: my-lab")
    if kind == "string_pattern_mismatch":
        what, fix = PATTERN_HELP.get(err.get("ctx", {}).get("pattern", ""),
                                     ("has a character or form not allowed here", None))
        loc = tuple(p for p in loc if p != "[key]")
        return source.problem(loc, f"{_shown(err.get('input'))} {what}", fix)
    bounds = {"greater_than_equal": ("ge", "at least"), "less_than_equal": ("le", "at most"),
              "greater_than": ("gt", "more than"), "less_than": ("lt", "less than")}
    if kind in bounds:
        key, words = bounds[kind]
        limit = err["ctx"][key]
        return source.problem(loc, f"{_shown(err.get('input'))} is out of range",
                              f"use a number {words} {limit}")
    if kind == "too_long":
        return source.problem(loc, f"{err['ctx'].get('actual_length')} entries are too many",
                              f"use at most {err['ctx'].get('max_length')}")
    if kind == "string_too_long":
        return source.problem(loc, f"text of {len(str(err.get('input', '')))} characters is "
                              "too long", f"keep it under {err['ctx']['max_length']} characters")
    loc = tuple(p for p in loc if p != "[key]" and not str(p).startswith("constrained-"))
    return source.problem(loc, msg[0].lower() + msg[1:], TYPE_FIXES.get(kind))


#: How to fix a value of the wrong type, by pydantic error kind.
TYPE_FIXES = {
    "int_type": "write a whole number", "int_parsing": "write a whole number",
    "float_type": "write a number", "bool_type": "write true or false",
    "string_type": "write text (quote it if YAML reads it as something else)",
    "list_type": "write a list, e.g. [a, b]", "dict_type": "write a mapping, e.g. {key: value}",
    "model_type": "write a mapping of the keys this place takes",
    "model_attributes_type": "write a mapping of the keys this place takes",
    "literal_error": "use one of the values listed", "union_tag_invalid": "check the form",
    "value_error": "fix the value", "int_from_float": "write a whole number",
}


def _shown(value: Any) -> str:
    """A value for a message: quoted, control characters escaped, cut when long."""
    text = repr(str(value))[1:-1]
    return f"'{text[:60]}{'...' if len(text) > 60 else ''}'"


#: What a pattern means, for messages: (what is wrong, how to fix it).
PATTERN_HELP = {
    NAME_RE: ("is not a hostname", "use lowercase letters, digits and '-' (RFC 1123)"),
    DOMAIN_RE: ("is not a DNS domain", "use dot-separated lowercase labels, e.g. lab.example"),
    IFACE_RE: ("is not an interface name", "use 1-15 of A-Z a-z 0-9 _ . -"),
    WORD_RE: ("is not a plain name", "use lowercase letters, digits, '_' and '-'"),
    USER_RE: ("is not a user name", "use lowercase letters, digits, '_' and '-' (32 at most)"),
    STAGE_RE: ("is not one word", "use letters, digits, '-', '_' or '.'"),
    VERSION_RE: ("is not a version", "use letters, digits and . _ + - (e.g. 1.4.0)"),
    LINE_RE: ("spans several lines", "write it on one line"),
    MODE_RE: ("is not an octal file mode", "write it quoted, e.g. '0644' or '0755'"),
    POOL_RE: ("is not a range of host numbers", "write first-last, e.g. 100-199"),
}


def _is_union_tag(part: Any) -> bool:
    """Pydantic puts union member names (``str``, ``LinkSpec``…) into error locations."""
    if not isinstance(part, str):
        return False
    model = globals().get(part)  # a model of this module, not a user's key such as 'Web1'
    return (isinstance(model, type) and issubclass(model, BaseModel)) or part in UNION_TAGS \
        or part.startswith(("literal[", "list[", "dict[", "constrained-", "function-"))


UNION_TAGS = {"str", "int", "float", "bool", "text", "spec", "each"}
#: Mappings whose keys are the user's names (a node called "each" is not a union tag).
FREE_KEYS = {"nodes", "groups", "networks", "interfaces", "vlans", "extra"}


def _allowed_keys(loc: tuple) -> set[str]:
    """The keys allowed at a location, for 'did you mean' hints."""
    annotation: Any = Blueprint
    for part in loc:
        annotation = _step(annotation, part)
        if annotation is None:
            return set()
    model = _pick(annotation, lambda a: isinstance(a, type) and issubclass(a, BaseModel))
    return set(model.model_fields) if model is not None else set()


def _pick(annotation: Any, test: Any) -> Any:
    """The first member of a (possibly union) annotation that passes ``test``."""
    if test(annotation):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        if getattr(arg, "__origin__", None) is None and test(arg):
            return arg
        if test(arg):
            return arg
    return None


def _step(annotation: Any, part: Any) -> Any:
    """The annotation one path part below ``annotation``."""
    if isinstance(part, int):
        seq = _pick(annotation, lambda a: getattr(a, "__origin__", None) is list)
        return seq.__args__[0] if seq is not None else None
    model = _pick(annotation, lambda a: isinstance(a, type) and issubclass(a, BaseModel))
    if model is not None and part in model.model_fields:
        return model.model_fields[part].annotation
    mapping = _pick(annotation, lambda a: getattr(a, "__origin__", None) is dict)
    return mapping.__args__[1] if mapping is not None else None
