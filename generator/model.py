"""The resolved lab: frozen records every stage after resolution reads (never the raw YAML)."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

NodeType = Literal["qemu", "cloud", "nat", "ethernet_switch"]
#: How a node's guest learns its hostname and the lab key on first boot: a cloud-init seed ISO,
#: files the build writes into its disk for the appliance's ``login``, or neither.
FirstBoot = Literal["cloud-init", "injected", "none"]


class FrozenMap(Mapping[str, Any]):
    """A read-only, hashable mapping of JSON-like data (what a YAML mapping holds): nested
    mappings frozen the same way, lists as tuples, keys in the order written. The model keeps
    the user's free data this way so no stage after resolve can edit it; :meth:`thaw` gives the
    plain data back for a renderer."""

    __slots__ = ("_items",)

    def __init__(self, items: tuple[tuple[str, Any], ...] = ()) -> None:
        self._items = items

    @classmethod
    def of(cls, data: Mapping[str, Any]) -> FrozenMap:
        """``data`` frozen all the way down."""
        return cls(tuple((k, _frozen(v)) for k, v in data.items()))

    def thaw(self) -> dict[str, Any]:
        """The data as plain dicts and lists, as written."""
        return {k: _thawed(v) for k, v in self._items}

    def __getitem__(self, key: str) -> Any:
        for k, v in self._items:
            if k == key:
                return v
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        return (k for k, _ in self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FrozenMap) and self._items == other._items

    def __hash__(self) -> int:
        return hash(self._items)

    def __repr__(self) -> str:
        return f"FrozenMap({dict(self._items)!r})"


def _frozen(value: Any) -> Any:
    if isinstance(value, Mapping):
        return FrozenMap.of(value)
    if isinstance(value, (list, tuple)):
        return tuple(_frozen(v) for v in value)
    return value


def _thawed(value: Any) -> Any:
    if isinstance(value, FrozenMap):
        return value.thaw()
    if isinstance(value, tuple):
        return [_thawed(v) for v in value]
    return value


@dataclass(frozen=True)
class Network:
    name: str
    cidr: ipaddress.IPv4Network
    vlan: int | None
    gateway: ipaddress.IPv4Address | None
    dns: tuple[str, ...]
    domain: str


@dataclass(frozen=True)
class Nic:
    """A QEMU adapter: its number, GNS3 port name (also the guest's name) and MAC."""

    adapter: int
    name: str
    mac: str


@dataclass(frozen=True)
class GuestInterface:
    """A guest interface for network-config: ethernet, bond, vlan or bridge."""

    name: str
    kind: Literal["ethernet", "bond", "vlan", "bridge"]
    mac: str | None = None
    members: tuple[str, ...] = ()
    vlan_id: int | None = None
    link: str | None = None
    network: str | None = None
    addresses: tuple[ipaddress.IPv4Interface, ...] = ()
    dhcp: bool = False
    gateway: ipaddress.IPv4Address | None = None
    dns: tuple[str, ...] = ()
    mtu: int | None = None
    routes: tuple[tuple[str, str], ...] = ()
    bond_mode: str | None = None
    bond_lacp_rate: str | None = None
    bond_hash_policy: str | None = None
    bond_mii_monitor: int | None = None
    stp: bool = False


@dataclass(frozen=True)
class BaseImage:
    """The base image of a QEMU node, as its appliance names it."""

    appliance: str
    appliance_version: str
    filename: str
    md5sum: str
    filesize: int
    virtual_size: int
    format: str = "qcow2"
    download_url: str | None = None
    path: Path | None = None  # set once the image is found and checked
    sha256: str = ""  # set once the image is found and checked (or recorded when built)
    # The appliance's traits (blueprint/appliances.py decides them when the .gns3a is loaded)
    first_boot: FirstBoot = "none"
    login: str | None = None  # the login that gets the lab key when first_boot is "injected"
    system: str | None = None  # the network OS an add-on configures (e.g. "cumulus-linux")
    # Where it comes from, resolved once from the appliance (images/cache reads these)
    download_page: str | None = None  # where a person downloads it (page, else direct URL)
    direct_url: str | None = None  # a direct download, what ``images pull`` fetches
    compression: str | None = None  # how ``direct_url`` is packed (xz, gzip, bzip2...)
    appliance_file: str = ""  # the .gns3a that describes it, for messages
    #: the name it is published under, when ``filename`` is the content-qualified name an
    #: archive bundles it by (``<stem>.<sha256[:12]>.<ext>``, images/baseimages.py)
    original_filename: str | None = None

    @property
    def recipe(self) -> str | None:
        """The gns3lab recipe that builds this image (its name is
        ``gns3lab-<recipe>-<sha256[:12]>.qcow2``), or None for a third-party image."""
        match = _BUILT_NAME.fullmatch(self.original_filename or self.filename)
        return match.group(1) if match else None


#: How gns3lab names an image it built: ``gns3lab-<recipe>-<sha256[:12]>.qcow2``
#: (images/recipe.py image_filename). The recipe is all before the last ``-``.
_BUILT_NAME = re.compile(r"gns3lab-([a-z0-9][a-z0-9.-]*)-[0-9a-z]+\.qcow2")


@dataclass(frozen=True)
class DataDisk:
    slot: str  # hdb, hdd, …
    size: int
    interface: str
    filename: str


@dataclass(frozen=True)
class CloudInitUser:
    name: str
    sudo: bool
    shell: str
    ssh_keys: tuple[str, ...]
    password_hash: str | None  # crypt(3) hash; a plain password never gets past resolution
    groups: tuple[str, ...]


#: A cloud-init ``bootcmd``/``runcmd`` entry: a shell line, or an argv (frozen as a tuple).
Command = str | tuple[str, ...]


@dataclass(frozen=True)
class CloudInitSpec:
    users: tuple[CloudInitUser, ...]
    packages: tuple[str, ...]
    write_files: tuple[tuple[str, str, str, str], ...]  # path, content, permissions, owner
    bootcmd: tuple[Command, ...]
    runcmd: tuple[Command, ...]
    user_data: FrozenMap  # raw keys merged over the document, in key order


@dataclass(frozen=True)
class GuestFile:
    """A file, folder or symlink to write into a node's overlay: a blueprint ``inject:`` entry
    (resolved, ``enable`` set for a systemd unit to enable) or one the build adds (the
    controller's bootstrap tree, the lab key).

    Files take ``content`` or a host ``source`` file (a ``source`` folder is copied as its
    tree); symlinks take ``target``. ``owner``/``group`` are names looked up in the guest's
    /etc/passwd and /etc/group, or numeric ids. For directories every read bit of ``mode``
    implies the matching search bit (like ``chmod +X``), so the default 0o644 gives 0o755.
    ``mode`` is ignored for symlinks. Missing parents become root 0755.
    """

    path: str
    content: bytes | None = None
    source: Path | None = None
    mode: int = 0o644
    owner: str | int = "root"
    group: str | int = "root"
    kind: Literal["file", "dir", "symlink"] = "file"
    target: str | None = None
    enable: bool = False


@dataclass(frozen=True)
class SwitchPort:
    name: str
    port: int
    type: Literal["access", "dot1q"]
    vlan: int


@dataclass(frozen=True)
class Node:
    name: str
    node_id: str
    type: NodeType
    role: str
    groups: tuple[str, ...]
    tier: int
    x: int
    y: int
    symbol: str
    console_type: str
    pinned: bool = False  # position given in the blueprint
    name_pinned: bool = False  # name_at given in the blueprint (``label:``)
    #: where the node's name sits, relative to the symbol's top-left corner (resolve.canvas)
    name_at: tuple[int, int] = (0, 0)
    compute: str | None = None  # the blueprint's compute name; None: the controller's own
    # QEMU nodes
    image: BaseImage | None = None
    ram: int = 0
    cpus: int = 1
    adapters: int = 0
    adapter_type: str = "virtio-net-pci"
    disk_interface: str = "virtio"
    disk_size: int = 0  # requested system disk size; 0 = the base image's size
    options: str = ""
    boot_priority: str = "c"
    #: (adapter, adapter type or None, MAC or None) of adapters unlike the node's others
    custom_adapters: tuple[tuple[int, str | None, str | None], ...] = ()
    port_name_format: str = "Ethernet{0}"
    first_port_name: str | None = None
    nics: tuple[Nic, ...] = ()
    data_disks: tuple[DataDisk, ...] = ()
    interfaces: tuple[GuestInterface, ...] = ()
    cloud_init: CloudInitSpec | None = None
    injects: tuple[GuestFile, ...] = ()
    #: where the controller reaches the node (resolve/stages.py): its planned address on the
    #: first DHCP network, else on another DHCP network, else its first static one; None: the
    #: node is not managed
    management: ipaddress.IPv4Interface | None = None
    # built-ins
    ports: tuple[SwitchPort, ...] = ()

    @property
    def is_vm(self) -> bool:
        return self.type == "qemu"

    @property
    def injected_login(self) -> str | None:
        """The login the build writes the lab key (and the hostname) for: the appliance's, on
        a node whose appliance boots from injected files and that has no seed; else None."""
        if self.image is None or self.cloud_init is not None or self.image.first_boot != "injected":
            return None
        return self.image.login

    @property
    def default_user(self) -> str:
        """The user that holds the lab key, as whom the controller logs in: the first
        cloud-init user, else the injected login, else ``lab``."""
        if self.cloud_init is None:
            return self.injected_login or "lab"
        return self.cloud_init.users[0].name if self.cloud_init.users else "lab"

    @property
    def seed_name(self) -> str:
        """Unique basename of the node's seed ISO (GNS3 2.2 searches the whole project)."""
        return f"{self.name}-seed.iso"

    def nic(self, name: str) -> Nic | None:
        return next((n for n in self.nics if n.name == name), None)

    def addresses(self) -> list[tuple[str, ipaddress.IPv4Interface]]:
        """(interface, address) for every static address of the node."""
        return [(i.name, a) for i in self.interfaces for a in i.addresses]

    def address_on(self, network: str) -> ipaddress.IPv4Interface | None:
        return next((a for i in self.interfaces if i.network == network for a in i.addresses),
                    None)


@dataclass(frozen=True)
class Endpoint:
    node: str
    adapter: int
    port: int
    port_name: str
    #: where the port's label sits, relative to its node's top-left corner (resolve.canvas)
    label_at: tuple[int, int] = (0, 0)


@dataclass(frozen=True)
class Link:
    link_id: str
    a: Endpoint
    b: Endpoint
    filters: tuple[tuple[str, tuple[int | float, ...]], ...] = ()


@dataclass(frozen=True)
class AnsibleFile:
    """A blueprint file the controller gets under its Ansible folder, read at resolution (the
    renderers never read the disk): path relative to that folder, content and mode."""

    path: str  # e.g. playbooks/site.yml, roles/web/tasks/main.yml
    content: bytes
    mode: int  # 0o755 when executable in the blueprint folder, else 0o644


@dataclass(frozen=True)
class Stage:
    """A bootstrap stage, resolved (resolve/stages.py): its host ``patterns`` as written
    (``all``, groups, roles, node names), the managed nodes they match (``hosts``, in blueprint
    order), every playbook it runs in order (``playbooks``: the blueprint's files as paths under
    the controller's Ansible folder, ``playbooks/...``, then the add-ons' ones), which of them an
    add-on writes (``generated``, ``playbooks/<name>.yml``) and its timeout."""

    name: str
    patterns: tuple[str, ...]
    playbooks: tuple[str, ...]
    generated: tuple[str, ...]
    timeout: int
    hosts: tuple[str, ...] = ()


@dataclass(frozen=True)
class Controller:
    """The controller node and its bootstrap: ``playbooks`` (paths under the Ansible folder)
    run as stage ``main`` when there are no ``stages`` (the blueprint's); ``bootstrap`` is every
    stage the bootstrap runs, in order (the blueprint's or ``main``, then ``check``); ``files``
    are every blueprint file the bootstrap copies (the playbooks and what sits beside them),
    sorted by path."""

    node: str
    uplink: str | None
    dhcp: tuple[str, ...]
    playbooks: tuple[str, ...]
    stages: tuple[Stage, ...]
    timeout: int
    files: tuple[AnsibleFile, ...] = ()
    bootstrap: tuple[Stage, ...] = ()


@dataclass(frozen=True)
class Note:
    """A text note on the canvas (the title, the legend): its top-left corner, its lines, font
    size (pt) and box (px), as :mod:`generator.resolve.canvas_scene` sized them."""

    drawing_id: str
    x: int
    y: int
    lines: tuple[str, ...]
    pt: int
    bold: bool
    width: int
    height: int


@dataclass(frozen=True)
class Drawing:
    """A drawing the blueprint pins (``canvas.drawings``): its SVG as GNS3 stores it."""

    drawing_id: str
    x: int
    y: int
    z: int
    rotation: int
    svg: str


@dataclass(frozen=True)
class Canvas:
    """What the canvas holds besides the nodes and links: the notes and the scene size that
    holds everything (nodes, names and port labels carry their own positions)."""

    width: int = 2000
    height: int = 1000
    notes: tuple[Note, ...] = ()
    drawings: tuple[Drawing, ...] = ()  # the blueprint's own, as written


@dataclass(frozen=True)
class SeedPart:
    """What an add-on adds to one node's cloud-init seed, decided at resolve: files for
    ``write_files`` (path, content, permissions, owner; after the node's own) and commands for
    ``runcmd`` (after any the build adds, before the node's own). The FRR fabric delivers each
    switch's frr.conf and fabric unit so, and starts them at first boot."""

    node: str
    write_files: tuple[tuple[str, str, str, str], ...] = ()
    runcmd: tuple[Command, ...] = ()


@dataclass(frozen=True)
class AddonPlan:
    """An add-on's part in the lab, decided at resolve (``addons.plan_addons``): its settings
    record (frozen, typed), parsed once from the blueprint's ``extra:`` (the add-ons read only
    this, never the blueprint), the files its render writes (paths under the controller's
    Ansible folder; none when it does not apply), the Markdown lines it adds to the archive
    README (``readme``, after the build's own sections), and what it adds to nodes' cloud-init
    seeds (``seeds``, one part per node, read by ``render/seeds.py``)."""

    name: str
    settings: Any
    files: tuple[str, ...] = ()
    readme: tuple[str, ...] = ()
    seeds: tuple[SeedPart, ...] = ()


@dataclass(frozen=True)
class Lab:
    """The resolved lab. Same blueprint in, equal Lab out."""

    name: str
    description: str
    project_id: str
    version: str
    gns3: str
    domain: str
    nodes: tuple[Node, ...]
    links: tuple[Link, ...]
    networks: tuple[Network, ...]
    controller: Controller | None
    blueprint_file: Path
    blueprint_folder: Path
    ssh_key: Path | None = None
    #: the blueprint's free ``extra:`` data as written, frozen: only for the user's own
    #: playbooks (``group_vars/all.yml``'s ``lab_extra``); the add-ons read their plans instead
    extra_vars: FrozenMap = FrozenMap()
    #: GNS3 computes the lab spans: (name, {"ram_mb": N, "server": name-or-id on the server})
    computes: tuple[tuple[str, tuple[tuple[str, Any], ...]], ...] = ()
    #: the notes and scene size, decided with the positions (resolve.canvas_scene)
    canvas: Canvas = Canvas()
    #: each add-on whose settings are right, with its settings record and files (resolve)
    addons: tuple[AddonPlan, ...] = field(default=(), hash=False)

    def node(self, name: str) -> Node:
        return next(n for n in self.nodes if n.name == name)

    def addon(self, name: str) -> AddonPlan | None:
        """The add-on's plan, if resolve made one (its settings were right)."""
        return next((p for p in self.addons if p.name == name), None)

    def network(self, name: str) -> Network:
        return next(n for n in self.networks if n.name == name)

    @property
    def vms(self) -> tuple[Node, ...]:
        return tuple(n for n in self.nodes if n.is_vm)

    def links_of(self, node: str) -> list[tuple[Endpoint, Endpoint]]:
        """(local end, remote end) of every link touching ``node``."""
        out = []
        for link in self.links:
            if link.a.node == node:
                out.append((link.a, link.b))
            if link.b.node == node:
                out.append((link.b, link.a))
        return out

    def totals(self) -> dict[str, int]:
        """Total RAM (MB), vCPUs and worst-case disk (bytes) of the lab's VMs."""
        return {
            "ram_mb": sum(n.ram for n in self.vms),
            "vcpus": sum(n.cpus for n in self.vms),
            "disk_bytes": sum(max(n.disk_size, n.image.virtual_size if n.image else 0)
                              + sum(d.size for d in n.data_disks) for n in self.vms),
        }
