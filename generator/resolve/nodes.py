"""Resolution step: node names (``name[lo-hi]`` ranges expanded), groups, and each node's
settings layered as node > group > appliance > defaults -> one :class:`Draft` per node."""

from __future__ import annotations

import re
from typing import Any

from generator.blueprint import schema as bp
from generator.naming import closest_fix
from generator.resolve.state import Draft, ResolverBase


class NodeSteps(ResolverBase):
    """Node drafting; mixed into :class:`generator.resolve.lab.Resolver`."""

    def check_names(self) -> None:
        for name in self.bp.groups:
            if not re.match(bp.NAME_RE, name):
                self.problem(("groups", name), f"group name '{name}' is not [a-z0-9-]",
                             "use lowercase letters, digits and '-'")

    def draft_nodes(self) -> None:
        index_in_group: dict[str, int] = {}
        for written, spec in self.bp.nodes.items():
            path = ("nodes", written)
            for name in self.expand(path, written):
                if len(self.drafts) >= bp.MAX_NODES:
                    self.problem(path, f"the lab has more than {bp.MAX_NODES} nodes",
                                 f"split it into labs of at most {bp.MAX_NODES} nodes")
                    self.gate()
                if not re.match(bp.NAME_RE, name):
                    self.problem(path, f"node name '{name}' is not a hostname",
                                 "use lowercase letters, digits and '-' (RFC 1123), "
                                 "so GNS3 2.2 and 3.x keep it")
                    continue
                if name in self.drafts:
                    self.problem(path, f"duplicate node '{name}'",
                                 "give each node a unique name")
                    continue
                groups = tuple([spec.group] if isinstance(spec.group, str) else spec.group or [])
                for g in groups:
                    if g not in self.bp.groups:
                        self.problem(path + ("group",), f"unknown group '{g}'",
                                     closest_fix(g, self.bp.groups))
                key = groups[0] if groups else ""
                index = index_in_group.get(key, 0)
                index_in_group[key] = index + 1
                settings = self.merged_settings(spec, groups)
                self.drafts[name] = Draft(name, path, spec, settings, groups, index)

    def merged_settings(self, spec: bp.Node, groups: tuple[str, ...]) -> dict[str, Any]:
        """Layer defaults, groups (first named wins) and the node; remember each key's depth.

        Depth 0 is the blueprint defaults: :meth:`setting` puts the appliance between them and
        the groups, so that the precedence is node > group > appliance > defaults.
        """
        layers: list[bp.NodeSettings] = [self.bp.defaults]
        layers += [self.bp.groups[g] for g in reversed(groups) if g in self.bp.groups]
        layers.append(spec)
        merged: dict[str, Any] = {"_written": {}}
        for depth, layer in enumerate(layers):
            for key in bp.NodeSettings.model_fields:
                value = getattr(layer, key)
                if value is None:
                    continue
                if key == "interfaces":
                    merged.setdefault(key, {}).update(value)
                elif key in ("cloud_init", "inject", "disks"):
                    merged.setdefault(key, []).append(value)
                else:
                    merged[key] = value
                    merged["_written"][key] = depth
        return merged
