"""Add-ons that contribute generated Ansible content to the controller's bootstrap tree.

Each add-on module exposes ``applies(lab) -> bool``, ``check(lab) -> list[Issue]`` and
``render(lab) -> dict[str, bytes]``; the returned paths are relative to the controller's Ansible
folder (``/opt/gns3lab/ansible``), e.g. ``playbooks/fabric.yml`` or ``group_vars/leaf.yml``.
Add-ons read the lab model only (``lab.extra`` holds their blueprint settings, each add-on's as a
strict pydantic model) and are pure: same lab, same bytes. ``check`` runs every check ``render``
would make, so once it returns nothing, ``render`` does not fail on the settings.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any, Protocol

from pydantic import BaseModel, ValidationError

from generator.model import Lab

#: Modules under ``generator`` that may contribute; missing ones are skipped.
ADDONS = ("fabric", "osa")
#: One problem: (path in the blueprint, message, fix or None).
Issue = tuple[tuple[Any, ...], str, str | None]


class Addon(Protocol):
    def applies(self, lab: Lab) -> bool: ...

    def check(self, lab: Lab) -> list[Issue]: ...

    def render(self, lab: Lab) -> dict[str, bytes]: ...


def _known_keys(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """The field names of the (nested) model at ``loc``."""
    for part in loc:
        field = model.model_fields.get(str(part))
        sub = field.annotation if field is not None else None
        if not (isinstance(sub, type) and issubclass(sub, BaseModel)):
            return []
        model = sub
    return list(model.model_fields)


def validation_issues(exc: ValidationError, model: type[BaseModel], prefix: tuple[Any, ...]
                      ) -> list[Issue]:
    """A pydantic ValidationError of ``model`` as issues under ``prefix`` (an unknown key's fix
    names the known ones)."""
    out: list[Issue] = []
    for err in exc.errors(include_url=False):
        loc = tuple(err["loc"])
        value = err.get("input")
        if err["type"] == "extra_forbidden":
            known = _known_keys(model, loc[:-1])
            out.append(((*prefix, *loc), f"unknown key '{loc[-1]}'",
                        f"use {', '.join(known)}" if known else None))
        elif err["type"] in ("model_type", "dict_type") and not loc:
            out.append((prefix, f"give a mapping of settings (got {type(value).__name__})",
                        f"e.g. {', '.join(_known_keys(model, ()))}"))
        elif err["type"] == "missing":
            out.append(((*prefix, *loc), f"'{loc[-1]}' is required", None))
        else:
            shown = repr(value) if len(repr(value)) <= 40 else type(value).__name__
            message = str(err["msg"]).removeprefix("Value error, ")
            out.append(((*prefix, *loc), f"{message} (got {shown})", None))
    return out


def _modules() -> list[tuple[str, ModuleType]]:
    out = []
    for name in ADDONS:
        try:
            out.append((name, importlib.import_module(f"generator.addons.{name}")))
        except ModuleNotFoundError:
            continue
    return out


def check_addons(lab: Lab) -> list[Issue]:
    """Every problem any add-on's ``render`` would meet, as (blueprint path, message, fix);
    empty when the add-ons can render the lab."""
    return [issue for _, module in _modules() for issue in module.check(lab)]


def render_addons(lab: Lab) -> dict[str, bytes]:
    """Every applicable add-on's files, merged (a later add-on may not overwrite a path)."""
    out: dict[str, bytes] = {}
    for name, module in _modules():
        if not module.applies(lab):
            continue
        for path, data in sorted(module.render(lab).items()):
            if path in out:
                raise ValueError(f"add-on {name} overwrites {path}")
            out[path] = data
    return out
