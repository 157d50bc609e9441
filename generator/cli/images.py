"""``gns3lab images`` (build, list, pull, verify, import, path) and ``gns3lab appliance``."""

from __future__ import annotations

import json
import os
from pathlib import Path

import click

from generator.cli.common import printable
from generator.cli.common import progress as _progress
from generator.errors import ImageError

SOURCE = click.argument("source", type=click.Path(exists=True, path_type=Path))
IMAGES_DIRS = click.option("--images-dir", "images_dirs", multiple=True,
                           type=click.Path(path_type=Path),
                           help="Also look here for images and appliances (repeatable).")


@click.group()
def images() -> None:
    """Build, list, fetch and check base images."""


@images.command("build")
@click.argument("target")
@click.option("--images-dir", type=click.Path(path_type=Path), default=None,
              help="Where to write it (default: $GNS3LAB_IMAGES or ~/GNS3/images/QEMU).")
@click.option("--force", is_flag=True, help="Rebuild even if the cached image exists.")
@click.option("--trust-recipe-commands", "trust_recipes", is_flag=True,
              help="Let a blueprint's own recipes run commands and add package sources other "
                   "than Debian's (the build runs them as root).")
def images_build(target: str, images_dir: Path | None, force: bool, trust_recipes: bool
                 ) -> None:
    """Build a base image from Debian packages, cached by recipe: TARGET is a recipe name
    (e.g. debian-12) or a BLUEPRINT (every image it names with image: <recipe>)."""
    from generator.images.build import build_image
    from generator.images.recipe import get_recipe
    from generator.images.recipe_images import build_dir, plan

    if os.path.sep in target or os.path.exists(target):  # a blueprint: what it needs
        recipes = [i.recipe for i in plan(Path(target), trust=trust_recipes)]
        if not recipes:
            click.echo(f"{target} names no image recipe (image: <recipe>); nothing to build")
            return
    else:
        recipes = [get_recipe(target)]
    for recipe in recipes:
        built = build_image(recipe, images_dir or build_dir(), force=force,
                            progress=_progress())
        state = "cached" if built.cached else "built"
        click.echo(f"{state} {built.path} ({built.size} bytes, md5 {built.md5}, "
                   f"sha256 {built.sha256})")
        click.echo(f"appliance: {built.appliance_path}")


def _recipe_of(filename: str) -> str | None:
    """The recipe of an image a blueprint names by recipe and no folder holds yet (the
    resolve's stand-in ``gns3lab-<recipe>-unbuilt.qcow2``), else None."""
    from generator.images.recipe_images import UNBUILT

    suffix = f"-{UNBUILT}.qcow2"
    if filename.startswith("gns3lab-") and filename.endswith(suffix):
        return filename.removeprefix("gns3lab-").removesuffix(suffix)
    return None


def _states(source: Path, images_dirs: tuple[Path, ...]) -> list:
    """What the cache and the search folders hold for each image ``source`` needs."""
    from generator.images.cache import check_folder, image_folders, needs_of

    return check_folder(needs_of(source, images_dirs), image_folders(images_dirs))


@images.command("list")
@SOURCE
@IMAGES_DIRS
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def images_list(source: Path, images_dirs: tuple[Path, ...], as_json: bool) -> None:
    """The images a BLUEPRINT or ARCHIVE needs: name, version, size, md5, sha256, where."""
    rows = [{"name": s.need.filename, "appliance": s.need.appliance,
             "build": _recipe_of(s.need.filename),
             "version": s.need.version, "size": s.need.size, "md5": s.need.md5,
             "sha256": s.need.sha256 or None,
             "present": s.ok, "path": str(s.path) if s.path else None,
             "problem": s.problem or None, "url": s.need.url, "page": s.need.page}
            for s in _states(source, images_dirs)]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    table = Table("image", "version", "size", "md5", "sha256", "present", "where")
    for r in rows:  # an archive's words: plain text (no markup, no escapes), never rich markup
        cells = [r["name"], r["version"], str(r["size"]), r["md5"], (r["sha256"] or "-")[:16],
                 "yes" if r["present"] else ("WRONG" if r["path"] else "no"),
                 r["path"] or r["url"] or r["page"] or
                 (f"gns3lab images build {source} makes it" if r["build"] else "-")]
        table.add_row(*(Text(printable(str(c))) for c in cells))
    Console(width=200).print(table)


@images.command("pull")
@SOURCE
@IMAGES_DIRS
@click.option("--jobs", "-j", default=3, show_default=True, help="Parallel downloads.")
@click.option("--timeout", type=click.FloatRange(min=0.1), default=30, show_default=True,
              help="Seconds to connect, and to wait for each piece of data.")
@click.option("--deadline", type=click.FloatRange(min=1), default=None,
              help="Seconds one download may take in all (default: 10 minutes plus its size "
                   "at 64 KiB/s).")
def images_pull(source: Path, images_dirs: tuple[Path, ...], jobs: int, timeout: float,
                deadline: float | None) -> None:
    """Download the images a BLUEPRINT or ARCHIVE needs into the cache (resumes, checks).

    Only http and https URLs are followed (and at most 5 redirects), only images whose
    appliance declares a size and a checksum, and never more bytes than that size."""
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TaskID,
        TextColumn,
        TransferSpeedColumn,
    )

    from generator.images.cache import cache_dir, pull
    from generator.images.download import Bounds

    cache = cache_dir()
    states = [s for s in _states(source, images_dirs) if not s.ok]
    for s in states:
        if _recipe_of(s.need.filename):
            click.echo(f"image {_recipe_of(s.need.filename)} is built, not pulled: "
                       f"gns3lab images build {source}")
    needs = [s.need for s in states if not _recipe_of(s.need.filename)]
    bar = Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
                   TransferSpeedColumn())
    tasks: dict[str, TaskID] = {}

    def show(name: str, done: int, total: int) -> None:
        if name not in tasks:
            tasks[name] = bar.add_task(name, total=total or None)
        bar.update(tasks[name], completed=done, total=total or None)

    with bar:
        results = pull(needs, cache, jobs=jobs, progress=show,
                       bounds=Bounds(timeout=timeout, deadline=deadline))
    for r in results:  # a problem may quote a server's or an archive's words: printable
        if r.path:
            click.echo(f"ok {r.path}")
        else:
            first, *rest = r.problem.splitlines() or [""]
            click.echo(printable(f"FAILED {r.need.filename}: {first}"), err=True)
            for line in rest:
                click.echo("       " + printable(line), err=True)
    failed = [r for r in results if not r.path]
    if failed:
        raise ImageError(f"{len(failed)} of {len(results)} image(s) not pulled")
    click.echo(f"{len(results)} image(s) pulled into {cache}" if results else
               "every image is already here")


@images.command("verify")
@SOURCE
@IMAGES_DIRS
def images_verify(source: Path, images_dirs: tuple[Path, ...]) -> None:
    """Re-check the images a BLUEPRINT or ARCHIVE needs (size, md5, sha256)."""
    states = _states(source, images_dirs)
    for s in states:
        click.echo(f"ok {s.path}" if s.ok else f"BAD {s.need.filename}: {s.problem}")
    bad = [s for s in states if not s.ok]
    if bad:
        raise ImageError(f"{len(bad)} of {len(states)} image(s) missing or wrong",
                         hint="'gns3lab images pull' fetches them; 'images import FILE' "
                              "adds one got by hand")


@images.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--for", "source", type=click.Path(exists=True, path_type=Path), default=None,
              help="A BLUEPRINT or ARCHIVE whose images the file may be (default: every "
                   "appliance known here).")
@IMAGES_DIRS
def images_import(file: Path, source: Path | None, images_dirs: tuple[Path, ...]) -> None:
    """Add a file got by hand to the cache, after checking it against its appliance."""
    from generator.blueprint.appliances import REPO_APPLIANCES, load_catalogue
    from generator.images.baseimages import search_dirs
    from generator.images.cache import cache_dir, import_file, needs_from_catalogue, needs_of

    if source is not None:
        needs = needs_of(source, images_dirs)
    else:
        catalogue = load_catalogue([REPO_APPLIANCES, *search_dirs(images_dirs)])
        needs = needs_from_catalogue(catalogue, [
            (a.name, v.name, f) for a in catalogue.appliances for v in a.versions
            for f in v.images.values() if f in a.images])
    click.echo(f"imported {import_file(file, needs, cache_dir())}")


@images.command("path")
def images_path() -> None:
    """Print the cache folder ($GNS3LAB_IMAGES's first entry, else ~/.cache/gns3lab/images)."""
    from generator.images.cache import cache_dir

    click.echo(str(cache_dir()))


@click.group()
def appliance() -> None:
    """GNS3 appliance files (.gns3a)."""


@appliance.command("export")
@click.argument("image", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("-o", "--output", type=click.Path(path_type=Path), default=None,
              help="Where to write it (default: <image>.gns3a beside the image).")
def appliance_export(image: Path, output: Path | None) -> None:
    """Write a .gns3a for an IMAGE gns3lab built (registry version 4, schema-valid)."""
    from generator.images.build import export_appliance

    click.echo(f"wrote {export_appliance(image, output)}")
