"""Cloud-init NoCloud documents for a node (pure): meta-data, user-data, network-config v2.

Rules the documents follow:
- every NIC the config names is matched by MAC and renamed to its GNS3 port name, so the names
  in the blueprint, in GNS3 and in the guest are the same;
- the lab's public key goes to the first (default) user, so the controller can manage the node;
- add-ons' seed parts (``AddonPlan.seeds``, decided at resolve) add their files after the
  node's own ``write_files`` and their commands before its own ``runcmd``;
- raw ``user_data`` keys from the blueprint are merged over the generated document last.
"""

from __future__ import annotations

import hashlib
from typing import Any

from generator.model import Command, GuestInterface, Lab, Node
from generator.render.yamltext import dump_yaml


def render_network_config(node: Node, domain: str) -> dict[str, Any]:
    """network-config version 2 for the node's guest interfaces."""
    doc: dict[str, Any] = {"version": 2}
    sections = {"ethernet": "ethernets", "bond": "bonds", "vlan": "vlans", "bridge": "bridges"}
    declared = {i.name for i in node.interfaces}
    # Bond members and bridge ports must be declared as ethernets too.
    implied = [n for i in node.interfaces if i.kind in ("bond", "bridge") for n in i.members
               if n not in declared and node.nic(n) is not None]
    for name in dict.fromkeys(implied):
        nic = node.nic(name)
        assert nic is not None
        doc.setdefault("ethernets", {})[name] = _ethernet_match(name, nic.mac)
    for iface in node.interfaces:
        body = _interface_body(node, iface, domain)
        doc.setdefault(sections[iface.kind], {})[iface.name] = body
    return doc


def _ethernet_match(name: str, mac: str) -> dict[str, Any]:
    return {"match": {"macaddress": mac}, "set-name": name}


def _interface_body(node: Node, iface: GuestInterface, domain: str) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if iface.kind == "ethernet" and iface.mac:
        body.update(_ethernet_match(iface.name, iface.mac))
    elif iface.kind == "bond":
        params: dict[str, Any] = {"mode": iface.bond_mode}
        if iface.bond_mode == "802.3ad" and iface.bond_lacp_rate:
            params["lacp-rate"] = iface.bond_lacp_rate
        if iface.bond_mii_monitor:
            params["mii-monitor-interval"] = iface.bond_mii_monitor
        if iface.bond_hash_policy and iface.bond_mode in ("802.3ad", "balance-xor"):
            params["transmit-hash-policy"] = iface.bond_hash_policy
        body["interfaces"] = list(iface.members)
        body["parameters"] = params
    elif iface.kind == "vlan":
        body.update({"id": iface.vlan_id, "link": iface.link})
    elif iface.kind == "bridge":
        body["interfaces"] = list(iface.members)
        body["parameters"] = {"stp": iface.stp}
    body["dhcp4"] = iface.dhcp
    if iface.dhcp:
        # A planned address on a DHCP interface is the controller's reservation, not static.
        return body
    if iface.addresses:
        body["addresses"] = [str(a) for a in iface.addresses]
    if iface.mtu:
        body["mtu"] = iface.mtu
    routes = [{"to": "0.0.0.0/0", "via": str(iface.gateway)}] if iface.gateway else []
    routes += [{"to": to, "via": via} for to, via in iface.routes]
    if routes:
        body["routes"] = routes
    return body


def render_user_data(node: Node, lab: Lab, lab_public_key: str | None,
                     extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The #cloud-config document (as data) for a node."""
    spec = node.cloud_init
    assert spec is not None, f"{node.name} has no cloud-init settings"
    users: list[Any] = []
    for index, user in enumerate(spec.users):
        keys = list(user.ssh_keys)
        if index == 0 and lab_public_key:
            keys.append(lab_public_key)
        entry: dict[str, Any] = {"name": user.name, "shell": user.shell,
                                 "lock_passwd": user.password_hash is None}
        if user.sudo:
            entry["sudo"] = "ALL=(ALL) NOPASSWD:ALL"
        if user.groups:
            entry["groups"] = ", ".join(user.groups)
        if keys:
            entry["ssh_authorized_keys"] = keys
        if user.password_hash is not None:
            entry["passwd"] = user.password_hash
        users.append(entry)
    doc: dict[str, Any] = {
        "hostname": node.name,
        "fqdn": f"{node.name}.{lab.domain}",
        "prefer_fqdn_over_hostname": False,
        "manage_etc_hosts": True,
        "users": users,
        "ssh_pwauth": False,
    }
    if spec.packages:
        doc["packages"] = list(spec.packages)
    parts = [part for plan in lab.addons for part in plan.seeds if part.node == node.name]
    files = [{"path": p, "content": c, "permissions": perm, "owner": own}
             for p, c, perm, own in spec.write_files + tuple(f for part in parts
                                                              for f in part.write_files)]
    resolv = render_resolv_conf(node, lab.domain)
    if resolv:
        # Debian's ENI renderer cannot set resolvers without resolvconf: write the file.
        files.insert(0, {"path": "/etc/resolv.conf", "content": resolv, "permissions": "0644",
                         "owner": "root:root"})
    for key, value in (extra or {}).items():
        doc[key] = value
    if files:
        doc["write_files"] = files + doc.get("write_files", [])
    if spec.bootcmd:
        doc["bootcmd"] = thawed_commands(spec.bootcmd) + doc.get("bootcmd", [])
    runcmd = tuple(c for part in parts for c in part.runcmd) + spec.runcmd
    if runcmd:
        doc["runcmd"] = doc.get("runcmd", []) + thawed_commands(runcmd)
    doc.update(spec.user_data.thaw())
    return doc


def thawed_commands(commands: tuple[Command, ...]) -> list[str | list[str]]:
    """The model's frozen commands as plain lists, like the rest of the document (an add-on's
    ``extra`` commands are lists too)."""
    return [c if isinstance(c, str) else list(c) for c in commands]


def render_resolv_conf(node: Node, domain: str) -> str:
    """resolv.conf for a node with static DNS servers ('' when DHCP or none)."""
    servers = list(dict.fromkeys(s for i in node.interfaces for s in i.dns))
    if not servers:
        return ""
    return f"search {domain}\n" + "".join(f"nameserver {s}\n" for s in servers)


def render_meta_data(node: Node, user_data: str, network_config: str) -> dict[str, Any]:
    """meta-data: a unique instance-id (changes with the seed content) and the hostname."""
    digest = hashlib.sha256((user_data + network_config).encode()).hexdigest()[:12]
    return {"instance-id": f"{node.name}-{digest}", "local-hostname": node.name}


def render_seed(node: Node, lab: Lab, lab_public_key: str | None,
                extra: dict[str, Any] | None = None) -> dict[str, bytes]:
    """The three NoCloud files of a node, as bytes ready for the ISO."""
    user_data = "#cloud-config\n" + dump_yaml(render_user_data(node, lab, lab_public_key, extra))
    network = dump_yaml(render_network_config(node, lab.domain))
    meta = dump_yaml(render_meta_data(node, user_data, network))
    return {"meta-data": meta.encode(), "network-config": network.encode(),
            "user-data": user_data.encode()}
