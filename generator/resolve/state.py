"""The resolver's working state, shared by every step: node drafts, collected problems, and
the one defaults-precedence helper."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from generator import model as m
from generator.blueprint import schema as bp
from generator.blueprint.appliances import Appliance, Catalogue
from generator.blueprint.source import Source
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

    def __init__(self, blueprint: bp.Blueprint, source: Source, catalogue: Catalogue) -> None:
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

    @staticmethod
    def setting(d: Draft, key: str, appliance_value: Any, fallback: Any) -> Any:
        """Defaults precedence, the one helper: node > group > appliance > defaults."""
        written = d.settings.get("_written", {})
        if key in written and written[key] > 0:
            return d.settings[key]
        if appliance_value is not None:
            return appliance_value
        return d.settings.get(key, fallback)
