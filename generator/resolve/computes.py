"""Resolution step: which GNS3 compute each node runs on (``compute:``, ``placement:
spread``), checked against the RAM each compute gives the lab."""

from __future__ import annotations

from dataclasses import replace

from generator import model as m
from generator.naming import closest_fix
from generator.resolve.state import ResolverBase


class ComputeSteps(ResolverBase):
    """Compute placement; mixed into :class:`generator.resolve.lab.Resolver`."""

    def place_computes(self, nodes: list[m.Node]) -> list[m.Node]:
        """Check every ``compute:`` and, with ``placement: spread``, put each unplaced VM on the
        compute with the most RAM left (largest VMs first, ties by name: deterministic)."""
        computes = self.bp.computes
        free = {name: c.ram_mb for name, c in computes.items()}
        for d in self.drafts.values():
            name = d.settings.get("compute")
            if name is not None and name not in computes:
                self.problem(d.path + ("compute",), f"unknown compute '{name}'",
                             closest_fix(name, computes) if computes else
                             "declare it under 'computes:' with its ram_mb")
        if self.bp.placement == "spread" and not computes:
            self.problem(("placement",), "placement: spread needs at least one compute",
                         "declare 'computes: {NAME: {ram_mb: N}}'")
        placed = {d.name: d.settings.get("compute") for d in self.drafts.values()}
        for n in nodes:
            if placed[n.name] in free and n.is_vm:
                free[str(placed[n.name])] -= n.ram
        if self.bp.placement == "spread" and free:
            for n in sorted((n for n in nodes if placed[n.name] is None and n.is_vm),
                            key=lambda n: (-n.ram, n.name)):
                target = max(sorted(free), key=lambda c: free[c])
                placed[n.name] = target
                free[target] -= n.ram
        for name, left in sorted(free.items()):
            if left < 0:
                self.problem(("computes", name, "ram_mb"), f"compute '{name}' gets "
                             f"{computes[name].ram_mb - left} MB of VMs but has "
                             f"{computes[name].ram_mb} MB", "add RAM, add a compute, or "
                             "move nodes")
        return [replace(n, compute=placed[n.name]) for n in nodes]
