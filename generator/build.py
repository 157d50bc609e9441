"""``build_lab()``: the pipeline, one call per stage, from blueprint to archive."""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from generator import __version__, interrupt, tools
from generator.archive_format import Manifest
from generator.errors import GeneratorError
from generator.images.baseimages import (
    attach_images,
    by_filename,
    find_images,
    name_by_content,
    search_dirs,
)
from generator.images.recipe_images import check_built, ensure_images, lookups
from generator.model import BaseImage, Lab
from generator.paths import Layout
from generator.render.logins import injected_login
from generator.render.project import dump_project, render_project
from generator.render.readme import render_readme
from generator.resolve.lab import resolve_blueprint
from generator.write.archive import write_archive, write_manifest
from generator.write.archived_blueprint import copy_blueprint
from generator.write.diagram import render_svg
from generator.write.disks import write_disks
from generator.write.guest import write_bootstrap, write_seeds
from generator.write.iso import source_date_epoch as seed_epoch
from generator.write.keys import ensure_lab_key, needs_keygen

Progress = Callable[[str], None]


@dataclass(frozen=True)
class BuildOptions:
    out_dir: Path = Path("dist")
    images_dirs: tuple[Path, ...] = ()
    include_images: bool | None = None  # None: bundle the images with no public URL
    no_images: bool = False
    redact: bool = False  # no private key anywhere: the controller makes it at first boot
    trust_recipes: bool = False  # a blueprint's recipes may run commands, add foreign sources


@dataclass(frozen=True)
class BuildResult:
    lab: Lab
    archive: Path
    key_path: Path | None  # None with --redact
    injected: tuple[str, ...]


def load_lab(blueprint: Path, images_dirs: tuple[Path, ...] = ()) -> Lab:
    """Load, check and resolve a blueprint (no files written), with the appliances of the
    image folders too; ``image: <recipe>`` takes the recipe's build in those folders."""
    dirs = search_dirs(images_dirs)
    return resolve_blueprint(blueprint, dirs, lookups(dirs))[0]


def build_lab(blueprint: Path, options: BuildOptions, progress: Progress = lambda _: None
              ) -> BuildResult:
    """Build one blueprint into ``<out_dir>/<lab>[-<version>].gns3project``. Nothing
    half-written is left: an error or a signal removes the staging folder and the temp file."""
    progress = _checked(progress)
    seed_epoch()  # a bad $SOURCE_DATE_EPOCH is refused before anything is written
    # The images named by recipe first: the lab names them by their content's digest.
    ensure_images(blueprint, options.images_dirs, trust=options.trust_recipes,
                  build=not options.no_images, progress=progress)
    progress("resolving blueprint")
    lab = load_lab(blueprint, options.images_dirs)
    if options.no_images:
        check_built(lab)
    if options.redact:
        check_redactable(lab)
    programs, modules = host_needs(lab, options)
    tools.preflight(programs, modules=modules)  # before anything is read, made or written
    images = None
    if not options.no_images:
        progress("checking base images")
        found = find_images(lab, search_dirs(options.images_dirs), progress)
        found = name_by_content(found, lambda image: bundles(image, options))
        lab, images = attach_images(lab, found), by_filename(found)
    # Rendered before the output folder is touched: a value no check caught (an appliance's)
    # fails here with nothing written, not after the lab key was made.
    project, svg = dump_project(render_project(lab)), render_svg(lab)
    out_dir = prepare_output(options.out_dir, lab)
    key = None if options.redact else ensure_lab_key(lab.name, out_dir, lab.ssh_key)
    with tempfile.TemporaryDirectory(prefix=staging_prefix(lab), dir=out_dir) as tmp:
        layout = Layout(Path(tmp))
        progress(f"creating disks for {len(lab.vms)} VMs")
        write_disks(lab, layout, images)
        progress("writing cloud-init seeds")
        write_seeds(lab, layout, key)
        injected = write_bootstrap(lab, layout, key, images, progress)
        progress("writing project file")
        layout.project_file.write_bytes(project)
        sources = copy_blueprint(lab, layout.blueprint_dir, out_dir, progress)
        bundle = {layout.rel(layout.image(i.filename)): i.path for i in (images or {}).values()
                  if i.path is not None and bundles(i, options)}  # streamed, never copied
        info = manifest_info(lab, options, key.public if key else "", source_date_epoch(sources))
        progress("writing README.md and topology.svg")
        (layout.root / "README.md").write_text(render_readme(lab, info), encoding="utf-8")
        (layout.root / "topology.svg").write_bytes(svg)
        write_manifest(layout, info, bundle)
        progress("writing archive")
        archive = write_archive(layout, out_dir / archive_name(lab), progress, bundle)
    return BuildResult(lab=lab, archive=archive, key_path=key.private_path if key else None,
                       injected=injected)


def host_needs(lab: Lab, options: BuildOptions) -> tuple[list[str], list[str]]:
    """The programs and Python modules :func:`build_lab` will use for ``lab``, so that one
    preflight can name every missing one before any work starts."""
    programs = []
    if lab.vms:  # base image checks, overlays, data disks, the rebases around injection
        programs.append("qemu-img")
    if not options.redact and needs_keygen(lab.name, options.out_dir, lab.ssh_key):
        programs.append("ssh-keygen")
    programs.append("dot")  # topology.svg
    modules = ["guestfs"] if not options.no_images and injects(lab) else []
    return programs, modules


def injects(lab: Lab) -> bool:
    """Whether a build with images writes into any overlay (the nodes
    :func:`generator.write.guest.write_bootstrap` injects): the controller, a node with
    ``inject:`` entries, a node whose login gets the key by injection."""
    controller = lab.controller.node if lab.controller else None
    return any(n.name == controller or n.injects or injected_login(n) for n in lab.vms)


def check_redactable(lab: Lab) -> None:
    """``--redact`` needs a controller the nodes can reach, to make and serve the key."""
    if lab.controller is None:
        raise GeneratorError("--redact needs a controller: it makes the lab key at first boot",
                             hint="add 'controller:' to the blueprint, or build without "
                             "--redact")
    if lab.node(lab.controller.node).management is None:  # decided at resolve
        raise GeneratorError(f"--redact: controller {lab.controller.node} has no address the "
                             "nodes can fetch the key from",
                             hint="give it a static address on the network it serves by DHCP")


def _checked(progress: Progress) -> Progress:
    """Progress that also stops the build at the next step once a signal came in."""

    def say(message: str) -> None:
        interrupt.check()
        progress(message)

    return say


def source_date_epoch(sources: list[Path]) -> int:
    """``$SOURCE_DATE_EPOCH``, else the newest time of the blueprint's archived files (never
    "now", never the output folder's)."""
    given = os.environ.get("SOURCE_DATE_EPOCH", "")
    if given.isdigit():
        return int(given)
    return int(max(p.lstat().st_mtime for p in sources))


def archive_name(lab: Lab) -> str:
    """``<lab>-<version>.gns3project``, or ``<lab>.gns3project`` for a lab without a version."""
    return f"{lab.name}-{lab.version}.gns3project" if lab.version else f"{lab.name}.gns3project"


def staging_prefix(lab: Lab, pid: int | None = None) -> str:
    """Staging folders and temp files carry the builder's PID, so a later build can tell a
    killed build's debris from a running build's work."""
    return f".{lab.name}.{os.getpid() if pid is None else pid}."


def prepare_output(out_dir: Path, lab: Lab) -> Path:
    """The output folder, made if needed, with what killed builds of this lab left swept."""
    if out_dir.exists() and not out_dir.is_dir():
        raise GeneratorError(f"output {out_dir} is not a folder",
                             hint="give -o a folder (it is made if missing)")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # e.g. -o file/sub: a parent is a file (NotADirectoryError)
        raise GeneratorError(f"output {out_dir} cannot be made: {exc.strerror}",
                             hint="give -o a folder whose parents are folders (it is made "
                             "if missing)") from None
    pattern = re.compile(rf"^\.{re.escape(lab.name)}(-[^/]*)?\.(gns3project\.)?(\d+)\.")
    for entry in out_dir.iterdir():
        match = pattern.match(entry.name)
        if match and not _alive(int(match.group(3))):
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)
    return out_dir


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return False  # our own PID: a leftover of an earlier process that had it
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def bundles(image: BaseImage, options: BuildOptions) -> bool:
    """Whether ``image`` goes into the archive: ``--include-images`` all, ``--no-include-images``
    none, by default those a colleague cannot download (no public URL: the ones we build)."""
    if options.no_images:
        return False
    return options.include_images if options.include_images is not None \
        else not image.download_url


def manifest_info(lab: Lab, options: BuildOptions, public_key: str = "",
                  epoch: int | None = None) -> Manifest:
    """The manifest's build facts (every field but ``files``, which the staged tree gives)."""
    images = {n.image.filename: {"appliance": n.image.appliance,
                                 "version": n.image.appliance_version,
                                 "md5": n.image.md5sum, "size": n.image.filesize,
                                 "sha256": n.image.sha256 or None,
                                 "url": n.image.download_url,
                                 "public_url": bool(n.image.download_url),
                                 "included": bundles(n.image, options),
                                 "original": n.image.original_filename}
              for n in lab.vms if n.image}
    return Manifest.model_validate({
        "generator": f"gns3lab {__version__}", "lab": lab.name, "gns3": lab.gns3,
        "version": lab.version, "archive": archive_name(lab), "lab_key": public_key,
        "source_date_epoch": epoch,
        "secrets": [f"{lab.controller.node} overlay: the lab's private key "
                    "/root/.ssh/id_ed25519 (mode 0600)"]
        if lab.controller and not options.redact else [],
        "redacted": options.redact,
        "images": images,
        "images_included": bool(images) and all(i["included"] for i in images.values()),
        "images_checked": not options.no_images, "totals": lab.totals(),
        "placement": {n.name: n.compute for n in lab.nodes if n.compute is not None},
        "computes": {name: dict(c) for name, c in lab.computes}})
