"""Resolution step: each QEMU node's appliance (and version), its port names, its adapter
count (from links, interfaces and ``nics:``) and its MACs."""

from __future__ import annotations

import string
from typing import TYPE_CHECKING

from generator.blueprint.appliances import UNSUPPORTED
from generator.errors import BlueprintError, Refused
from generator.naming import derive_mac, mac_add, port_name
from generator.resolve.state import Draft, ResolverBase

if TYPE_CHECKING:
    from generator.blueprint.appliances import Appliance

MAX_ADAPTERS = 275  # GNS3's limit for QEMU adapters


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


class AdapterSteps(ResolverBase):
    """Appliances, ports, adapters and MACs; mixed into :class:`generator.resolve.lab.Resolver`."""

    if TYPE_CHECKING:  # the image-naming steps of resolve/nodes.NodeSteps, mixed in beside
        def reference(self, d: Draft) -> tuple[str, str] | None: ...
        def image_appliance(self, d: Draft, name: str) -> Appliance | None: ...
        def appliance_fix(self, ref: str, known: list[str]) -> str: ...

    def pick_appliances(self) -> None:
        for d in self.drafts.values():
            if d.spec.type != "qemu":
                continue
            chosen = self.reference(d)
            if chosen is None:
                if not d.settings.get("image"):
                    self.problem(d.path, f"node '{d.name}' names no appliance",
                                 "add 'image: <recipe>' (e.g. image: debian-12) or "
                                 "'appliance: <name>' to the node, its group or defaults; "
                                 f"known appliances: {', '.join(self.catalogue.names())}")
                continue
            kind, ref = chosen
            try:
                if kind == "image":
                    d.appliance = self.image_appliance(d, ref)
                    if d.appliance is None:
                        continue
                else:
                    d.appliance = self.catalogue.find(ref, self.src.folder)
            except LookupError:
                self.problem(d.path + ("appliance",), f"unknown appliance '{ref}'",
                             self.appliance_fix(ref, self.catalogue.names()))
                continue
            except Refused as exc:  # a path that leaves the folder, a FIFO, a device...
                self.problem(d.path + ("appliance",), exc.message, exc.fix)
                continue
            except BlueprintError as exc:  # the file it names (or a broken one, which may be
                if ref.endswith(".gns3a"):  # the one a name means) is broken: say where in it
                    self.problem(d.path + ("appliance",), f"appliance file '{ref}' cannot be "
                                 "used", "fix the problems of the file named below")
                self.problems += [p for p in exc.problems if p.render() not in
                                  {q.render() for q in self.problems}]
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
                self.port_format_problem(d, fmt, bad)
                continue
            for adapter in range(MAX_ADAPTERS):
                name = port_name(fmt, first, adapter)
                d.port_names.setdefault(name, adapter)
                d.adapter_names[adapter] = name


    def port_format_problem(self, d: Draft, fmt: str, bad: str) -> None:
        """A bad port_name_format, told where it was written: the blueprint or the appliance."""
        fix = ("use GNS3's fields: {0}, {port0}..{port8}, {segment0}..{segment8}, "
               "e.g. 'eth{0}' or 'swp{port1}'")
        if d.settings["_written"].get("port_name_format", 0) > 0 or d.appliance is None:
            self.problem(d.path + ("port_name_format",), f"port_name_format '{fmt}' {bad}", fix)
            return
        self.problem(d.path + ("appliance",), f"appliance '{d.appliance.name}' has a "
                     f"port_name_format that cannot be used ({d.appliance.path}: "
                     f"port_name_format '{fmt}' {bad})",
                     "set port_name_format: on the node, or fix the appliance's")

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
