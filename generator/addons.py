"""Add-ons that contribute generated Ansible content to the controller's bootstrap tree.

Each add-on module exposes ``applies(lab) -> bool`` and ``render(lab) -> dict[str, bytes]``;
the returned paths are relative to the controller's Ansible folder (``/opt/gns3lab/ansible``),
e.g. ``playbooks/fabric.yml`` or ``group_vars/leaf.yml``. Add-ons read the lab model only
(``lab.extra`` holds their blueprint settings) and are pure: same lab, same bytes.
"""

from __future__ import annotations

import importlib
from typing import Protocol

from .model import Lab

#: Modules under ``generator`` that may contribute; missing ones are skipped.
ADDONS = ("fabric", "osa")


class Addon(Protocol):
    def applies(self, lab: Lab) -> bool: ...

    def render(self, lab: Lab) -> dict[str, bytes]: ...


def render_addons(lab: Lab) -> dict[str, bytes]:
    """Every applicable add-on's files, merged (a later add-on may not overwrite a path)."""
    out: dict[str, bytes] = {}
    for name in ADDONS:
        try:
            module = importlib.import_module(f"generator.{name}")
        except ModuleNotFoundError:
            continue
        if not module.applies(lab):
            continue
        for path, data in sorted(module.render(lab).items()):
            if path in out:
                raise ValueError(f"add-on {name} overwrites {path}")
            out[path] = data
    return out
