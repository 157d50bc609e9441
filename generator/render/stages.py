"""The nodes the controller manages and the stages it runs (pure).

Stage hosts are written like Ansible patterns: ``all``, a blueprint group, a role or a node name.
They resolve to the *managed* nodes: VMs with an address the controller can reach (their planned
address on the first DHCP network, else on another DHCP network, else their first static one).
After the blueprint's stages (or one ``main`` stage running ``controller.playbooks``) comes the
final ``check`` stage over every managed node.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from generator.model import Controller, Lab, Node, StageSpec
from generator.render.logins import default_user

CHECK_STAGE = "check"
CHECK_PLAYBOOK = "playbooks/check.yml"
DEFAULT_STAGE = "main"


@dataclass(frozen=True)
class Managed:
    """A node the controller manages: where it answers SSH and as whom."""

    node: Node
    address: str
    user: str


@dataclass(frozen=True)
class Stage:
    name: str
    hosts: tuple[str, ...]
    playbooks: tuple[str, ...]
    timeout: int


def controller_of(lab: Lab) -> Controller:
    assert lab.controller is not None, "the lab has no controller"
    return lab.controller


def management_address(lab: Lab, node: Node) -> ipaddress.IPv4Interface | None:
    """Where the controller reaches ``node``: its planned address on the first DHCP network,
    else on another DHCP network, else its first static address."""
    for net in lab.controller.dhcp if lab.controller else ():
        addr = node.address_on(net)
        if addr is not None:
            return addr
    return next((a for i in node.interfaces if not i.dhcp for a in i.addresses), None)


def managed_nodes(lab: Lab) -> list[Managed]:
    """Every VM with a management address, in blueprint order (the controller included)."""
    out = []
    for node in lab.vms:
        addr = management_address(lab, node)
        if addr is not None:
            out.append(Managed(node, str(addr.ip), default_user(node)))
    return out


def resolve_hosts(lab: Lab, patterns: list[str]) -> tuple[str, ...]:
    """Managed node names matching ``all``, groups, roles or node names, in blueprint order."""
    wanted = set(patterns)
    return tuple(m.node.name for m in managed_nodes(lab)
                 if "all" in wanted or m.node.name in wanted or m.node.role in wanted
                 or wanted & set(m.node.groups))


def resolve_stages(lab: Lab) -> tuple[Stage, ...]:
    """The blueprint's stages (or one ``main`` stage running controller.playbooks), resolved,
    then the final ``check`` stage over every managed node."""
    ctl = controller_of(lab)
    specs = list(ctl.stages)
    if not specs and ctl.playbooks:
        specs = [StageSpec(DEFAULT_STAGE, ("all",), ctl.playbooks, (), ctl.timeout)]
    stages = [Stage(name=s.name, hosts=resolve_hosts(lab, list(s.hosts)),
                    playbooks=s.playbooks + s.generated, timeout=s.timeout) for s in specs]
    stages.append(Stage(CHECK_STAGE, resolve_hosts(lab, ["all"]), (CHECK_PLAYBOOK,),
                        ctl.timeout))
    return tuple(stages)
