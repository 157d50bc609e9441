"""The blueprint as written: pydantic records for every key of ``lab.yaml``, and its JSON Schema.

These records know the *written* form only (short forms, ranges and templates stay as
written); :mod:`generator.blueprint.load` reads a file into them and
:mod:`generator.resolve.lab` turns them into the frozen lab model.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    field_validator,
)

# Moved to generator.blueprint.source; re-exported for imports that predate the split.

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
MAX_SCENE = 1 << 20  # px from the scene's centre a pinned position may lie
MAX_SVG = 1 << 16  # bytes of one drawing's SVG
MAX_DRAWINGS = 1000  # per lab

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
    x: int = Field(ge=-MAX_SCENE, le=MAX_SCENE)
    y: int = Field(ge=-MAX_SCENE, le=MAX_SCENE)


class Drawing(Strict):
    """A drawing pinned on the canvas as GNS3 stores it: an SVG (text, rectangle, ellipse,
    line) with its top-left corner, stacking order and rotation."""

    x: int = Field(ge=-MAX_SCENE, le=MAX_SCENE)
    y: int = Field(ge=-MAX_SCENE, le=MAX_SCENE)
    z: int = Field(1, ge=-1000, le=1000, description="Stacking order (higher is in front).")
    rotation: int = Field(0, ge=-360, le=360, description="Degrees, clockwise.")
    svg: str = Field(max_length=MAX_SVG, pattern=r"^<svg[\s>]",
                     description="The drawing's SVG document, as GNS3 stores it.")


class Scene(Strict):
    width: int = Field(ge=500, le=2 * MAX_SCENE)
    height: int = Field(ge=500, le=2 * MAX_SCENE)


class CanvasSpec(Strict):
    """What the canvas holds besides the nodes: by default the title and legend notes gns3lab
    places and a scene that holds everything; an imported project pins its own."""

    notes: bool = Field(True, description="Add the title and legend notes.")
    scene: Scene | None = Field(None, description="Scene size (default: what holds everything).")
    drawings: list[Drawing] = Field(default_factory=list, max_length=MAX_DRAWINGS,
                                    description="Drawings (text, shapes) at fixed positions.")


class CustomAdapter(Strict):
    """One QEMU adapter that differs from the node's others (GNS3 ``custom_adapters``)."""

    adapter: int = Field(ge=0, le=274, description="Adapter number (0 = the first).")
    adapter_type: str | None = Field(None, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$")
    mac: str | None = Field(None, pattern=r"^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$")


class NodeSettings(Strict):
    """Settings shared by nodes, groups and defaults (node > group > appliance > defaults)."""

    appliance: str | None = None
    image: str | None = Field(None, pattern=r"^[a-z0-9][a-z0-9.-]{0,47}$", description=(
        "An image recipe (built-in, e.g. debian-12, or the blueprint's images/<name>.yaml): "
        "gns3lab build builds the image if no folder holds it, and the node runs it."))
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
    custom_adapters: list[CustomAdapter] | None = Field(
        None, max_length=275, description="Adapters with their own type or MAC.")
    boot_priority: Literal["c", "d", "n", "cn", "cd", "dn", "dc", "nc", "nd"] | None = Field(
        None, description="QEMU boot order (GNS3 `boot_priority`): c disk, d CD-ROM, n network.")
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
    position: Position | None = Field(None, description="Pin the symbol's top-left corner on "
                                      "the canvas (default: the automatic layout).")
    label: Position | None = Field(None, description="Pin the node's name, relative to the "
                                   "symbol's top-left corner (default: placed beside it).")
    ports: list[IfaceName] | None = Field(None, description=(
        "cloud: the GNS3 host's interfaces it exposes, as the host names them (ip link; "
        "Windows: the adapter's name); default: those its links name. Nothing is guessed."))
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
    canvas: CanvasSpec = Field(default_factory=lambda: CanvasSpec(),
                               description="Notes, scene size and pinned drawings.")

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
