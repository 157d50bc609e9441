"""Resolution step: networks, planned addresses (given, host numbers, templates, ``auto``) and
the guest interfaces (ethernet, bond, VLAN, bridge) that network-config is rendered from."""

from __future__ import annotations

import ipaddress
from typing import Any

from generator import model as m
from generator.blueprint import schema as bp
from generator.naming import TEMPLATE_RE, closest_fix, fill_template
from generator.resolve.state import Draft, ResolverBase


class AddressSteps(ResolverBase):
    """Network and interface resolution; mixed into :class:`generator.resolve.lab.Resolver`."""

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
            if spec.pool:
                first, _, last = spec.pool.partition("-")
                lo, hi = int(first), int(last)
                if not 0 < lo <= hi < cidr.num_addresses - 1:
                    self.problem(path + ("pool",), f"pool {spec.pool} is not a range of host "
                                 f"numbers in {cidr}", f"write first-last with 1 <= first <= "
                                 f"last <= {cidr.num_addresses - 2}")
            gateway = None
            if spec.gateway:
                gateway = self.address_in(path + ("gateway",), spec.gateway, cidr)
            nets[name] = m.Network(name=name, cidr=cidr, vlan=spec.vlan, gateway=gateway,
                                   dns=tuple(str(self.ip(path + ("dns", i), x))
                                             for i, x in enumerate(spec.dns or ())),
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

    def plan_interfaces(self, d: Draft, nets: dict[str, m.Network],
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
                    try:
                        entry["addresses"].append(ipaddress.IPv4Interface(str(address)))
                    except ValueError as exc:
                        self.problem(path + ("address",), f"bad address '{address}': {exc}",
                                     "write e.g. 10.0.0.5/24")
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

    def ip(self, path: tuple, value: str) -> ipaddress.IPv4Address | None:
        """An IPv4 address as written, or None with a problem."""
        try:
            return ipaddress.IPv4Address(value)
        except ValueError:
            self.problem(path, f"'{value}' is not an IPv4 address", "write e.g. 10.0.0.1")
            return None

    def routes(self, path: tuple, routes: list[dict[str, str]]) -> tuple[tuple[str, str], ...]:
        out = []
        for i, route in enumerate(routes):
            if set(route) != {"to", "via"}:
                self.problem(path + (i,), "a route has exactly 'to' and 'via'",
                             "write e.g. {to: 10.1.0.0/16, via: 10.0.0.1}")
                continue
            try:
                to = ipaddress.IPv4Network(route["to"], strict=True)
            except ValueError:
                self.problem(path + (i, "to"), f"'{route['to']}' is not an IPv4 network",
                             "write e.g. 10.1.0.0/16")
                continue
            via = self.ip(path + (i, "via"), route["via"])
            if via is not None:
                out.append((str(to), str(via)))
        return tuple(out)

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

    def guest_interfaces(self, d: Draft, plan: list[dict[str, Any]], nics: tuple[m.Nic, ...],
                         nets: dict[str, m.Network]) -> tuple[m.GuestInterface, ...]:
        by_name = {n.name: n for n in nics}
        declared = {e["name"] for e in plan}
        out: list[m.GuestInterface] = []
        for entry in plan:
            out.append(self.guest_interface(d, entry, by_name, declared, nets))
        return tuple(out)

    def guest_interface(self, d: Draft, entry: dict[str, Any], nics: dict[str, m.Nic],
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
            gateway = self.ip(path + ("gateway",), iface.gateway)
        dns = tuple(iface.dns if iface.dns is not None else (net.dns if net and gateway else ()))
        for i, server in enumerate(iface.dns or ()):
            self.ip(path + ("dns", i), server)
        common = dict(name=name, network=iface.network, addresses=tuple(entry["addresses"]),
                      dhcp=iface.dhcp, gateway=gateway, dns=dns, mtu=iface.mtu,
                      routes=self.routes(path + ("routes",), iface.routes or []))
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
