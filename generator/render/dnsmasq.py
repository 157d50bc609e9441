"""The controller's network services (pure): dnsmasq (DHCP with a reservation per node MAC, so
every node gets its planned address, and DNS for the lab's domains) and the NAT rules that take
the lab out of the controller's uplink."""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from generator.model import GuestInterface, Lab, Node
from generator.render.guest_paths import DNSMASQ_CONF, STATE_DIR
from generator.render.stages import controller_of, management_address
from generator.render.templating import render_template

LEASE_TIME = "12h"


def _static_interface(node: Node, network: str) -> GuestInterface | None:
    return next((i for i in node.interfaces
                 if i.network == network and i.addresses and not i.dhcp), None)


def interface_macs(node: Node, iface: GuestInterface) -> list[str]:
    """The MACs a DHCP client on ``iface`` may use: its NIC's, or its members' / link's."""
    by_name = {i.name: i for i in node.interfaces}
    todo, seen, macs = [iface.name], set(), []
    while todo:
        name = todo.pop(0)
        if name in seen:
            continue
        seen.add(name)
        sub, nic = by_name.get(name), node.nic(name)
        if sub is not None and sub.kind != "ethernet":
            todo += [sub.link or ""] if sub.kind == "vlan" else list(sub.members)
        elif nic is not None:
            macs.append(nic.mac)
    return list(dict.fromkeys(macs))


def reservations(lab: Lab, network: str) -> list[tuple[tuple[str, ...], str, str]]:
    """(MACs, node, address) of every node but the controller with a planned address on
    ``network``, in blueprint order."""
    ctl = lab.controller
    out = []
    for node in lab.vms:
        iface = next((i for i in node.interfaces if i.network == network and i.addresses), None)
        if iface is None or (ctl and node.name == ctl.node):
            continue
        macs = tuple(interface_macs(node, iface))
        if macs:
            out.append((macs, node.name, str(iface.addresses[0].ip)))
    return out


def dhcp_range(lab: Lab, network: str) -> str:
    """The largest run of host addresses no node, gateway or controller plans to use."""
    net = lab.network(network)
    taken = {int(a.ip) for n in lab.vms for i in n.interfaces if i.network == network
             for a in i.addresses}
    taken |= {int(net.gateway)} if net.gateway else set()
    first, last = int(net.cidr.network_address) + 1, int(net.cidr.broadcast_address) - 1
    best, start = (0, 0), first
    for used in sorted(t for t in taken if first <= t <= last) + [last + 1]:
        if used - start > best[1] - best[0]:
            best = (start, used)
        start = used + 1
    mask = net.cidr.netmask
    tag = _tag(network)
    if best[1] <= best[0]:
        return f"set:{tag},{net.cidr.network_address},static,{mask},{LEASE_TIME}"
    lo, hi = ipaddress.IPv4Address(best[0]), ipaddress.IPv4Address(best[1] - 1)
    return f"set:{tag},{lo},{hi},{mask},{LEASE_TIME}"


def _tag(network: str) -> str:
    return "net-" + re.sub(r"[^A-Za-z0-9_-]", "_", network)


def reverse_zones(cidr: ipaddress.IPv4Network) -> list[str]:
    """in-addr.arpa zones covering ``cidr`` (whole octets; a /26 claims its /24)."""
    prefix = min(24, -(-cidr.prefixlen // 8) * 8) if cidr.prefixlen % 8 else cidr.prefixlen
    nets = [cidr.supernet(new_prefix=prefix)] if prefix < cidr.prefixlen else \
        list(cidr.subnets(new_prefix=prefix))
    octets = prefix // 8
    return [".".join(reversed(str(n.network_address).split(".")[:octets])) + ".in-addr.arpa"
            for n in nets]


def host_records(lab: Lab) -> list[str]:
    """host-record lines: ``<node>.<lab domain>,<node>,<management address>``, then
    ``<node>.<network domain>,<address>`` for every address on a network."""
    names: dict[str, str] = {}
    for node in lab.vms:
        addr = management_address(lab, node)
        if addr is not None:
            names.setdefault(f"{node.name}.{lab.domain}", f"{node.name},{addr.ip}")
    for node in lab.vms:
        for iface in node.interfaces:
            if iface.network and iface.addresses:
                fqdn = f"{node.name}.{lab.network(iface.network).domain}"
                names.setdefault(fqdn, str(iface.addresses[0].ip))
    return [f"{fqdn},{rest}" for fqdn, rest in names.items()]


def _dhcp_networks(lab: Lab, controller: Node) -> list[dict[str, Any]]:
    ctl = controller_of(lab)
    out = []
    for name in ctl.dhcp:
        net, own = lab.network(name), _static_interface(controller, name)
        assert own is not None
        ip = str(own.addresses[0].ip)
        router = str(net.gateway) if net.gateway else (ip if ctl.uplink else None)
        out.append({"name": name, "cidr": str(net.cidr), "interface": own.name,
                    "tag": _tag(name), "range": dhcp_range(lab, name), "router": router,
                    "dns": ip, "hosts": [f"{','.join(macs)},{node},{address}"
                                         for macs, node, address in reservations(lab, name)]})
    return out


def render_dnsmasq(lab: Lab) -> bytes:
    """/etc/gns3lab/dnsmasq.conf: DHCP with reservations on controller.dhcp, DNS for the lab."""
    ctl = controller_of(lab)
    controller = lab.node(ctl.node)
    listen = [i.name for i in controller.interfaces
              if i.network and i.addresses and i.name != ctl.uplink]
    domains = [lab.domain] + [n.domain for n in lab.networks
                              if not n.domain.endswith("." + lab.domain) and n.domain != lab.domain]
    zones = list(dict.fromkeys(domains + [z for n in lab.networks for z in reverse_zones(n.cidr)]))
    return render_template("dnsmasq.conf.j2", lab=lab.name, controller=ctl.node,
                           conf=DNSMASQ_CONF, upstream=bool(ctl.uplink),
                           interfaces=list(dict.fromkeys(listen)), uplink=ctl.uplink,
                           domain=lab.domain, zones=zones,
                           leases=f"{STATE_DIR}/dnsmasq.leases", records=host_records(lab),
                           networks=_dhcp_networks(lab, controller))


def render_nat(lab: Lab) -> bytes:
    """nat.nft: masquerade every lab network out of the uplink."""
    ctl = controller_of(lab)
    uplink_nets = {i.network for i in lab.node(ctl.node).interfaces if i.name == ctl.uplink}
    sources = [str(n.cidr) for n in lab.networks if n.name not in uplink_nets]
    return render_template("nat.nft.j2", uplink=ctl.uplink, sources=sources)
