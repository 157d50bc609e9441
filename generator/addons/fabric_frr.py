"""The FRR fabric as data, planned from the lab's links (:func:`frr_fabric_data`, one dict per
switch): an open, standard spine-leaf where the Cumulus backend has CLAG.

Which VMs are FRR switches is a setting (``extra.frr_roles``: their roles), not a guess from
names. Then the links decide everything (the management port, adapter 0, is never fabric):

- every link between two FRR switches is an underlay link: eBGP *unnumbered* (IPv6 link-local
  next hops, RFC 5549), BFD on every session, IPv4 unicast for the loopbacks and l2vpn evpn;
- a switch linked to servers is a *leaf* (a VTEP); one linked only to switches is a *spine*
  (it relays EVPN routes, has no VNI); one linked to neither switches nor bonds is an *access*
  switch (the out-of-band switch: one untagged bridge of its linked ports, no routing);
- every server bond whose members reach leaves becomes one LACP bond per leaf; when it reaches
  two or more leaves it is an EVPN multihoming Ethernet segment: the same ``es-id`` and
  ``es-sys-mac`` on every leaf of it (the ESI is type 3: sys-mac + es-id), and the leaf bonds'
  LACP actor system is that MAC, so the server sees one partner on all members;
- each VLAN a leaf carries is an L2VNI of the same number (VLAN 10 -> VNI 10), one VXLAN
  device per VNI in a VLAN-aware bridge: the lab's networks stretch across the fabric.

Identity comes from the switch's OOB address (its host number H, which the blueprint plans per
role), so adding a switch never renumbers the others: ASN 65000+H (every switch its own AS:
eBGP everywhere, no route reflector), loopback and VTEP address ``loopbacks``.H. The es-id of a
bond is the lowest port number of its members on its first leaf (as the CLAG id is), and the
es-sys-mac is one per set of leaves, from the range Cumulus uses for CLAG system MACs.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from generator.addons.fabric_plan import (
    MAX_IFNAME,
    SYS_MAC_BASE,
    bond_vids,
    mgmt_port,
    port_number,
    sorted_ports,
)
from generator.addons.fabric_settings import FabricSettings
from generator.errors import FabricError
from generator.model import Endpoint, GuestInterface, Lab, Node

ASN_BASE = 65000  # private 2-byte ASNs: 65000 + the switch's OOB host number
UNDERLAY_MTU = 9216  # VXLAN adds 50 bytes: the underlay carries full 1500-byte host frames


def frr_switches(lab: Lab, settings: FabricSettings) -> dict[str, Node]:
    """The FRR switches: VMs whose role ``extra.frr_roles`` names, by name."""
    roles = set(settings.frr_roles)
    return {n.name: n for n in sorted(lab.vms, key=lambda n: n.name) if n.role in roles}


def _data_links(lab: Lab, node: Node) -> list[tuple[Endpoint, Endpoint]]:
    """(local, remote) of every link on the node's data ports (not its management port)."""
    mgmt = mgmt_port(node)
    return sorted(((a, b) for a, b in lab.links_of(node.name) if a.port_name != mgmt),
                  key=lambda ends: (port_number(ends[0].port_name), ends[0].port_name))


def _is_underlay(lab: Lab, remote: Endpoint, switches: dict[str, Node]) -> bool:
    """A link to another FRR switch's data port (its management port is the OOB network's)."""
    far = switches.get(remote.node)
    return far is not None and remote.port_name != mgmt_port(far)


def _host_number(node: Node) -> int:
    """The last octet of the switch's OOB (management port) address: its identity."""
    mgmt = mgmt_port(node)
    iface = next((i for i in node.interfaces if i.name == mgmt and i.addresses), None)
    if iface is None:
        raise FabricError(f"FRR switch '{node.name}' has no address on its management port "
                          f"{mgmt}", hint="give it one (e.g. eth0: {network: oob, dhcp: true, "
                          "address: ...}): its ASN and loopback derive from it")
    return int(iface.addresses[0].ip) & 0xFF


def _bond_of(node: Node, nic: str) -> GuestInterface | None:
    return next((i for i in node.interfaces if i.kind == "bond" and nic in i.members), None)


def _classify(lab: Lab, switches: dict[str, Node]) -> dict[str, str]:
    """spine, leaf or access for every FRR switch, from what its data ports lead to."""
    kinds = {}
    for name, node in switches.items():
        links = _data_links(lab, node)
        to_switch = any(_is_underlay(lab, r, switches) for _, r in links)
        to_bond = any(r.node not in switches and lab.node(r.node).is_vm
                      and _bond_of(lab.node(r.node), r.port_name) for _, r in links)
        kinds[name] = "leaf" if to_bond else "spine" if to_switch else "access"
    return kinds


def _leaf_bonds(lab: Lab, leaves: list[str], switches: dict[str, Node]
                ) -> dict[tuple[str, str], dict[str, list[str]]]:
    """(server, bond) -> {leaf: its ports to that bond}, for every bond on the leaves."""
    out: dict[tuple[str, str], dict[str, list[str]]] = {}
    for leaf in leaves:
        for local, remote in _data_links(lab, switches[leaf]):
            if remote.node in switches:
                continue
            where = f"link {leaf}:{local.port_name} -- {remote.node}:{remote.port_name}"
            far = lab.node(remote.node)
            bond = _bond_of(far, remote.port_name) if far.is_vm else None
            if bond is None:
                raise FabricError(f"{where}: a leaf port must end in a server's bond member",
                                  hint=f"bond {remote.port_name} in the interfaces of "
                                  f"'{remote.node}', or plug it into the out-of-band switch")
            out.setdefault((remote.node, bond.name), {}).setdefault(leaf, []).append(
                local.port_name)
    return dict(sorted(out.items()))


def _bond_name(server: str, bond: str, es_id: int) -> str:
    """``infra1-bond0``, or ``es<id>`` when that exceeds the 15 characters of a Linux name."""
    name = f"{server}-{bond}"
    return name if len(name) <= MAX_IFNAME else f"es{es_id}"


def _plan_bonds(lab: Lab, leaves: list[str], switches: dict[str, Node], provider: tuple[int, ...]
                ) -> dict[str, dict[str, dict[str, Any]]]:
    """leaf -> {bond name: members, es-id, es-sys-mac, VLANs, remote}, sorted by es-id."""
    plans = _leaf_bonds(lab, leaves, switches)
    leaf_sets = sorted({tuple(sorted(on)) for on in plans.values() if len(on) > 1})
    out: dict[str, dict[str, dict[str, Any]]] = {leaf: {} for leaf in leaves}
    for (server, bond), on in plans.items():
        first = sorted(on)[0]
        es_id = min(port_number(p) for p in on[first])
        multihomed = len(on) > 1
        sys_mac = (f"{SYS_MAC_BASE}{leaf_sets.index(tuple(sorted(on))) + 1:02x}"
                   if multihomed else None)
        vids = list(bond_vids(lab.node(server), bond, provider))
        for leaf, ports in on.items():
            name = _bond_name(server, bond, es_id)
            if name in out[leaf]:
                raise FabricError(f"switch '{leaf}': two bonds would be named '{name}'",
                                  hint="shorten the node names (bond names take 15 characters)")
            out[leaf][name] = {"members": sorted_ports(ports), "es_id": es_id if multihomed
                               else None, "es_sys_mac": sys_mac, "vids": vids,
                               "remote": f"{server}:{bond}"}
    return {leaf: dict(sorted(b.items(), key=lambda kv: (kv[1]["es_id"] or 0, kv[0])))
            for leaf, b in out.items()}


def _switch(node: Node, kind: str, settings: FabricSettings) -> dict[str, Any]:
    """What every FRR switch entry has: kind, identity (ASN, loopback), OOB address."""
    host = _host_number(node)
    loopbacks = ipaddress.IPv4Network(settings.frr_loopbacks)
    if host >= loopbacks.num_addresses:
        raise FabricError(f"FRR switch '{node.name}': host number {host} is outside "
                          f"frr_loopbacks {loopbacks}", hint="give extra.frr_loopbacks a /24")
    mgmt = mgmt_port(node)
    oob = next(i for i in node.interfaces if i.name == mgmt and i.addresses)
    return {"backend": "frr", "kind": kind, "role": node.role, "asn": ASN_BASE + host,
            "loopback": str(loopbacks.network_address + host),
            "mgmt_port": mgmt, "mgmt_address": str(oob.addresses[0].ip)}


def frr_fabric_data(lab: Lab, settings: FabricSettings, provider: tuple[int, ...]
                    ) -> dict[str, Any]:
    """The whole FRR fabric as data: VLANs (= VNIs), and one entry per FRR switch."""
    switches = frr_switches(lab, settings)
    kinds = _classify(lab, switches)
    leaves = [name for name, kind in kinds.items() if kind == "leaf"]
    bonds = _plan_bonds(lab, leaves, switches, provider)
    vlans = sorted({v for by_leaf in bonds.values() for b in by_leaf.values() for v in b["vids"]})
    out: dict[str, Any] = {}
    for name, node in switches.items():
        entry = _switch(node, kinds[name], settings)
        links = _data_links(lab, node)
        if kinds[name] == "access":
            entry["bridge_ports"] = sorted_ports(local.port_name for local, _ in links)
        else:
            entry["uplinks"] = {local.port_name: f"{remote.node}:{remote.port_name}"
                                for local, remote in links if _is_underlay(lab, remote, switches)}
        if kinds[name] == "leaf":
            leaf_vlans = sorted({v for b in bonds[name].values() for v in b["vids"]})
            entry["vlans"] = leaf_vlans
            entry["bonds"] = bonds[name]
        out[name] = entry
    return {"backend": "frr", "vlans": vlans, "switches": out}
