"""The Cumulus fabric add-on: CLAG pairs, bonds and VLAN trunks derived from the lab model.

The configuration is first planned as data (:mod:`~generator.addons.fabric_plan`, whose
docstring gives the rules), then rendered as Ansible (:mod:`~generator.addons.fabric_render`):
NCLU commands for Cumulus Linux 3.x/4.x, NVUE for 5.x. Its one setting is
``extra.provider_vlans`` (:mod:`~generator.addons.fabric_settings`). This module is the add-on's
face for the registry, and re-exports the names callers use.
"""

from __future__ import annotations

from generator.addons.base import Issue
from generator.addons.fabric_plan import fabric_data, find_pairs, mgmt_port, port_number
from generator.addons.fabric_render import (
    host_vars,
    nclu_commands,
    nvue_commands,
    port_ranges,
    render_fabric,
)
from generator.addons.fabric_settings import (
    FabricSettings,
    compress_vlans,
    load_fabric_settings,
    parse_vlans,
)
from generator.errors import FabricError
from generator.model import Lab
from generator.render.logins import is_cumulus

__all__ = ["FabricError", "FabricSettings", "applies", "check", "compress_vlans", "fabric_data",
           "find_pairs", "host_vars", "is_cumulus", "load_fabric_settings",
           "mgmt_port", "nclu_commands", "nvue_commands", "parse_vlans", "port_number",
           "port_ranges", "render"]


def applies(lab: Lab) -> bool:
    """The add-on applies to any lab with Cumulus switches."""
    return any(is_cumulus(n) for n in lab.vms)


def check(lab: Lab) -> list[Issue]:
    """Every problem ``render`` would meet: the settings, then the switches' wiring."""
    settings, issues = load_fabric_settings(lab)
    if settings is None or not applies(lab):
        return issues
    try:
        fabric_data(lab)
    except FabricError as exc:
        return [(exc.path, exc.message, exc.hint)]
    return []


def render(lab: Lab) -> dict[str, bytes]:
    """host_vars/<switch>.yml for every Cumulus switch, and the playbooks that apply them."""
    return render_fabric(fabric_data(lab))
