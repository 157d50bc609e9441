"""What every add-on shares: the :class:`Addon` record the registry lists, the problem tuple
its ``check`` and ``plan`` return, and pydantic errors of its typed settings as such problems."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from generator.model import AddonPlan, Lab

#: One problem: (path in the blueprint, message, fix or None).
Issue = tuple[tuple[Any, ...], str, str | None]
#: What ``plan`` returns: the add-on's plan (None: its settings are wrong, or it has none), and
#: every problem its ``render`` would meet.
Planned = tuple[AddonPlan | None, list[Issue]]


@dataclass(frozen=True)
class Addon:
    """One add-on: its name, its typed blueprint settings, and pure functions of the lab, in
    the order the pipeline calls them.

    ``plan(lab, extra)``, the resolve-time hook and the only phase that sees the blueprint
    (its ``extra:`` mapping), parses the settings once into their frozen record, checks, and
    names the files ``render`` will write: an :class:`~generator.model.AddonPlan` that resolve
    puts on the model (``Lab.addons``), so the settings accessors and resolve's own checks (a
    stage's ``generated:`` playbooks) read it instead of parsing or rendering again. The other
    phases read only the plan: ``applies`` says whether the lab uses the add-on, ``check``
    returns every problem ``render`` would meet (so once it returns nothing, ``render`` does not
    fail), and ``render`` gives its files by path under the controller's Ansible folder. What an
    add-on adds to a node's cloud-init seed is decided by ``plan`` too (``AddonPlan.seeds``),
    so the seed renderer reads it from the model."""

    name: str
    settings: type[BaseModel]
    applies: Callable[[Lab], bool]
    check: Callable[[Lab], list[Issue]]
    render: Callable[[Lab], dict[str, bytes]]
    plan: Callable[[Lab, Mapping[str, Any]], Planned]


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
