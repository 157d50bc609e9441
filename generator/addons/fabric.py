"""The fabric add-on: the switches' configuration derived from the lab model, by two backends.

- Cumulus (CLAG pairs, bonds, VLAN trunks): planned as data (:mod:`~generator.addons.
  fabric_plan`, whose docstring gives the rules), rendered as Ansible (:mod:`~generator.addons.
  fabric_render`): NCLU commands for Cumulus Linux 3.x/4.x, NVUE for 5.x.
- FRR (BGP unnumbered underlay, EVPN-VXLAN overlay, EVPN multihoming for dual-homed bonds) on
  the VMs of the roles ``extra.frr_roles`` names: planned in :mod:`~generator.addons.fabric_frr`,
  rendered as frr.conf and a script per switch (:mod:`~generator.addons.fabric_frr_render`),
  which each switch's cloud-init seed installs at first boot (the plan's ``seeds``), and the
  playbooks that verify (or install again) and check them
  (:mod:`~generator.addons.fabric_frr_playbooks`).

Its settings are ``extra.provider_vlans``, ``frr_roles`` and ``frr_loopbacks``
(:mod:`~generator.addons.fabric_settings`). This module is the add-on's face for the registry,
and re-exports the names callers use.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from generator.addons.base import Issue, Planned
from generator.addons.fabric_frr import frr_fabric_data, frr_switches
from generator.addons.fabric_frr_playbooks import frr_playbooks
from generator.addons.fabric_frr_render import HEADER as FRR_HEADER
from generator.addons.fabric_frr_render import host_vars as frr_host_vars
from generator.addons.fabric_frr_render import seed_part as frr_seed_part
from generator.addons.fabric_plan import (
    cumulus_switches,
    fabric_data,
    fabric_settings,
    find_pairs,
    mgmt_port,
    port_number,
)
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
    parse_fabric_settings,
    parse_vlans,
)
from generator.errors import FabricError
from generator.model import AddonPlan, Lab, SeedPart
from generator.render.logins import is_cumulus
from generator.render.yamltext import ansible_document

__all__ = ["FabricError", "FabricSettings", "applies", "check", "compress_vlans", "fabric_data",
           "fabric_settings", "find_pairs", "frr_data", "host_vars", "is_cumulus",
           "load_fabric_settings", "mgmt_port", "nclu_commands", "nvue_commands", "parse_vlans",
           "plan", "port_number", "port_ranges", "render", "seeds"]


def applies(lab: Lab) -> bool:
    """The add-on applies to a lab it planned with Cumulus switches or FRR switches."""
    settings = load_fabric_settings(lab)
    if settings is None:
        return False
    return bool(frr_switches(lab, settings)) or any(is_cumulus(n) for n in lab.vms)


def check(lab: Lab) -> list[Issue]:
    """Every problem ``render`` would meet: the switches' wiring (resolve's plan checked the
    settings)."""
    if not applies(lab):
        return []
    try:
        render(lab)
    except FabricError as exc:
        return [(exc.path, exc.message, exc.hint)]
    return []


def plan(lab: Lab, extra: Mapping[str, Any]) -> Planned:
    """Resolve's hook: the settings parsed once from the blueprint's ``extra:`` (a record even
    when no switch needs them: OpenStack-Ansible reads the provider VLANs), the switches' wiring
    checked and the files named. Which playbooks exist follows from the pairs the data plan
    finds, so the names come from one render here (the one the check made before)."""
    settings, issues = parse_fabric_settings(lab, extra)
    if settings is None:
        return None, issues
    planned = AddonPlan("fabric", settings)
    lab = replace(lab, addons=(*lab.addons, planned))
    if not applies(lab):
        return planned, []
    try:
        return replace(planned, files=tuple(sorted(render(lab))), seeds=seeds(lab)), []
    except FabricError as exc:
        return planned, [(exc.path, exc.message, exc.hint)]


def seeds(lab: Lab) -> tuple[SeedPart, ...]:
    """What each FRR switch's cloud-init seed adds (its fabric files, started at first boot),
    by switch name; the Cumulus backend's switches have no seed (their set-up is injected)."""
    if not frr_switches(lab, fabric_settings(lab)):
        return ()
    return tuple(frr_seed_part(name, sw) for name, sw in sorted(frr_data(lab)["switches"].items()))


def frr_data(lab: Lab) -> dict[str, Any]:
    """The FRR fabric as data (no switch in ``frr_roles``: no switches)."""
    settings = fabric_settings(lab)
    return frr_fabric_data(lab, settings, settings.provider_vlans)


def render_frr(lab: Lab) -> dict[str, bytes]:
    """host_vars/<switch>.yml for every FRR switch, and the playbooks that install and check."""
    data = frr_data(lab)
    out = {f"host_vars/{name}.yml": ansible_document(FRR_HEADER, frr_host_vars(name, sw))
           for name, sw in data["switches"].items()}
    return out | frr_playbooks(lab, data)


def render(lab: Lab) -> dict[str, bytes]:
    """host_vars/<switch>.yml for every switch, and the playbooks that apply them: the Cumulus
    backend's and the FRR backend's."""
    settings = fabric_settings(lab)
    out = render_fabric(lab, fabric_data(lab)) if cumulus_switches(lab, settings) else {}
    if frr_switches(lab, settings):
        out |= render_frr(lab)
    return dict(sorted(out.items()))
