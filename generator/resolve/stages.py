"""Resolution step: the nodes the controller manages and the stages it runs.

Stage hosts are written like Ansible patterns: ``all``, a blueprint group, a role or a node name.
They resolve to the *managed* nodes: VMs with an address the controller can reach (their planned
address on the first DHCP network, else on another DHCP network, else their first static one),
which resolution puts on the model as ``Node.management``. After the blueprint's stages (or one
``main`` stage running ``controller.playbooks``) comes the final ``check`` stage over every
managed node; the whole order is ``Controller.bootstrap``. Renderers read these fields and
decide nothing.
"""

from __future__ import annotations

import ipaddress
from dataclasses import replace

from generator.model import Controller, Lab, Node, Stage

CHECK_STAGE = "check"
CHECK_PLAYBOOK = "playbooks/check.yml"
DEFAULT_STAGE = "main"


def management_address(controller: Controller | None, node: Node
                       ) -> ipaddress.IPv4Interface | None:
    """Where the controller reaches ``node``: its planned address on the first DHCP network,
    else on another DHCP network, else its first static address."""
    for net in controller.dhcp if controller else ():
        addr = node.address_on(net)
        if addr is not None:
            return addr
    return next((a for i in node.interfaces if not i.dhcp for a in i.addresses), None)


def stage_hosts(managed: tuple[Node, ...], patterns: tuple[str, ...]) -> tuple[str, ...]:
    """Managed node names matching ``all``, groups, roles or node names, in blueprint order."""
    wanted = set(patterns)
    return tuple(n.name for n in managed
                 if "all" in wanted or n.name in wanted or n.role in wanted
                 or wanted & set(n.groups))


def bootstrap_stages(ctl: Controller, managed: tuple[Node, ...]) -> tuple[Stage, ...]:
    """The blueprint's stages (or one ``main`` stage running controller.playbooks), their hosts
    resolved, then the final ``check`` stage over every managed node."""
    stages = list(ctl.stages)
    if not stages and ctl.playbooks:
        stages = [Stage(DEFAULT_STAGE, ("all",), ctl.playbooks, (), ctl.timeout)]
    stages.append(Stage(CHECK_STAGE, ("all",), (CHECK_PLAYBOOK,), (), ctl.timeout))
    return tuple(replace(s, hosts=stage_hosts(managed, s.patterns)) for s in stages)


def resolve_stages(lab: Lab) -> Lab:
    """The lab with every VM's management address, and the controller's stages with their
    hosts resolved and the bootstrap's whole order (``Controller.bootstrap``)."""
    nodes = tuple(replace(n, management=management_address(lab.controller, n)) if n.is_vm
                  else n for n in lab.nodes)
    ctl = lab.controller
    if ctl is not None:
        managed = tuple(n for n in nodes if n.management is not None)
        ctl = replace(ctl, stages=tuple(replace(s, hosts=stage_hosts(managed, s.patterns))
                                        for s in ctl.stages),
                      bootstrap=bootstrap_stages(ctl, managed))
    return replace(lab, nodes=nodes, controller=ctl)
