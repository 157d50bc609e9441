"""The nodes the controller manages and the stages it runs, as renderers read them (pure).

Resolution decides both (:mod:`generator.resolve.stages`): ``Node.management`` is where the
controller reaches a VM, ``Node.default_user`` as whom, and ``Controller.bootstrap`` the stages
in order with their hosts resolved. This module only reads those fields.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from generator.model import Controller, Lab, Node, Stage
from generator.resolve.stages import CHECK_PLAYBOOK, CHECK_STAGE, DEFAULT_STAGE, stage_hosts

__all__ = ["CHECK_PLAYBOOK", "CHECK_STAGE", "DEFAULT_STAGE", "Managed", "Stage", "controller_of",
           "managed_nodes", "management_address", "resolve_hosts", "resolve_stages"]


@dataclass(frozen=True)
class Managed:
    """A node the controller manages: where it answers SSH and as whom (a view of the node's
    resolved ``management`` and ``default_user``)."""

    node: Node
    address: str
    user: str


def controller_of(lab: Lab) -> Controller:
    assert lab.controller is not None, "the lab has no controller"
    return lab.controller


def management_address(lab: Lab, node: Node) -> ipaddress.IPv4Interface | None:
    """Where the controller reaches ``node`` (``Node.management``, decided at resolution)."""
    return node.management


def managed_nodes(lab: Lab) -> list[Managed]:
    """Every VM with a management address, in blueprint order (the controller included)."""
    return [Managed(n, str(n.management.ip), n.default_user) for n in lab.vms
            if n.management is not None]


def resolve_hosts(lab: Lab, patterns: list[str]) -> tuple[str, ...]:
    """Managed node names matching ``all``, groups, roles or node names, in blueprint order
    (resolve/stages.py's matching, for a pattern no stage holds)."""
    return stage_hosts(tuple(n for n in lab.vms if n.management is not None), tuple(patterns))


def resolve_stages(lab: Lab) -> tuple[Stage, ...]:
    """The stages the bootstrap runs, in order, their hosts resolved (``Controller.bootstrap``:
    the blueprint's or ``main``, then ``check``)."""
    return controller_of(lab).bootstrap
