"""The fabric as data, planned from the lab's links (:func:`fabric_data`, one dict per switch).

The links decide everything; the management port (adapter 0, as resolution named it: ``eth0``)
is never fabric:

- two Cumulus switches with the same role linked port to port are a CLAG pair, and those links
  are its peer link (sys-mac per pair, priority by name, backup IP = the peer's OOB address);
- a server bond whose members reach a pair becomes one bond on each switch of the pair, with the
  same clag-id on both, trunking the VLANs the server puts on that bond, plus
  ``extra.provider_vlans`` when the bond itself is bridged untagged (as br-vlan is);
- all links between two pairs become one CLAG bond on each side, trunking every fabric VLAN;
- a switch without a peer is an access switch: its linked ports form one untagged bridge (the
  out-of-band switch).

clag-ids are the lowest port number of the bond on the pair's first switch, so adding a server
never renumbers the others.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from generator.addons.fabric_settings import FabricSettings, load_fabric_settings
from generator.errors import FabricError
from generator.model import Endpoint, GuestInterface, Lab, Node
from generator.render.logins import is_cumulus

SYS_MAC_BASE = "44:38:39:ff:00:"  # the range Cumulus reserves for CLAG system MACs
PRIORITIES = (1000, 2000)  # lower wins the primary role
MAX_IFNAME = 15  # Linux interface names (IFNAMSIZ - 1)


@dataclass
class _Bond:
    """A switch-side bond while it is being planned: its far end and members per switch.

    ``remote`` is a server and ``remote_bond`` its bond, or (``remote_bond`` empty) the first
    switch of the other CLAG pair.
    """

    remote: str
    remote_bond: str
    members: dict[str, list[str]] = field(default_factory=dict)
    vids: tuple[int, ...] = ()

    @property
    def to_pair(self) -> bool:
        return not self.remote_bond


def port_number(name: str) -> int:
    match = re.search(r"(\d+)$", name)
    return int(match.group(1)) if match else 0


def sorted_ports(ports: Iterable[str]) -> list[str]:
    return sorted(set(ports), key=lambda p: (port_number(p), p))


def mgmt_port(node: Node) -> str | None:
    """The management port: the name resolution gave adapter 0 (``eth0``; ``swp1`` for
    ``swp{port1}`` without a first port name), or None for a node without NICs."""
    return next((nic.name for nic in node.nics if nic.adapter == 0), None)


def _fabric_links(lab: Lab, node: Node) -> list[tuple[Endpoint, Endpoint]]:
    """(local, remote) of every link on the node's data ports (not its management port)."""
    mgmt = mgmt_port(node)
    return sorted(((a, b) for a, b in lab.links_of(node.name) if a.port_name != mgmt),
                  key=lambda ends: (port_number(ends[0].port_name), ends[0].port_name))


def _oob_address(node: Node) -> str | None:
    """The address of the node's management port (the OOB network), if it has one."""
    mgmt = mgmt_port(node)
    iface = next((i for i in node.interfaces if i.name == mgmt and i.addresses), None)
    return str(iface.addresses[0].ip) if iface else None


def find_pairs(lab: Lab, switches: dict[str, Node]) -> list[tuple[str, str]]:
    """CLAG pairs: two Cumulus switches of the same role linked to each other (sorted)."""
    peers: dict[str, set[str]] = {name: set() for name in switches}
    for name, node in switches.items():
        for _, remote in _fabric_links(lab, node):
            other = switches.get(remote.node)
            if other is not None and other.role == node.role:
                peers[name].add(remote.node)
    pairs = set()
    for name, found in peers.items():
        if len(found) > 1:
            raise FabricError(f"switch '{name}' is linked to {len(found)} switches of its role "
                              f"'{switches[name].role}' ({', '.join(sorted(found))}); a CLAG "
                              "pair has two", hint="give the switches of each pair its own role")
        if found:
            pairs.add(tuple(sorted((name, *found))))
    return sorted(pairs)  # type: ignore[arg-type]


def _guest_bond(node: Node, nic: str) -> GuestInterface | None:
    return next((i for i in node.interfaces if i.kind == "bond" and nic in i.members), None)


def bond_vids(node: Node, bond: str, provider: tuple[int, ...]) -> tuple[int, ...]:
    """VLANs a server sends on one of its bonds: its VLAN interfaces on the bond, plus the
    provider VLANs if the bond itself is a bridge port (untagged bridging, as br-vlan is)."""
    vids = {i.vlan_id for i in node.interfaces
            if i.kind == "vlan" and i.link == bond and i.vlan_id is not None}
    if any(i.kind == "bridge" and bond in i.members for i in node.interfaces):
        vids.update(provider)
    return tuple(sorted(vids))


def fabric_settings(lab: Lab) -> FabricSettings:
    """The fabric settings resolve planned (ValueError for a lab it did not plan: a caller
    that renders a lab resolve refused is a bug)."""
    settings = load_fabric_settings(lab)
    if settings is None:
        raise ValueError(f"lab '{lab.name}' has no fabric plan: resolve it first")
    return settings


def cumulus_switches(lab: Lab, settings: FabricSettings) -> dict[str, Node]:
    """The Cumulus switches this backend configures: not those in ``frr_roles`` (the FRR
    backend's, whatever their image)."""
    return {n.name: n for n in sorted(lab.vms, key=lambda n: n.name)
            if is_cumulus(n) and n.role not in settings.frr_roles}


def _far_end(lab: Lab, switch: str, remote: Endpoint, pair_of: dict[str, tuple[str, str]],
             switches: dict[str, Node]) -> tuple[str, str]:
    """What a data link of a paired switch leads to: (other pair's first switch, '') or
    (server, its bond)."""
    where = f"link {switch} -- {remote.node}:{remote.port_name}"
    if remote.node in pair_of:
        return (pair_of[remote.node][0], "")
    if remote.node in switches:
        raise FabricError(f"{where}: '{remote.node}' is a switch without a CLAG peer",
                          hint="link paired switches to pairs, or give it a peer of its role")
    node = lab.node(remote.node)
    if not node.is_vm:
        raise FabricError(f"{where}: a {node.type} node cannot join the CLAG fabric",
                          hint="plug it into the out-of-band switch or a VM instead")
    bond = _guest_bond(node, remote.port_name)
    if bond is None:
        raise FabricError(f"{where}: {remote.node}:{remote.port_name} is not in a bond",
                          hint=f"bond it in the interfaces of '{remote.node}' (bond: [...])")
    return (remote.node, bond.name)


def _plan_pair(lab: Lab, pair: tuple[str, str], switches: dict[str, Node],
               pair_of: dict[str, tuple[str, str]]
               ) -> tuple[dict[str, list[str]], list[_Bond]]:
    """The pair's peer-link members and its bonds (members per switch), from its links."""
    peerlink: dict[str, list[str]] = {name: [] for name in pair}
    bonds: dict[tuple[str, str], _Bond] = {}
    for name in pair:
        for local, remote in _fabric_links(lab, switches[name]):
            if remote.node in pair:
                peerlink[name].append(local.port_name)
                continue
            key = _far_end(lab, name, remote, pair_of, switches)
            bond = bonds.setdefault(key, _Bond(remote=key[0], remote_bond=key[1]))
            bond.members.setdefault(name, []).append(local.port_name)
    return peerlink, list(bonds.values())


def _clag_id(bond: _Bond, pair: tuple[str, str]) -> int | None:
    """Dual-connected bonds: the lowest port number on the pair's first switch; else None."""
    if not all(bond.members.get(name) for name in pair):
        return None
    return min(port_number(p) for p in bond.members[pair[0]])


def _bond_name(bond: _Bond, clag_id: int | None, switch: str) -> str:
    """``infra1-bond0``, ``to-spine01``; ``bond<id>`` when that exceeds 15 characters."""
    name = f"to-{bond.remote}" if bond.to_pair else f"{bond.remote}-{bond.remote_bond}"
    if len(name) <= MAX_IFNAME:
        return name
    return f"bond{clag_id if clag_id is not None else port_number(bond.members[switch][0])}"


def _switch_bonds(name: str, pair: tuple[str, str], bonds: list[_Bond]) -> dict[str, Any]:
    """The bonds of one switch of a pair, as data, sorted by clag-id then name."""
    out: dict[str, dict[str, Any]] = {}
    for bond in bonds:
        if name not in bond.members:
            continue
        clag_id = _clag_id(bond, pair)
        bond_name = _bond_name(bond, clag_id, name)
        if bond_name in out:
            raise FabricError(f"switch '{name}': two bonds would be named '{bond_name}'",
                              hint="shorten the node names (bond names take 15 characters)")
        remote = bond.remote if bond.to_pair else f"{bond.remote}:{bond.remote_bond}"
        out[bond_name] = {"members": sorted_ports(bond.members[name]), "clag_id": clag_id,
                          "vids": list(bond.vids), "remote": remote}
    return dict(sorted(out.items(), key=lambda kv: (kv[1]["clag_id"] or 0, kv[0])))


def _peerlink(name: str, pair: tuple[str, str], members: list[str], index: int,
              switches: dict[str, Node]) -> dict[str, Any]:
    """One side of a pair's peer link: the pair's sys-mac, this side's priority and role."""
    first = name == pair[0]
    peer = pair[1] if first else pair[0]
    return {"peer": peer, "members": sorted_ports(members),
            "sys_mac": f"{SYS_MAC_BASE}{index:02x}",
            "backup_ip": _oob_address(switches[peer]),
            "priority": PRIORITIES[0] if first else PRIORITIES[1],
            "role": "primary" if first else "secondary"}


def _common(node: Node) -> dict[str, Any]:
    """What every switch entry has: role, version, CLI (by major version), OOB address."""
    assert node.image is not None
    version = node.image.appliance_version
    major = int(m.group()) if (m := re.match(r"\d+", version)) else 0
    return {"role": node.role, "version": version, "cli": "nvue" if major >= 5 else "nclu",
            "mgmt_address": _oob_address(node)}


def _access_switch(lab: Lab, node: Node) -> dict[str, Any]:
    """A switch without a peer: one untagged bridge of its linked data ports."""
    ports = []
    for local, remote in _fabric_links(lab, node):
        far = lab.node(remote.node)
        if far.is_vm and not is_cumulus(far) and _guest_bond(far, remote.port_name):
            raise FabricError(f"link {node.name}:{local.port_name} -- {remote.node}:"
                              f"{remote.port_name}: a bond member on a switch without a CLAG "
                              "peer", hint="give the switch a peer of its role, or unbond it")
        ports.append(local.port_name)
    return {**_common(node), "mode": "access", "vlans": [], "bridge_ports": sorted_ports(ports)}


def fabric_data(lab: Lab) -> dict[str, Any]:
    """The whole fabric as data: VLANs, CLAG pairs and one entry per Cumulus switch."""
    settings = fabric_settings(lab)
    switches = cumulus_switches(lab, settings)
    pairs = find_pairs(lab, switches)
    pair_of = {name: pair for pair in pairs for name in pair}
    provider = settings.provider_vlans
    plans = {pair: _plan_pair(lab, pair, switches, pair_of) for pair in pairs}
    for _, bonds in plans.values():
        for bond in bonds:
            if not bond.to_pair:
                bond.vids = bond_vids(lab.node(bond.remote), bond.remote_bond, provider)
    vlans = sorted({v for _, bonds in plans.values() for b in bonds for v in b.vids})
    for _, bonds in plans.values():
        for bond in bonds:
            if bond.to_pair:
                bond.vids = tuple(vlans)
    out: dict[str, Any] = {}
    for index, pair in enumerate(pairs, start=1):
        peerlink, bonds = plans[pair]
        for name in pair:
            out[name] = {**_common(switches[name]), "mode": "clag", "vlans": vlans,
                         "peerlink": _peerlink(name, pair, peerlink[name], index, switches),
                         "bonds": _switch_bonds(name, pair, bonds)}
    for name, node in switches.items():
        if name not in pair_of:
            out[name] = _access_switch(lab, node)
    return {"vlans": vlans, "pairs": [list(p) for p in pairs],
            "switches": dict(sorted(out.items()))}
