"""The Ansible documents the controller gets (pure): the inventory of managed nodes with their
variables, and ``group_vars/all.yml`` with the lab-wide data."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from generator.model import GuestInterface, Lab
from generator.render.stages import Managed, controller_of, management_address
from generator.render.yamltext import generated_yaml

RESERVED_GROUPS = frozenset({"all", "ungrouped"})


def _interface_data(iface: GuestInterface) -> dict[str, Any]:
    """A guest interface as plain data (empty and default fields left out, ``dhcp`` kept)."""
    data = {f.name: getattr(iface, f.name) for f in fields(iface) if f.name != "name"}
    data.update(members=list(iface.members), addresses=[str(a) for a in iface.addresses],
                gateway=str(iface.gateway) if iface.gateway else None, dns=list(iface.dns),
                routes=[{"to": t, "via": v} for t, v in iface.routes])
    return {k: v for k, v in data.items() if v not in (None, [], False) or k == "dhcp"}


def _host_vars(lab: Lab, m: Managed) -> dict[str, Any]:
    node = m.node
    out: dict[str, Any] = {
        "ansible_host": m.address, "ansible_user": m.user,
        "ansible_python_interpreter": "/usr/bin/python3",
        "lab_addresses": {i.network: str(i.addresses[0].ip) for i in reversed(node.interfaces)
                          if i.network and i.addresses},
        "lab_macs": {n.name: n.mac for n in node.nics},
        "lab_interfaces": {i.name: _interface_data(i) for i in node.interfaces},
        "lab_role": node.role, "lab_groups": list(node.groups),
    }
    if lab.controller and node.name == controller_of(lab).node:
        out["ansible_connection"] = "local"
    return out


def render_inventory(lab: Lab, managed: list[Managed]) -> bytes:
    """inventory.yml: every managed node with its vars; one group per blueprint group and role."""
    names = {m.node.name for m in managed}
    groups: dict[str, dict[str, Any]] = {}
    for m in managed:
        for group in (*m.node.groups, m.node.role):
            if group and group not in names and group not in RESERVED_GROUPS:
                groups.setdefault(group, {"hosts": {}})["hosts"][m.node.name] = {}
    doc = {"all": {"hosts": {m.node.name: _host_vars(lab, m) for m in managed},
                   "children": groups}}
    return generated_yaml(doc)


def render_group_vars(lab: Lab) -> bytes:
    """group_vars/all.yml: lab-wide data for every playbook; ``lab_extra`` is the blueprint's
    free ``extra:`` data as written, for the user's own playbooks (no generated file reads it)."""
    ctl = controller_of(lab)
    controller = lab.node(ctl.node)
    networks = {n.name: {k: v for k, v in {
        "cidr": str(n.cidr), "gateway": str(n.gateway) if n.gateway else None, "vlan": n.vlan,
        "dns": list(n.dns) or None, "domain": n.domain, "dhcp": n.name in ctl.dhcp}.items()
        if v is not None} for n in lab.networks}
    address = management_address(lab, controller)
    doc = {"lab_name": lab.name, "lab_domain": lab.domain, "lab_controller": ctl.node,
           "lab_dns_server": str(address.ip) if address else None, "lab_networks": networks,
           "lab_extra": lab.extra_vars.thaw(), "lab_uplink": ctl.uplink}
    return generated_yaml({k: v for k, v in doc.items() if v is not None})
