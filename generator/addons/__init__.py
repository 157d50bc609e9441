"""Add-ons that contribute generated Ansible content to the controller's bootstrap tree (and,
through their plan's ``seeds``, files and first-boot commands to nodes' cloud-init seeds).

:data:`ADDONS` lists every add-on explicitly, in the order their files merge; an add-on that
fails to import is an error, never skipped. Each is an :class:`~generator.addons.base.Addon`
record: its typed settings (a strict pydantic model of its keys under ``extra``) and
``plan(lab, extra)`` (resolve: the settings parsed once from the blueprint's ``extra:``,
checked, and the files it will write, as a ``model.AddonPlan`` on the lab; the only phase that
sees the blueprint), then ``applies(lab) -> bool``, ``check(lab) -> list[Issue]`` and
``render(lab) -> dict[str, bytes]``, which read the plan's settings record.
The rendered paths are relative to the controller's Ansible folder (``/opt/gns3lab/ansible``),
e.g. ``playbooks/fabric.yml`` or ``group_vars/leaf.yml``. Add-ons read the lab model only and
are pure: same lab, same bytes. ``check`` runs every check ``render`` would make, so once it
returns nothing, ``render`` does not fail on the settings.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from generator.addons import fabric, osa
from generator.addons.base import Addon, Issue, validation_issues
from generator.model import Lab

__all__ = ["ADDONS", "Addon", "Issue", "check_addons", "plan_addons", "render_addons",
           "validation_issues"]

ADDONS: tuple[Addon, ...] = (
    Addon("fabric", fabric.FabricSettings, fabric.applies, fabric.check, fabric.render,
          fabric.plan),
    Addon("osa", osa.OpenStackSettings, osa.applies, osa.check, osa.render, osa.plan),
)


def check_addons(lab: Lab) -> list[Issue]:
    """Every problem any add-on's ``render`` would meet, as (blueprint path, message, fix);
    empty when the add-ons can render the lab."""
    return [issue for addon in ADDONS for issue in addon.check(lab)]


def plan_addons(lab: Lab, extra: Mapping[str, Any]) -> tuple[Lab, list[Issue]]:
    """Resolve's add-on phase: each add-on's plan, made from the blueprint's ``extra:``
    mapping, in registry order (a later add-on's settings may read an earlier one's:
    OpenStack-Ansible takes the fabric's provider VLANs), put on the lab in place of any it
    had; and every problem any add-on's ``render`` would meet."""
    issues: list[Issue] = []
    lab = replace(lab, addons=())
    for addon in ADDONS:
        planned, found = addon.plan(lab, extra)
        issues += found
        if planned is not None:
            lab = replace(lab, addons=(*lab.addons, planned))
    return lab, issues


def render_addons(lab: Lab) -> dict[str, bytes]:
    """Every applicable add-on's files, merged (a later add-on may not overwrite a path)."""
    out: dict[str, bytes] = {}
    for addon in ADDONS:
        if not addon.applies(lab):
            continue
        for path, data in sorted(addon.render(lab).items()):
            if path in out:
                raise ValueError(f"add-on {addon.name} overwrites {path}")
            out[path] = data
    return out
