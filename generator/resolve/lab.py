"""Blueprint + appliances -> the frozen lab model: the resolution steps, in order.

Short forms are normalised in these steps and only there: node name ranges, generated links,
defaults precedence, port allocation, ids, MACs, addresses and the canvas. Each step lives in
its own module (nodes, adapters, links, addresses, guest_setup, freeze, computes, controller,
canvas_scene, stages) and collects every problem with its place in the blueprint;
:meth:`Resolver.run` raises them together at the end of each step that later ones depend on.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from generator import model as m
from generator.blueprint import schema as bp
from generator.blueprint.appliances import REPO_APPLIANCES, Catalogue, load_catalogue
from generator.blueprint.confine import confined
from generator.blueprint.load import check_brought_files, load_blueprint
from generator.blueprint.source import Source
from generator.errors import Refused
from generator.naming import derive_id
from generator.resolve.adapters import AdapterSteps
from generator.resolve.canvas_scene import place_canvas
from generator.resolve.computes import ComputeSteps
from generator.resolve.controller import ControllerSteps
from generator.resolve.freeze import FreezeSteps
from generator.resolve.links import LinkSteps
from generator.resolve.nodes import ImageLookup, NodeSteps
from generator.resolve.stages import resolve_stages


class Resolver(NodeSteps, AdapterSteps, LinkSteps, FreezeSteps, ComputeSteps, ControllerSteps):
    """Runs the resolution steps in order, collecting problems with their places."""

    def run(self) -> m.Lab:
        self.check_names()
        self.draft_nodes()
        self.gate()
        self.pick_appliances()
        self.gate()
        links = self.resolve_links()
        self.count_adapters()
        self.gate()
        self.assign_macs()
        networks = self.resolve_networks()
        self.gate()
        nodes = self.place_computes(self.freeze_nodes(networks))
        controller = self.resolve_controller()
        lab = m.Lab(
            name=self.bp.name, description=self.bp.description,
            version="" if self.bp.version is None else str(self.bp.version),
            project_id=derive_id(self.bp.name, "project"), gns3=self.bp.gns3,
            domain=self.bp.domain, nodes=tuple(nodes), links=tuple(links),
            networks=tuple(networks.values()), controller=controller,
            blueprint_file=self.src.file, blueprint_folder=self.src.folder,
            ssh_key=self.lab_key(),
            extra_vars=m.FrozenMap.of(self.bp.extra),
            computes=tuple((name, (("ram_mb", c.ram_mb), ("server", c.server or name)))
                           for name, c in sorted(self.bp.computes.items())))
        lab = place_canvas(lab, self.bp.canvas)  # once, with the links: show prints it
        lab = resolve_stages(lab)  # management addresses, stage hosts, the bootstrap's order
        lab = self.check_lab(lab)  # the add-ons' plans go on the model
        self.gate()
        return lab

    def lab_key(self) -> Path | None:
        """``ssh_key:``: a private key file in the blueprint folder, with its ``.pub``."""
        if self.bp.ssh_key is None:
            return None
        try:
            key = confined(self.src.folder, self.bp.ssh_key, "file")
            confined(self.src.folder, self.bp.ssh_key + ".pub", "file")
        except Refused as exc:
            self.problem(("ssh_key",), exc.message, "give a private key file in the blueprint "
                         "folder with its .pub beside it, or drop ssh_key: to generate one")
            return None
        return key


def resolve_lab(blueprint: bp.Blueprint, source: Source, catalogue: Catalogue,
                images: ImageLookup | None = None) -> m.Lab:
    """Resolve a loaded blueprint into the frozen lab model (raises BlueprintError);
    ``images`` resolves ``image: <recipe>``."""
    resolver = Resolver(blueprint, source, catalogue)
    resolver.image_lookup = images
    return resolver.run()


def resolve_blueprint(blueprint: Path, appliance_dirs: Sequence[Path] = (),
                      images: Callable[[Path], ImageLookup] | None = None
                      ) -> tuple[m.Lab, Catalogue]:
    """Load, check and resolve the blueprint file or folder ``blueprint`` (no files written),
    with the appliances of its own ``appliances/`` folder, the repository's and then
    ``appliance_dirs``; also the catalogue the appliances came from (it holds the files the
    blueprint names by path, which only the resolve loads). ``images(file)`` gives the lookup
    of ``image: <recipe>`` for the blueprint file ``file``."""
    loaded, source = load_blueprint(blueprint)
    folders = [source.folder / "appliances", REPO_APPLIANCES, *appliance_dirs]
    catalogue = load_catalogue(folders, strict=2)
    lab = resolve_lab(loaded, source, catalogue, images(source.file) if images else None)
    check_brought_files(loaded, source)
    return lab, catalogue
