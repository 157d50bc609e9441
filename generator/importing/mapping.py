"""Typed project records -> the blueprint as data (``lab.yaml``'s mapping), the files it
references and what could not be carried over.

Every value the project gives is written explicitly on its node (RAM, vCPUs, console, adapter
type, port naming, symbol, position, label...), so the appliance's defaults play no part and a
rebuild gives the same project file. What the blueprint cannot say is reported, never guessed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from generator.blueprint import schema as bp
from generator.errors import BlueprintError, Problem
from generator.importing.images import ImageMatcher
from generator.importing.project import GLink, GNode, GProject
from generator.importing.seeds import SeedReader
from generator.naming import port_name
from generator.qcow2 import virtual_size
from generator.resolve.adapters import port_format_problem

SUPPORTED = ("qemu", "cloud", "nat", "ethernet_switch")
#: What to do with a node type the blueprint cannot express yet.
ADVICE = {
    "vpcs": "replace it by a small QEMU VM (e.g. appliance 'Debian')",
    "docker": "replace it by a QEMU VM running the same software",
    "iou": "replace it by a QEMU appliance of the same network OS (e.g. Cisco IOSv)",
    "dynamips": "replace it by a QEMU appliance of the same network OS (e.g. Cisco IOSv)",
    "virtualbox": "convert its disk to qcow2 and use it as a QEMU node",
    "vmware": "convert its disk to qcow2 and use it as a QEMU node",
    "ethernet_hub": "replace it by an ethernet_switch (every port in one VLAN)",
}
CONSOLES = ("telnet", "vnc", "spice", "none")
DISK_INTERFACES = ("virtio", "ide", "sata", "scsi")
BOOT = ("c", "d", "n", "cn", "cd", "dn", "dc", "nc", "nd")
DATA_SLOTS = ("hdb", "hdc", "hdd")
#: QEMU properties the blueprint cannot set, and the value it gives them.
FIXED = {"bios_image": "", "initrd": "", "kernel_image": "", "kernel_command_line": "",
         "cpu_throttling": 0, "process_priority": "normal", "on_close": "power_off",
         "linked_clone": True, "platform": "x86_64", "create_config_disk": False,
         "replicate_network_connection_state": True}
FILTERS = {"delay", "packet_loss", "corrupt"}
MAX_DISK_HEAD = 1 << 16


@dataclass
class Imported:
    """The blueprint's mapping, the files beside it and the report."""

    blueprint: dict[str, Any]
    files: dict[str, bytes] = field(default_factory=dict)
    did: list[str] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)


def hostname(name: str) -> str:
    """A GNS3 node or project name as a blueprint name (an RFC 1123 label)."""
    text = re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-")
    return text[:63].rstrip("-") or "node"


class Mapper:
    """Maps one project; ``run`` returns the :class:`Imported` or raises BlueprintError."""

    def __init__(self, project: GProject, file: str, images: ImageMatcher, seeds: SeedReader,
                 skip_unsupported: bool) -> None:
        self.p, self.file, self.images, self.seeds = project, file, images, seeds
        self.skip = skip_unsupported
        self.out = Imported(blueprint={})
        self.problems: list[Problem] = []
        self.names: dict[str, str] = {}  # node_id -> blueprint name
        self.ports: dict[str, dict[tuple[int, int], str]] = {}  # node_id -> (adapter, port) -> name

    def run(self) -> Imported:
        name, version = self.lab_name()
        nodes = self.map_nodes()
        links = [t for lk in self.p.links if (t := self.map_link(lk)) is not None]
        if self.problems:
            raise BlueprintError(self.problems)
        bp_data: dict[str, Any] = {"name": name}
        if version:
            bp_data["version"] = version
        bp_data["description"] = f"Imported from the GNS3 project '{self.p.name}'."
        bp_data["gns3"] = "3.0" if self.p.revision >= 10 else "2.2"
        bp_data["nodes"] = nodes
        if links:
            bp_data["links"] = links
        bp_data["canvas"] = self.canvas()
        self.out.blueprint = bp_data
        self.out.did.append(f"{len(nodes)} nodes, {len(links)} links, "
                            f"{len(self.p.drawings)} drawings")
        vms = sum(1 for n in self.p.nodes if n.node_type == "qemu")
        if vms:
            self.out.lost.append(f"the configuration inside the disks of {vms} QEMU nodes is "
                                 "not converted: the rebuilt lab starts from the base images "
                                 "(and its seeds)")
        return self.out

    # -- lab ----------------------------------------------------------------------------
    def lab_name(self) -> tuple[str, str | None]:
        """The lab's name and version: a gns3lab archive's project is ``<name>-<version>`` with
        the version in its variables; any other project name becomes a hostname."""
        version = self.p.variables.get("lab_version")
        name = self.p.name
        if version and re.match(bp.VERSION_RE, version) and name.endswith(f"-{version}"):
            name = name[: -len(version) - 1]
        else:
            version = None
        label = hostname(name) if name else "imported"
        if label != name:
            self.out.lost.append(f"project name '{self.p.name}' is now the lab name '{label}'")
        return label, version

    def canvas(self) -> dict[str, Any]:
        out: dict[str, Any] = {"notes": False}
        if self.p.scene and min(self.p.scene) >= 500:
            out["scene"] = {"width": self.p.scene[0], "height": self.p.scene[1]}
        out["drawings"] = [{"x": d.x, "y": d.y, "z": d.z, "rotation": d.rotation, "svg": d.svg}
                           for d in self.p.drawings]
        return out

    # -- nodes --------------------------------------------------------------------------
    def map_nodes(self) -> dict[str, Any]:
        taken: set[str] = set()
        out: dict[str, Any] = {}
        for node in self.p.nodes:
            if node.node_type not in SUPPORTED:
                self.unsupported(node)
                continue
            name = self.unique(hostname(node.name), taken)
            if name != node.name:
                self.out.lost.append(f"node '{node.name}' is now '{name}' (a hostname)")
            self.names[node.node_id] = name
            spec = self.map_node(node, name)
            if spec is not None:
                out[name] = spec
        return out

    def unique(self, name: str, taken: set[str]) -> str:
        candidate, i = name, 2
        while candidate in taken:
            candidate = f"{name[:59]}-{i}"
            i += 1
        taken.add(candidate)
        return candidate

    def unsupported(self, node: GNode) -> None:
        advice = ADVICE.get(node.node_type, "replace it by a QEMU VM or a built-in node")
        if self.skip:
            self.out.lost.append(f"node '{node.name}' ({node.node_type}) is skipped, with its "
                                 f"links: {advice}")
            return
        self.problems.append(Problem(self.file, None, node.where, f"node '{node.name}' is a "
                                     f"{node.node_type} node, which a blueprint cannot hold yet",
                                     f"{advice}; or import the rest with --skip-unsupported"))

    def map_node(self, node: GNode, name: str) -> dict[str, Any] | None:
        spec: dict[str, Any] = {}
        if node.node_type != "qemu":
            spec["type"] = node.node_type
        spec["position"] = {"x": node.x, "y": node.y}
        if node.label is not None:
            spec["label"] = {"x": node.label[0], "y": node.label[1]}
        if node.symbol:
            spec["symbol"] = node.symbol
        if node.node_type == "qemu":
            spec.update(role_of(name))
            spec.update(self.map_qemu(node, name))
        elif node.node_type == "cloud":
            spec.update(self.map_cloud(node, name))
        elif node.node_type == "nat":
            self.ports[node.node_id] = {(0, 0): "nat0"}
        else:
            spec.update(self.map_switch(node, name))
        return spec

    def lose(self, name: str, what: str) -> None:
        self.out.lost.append(f"node '{name}': {what}")

    # -- QEMU ---------------------------------------------------------------------------
    def map_qemu(self, node: GNode, name: str) -> dict[str, Any]:
        props = node.properties
        spec: dict[str, Any] = {}
        hda = _text(props.get("hda_disk_image"))
        ref = self.images.match(node.node_id, hda, props, name)
        spec["appliance"] = ref.appliance
        if ref.version:
            spec["version"] = ref.version
        if ref.note:
            self.out.did.append(f"node '{name}': {ref.note}")
        spec["ram"] = _int(props.get("ram"), 32, bp.MAX_RAM_MB, 512)
        spec["cpus"] = _int(props.get("cpus"), 1, 255, 1)
        adapters = _int(props.get("adapters"), 0, 275, 1)
        spec["nics"] = max(adapters, 1)
        if adapters == 0:
            self.lose(name, "0 adapters: the blueprint gives a VM at least 1")
        adapter_type = _text(props.get("adapter_type")) or "virtio-net-pci"
        spec["adapter_type"] = adapter_type
        mac = _text(props.get("mac_address"))
        if re.fullmatch(r"([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}", mac):
            spec["mac"] = mac.lower()
        console = _text(props.get("console_type") or node.console_type) or "telnet"
        if console not in CONSOLES:
            self.lose(name, f"console '{console}' becomes telnet")
            console = "telnet"
        spec["console"] = console
        spec["options"] = _text(props.get("options"))
        boot = _text(props.get("boot_priority")) or "c"
        if boot not in BOOT:
            self.lose(name, f"boot priority '{boot}' becomes 'c'")
            boot = "c"
        spec["boot_priority"] = boot
        interface = _text(props.get("hda_disk_interface")) or "virtio"
        if interface not in DISK_INTERFACES:
            self.lose(name, f"disk interface '{interface}' becomes virtio")
            interface = "virtio"
        spec["disk_interface"] = interface
        spec.update(self.port_naming(node, name, adapters))
        size = self.system_disk(node, ref.virtual_size)
        if size:
            spec["disk"] = size
        spec.update(self.seed_and_disks(node, name, props))
        for key, value in FIXED.items():
            if key in props and props[key] != value and props[key] is not None:
                self.lose(name, f"{key} {str(props[key])[:60]!r} is not carried over "
                          f"(the blueprint gives {value!r})")
        custom = self.custom_adapters(node, name, adapters)
        if custom:
            spec["custom_adapters"] = custom
        return spec

    def custom_adapters(self, node: GNode, name: str, adapters: int) -> list[dict[str, Any]]:
        """Adapters with their own type or MAC; their own port names are told, not kept."""
        out = []
        for entry in node.custom_adapters:
            number = entry.get("adapter_number") if isinstance(entry, dict) else None
            if not isinstance(number, int) or isinstance(number, bool) \
                    or not 0 <= number < max(adapters, 1):
                self.lose(name, "a custom adapter without a valid adapter number is dropped")
                continue
            spec: dict[str, Any] = {"adapter": number}
            kind, mac = entry.get("adapter_type"), entry.get("mac_address")
            if isinstance(kind, str) and re.match(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$", kind):
                spec["adapter_type"] = kind
            if isinstance(mac, str) and re.fullmatch(r"([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}", mac):
                spec["mac"] = mac.lower()
            if isinstance(entry.get("port_name"), str):
                self.lose(name, f"adapter {number}'s own port name "
                          f"'{entry['port_name'][:30]}' is not kept (ports follow the format)")
            if len(spec) > 1:
                out.append(spec)
        return out

    def port_naming(self, node: GNode, name: str, adapters: int) -> dict[str, Any]:
        fmt = node.port_name_format or "Ethernet{0}"
        first = node.first_port_name or None
        names = [] if port_format_problem(fmt) else \
            [port_name(fmt, first, i) for i in range(max(adapters, 1))]
        if (not names or len(set(names)) != len(names)
                or any(":" in n or "--" in n or not n.strip() for n in names)
                or (first and not re.match(bp.IFACE_RE, first))):
            self.lose(name, f"port names from '{fmt[:40]}' cannot be told apart in a link: "
                      "they become Ethernet0, Ethernet1...")
            fmt, first = "Ethernet{0}", None
            names = [port_name(fmt, None, i) for i in range(max(adapters, 1))]
        if node.port_segment_size:
            self.lose(name, "port segment size is not carried over (ports are numbered on)")
        self.ports[node.node_id] = {(i, 0): n for i, n in enumerate(names)}
        out: dict[str, Any] = {"port_name_format": fmt}
        if first:
            out["first_port_name"] = first
        return out

    def system_disk(self, node: GNode, base_size: int | None) -> str | None:
        """``disk:`` when the node's overlay is larger than its base image."""
        member = self.images.source.node_file(node.node_id, "qemu", "hda_disk.qcow2")
        if member is None or not base_size:
            return None
        try:
            size = virtual_size(self.images.source.head(member, MAX_DISK_HEAD))
        except (ValueError, OSError):
            return None
        return f"{size >> 20}M" if size > base_size else None

    def seed_and_disks(self, node: GNode, name: str, props: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        cdrom = _text(props.get("cdrom_image"))
        seeded = False
        if cdrom:
            ports = tuple(self.ports.get(node.node_id, {}).values())
            seed = self.seeds.read(node.node_id, cdrom, name, ports)
            if seed is not None:
                seeded = True
                out["seed"] = True
                out.update(seed.spec)
                self.out.files.update(seed.files)
                self.out.lost += [f"node '{name}': {line}" for line in seed.lost]
            else:
                self.lose(name, f"CD-ROM image '{cdrom[:60]}' is not a cloud-init seed and is "
                          "not carried over")
        if not seeded:
            out["seed"] = False
        disks = []
        for slot in DATA_SLOTS:
            image = _text(props.get(f"{slot}_disk_image"))
            if not image:
                continue
            if seeded and slot == "hdc":
                self.lose(name, "disk hdc moves to hdd (the seed ISO takes hdc's place)")
            interface = _text(props.get(f"{slot}_disk_interface"))
            disks.append({"size": self.disk_size(node, slot, image, name),
                          "interface": interface if interface in DISK_INTERFACES else "virtio"})
            if not image.startswith(f"{node.name}-{slot}"):
                self.lose(name, f"disk {slot} '{image[:60]}' becomes a blank disk of its size")
        if disks:
            out["disks"] = disks
        return out

    def disk_size(self, node: GNode, slot: str, image: str, name: str) -> str:
        for candidate in (f"{slot}_disk.qcow2", image):
            member = self.images.source.node_file(node.node_id, "qemu", candidate)
            if member is None:
                continue
            try:
                return f"{virtual_size(self.images.source.head(member, MAX_DISK_HEAD)) >> 20}M"
            except (ValueError, OSError):
                continue
        self.lose(name, f"disk {slot}: its size is not known (no disk file): 1G assumed")
        return "1G"

    # -- built-ins ----------------------------------------------------------------------
    def mapping(self, node: GNode) -> list[dict[str, Any]]:
        ports = node.properties.get("ports_mapping")
        if not isinstance(ports, list):
            return []
        good = [p for p in ports if isinstance(p, dict) and isinstance(p.get("name"), str)
                and isinstance(p.get("port_number"), int) and not isinstance(
                    p.get("port_number"), bool)]
        return sorted(good, key=lambda p: p["port_number"])

    def map_cloud(self, node: GNode, name: str) -> dict[str, Any]:
        names: list[str] = []
        ports: dict[tuple[int, int], str] = {}
        for p in self.mapping(node):
            iface: str = p["interface"] if isinstance(p.get("interface"), str) else p["name"]
            if p.get("type", "ethernet") != "ethernet" or not re.match(bp.IFACE_RE, iface) \
                    or iface in names:
                self.lose(name, f"cloud port '{p['name'][:40]}' ({p.get('type')}) is not "
                          "carried over")
                continue
            if iface != p["name"]:
                self.lose(name, f"cloud port '{p['name'][:40]}' is named after its interface "
                          f"'{iface}'")
            ports[(0, p["port_number"])] = iface
            names.append(iface)
        self.ports[node.node_id] = ports
        return {"ports": names}

    def map_switch(self, node: GNode, name: str) -> dict[str, Any]:
        vlans: dict[str, Any] = {}
        ports: dict[tuple[int, int], str] = {}
        for i, p in enumerate(self.mapping(node)):
            kind, vlan = p.get("type", "access"), p.get("vlan", 1)
            if p["name"] in vlans or kind not in ("access", "dot1q") or not isinstance(
                    vlan, int) or isinstance(vlan, bool) or not 1 <= vlan <= 4094:
                self.lose(name, f"switch port '{p['name'][:40]}' ({kind}) is not carried over")
                continue
            if kind == "dot1q" and vlan != 1:
                self.lose(name, f"trunk port '{p['name']}': native VLAN {vlan} becomes 1")
            if p["port_number"] != i:
                self.lose(name, f"switch port '{p['name']}' is renumbered {i}")
            vlans[p["name"]] = "trunk" if kind == "dot1q" else vlan
            ports[(0, p["port_number"])] = p["name"]
        self.ports[node.node_id] = ports
        return {"vlans": vlans}

    # -- links --------------------------------------------------------------------------
    def map_link(self, link: GLink) -> str | dict[str, Any] | None:
        ends = []
        for end in (link.a, link.b):
            node = self.names.get(end.node_id)
            port = self.ports.get(end.node_id, {}).get((end.adapter, end.port))
            if node is None:  # a skipped node: reported with it
                return None
            if port is None:
                self.out.lost.append(f"link {link.where}: {node} has no port at adapter "
                                     f"{end.adapter} port {end.port}; the link is skipped")
                return None
            ends.append(f"{node}:{port}")
        spec: dict[str, Any] = {"a": ends[0], "b": ends[1]}
        spec.update(self.filters(link))
        return spec if len(spec) > 2 else f"{ends[0]} -- {ends[1]}"

    def filters(self, link: GLink) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for kind, values in sorted(link.filters.items()):
            nums = values if isinstance(values, list) else []
            if kind not in FILTERS or not nums or not all(
                    isinstance(v, int | float) and not isinstance(v, bool) for v in nums):
                self.out.lost.append(f"link {link.where}: filter '{str(kind)[:30]}' is not "
                                     "carried over")
                continue
            if kind == "delay":
                out["delay"] = int(min(max(nums[0], 0), 60000))
                out["jitter"] = int(min(max(nums[1] if len(nums) > 1 else 0, 0), 60000))
            else:
                out["loss" if kind == "packet_loss" else "corrupt"] = min(max(nums[0], 0), 100)
        return out


def role_of(name: str) -> dict[str, str]:
    """A VM's role from its name without the number (``leaf01`` -> ``leaf``): a project holds
    no roles, and the add-ons (a Cumulus fabric's pairs) tell switches apart by role."""
    role = re.sub(r"-?[0-9]+$", "", name)
    return {"role": role} if role and re.match(bp.WORD_RE, role) else {}


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _int(value: Any, low: int, high: int, default: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        return default
    return int(min(max(value, low), high))
