"""Blueprint + appliances -> the frozen lab model.

Short forms are normalised here and only here: node name ranges, generated links, defaults
precedence, port allocation, ids, MACs and addresses. Every problem is collected with its place
in the blueprint; they are raised together at the end of each step that others depend on.
"""

from __future__ import annotations

import ipaddress
import re
import string
from dataclasses import replace
from pathlib import Path
from typing import Any

from generator import model as m
from generator.blueprint import schema as bp
from generator.blueprint.appliances import DEFAULT_VIRTUAL_SIZE, UNSUPPORTED, Appliance, Catalogue
from generator.blueprint.confine import confined
from generator.errors import Refused
from generator.naming import (  # noqa: F401 - re-exported: the naming rules are part of resolution
    closest_fix,
    derive_id,
    derive_mac,
    fill_template,
    mac_add,
    port_name,
)
from generator.render.canvas import place_nodes, symbol_for
from generator.render.passwords import derived_salt, sha512_crypt
from generator.resolve.addresses import AddressSteps
from generator.resolve.controller import ControllerSteps
from generator.resolve.draft import Draft
from generator.resolve.links import LinkSteps

MAX_ADAPTERS = 275  # GNS3's limit for QEMU adapters
#: GNS3's built-in symbols: a VM is a server (tower) unless its role or appliance says more.
SYMBOLS = {"qemu": ":/symbols/classic/server.svg", "cloud": ":/symbols/classic/cloud.svg",
           "nat": ":/symbols/classic/nat.svg",
           "ethernet_switch": ":/symbols/classic/ethernet_switch.svg"}
CATEGORY_SYMBOLS = {"multilayer_switch": ":/symbols/classic/multilayer_switch.svg",
                    "switch": ":/symbols/classic/ethernet_switch.svg",
                    "router": ":/symbols/classic/router.svg",
                    "firewall": ":/symbols/classic/firewall.svg"}
UNIT_RE = re.compile(r"^[A-Za-z0-9:_.@-]{1,200}\.(service|socket|timer|path|target|mount)$")
MIN_DISK, MAX_DISK = 1 << 20, 64 << 40
DATA_SLOTS = ("hdb", "hdd")  # the seed ISO is -cdrom, which takes hdc's place


PORT_FIELDS = {"0", "1", "adapter"} | {f"port{k}" for k in range(9)} | {
    f"segment{k}" for k in range(9)}


def port_format_problem(fmt: str) -> str | None:
    """Why ``fmt`` is not a GNS3 port name format we can fill safely (None when it is)."""
    try:
        parts = list(string.Formatter().parse(fmt))
    except ValueError as exc:
        return f"cannot be read ({exc})"
    for _, field, spec, conversion in parts:
        if field is None:
            continue
        if field not in PORT_FIELDS:
            return f"names an unknown field '{{{field}}}'"
        if spec or conversion:
            return "may not carry a format spec or conversion"
    if len(fmt) > 32:
        return "is longer than 32 characters"
    return None


class Resolver(LinkSteps, AddressSteps, ControllerSteps):
    """Runs the resolution steps in order, collecting problems with their places."""

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
        nodes = self.place_computes(self.freeze_nodes(networks))
        controller = self.resolve_controller()
        lab = m.Lab(
            name=self.bp.name, description=self.bp.description,
            version="" if self.bp.version is None else str(self.bp.version),
            project_id=derive_id(self.bp.name, "project"), gns3=self.bp.gns3,
            domain=self.bp.domain, nodes=tuple(place_nodes(nodes)), links=tuple(links),
            networks=tuple(networks.values()), controller=controller,
            blueprint_file=self.src.file, blueprint_folder=self.src.folder,
            ssh_key=self.lab_key(),
            extra=dict(self.bp.extra),
            computes=tuple((name, (("ram_mb", c.ram_mb), ("server", c.server or name)))
                           for name, c in sorted(self.bp.computes.items())))
        self.check_lab(lab)
        self.gate()
        return lab

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
            for name in self.expand(path, written):
                if len(self.drafts) >= bp.MAX_NODES:
                    self.problem(path, f"the lab has more than {bp.MAX_NODES} nodes",
                                 f"split it into labs of at most {bp.MAX_NODES} nodes")
                    self.gate()
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
                self.drafts[name] = Draft(name, path, spec, settings, groups, index)

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
                d.appliance = d.appliance.for_version(d.settings.get("version"))
            except LookupError as exc:
                self.problem(d.path + ("version",), str(exc),
                             "use a qemu appliance" if UNSUPPORTED in str(exc)
                             else "pick one of the known versions")
                continue
            fmt = self.setting(d, "port_name_format", d.appliance.port_name_format, "Ethernet{0}")
            first = self.setting(d, "first_port_name", d.appliance.first_port_name, None)
            bad = port_format_problem(fmt)
            if bad:
                self.problem(d.path + ("port_name_format",), f"port_name_format '{fmt}' {bad}",
                             "use GNS3's fields: {0}, {port0}..{port8}, {segment0}..{segment8}, "
                             "e.g. 'eth{0}' or 'swp{port1}'")
                continue
            for adapter in range(MAX_ADAPTERS):
                name = port_name(fmt, first, adapter)
                d.port_names.setdefault(name, adapter)
                d.adapter_names[adapter] = name

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

    def interface_adapters(self, d: Draft) -> list[int]:
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

    def freeze_nodes(self, nets: dict[str, m.Network]) -> list[m.Node]:
        taken: dict[ipaddress.IPv4Address, str] = {}  # the router node may claim a gateway
        plans = {d.name: self.plan_interfaces(d, nets, taken) for d in self.drafts.values()}
        self.allocate_auto(plans, nets, taken)
        return [self.freeze(d, plans[d.name], nets) for d in self.drafts.values()]

    def freeze(self, d: Draft, plan: list[dict[str, Any]], nets: dict[str, m.Network]
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
            symbol=symbol_for(role, d.name == getattr(self.bp.controller, "node", None),
                              pick("symbol", None, None), CATEGORY_SYMBOLS.get(app.category),
                              SYMBOLS["qemu"]),
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

    def place_computes(self, nodes: list[m.Node]) -> list[m.Node]:
        """Check every ``compute:`` and, with ``placement: spread``, put each unplaced VM on the
        compute with the most RAM left (largest VMs first, ties by name: deterministic)."""
        computes = self.bp.computes
        free = {name: c.ram_mb for name, c in computes.items()}
        for d in self.drafts.values():
            name = d.settings.get("compute")
            if name is not None and name not in computes:
                self.problem(d.path + ("compute",), f"unknown compute '{name}'",
                             closest_fix(name, computes) if computes else
                             "declare it under 'computes:' with its ram_mb")
        if self.bp.placement == "spread" and not computes:
            self.problem(("placement",), "placement: spread needs at least one compute",
                         "declare 'computes: {NAME: {ram_mb: N}}'")
        placed = {d.name: d.settings.get("compute") for d in self.drafts.values()}
        for n in nodes:
            if placed[n.name] in free and n.is_vm:
                free[str(placed[n.name])] -= n.ram
        if self.bp.placement == "spread" and free:
            for n in sorted((n for n in nodes if placed[n.name] is None and n.is_vm),
                            key=lambda n: (-n.ram, n.name)):
                target = max(sorted(free), key=lambda c: free[c])
                placed[n.name] = target
                free[target] -= n.ram
        for name, left in sorted(free.items()):
            if left < 0:
                self.problem(("computes", name, "ram_mb"), f"compute '{name}' gets "
                             f"{computes[name].ram_mb - left} MB of VMs but has "
                             f"{computes[name].ram_mb} MB", "add RAM, add a compute, or "
                             "move nodes")
        return [replace(n, compute=placed[n.name]) for n in nodes]

    @staticmethod
    def setting(d: Draft, key: str, appliance_value: Any, fallback: Any) -> Any:
        """Defaults precedence, the one helper: node > group > appliance > defaults."""
        written = d.settings.get("_written", {})
        if key in written and written[key] > 0:
            return d.settings[key]
        if appliance_value is not None:
            return appliance_value
        return d.settings.get(key, fallback)

    def wants_seed(self, d: Draft) -> bool:
        """A seed ISO when the blueprint says so, else when the appliance reads one."""
        return bool(self.setting(d, "seed", d.appliance.cloud_init if d.appliance else None,
                                 False))

    def base_image(self, d: Draft, app: Appliance) -> m.BaseImage:
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
            size = bp.parse_size(value)
        except ValueError as exc:
            self.problem(path, str(exc), "write e.g. 20G")
            return None
        if not MIN_DISK <= size <= MAX_DISK:
            self.problem(path, f"disk size {value} is out of range", "give between 1M and 64T")
            return None
        return size

    def data_disks(self, d: Draft) -> tuple[m.DataDisk, ...]:
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

    def cloud_init(self, d: Draft) -> m.CloudInitSpec:
        layers: list[bp.CloudInit] = d.settings.get("cloud_init", [])
        users: list[m.CloudInitUser] = []
        extra_keys: list[str] = []
        packages, files, bootcmd, runcmd = [], [], [], []
        raw: dict[str, Any] = {}
        for layer in layers:
            for u in layer.users or []:
                users = [x for x in users if x.name != u.name]
                users.append(m.CloudInitUser(u.name, u.sudo, u.shell, tuple(u.ssh_keys),
                                             self.password_hash(d, u), tuple(u.groups)))
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
                                   first.ssh_keys + tuple(extra_keys), first.password_hash,
                                   first.groups)
        return m.CloudInitSpec(tuple(users), tuple(dict.fromkeys(packages)), tuple(files),
                               tuple(bootcmd), tuple(runcmd), tuple(sorted(raw.items())))

    def password_hash(self, d: Draft, user: bp.Users) -> str | None:
        """The user's console password as SHA-512 crypt, salted by lab, node and user."""
        if user.password is not None and user.password_hash is not None:
            self.problem(d.path + ("cloud_init",), f"user '{user.name}' gives both password "
                         "and password_hash", "keep one of them")
        if user.password is None:
            return user.password_hash
        return sha512_crypt(user.password, derived_salt(self.bp.name, d.name, user.name))

    def injects(self, d: Draft) -> tuple[m.InjectSpec, ...]:
        out = []
        for layer in d.settings.get("inject", []):
            for i, item in enumerate(layer):
                path = d.path + ("inject", i)
                given = [k for k in ("content", "source", "symlink")
                         if getattr(item, k) is not None]
                if len(given) != 1:
                    self.problem(path, f"inject of {item.path} gives "
                                 f"{' and '.join(given) or 'none of content, source, symlink'}",
                                 "give exactly one of content:, source: or symlink:")
                source = None
                if item.source is not None:
                    try:
                        source = confined(self.src.folder, item.source, "any")
                    except Refused as exc:
                        self.problem(path + ("source",), exc.message, exc.fix)
                if ".." in item.path.split("/"):
                    self.problem(path + ("path",), f"guest path '{item.path}' must stay inside "
                                 "the guest root", "write e.g. /etc/motd")
                if item.enable and not UNIT_RE.match(item.path.rsplit("/", 1)[-1]):
                    self.problem(path + ("enable",), f"'{item.path}' is not a systemd unit file "
                                 "to enable", "name a file like /etc/systemd/system/x.service")
                out.append(m.InjectSpec(
                    path=item.path, content=item.content.encode() if item.content is not None
                    else None, source=source, mode=int(item.mode, 8) if item.mode else None,
                    owner=item.owner, group=item.group, symlink=item.symlink,
                    enable=item.enable))
        return tuple(out)

    def lab_key(self) -> Path | None:
        """``ssh_key:``: a private key file in the blueprint folder, with its ``.pub``."""
        if self.bp.ssh_key is None:
            return None
        try:
            key = confined(self.src.folder, self.bp.ssh_key, "file")
            confined(self.src.folder, self.bp.ssh_key + ".pub", "file")
        except Refused as exc:
            self.problem(("ssh_key",), exc.message, "give a private key file in the blueprint "
                         "folder with its .pub beside it, or drop ssh_key: to generate one")
            return None
        return key


def resolve_lab(blueprint: bp.Blueprint, source: bp.Source, catalogue: Catalogue) -> m.Lab:
    """Resolve a loaded blueprint into the frozen lab model (raises BlueprintError)."""
    return Resolver(blueprint, source, catalogue).run()
