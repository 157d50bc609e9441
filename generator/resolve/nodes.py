"""Resolution step: node names (``name[lo-hi]`` ranges expanded), groups, and each node's
settings layered as node > group > appliance > defaults -> one :class:`Draft` per node."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from generator.blueprint import schema as bp
from generator.blueprint.appliances import Appliance
from generator.errors import BlueprintError
from generator.naming import closest_fix
from generator.resolve.state import Draft, ResolverBase


@dataclass(frozen=True)
class ImageLookup:
    """How the resolve turns ``image: <recipe>`` into an appliance; the image stage
    (generator/images/recipe_images.py) provides it, so resolve imports nothing of images.

    ``find(name)`` returns the appliance of the recipe's build (or of a stand-in, when none is
    built yet); it raises LookupError (its message: the known recipes, comma-separated) or a
    BlueprintError for a wrong recipe file. ``by_appliance`` maps the appliance name of each
    built-in recipe's image (lowercase) to the recipe, for the fix of an unknown appliance."""

    find: Callable[[str], Appliance]
    by_appliance: dict[str, str] = field(default_factory=dict)


class NodeSteps(ResolverBase):
    """Node drafting; mixed into :class:`generator.resolve.lab.Resolver`."""

    #: Set by :func:`generator.resolve.lab.resolve_lab`; None: ``image:`` cannot be resolved.
    image_lookup: ImageLookup | None = None

    def reference(self, d: Draft) -> tuple[str, str] | None:
        """What names the node's image: ``("image", recipe)`` or ``("appliance", ref)``. Both
        may be written: the one written nearer the node wins (node > group > defaults); both
        at one level is a problem."""
        image, ref = d.settings.get("image"), d.settings.get("appliance")
        if image and ref:
            written = d.settings["_written"]
            if written["image"] == written["appliance"]:
                self.problem(d.path + ("image",), "both 'image:' and 'appliance:' name the "
                             "node's image", "keep one: image: <recipe> builds it")
                return None
            return ("image", image) if written["image"] > written["appliance"] else \
                ("appliance", ref)
        if image:
            return ("image", image)
        return ("appliance", ref) if ref else None

    def image_appliance(self, d: Draft, name: str) -> Appliance | None:
        """The appliance of the image recipe ``name`` (None, with a problem, if it has none)."""
        path = d.path + ("image",)
        if self.image_lookup is None:
            self.problem(path, "'image:' cannot be used here (no image recipes loaded)",
                         "name an appliance instead")
            return None
        try:
            return self.image_lookup.find(name)
        except LookupError as exc:
            self.problem(path, f"unknown image recipe '{name}'",
                         f"{closest_fix(name, str(exc).split(', '))} (a blueprint's own "
                         "recipes are its images/<name>.yaml)")
        except BlueprintError as exc:
            self.problems += [p for p in exc.problems if p.render() not in
                              {q.render() for q in self.problems}]
        return None

    def appliance_fix(self, ref: str, known: list[str]) -> str:
        """The fix for an unknown appliance: the recipe that builds it, if one does."""
        recipe = self.image_lookup.by_appliance.get(ref.lower()) if self.image_lookup else None
        if recipe:
            return (f"gns3lab builds that image from its recipe: write 'image: {recipe}' "
                    f"instead (gns3lab build then builds it), or run 'gns3lab images build "
                    f"{recipe}' first")
        return closest_fix(ref, known)

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
