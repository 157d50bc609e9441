"""``build_lab()``: the pipeline, one call per stage, from blueprint to archive."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from . import __version__
from .appliances import REPO_APPLIANCES, load_catalogue
from .archive import write_archive, write_manifest
from .archived_blueprint import copy_blueprint
from .blueprint import load_blueprint
from .images import attach_images, find_images, search_dirs, write_disks
from .keys import ensure_lab_key
from .layout import Layout
from .model import Lab
from .project import dump_project, render_project
from .resolve import resolve_lab
from .stages import write_bootstrap, write_seeds

Progress = Callable[[str], None]


@dataclass(frozen=True)
class BuildOptions:
    out_dir: Path = Path("dist")
    images_dirs: tuple[Path, ...] = ()
    include_images: bool = False
    no_images: bool = False


@dataclass(frozen=True)
class BuildResult:
    lab: Lab
    archive: Path
    key_path: Path
    injected: tuple[str, ...]


def load_lab(blueprint: Path, images_dirs: tuple[Path, ...] = ()) -> Lab:
    """Load, check and resolve a blueprint (no files written)."""
    bp, source = load_blueprint(blueprint)
    folders = [source.folder / "appliances", REPO_APPLIANCES, *search_dirs(images_dirs)]
    return resolve_lab(bp, source, load_catalogue(folders))


def build_lab(blueprint: Path, options: BuildOptions, progress: Progress = lambda _: None
              ) -> BuildResult:
    """Build one blueprint into ``<out_dir>/<lab>.gns3project``. Nothing half-written is left."""
    progress("resolving blueprint")
    lab = load_lab(blueprint, options.images_dirs)
    images = None
    if not options.no_images:
        progress("checking base images")
        images = find_images(lab, search_dirs(options.images_dirs), progress)
        lab = attach_images(lab, images)
    options.out_dir.mkdir(parents=True, exist_ok=True)
    key = ensure_lab_key(lab.name, options.out_dir, lab.ssh_key)
    with tempfile.TemporaryDirectory(prefix=f".{lab.name}.", dir=options.out_dir) as tmp:
        layout = Layout(Path(tmp))
        progress(f"creating disks for {len(lab.vms)} VMs")
        write_disks(lab, layout, images)
        progress("writing cloud-init seeds")
        write_seeds(lab, layout, key)
        injected = write_bootstrap(lab, layout, key, images, progress)
        progress("writing project file")
        layout.project_file.write_bytes(dump_project(render_project(lab)))
        copy_blueprint(lab, layout.blueprint_dir, options.out_dir, progress)
        if options.include_images and images:
            for image in images.values():
                assert image.path is not None
                layout.image(image.filename).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(image.path, layout.image(image.filename))
        write_manifest(layout, manifest_info(lab, options))
        progress("writing archive")
        archive = write_archive(layout, options.out_dir / f"{lab.name}.gns3project", progress)
    return BuildResult(lab=lab, archive=archive, key_path=key.private_path, injected=injected)


def manifest_info(lab: Lab, options: BuildOptions) -> dict:
    images = {n.image.filename: {"appliance": n.image.appliance,
                                 "version": n.image.appliance_version,
                                 "md5": n.image.md5sum, "size": n.image.filesize,
                                 "url": n.image.download_url}
              for n in lab.vms if n.image}
    return {"generator": f"gns3lab {__version__}", "lab": lab.name, "gns3": lab.gns3,
            "images": images, "images_included": bool(options.include_images),
            "images_checked": not options.no_images, "totals": lab.totals(),
            "placement": {n.name: n.compute for n in lab.nodes if n.compute is not None},
            "computes": {name: dict(c) for name, c in lab.computes}}
