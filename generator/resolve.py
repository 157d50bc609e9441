"""Blueprint + appliances -> the frozen lab model.

Short forms are normalised here and only here: node name ranges, generated links, defaults
precedence, port allocation, ids, MACs and addresses. Every problem is collected with its place
in the blueprint; they are raised together at the end of each step that others depend on.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from . import blueprint as bp
from . import model as m
from .appliances import DEFAULT_VIRTUAL_SIZE, Appliance, Catalogue
from .errors import BlueprintError, Problem
from .layout_canvas import place_nodes

NAMESPACE = uuid.UUID("5b1f6f0e-8f0a-4d5c-9a57-6c2b1a3d9e10")
MAX_ADAPTERS = 275  # GNS3's limit for QEMU adapters
RANGE_RE = re.compile(r"^(?P<prefix>[a-z0-9-]*)\[(?P<lo>\d+)-(?P<hi>\d+)\](?P<suffix>[a-z0-9-]*)$")
TEMPLATE_RE = re.compile(r"\{(node|i|n|num)([+-]\d+)?\}")
SYMBOLS = {"qemu": ":/symbols/classic/qemu_guest.svg", "cloud": ":/symbols/classic/cloud.svg",
           "nat": ":/symbols/classic/nat.svg",
           "ethernet_switch": ":/symbols/classic/ethernet_switch.svg"}
CATEGORY_SYMBOLS = {"multilayer_switch": ":/symbols/classic/multilayer_switch.svg",
                    "router": ":/symbols/classic/router.svg"}
SEED_SLOT = "hdc"  # the seed ISO is -cdrom, which takes hdc's place
DATA_SLOTS = ("hdb", "hdd")
#: A stage's ``generated:`` playbooks: written by add-ons under the controller's Ansible folder.
GENERATED_RE = re.compile(r"^playbooks/[A-Za-z0-9][A-Za-z0-9_.-]*\.ya?ml$")


def derive_id(lab: str, *parts: str) -> str:
    """A stable UUID for a lab object: the same blueprint always gives the same ids."""
    return str(uuid.uuid5(NAMESPACE, "/".join((lab, *parts))))


def derive_mac(lab: str, node: str, attempt: int = 0) -> str:
    """A locally administered unicast base MAC for a node (adapter N is base + N)."""
    digest = hashlib.sha256(f"{lab}/{node}/{attempt}".encode()).digest()
    return "52:54:" + ":".join(f"{b:02x}" for b in digest[:3]) + ":00"


def mac_add(mac: str, n: int) -> str:
    value = int(mac.replace(":", ""), 16) + n
    raw = f"{value:012x}"[-12:]
    return ":".join(raw[i:i + 2] for i in range(0, 12, 2))


def port_name(fmt: str, first: str | None, adapter: int, segment_size: int = 0) -> str:
    """GNS3's name for a QEMU adapter (``{0}``, ``{portN}``, ``{segmentN}``, ``{adapter}``)."""
    if adapter == 0 and first:
        return first
    number = adapter - 1 if first else adapter  # the first port does not use up a number
    segment, port = (divmod(number, segment_size) if segment_size else (0, number))
    values = {f"port{k}": port + k for k in range(9)}
    values.update({f"segment{k}": segment + k for k in range(9)})
    return fmt.format(port, segment, adapter=adapter, **values)


def expand_name(name: str) -> list[str]:
    """``infra[1-3]`` -> infra1, infra2, infra3."""
    match = RANGE_RE.match(name)
    if not match:
        return [name]
    lo, hi = int(match["lo"]), int(match["hi"])
    return [f"{match['prefix']}{i}{match['suffix']}" for i in range(lo, hi + 1)]


def fill_template(text: str, node: str, index: int) -> str:
    """Fill ``{node}``, ``{i}``, ``{n}``, ``{num}`` (with ``+K``/``-K``) for one member."""
    num_match = re.search(r"(\d+)$", node)
    numbers = {"i": index, "n": index + 1,
               "num": int(num_match.group(1)) if num_match else index + 1}

    def repl(match: re.Match[str]) -> str:
        name, offset = match.group(1), match.group(2)
        if name == "node":
            if offset:
                raise ValueError("cannot add to {node}")
            return node
        return str(numbers[name] + int(offset or 0))

    return TEMPLATE_RE.sub(repl, text)


@dataclass
class _Draft:
    """A node while it is being resolved (mutable; frozen into model.Node at the end)."""

    name: str
    path: tuple
    spec: bp.Node
    settings: dict[str, Any]
    groups: tuple[str, ...]
    index: int
    appliance: Appliance | None = None
    port_names: dict[str, int] = field(default_factory=dict)
    adapter_names: dict[int, str] = field(default_factory=dict)
    used: dict[tuple[int, int], str] = field(default_factory=dict)
    builtin_ports: dict[str, m.SwitchPort] = field(default_factory=dict)
    adapters: int = 0
    base_mac: str | None = None


class Resolver:
    """Runs the resolution steps in order, collecting problems with their places."""

    def __init__(self, blueprint: bp.Blueprint, source: bp.Source, catalogue: Catalogue) -> None:
        self.bp, self.src, self.catalogue = blueprint, source, catalogue
        self.problems: list[Problem] = []
        self.drafts: dict[str, _Draft] = {}

    # -- problem helpers -----------------------------------------------------------------
    def problem(self, path: tuple, message: str, fix: str | None = None) -> None:
        self.problems.append(self.src.problem(path, message, fix))

    def gate(self) -> None:
        """Stop here if anything went wrong so far."""
        if self.problems:
            raise BlueprintError(self.problems)

    # -- the pipeline ----------------------------------------------------------------------
    def run(self) -> m.Lab:
        self.check_names()
        self.draft_nodes()
        self.gate()
        self.pick_appliances()
        self.gate()
        links = self.resolve_links()
        self.count_adapters()
        self.gate()
        self.assign_macs()
        networks = self.resolve_networks()
        self.gate()
        nodes = self.freeze_nodes(networks)
        controller = self.resolve_controller()
        self.gate()
        return m.Lab(
            name=self.bp.name, description=self.bp.description,
            project_id=derive_id(self.bp.name, "project"), gns3=self.bp.gns3,
            domain=self.bp.domain, nodes=tuple(place_nodes(nodes)), links=tuple(links),
            networks=tuple(networks.values()), controller=controller,
            blueprint_file=self.src.file, blueprint_folder=self.src.folder,
            ssh_key=self.src.folder / self.bp.ssh_key if self.bp.ssh_key else None,
            extra=dict(self.bp.extra))

    # -- names, groups, settings ---------------------------------------------------------
    def check_names(self) -> None:
        for name in self.bp.groups:
            if not re.match(bp.NAME_RE, name):
                self.problem(("groups", name), f"group name '{name}' is not [a-z0-9-]",
                             "use lowercase letters, digits and '-'")

    def draft_nodes(self) -> None:
        index_in_group: dict[str, int] = {}
        for written, spec in self.bp.nodes.items():
            path = ("nodes", written)
            for name in expand_name(written):
                if not re.match(bp.NAME_RE, name):
                    self.problem(path, f"node name '{name}' is not a hostname",
                                 "use lowercase letters, digits and '-' (RFC 1123), "
                                 "so GNS3 2.2 and 3.x keep it")
                    continue
                if name in self.drafts:
                    self.problem(path, f"duplicate node '{name}'",
                                 "give each node a unique name")
                    continue
                groups = tuple([spec.group] if isinstance(spec.group, str) else spec.group or [])
                for g in groups:
                    if g not in self.bp.groups:
                        self.problem(path + ("group",), f"unknown group '{g}'",
                                     closest_fix(g, self.bp.groups))
                key = groups[0] if groups else ""
                index = index_in_group.get(key, 0)
                index_in_group[key] = index + 1
                settings = self.merged_settings(spec, groups)
                self.drafts[name] = _Draft(name, path, spec, settings, groups, index)

    def merged_settings(self, spec: bp.Node, groups: tuple[str, ...]) -> dict[str, Any]:
        """Layer defaults, groups (first named wins) and the node; remember each key's depth.

        Depth 0 is the blueprint defaults: :meth:`setting` puts the appliance between them and
        the groups, so that the precedence is node > group > appliance > defaults.
        """
        layers: list[bp.NodeSettings] = [self.bp.defaults]
        layers += [self.bp.groups[g] for g in reversed(groups) if g in self.bp.groups]
        layers.append(spec)
        merged: dict[str, Any] = {"_written": {}}
        for depth, layer in enumerate(layers):
            for key in bp.NodeSettings.model_fields:
                value = getattr(layer, key)
                if value is None:
                    continue
                if key == "interfaces":
                    merged.setdefault(key, {}).update(value)
                elif key in ("cloud_init", "inject", "disks"):
                    merged.setdefault(key, []).append(value)
                else:
                    merged[key] = value
                    merged["_written"][key] = depth
        return merged

    def pick_appliances(self) -> None:
        for d in self.drafts.values():
            if d.spec.type != "qemu":
                continue
            ref = d.settings.get("appliance")
            if not ref:
                self.problem(d.path, f"node '{d.name}' names no appliance",
                             "add 'appliance: <name>' to the node, its group or defaults; "
                             f"known: {', '.join(self.catalogue.names())}")
                continue
            try:
                d.appliance = self.catalogue.find(ref, self.src.folder)
            except LookupError:
                self.problem(d.path + ("appliance",), f"unknown appliance '{ref}'",
                             closest_fix(ref, self.catalogue.names()))
                continue
            try:
                d.appliance.version(d.settings.get("version"))
            except LookupError as exc:
                self.problem(d.path + ("version",), str(exc), "pick one of the known versions")
            fmt = self.setting(d, "port_name_format", d.appliance.port_name_format, "Ethernet{0}")
            first = self.setting(d, "first_port_name", d.appliance.first_port_name, None)
            for adapter in range(MAX_ADAPTERS):
                name = port_name(fmt, first, adapter)
                d.port_names.setdefault(name, adapter)
                d.adapter_names[adapter] = name

    # -- links ---------------------------------------------------------------------------
    def resolve_links(self) -> list[m.Link]:
        self.prepare_builtins()
        links: list[m.Link] = []
        for i, item in enumerate(self.bp.links):
            for path, spec in self.expand_link(("links", i), item):
                link = self.resolve_link(path, spec)
                if link is not None:
                    links.append(link)
        return links

    def expand_link(self, path: tuple, item: Any) -> Iterable[tuple[tuple, bp.LinkSpec]]:
        if isinstance(item, str):
            spec = self.parse_link_text(path, item)
            return [(path, spec)] if spec else []
        if isinstance(item, bp.LinkSpec):
            return [(path, item)]
        members = self.members(path + ("each",), item.each)
        out = []
        for index, node in enumerate(members):
            for j, template in enumerate(item.links):
                tpath = path + ("links", j)
                try:
                    if isinstance(template, str):
                        spec = self.parse_link_text(tpath, fill_template(template, node, index))
                    else:
                        spec = template.model_copy(update={
                            "a": fill_template(template.a, node, index),
                            "b": fill_template(template.b, node, index)})
                except ValueError as exc:
                    self.problem(tpath, str(exc), "use {node}, {i}, {n} or {num}")
                    continue
                if spec:
                    out.append((tpath, spec))
        return out

    def members(self, path: tuple, each: str | list[str]) -> list[str]:
        """Nodes of a group (in declaration order), or an explicit list of node names."""
        if isinstance(each, list):
            names = [n for item in each for n in expand_name(item)]
            for n in names:
                if n not in self.drafts:
                    self.problem(path, f"unknown node '{n}'", closest_fix(n, self.drafts))
            return [n for n in names if n in self.drafts]
        if each in self.bp.groups:
            return [d.name for d in self.drafts.values() if each in d.groups]
        if each in self.drafts:
            return [each]
        self.problem(path, f"unknown group or node '{each}'",
                     closest_fix(each, list(self.bp.groups) + list(self.drafts)))
        return []

    def parse_link_text(self, path: tuple, text: str) -> bp.LinkSpec | None:
        parts = [p.strip() for p in text.split("--")]
        if len(parts) != 2 or not all(parts):
            self.problem(path, f"cannot read link '{text}'",
                         "write 'node:interface -- node:interface'")
            return None
        return bp.LinkSpec.model_validate({"a": parts[0], "b": parts[1]})

    def resolve_link(self, path: tuple, spec: bp.LinkSpec) -> m.Link | None:
        ends = [self.resolve_end(path + (side,), text, spec)
                for side, text in (("a", spec.a), ("b", spec.b))]
        if None in ends:
            return None
        a, b = ends
        assert a is not None and b is not None
        if a.node == b.node and (a.adapter, a.port) == (b.adapter, b.port):
            self.problem(path, "a link cannot join a port to itself", "pick two different ports")
            return None
        builtin_kinds = {self.drafts[a.node].spec.type, self.drafts[b.node].spec.type}
        if builtin_kinds <= {"cloud", "nat"}:
            self.problem(path, "GNS3 cannot link a cloud or NAT node to another cloud or NAT",
                         "put a VM or switch between them")
            return None
        filters: list[tuple[str, tuple[int | float, ...]]] = []
        if spec.delay is not None or spec.jitter is not None:
            filters.append(("delay", (spec.delay or 0, spec.jitter or 0)))
        if spec.loss is not None:
            filters.append(("packet_loss", (spec.loss,)))
        if spec.corrupt is not None:
            filters.append(("corrupt", (spec.corrupt,)))
        first, second = sorted([a, b], key=lambda e: (e.node, e.adapter, e.port))
        link_id = derive_id(self.bp.name, "link", f"{first.node}:{first.port_name}",
                            f"{second.node}:{second.port_name}")
        return m.Link(link_id=link_id, a=a, b=b, filters=tuple(sorted(filters)))

    def resolve_end(self, path: tuple, text: str, spec: bp.LinkSpec) -> m.Endpoint | None:
        node_name, sep, iface = text.partition(":")
        node_name, iface = node_name.strip(), iface.strip()
        if not sep or not iface:
            self.problem(path, f"link end '{text}' has no interface",
                         "write 'node:interface', e.g. 'leaf01:swp3'")
            return None
        draft = self.drafts.get(node_name)
        if draft is None:
            self.problem(path, f"unknown node '{node_name}'", closest_fix(node_name, self.drafts))
            return None
        if draft.spec.type == "qemu":
            adapter = draft.port_names.get(iface)
            if adapter is None:
                examples = ", ".join(draft.adapter_names[i] for i in range(3))
                self.problem(path, f"node '{node_name}' has no interface '{iface}'",
                             f"its ports are named like {examples}")
                return None
            port = 0
        else:
            sp = draft.builtin_ports.get(iface)
            if sp is None:
                self.problem(path, f"{draft.spec.type} node '{node_name}' has no port '{iface}'",
                             closest_fix(iface, draft.builtin_ports))
                return None
            adapter, port = (0, sp.port)
        key = (adapter, port)
        if key in draft.used:
            self.problem(path, f"port {node_name}:{iface} is already used by {draft.used[key]}",
                         "each port takes one link; pick a free port")
            return None
        draft.used[key] = f"{spec.a} -- {spec.b}"
        return m.Endpoint(node=node_name, adapter=adapter, port=port, port_name=iface)

    def prepare_builtins(self) -> None:
        for d in self.drafts.values():
            kind = d.spec.type
            if kind == "nat":
                d.builtin_ports = {"nat0": m.SwitchPort("nat0", 0, "access", 1)}
            elif kind == "cloud":
                names = d.spec.ports or ["eth0"]
                d.builtin_ports = {n: m.SwitchPort(n, i, "access", 1) for i, n in enumerate(names)}
            elif kind == "ethernet_switch":
                vlans = d.spec.vlans or {f"Ethernet{i}": 1 for i in range(8)}
                ports = {}
                for i, (name, vlan) in enumerate(vlans.items()):
                    trunk = vlan == "trunk"
                    if not trunk and not isinstance(vlan, int):
                        self.problem(d.path + ("vlans", name), f"bad VLAN '{vlan}'",
                                     "give a VLAN number (1-4094) or 'trunk'")
                        continue
                    ports[name] = m.SwitchPort(name, i, "dot1q" if trunk else "access",
                                               1 if trunk else int(vlan))
                d.builtin_ports = ports

    # -- adapters, MACs --------------------------------------------------------------------
    def count_adapters(self) -> None:
        for d in self.drafts.values():
            if d.spec.type != "qemu" or d.appliance is None:
                continue
            needed = max([a for a, _ in d.used] + self.interface_adapters(d) + [-1]) + 1
            nics = d.settings.get("nics")
            if nics in (None, "auto"):
                count = max(needed, 1)
            else:
                count = int(nics)
                if count < needed:
                    self.problem(d.path + ("nics",),
                                 f"node '{d.name}' has {count} NICs but its links and interfaces "
                                 f"use {d.adapter_names[needed - 1]} (NIC {needed})",
                                 f"set nics: {needed} or nics: auto")
            if count > MAX_ADAPTERS:
                self.problem(d.path + ("nics",),
                             f"node '{d.name}' asks for {count} NICs; appliance "
                             f"'{d.appliance.name}' allows at most {MAX_ADAPTERS}",
                             f"use at most {MAX_ADAPTERS} NICs")
            d.adapters = count

    def interface_adapters(self, d: _Draft) -> list[int]:
        """Adapters named in the node's guest interfaces (bond members, plain NICs)."""
        out = []
        for name, iface in (d.settings.get("interfaces") or {}).items():
            members = [name] if not (iface.bond or iface.vlan or iface.bridge) else []
            if iface.bond:
                members += iface.bond if isinstance(iface.bond, list) else iface.bond.interfaces
            out += [d.port_names[x] for x in members if x in d.port_names]
        return out

    def assign_macs(self) -> None:
        owners: dict[str, str] = {}
        for d in self.drafts.values():
            if d.spec.type != "qemu":
                continue
            fixed = d.spec.mac
            attempt = 0
            while True:
                base = fixed.lower() if fixed else derive_mac(self.bp.name, d.name, attempt)
                macs = [mac_add(base, i) for i in range(d.adapters)]
                clash = next((x for x in macs if x in owners), None)
                if clash is None or fixed:
                    break
                attempt += 1
            if clash is not None:
                self.problem(d.path + ("mac",), f"MAC {clash} of '{d.name}' is also used by "
                             f"'{owners[clash]}'", "give each node its own MAC range")
            if int(base.split(":")[0], 16) & 1:
                self.problem(d.path + ("mac",), f"MAC {base} is a multicast address",
                             "use a unicast MAC (even first byte), e.g. 52:54:00:...")
            for x in macs:
                owners.setdefault(x, d.name)
            d.base_mac = base

    # -- networks and guest interfaces -------------------------------------------------------
    def resolve_networks(self) -> dict[str, m.Network]:
        nets: dict[str, m.Network] = {}
        for name, spec in self.bp.networks.items():
            path = ("networks", name)
            try:
                cidr = ipaddress.IPv4Network(spec.cidr, strict=True)
            except ValueError as exc:
                self.problem(path + ("cidr",), f"bad CIDR '{spec.cidr}': {exc}",
                             "write e.g. 10.0.0.0/24")
                continue
            gateway = None
            if spec.gateway:
                gateway = self.address_in(path + ("gateway",), spec.gateway, cidr)
            nets[name] = m.Network(name=name, cidr=cidr, vlan=spec.vlan, gateway=gateway,
                                   dns=tuple(spec.dns or ()),
                                   domain=spec.domain or f"{name}.{self.bp.domain}")
        return nets

    def address_in(self, path: tuple, value: str | int, cidr: ipaddress.IPv4Network
                   ) -> ipaddress.IPv4Address | None:
        try:
            if isinstance(value, int) or str(value).isdigit():
                addr = cidr.network_address + int(value)
            else:
                addr = ipaddress.IPv4Interface(value).ip
        except ValueError as exc:
            self.problem(path, f"bad address '{value}': {exc}", "write e.g. 10.0.0.5 or 5")
            return None
        if addr not in cidr or addr in (cidr.network_address, cidr.broadcast_address):
            self.problem(path, f"address {addr} is outside network {cidr} (or not a host)",
                         f"pick a host address in {cidr}")
            return None
        return addr

    def freeze_nodes(self, nets: dict[str, m.Network]) -> list[m.Node]:
        taken: dict[ipaddress.IPv4Address, str] = {}  # the router node may claim a gateway
        plans = {d.name: self.plan_interfaces(d, nets, taken) for d in self.drafts.values()}
        self.allocate_auto(plans, nets, taken)
        return [self.freeze(d, plans[d.name], nets) for d in self.drafts.values()]

    def plan_interfaces(self, d: _Draft, nets: dict[str, m.Network],
                        taken: dict[ipaddress.IPv4Address, str]) -> list[dict[str, Any]]:
        plan = []
        for name, iface in (d.settings.get("interfaces") or {}).items():
            path = d.path + ("interfaces", name)
            entry: dict[str, Any] = {"name": name, "spec": iface, "addresses": [], "auto": False}
            if iface.network and iface.network not in nets:
                self.problem(path + ("network",), f"unknown network '{iface.network}'",
                             closest_fix(iface.network, nets))
            net = nets.get(iface.network or "")
            address = iface.address
            if isinstance(address, str) and TEMPLATE_RE.search(address):
                address = fill_template(address, d.name, d.index)
            if address == "auto":
                entry["auto"] = True
            elif address is not None:
                if net is None and "/" not in str(address):
                    self.problem(path + ("address",), "an address without a network needs a "
                                 "prefix", "add 'network: <name>' or write e.g. 10.0.0.5/24")
                elif net is None:
                    entry["addresses"].append(ipaddress.IPv4Interface(str(address)))
                else:
                    ip = self.address_in(path + ("address",), address, net.cidr)
                    if ip is not None:
                        if ip in taken:
                            self.problem(path + ("address",), f"address {ip} is already used by "
                                         f"{taken[ip]}", "give each interface its own address")
                        taken[ip] = f"{d.name}:{name}"
                        entry["addresses"].append(
                            ipaddress.IPv4Interface(f"{ip}/{net.cidr.prefixlen}"))
            plan.append(entry)
        return plan

    def allocate_auto(self, plans: dict[str, list[dict[str, Any]]], nets: dict[str, m.Network],
                      taken: dict[ipaddress.IPv4Address, str]) -> None:
        for node, entries in plans.items():
            for entry in entries:
                if not entry["auto"]:
                    continue
                net = nets.get(entry["spec"].network or "")
                if net is None:
                    self.problem(self.drafts[node].path + ("interfaces", entry["name"]),
                                 "'address: auto' needs a network", "add 'network: <name>'")
                    continue
                ip = self.next_free(net, taken)
                if ip is None:
                    self.problem(self.drafts[node].path + ("interfaces", entry["name"]),
                                 f"network '{net.name}' has no free address left",
                                 "widen its pool or CIDR")
                    continue
                taken[ip] = f"{node}:{entry['name']}"
                entry["addresses"].append(ipaddress.IPv4Interface(f"{ip}/{net.cidr.prefixlen}"))

    def next_free(self, net: m.Network, taken: dict[ipaddress.IPv4Address, str]
                  ) -> ipaddress.IPv4Address | None:
        pool = self.bp.networks[net.name].pool
        lo, hi = (10, net.cidr.num_addresses - 2)
        if pool:
            first, _, last = pool.partition("-")
            lo, hi = int(first), int(last or first)
        for host in range(lo, hi + 1):
            ip = net.cidr.network_address + host
            if ip in net.cidr and ip not in taken and ip not in (net.cidr.broadcast_address,
                                                                 net.gateway):
                return ip
        return None

    def freeze(self, d: _Draft, plan: list[dict[str, Any]], nets: dict[str, m.Network]
               ) -> m.Node:
        s = d.settings
        kind = d.spec.type
        role = s.get("role") or ("external" if kind in ("cloud", "nat") else
                                 "switch" if kind == "ethernet_switch" else "server")
        pos = d.spec.position
        common = dict(name=d.name, node_id=derive_id(self.bp.name, "node", d.name), type=kind,
                      role=role, groups=d.groups, tier=s.get("tier", -1),
                      x=pos.x if pos else 0, y=pos.y if pos else 0, pinned=pos is not None)
        if kind != "qemu":
            return m.Node(**common, symbol=s.get("symbol") or SYMBOLS[kind], console_type="none",
                          ports=tuple(sorted(d.builtin_ports.values(), key=lambda p: p.port)))
        app = d.appliance
        assert app is not None and d.base_mac is not None
        nics = tuple(m.Nic(i, d.adapter_names[i], mac_add(d.base_mac, i))
                     for i in range(d.adapters))
        image = self.base_image(d, app)
        disk_size = 0  # 0: as large as the base image
        if s.get("disk") is not None:
            disk_size = self.size(d.path + ("disk",), s["disk"]) or 0
        qemu = app.qemu

        def pick(key: str, appliance_value: Any, fallback: Any) -> Any:
            return self.setting(d, key, appliance_value, fallback)

        return m.Node(
            **common,
            symbol=pick("symbol", CATEGORY_SYMBOLS.get(app.category), SYMBOLS["qemu"]),
            console_type=pick("console", qemu.get("console_type"), "telnet"),
            image=image, ram=pick("ram", qemu.get("ram"), 512),
            cpus=pick("cpus", qemu.get("cpus"), 1), adapters=d.adapters,
            adapter_type=pick("adapter_type", qemu.get("adapter_type"), "virtio-net-pci"),
            disk_interface=pick("disk_interface", qemu.get("hda_disk_interface"), "virtio"),
            disk_size=disk_size, options=pick("options", qemu.get("options"), ""),
            port_name_format=pick("port_name_format", app.port_name_format, "Ethernet{0}"),
            first_port_name=pick("first_port_name", app.first_port_name, None), nics=nics,
            data_disks=self.data_disks(d), interfaces=self.guest_interfaces(d, plan, nics, nets),
            cloud_init=self.cloud_init(d) if self.wants_seed(d) else None,
            injects=self.injects(d))

    @staticmethod
    def setting(d: _Draft, key: str, appliance_value: Any, fallback: Any) -> Any:
        """Defaults precedence, the one helper: node > group > appliance > defaults."""
        written = d.settings.get("_written", {})
        if key in written and written[key] > 0:
            return d.settings[key]
        if appliance_value is not None:
            return appliance_value
        return d.settings.get(key, fallback)

    def wants_seed(self, d: _Draft) -> bool:
        return bool(d.appliance and d.appliance.cloud_init)

    def base_image(self, d: _Draft, app: Appliance) -> m.BaseImage:
        version = app.version(d.settings.get("version"))
        filename = version.images.get("hda_disk_image", "")
        info = app.images.get(filename)
        if info is None:
            self.problem(d.path + ("appliance",), f"appliance '{app.name}' version "
                         f"'{version.name}' lists no hda_disk_image file",
                         "fix the appliance's images/versions")
            return m.BaseImage(app.name, version.name, filename, "", 0, DEFAULT_VIRTUAL_SIZE)
        return m.BaseImage(appliance=app.name, appliance_version=version.name,
                           filename=filename, md5sum=info.md5sum, filesize=info.filesize,
                           virtual_size=info.virtual_size or DEFAULT_VIRTUAL_SIZE,
                           download_url=info.direct_download_url or info.download_url)

    def size(self, path: tuple, value: str | int) -> int | None:
        try:
            return bp.parse_size(value)
        except ValueError as exc:
            self.problem(path, str(exc), "write e.g. 20G")
            return None

    def data_disks(self, d: _Draft) -> tuple[m.DataDisk, ...]:
        disks = [disk for layer in d.settings.get("disks", []) for disk in layer]
        free = DATA_SLOTS if self.wants_seed(d) else ("hdb", "hdc", "hdd")
        if len(disks) > len(free):
            self.problem(d.path + ("disks",), f"node '{d.name}' asks for {len(disks)} extra "
                         f"disks; GNS3 QEMU nodes have {len(free)} free slots",
                         f"use at most {len(free)} extra disks")
            disks = disks[:len(free)]
        out = []
        for i, (disk, slot) in enumerate(zip(disks, free, strict=False)):
            size = self.size(d.path + ("disks", i, "size"), disk.size) or 0
            out.append(m.DataDisk(slot=slot, size=size, interface=disk.interface,
                                  filename=f"{d.name}-{slot}.qcow2"))
        return tuple(out)

    def guest_interfaces(self, d: _Draft, plan: list[dict[str, Any]], nics: tuple[m.Nic, ...],
                         nets: dict[str, m.Network]) -> tuple[m.GuestInterface, ...]:
        by_name = {n.name: n for n in nics}
        declared = {e["name"] for e in plan}
        out: list[m.GuestInterface] = []
        for entry in plan:
            out.append(self.guest_interface(d, entry, by_name, declared, nets))
        return tuple(out)

    def guest_interface(self, d: _Draft, entry: dict[str, Any], nics: dict[str, m.Nic],
                        declared: set[str], nets: dict[str, m.Network]) -> m.GuestInterface:
        name, iface = entry["name"], entry["spec"]
        path = d.path + ("interfaces", name)
        net = nets.get(iface.network or "")
        gateway = None
        if iface.gateway is True:
            gateway = net.gateway if net else None
            if gateway is None:
                self.problem(path + ("gateway",), "'gateway: true' needs a network with a "
                             "gateway", "give the network a gateway, or write the IP")
        elif isinstance(iface.gateway, str):
            gateway = ipaddress.IPv4Address(iface.gateway)
        dns = tuple(iface.dns if iface.dns is not None else (net.dns if net and gateway else ()))
        common = dict(name=name, network=iface.network, addresses=tuple(entry["addresses"]),
                      dhcp=iface.dhcp, gateway=gateway, dns=dns, mtu=iface.mtu,
                      routes=tuple((r.get("to", ""), r.get("via", "")) for r in iface.routes or ()))
        known = set(nics) | declared
        if iface.bond:
            bond = iface.bond if isinstance(iface.bond, bp.Bond) else bp.Bond(interfaces=iface.bond)
            for member in bond.interfaces:
                if member not in nics:
                    self.problem(path + ("bond",), f"bond member '{member}' is not a NIC of "
                                 f"'{d.name}'", closest_fix(member, nics))
            return m.GuestInterface(**common, kind="bond", members=tuple(bond.interfaces),
                                    bond_mode=bond.mode, bond_lacp_rate=bond.lacp_rate,
                                    bond_hash_policy=bond.hash_policy,
                                    bond_mii_monitor=bond.mii_monitor)
        if iface.vlan:
            if iface.vlan.link not in known:
                self.problem(path + ("vlan", "link"), f"VLAN link '{iface.vlan.link}' is not an "
                             f"interface of '{d.name}'", closest_fix(iface.vlan.link, known))
            return m.GuestInterface(**common, kind="vlan", vlan_id=iface.vlan.id,
                                    link=iface.vlan.link)
        if iface.bridge is not None:
            br = iface.bridge if isinstance(iface.bridge, bp.Bridge) else \
                bp.Bridge(interfaces=iface.bridge)
            for member in br.interfaces:
                if member not in known:
                    self.problem(path + ("bridge",), f"bridge member '{member}' is not an "
                                 f"interface of '{d.name}'", closest_fix(member, known))
            return m.GuestInterface(**common, kind="bridge", members=tuple(br.interfaces),
                                    stp=br.stp)
        if name not in nics:
            self.problem(path, f"'{name}' is not a NIC of '{d.name}' and not a bond, vlan or "
                         "bridge", closest_fix(name, nics))
            return m.GuestInterface(**common, kind="ethernet")
        return m.GuestInterface(**common, kind="ethernet", mac=nics[name].mac)

    def cloud_init(self, d: _Draft) -> m.CloudInitSpec:
        layers: list[bp.CloudInit] = d.settings.get("cloud_init", [])
        users: list[m.CloudInitUser] = []
        extra_keys: list[str] = []
        packages, files, bootcmd, runcmd = [], [], [], []
        raw: dict[str, Any] = {}
        for layer in layers:
            for u in layer.users or []:
                users = [x for x in users if x.name != u.name]
                users.append(m.CloudInitUser(u.name, u.sudo, u.shell, tuple(u.ssh_keys),
                                             u.password, tuple(u.groups)))
            extra_keys += layer.ssh_keys or []
            packages += layer.packages or []
            files += [(f.path, f.content, f.permissions, f.owner) for f in layer.write_files or []]
            bootcmd += layer.bootcmd or []
            runcmd += layer.runcmd or []
            raw.update(layer.user_data or {})
        if not users:
            users = [m.CloudInitUser("lab", True, "/bin/bash", (), None, ())]
        first = users[0]
        users[0] = m.CloudInitUser(first.name, first.sudo, first.shell,
                                   first.ssh_keys + tuple(extra_keys), first.password,
                                   first.groups)
        return m.CloudInitSpec(tuple(users), tuple(dict.fromkeys(packages)), tuple(files),
                               tuple(bootcmd), tuple(runcmd), tuple(sorted(raw.items())))

    def injects(self, d: _Draft) -> tuple[m.InjectSpec, ...]:
        out = []
        for layer in d.settings.get("inject", []):
            for i, item in enumerate(layer):
                path = d.path + ("inject", i)
                source = None
                if item.source:
                    source = (self.src.folder / item.source)
                    if not source.exists():
                        self.problem(path + ("source",), f"source '{item.source}' not found "
                                     f"(looked for {source})",
                                     "give a path relative to the blueprint's folder")
                if not item.path.startswith("/") or ".." in item.path.split("/"):
                    self.problem(path + ("path",), f"guest path '{item.path}' must be absolute "
                                 "and stay inside the guest root", "write e.g. /etc/motd")
                mode = None
                if item.mode is not None:
                    try:
                        mode = int(item.mode, 8)
                    except ValueError:
                        self.problem(path + ("mode",), f"bad mode '{item.mode}'", "e.g. '0644'")
                out.append(m.InjectSpec(
                    path=item.path, content=item.content.encode() if item.content is not None
                    else None, source=source, mode=mode, owner=item.owner, group=item.group,
                    symlink=item.symlink, enable=item.enable))
        return tuple(out)

    # -- controller --------------------------------------------------------------------------
    def resolve_controller(self) -> m.Controller | None:
        spec = self.bp.controller
        if spec is None:
            return None
        path = ("controller",)
        draft = self.drafts.get(spec.node)
        if draft is None:
            self.problem(path + ("node",), f"controller node '{spec.node}' does not exist",
                         closest_fix(spec.node, self.drafts))
        elif draft.spec.type != "qemu":
            self.problem(path + ("node",), f"controller '{spec.node}' must be a VM",
                         "name a QEMU node")
        playbooks = []
        for i, pb in enumerate(spec.playbooks):
            file = self.src.folder / pb
            if not file.is_file():
                self.problem(path + ("playbooks", i), f"playbook '{pb}' not found in "
                             f"{self.src.folder}", "fix the path (relative to the blueprint)")
            playbooks.append(file)
        known_hosts: set[str] = {"all"} | set(self.bp.groups) | set(self.drafts) | {
            str(d.settings["role"]) for d in self.drafts.values() if d.settings.get("role")}
        for i, stage in enumerate(spec.stages):
            if "name" not in stage:
                self.problem(path + ("stages", i), "stage has no name", "add 'name: <stage>'")
            hosts = stage.get("hosts", [])
            for h in [hosts] if isinstance(hosts, str) else hosts:
                if h not in known_hosts:
                    self.problem(path + ("stages", i, "hosts"),
                                 f"stage '{stage.get('name')}' names unknown group '{h}'",
                                 closest_fix(h, known_hosts))
            for pb in stage.get("playbooks", []):
                if not (self.src.folder / pb).is_file():
                    self.problem(path + ("stages", i, "playbooks"), f"playbook '{pb}' not found",
                                 "fix the path (relative to the blueprint folder)")
            self.check_generated(path + ("stages", i), stage)
        return m.Controller(node=spec.node, uplink=spec.uplink, dhcp=tuple(spec.dhcp),
                            playbooks=tuple(playbooks), stages=tuple(spec.stages),
                            timeout=spec.timeout)

    def check_generated(self, path: tuple, stage: dict[str, Any]) -> None:
        """A stage's ``generated:`` names add-on playbooks (``playbooks/<addon>-*.yml``), which
        exist only once the add-ons render; so only their form is checked here."""
        books = stage.get("generated", [])
        for j, book in enumerate(books if isinstance(books, list) else [books]):
            if not isinstance(book, str) or not GENERATED_RE.match(book):
                self.problem(path + ("generated", j), f"generated playbook '{book}' is not "
                             "playbooks/<name>.yml", "name an add-on's playbook, e.g. "
                             "generated: [playbooks/fabric.yml]")


def closest_fix(word: str, choices: Iterable[str]) -> str:
    return bp.closest(word, {str(c) for c in choices})


def resolve_lab(blueprint: bp.Blueprint, source: bp.Source, catalogue: Catalogue) -> m.Lab:
    """Resolve a loaded blueprint into the frozen lab model (raises BlueprintError)."""
    return Resolver(blueprint, source, catalogue).run()
