"""The resolver's working state: node drafts and problem collection, shared by its steps."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from generator import model as m
from generator.blueprint import schema as bp
from generator.blueprint.appliances import Appliance, Catalogue
from generator.errors import BlueprintError, NameRangeError, Problem
from generator.naming import expand_name


@dataclass
class Draft:
    """A node while it is being resolved (mutable; frozen into model.Node at the end)."""

    name: str
    path: tuple
    spec: bp.Node
    settings: dict[str, Any]
    groups: tuple[str, ...]
    index: int
    appliance: Appliance | None = None
    port_names: dict[str, int] = field(default_factory=dict)
    adapter_names: dict[int, str] = field(default_factory=dict)
    used: dict[tuple[int, int], str] = field(default_factory=dict)
    builtin_ports: dict[str, m.SwitchPort] = field(default_factory=dict)
    adapters: int = 0
    base_mac: str | None = None


class ResolverBase:
    """What every resolution step shares: the blueprint, the drafts, the problems so far."""

    def __init__(self, blueprint: bp.Blueprint, source: bp.Source, catalogue: Catalogue) -> None:
        self.bp, self.src, self.catalogue = blueprint, source, catalogue
        self.problems: list[Problem] = []
        self.drafts: dict[str, Draft] = {}

    def problem(self, path: tuple, message: str, fix: str | None = None) -> None:
        found = self.src.problem(path, message, fix)
        if all(p.render() != found.render() for p in self.problems):  # a range: said once
            self.problems.append(found)

    def expand(self, path: tuple, written: str) -> list[str]:
        """The names a ``name[lo-hi]`` range stands for (none, with a problem, if it can't)."""
        try:
            return expand_name(written)
        except NameRangeError as exc:
            self.problem(path, str(exc), exc.fix)
            return []

    def gate(self) -> None:
        """Stop here if anything went wrong so far."""
        if self.problems:
            raise BlueprintError(self.problems)
