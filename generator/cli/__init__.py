"""The ``gns3lab`` command: click options in, one pipeline call out. The only place a
:class:`GeneratorError` becomes a message and exit 2, an interrupt exit 130/143, and a bug
exit 70 with a "please report" line."""

from __future__ import annotations

import json
import os
import sys
import traceback
from collections.abc import Mapping
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from pydantic import BaseModel

from generator import __version__, fileio, interrupt
from generator.cli.common import printable
from generator.cli.common import progress as _progress
from generator.errors import GeneratorError, Interrupted

if TYPE_CHECKING:
    from generator.server.push import PushResult

BLUEPRINT = click.argument("blueprint", type=click.Path(path_type=Path))
TRUST_RECIPES = click.option(
    "--trust-recipe-commands", "trust_recipes", is_flag=True,
    help="Let the blueprint's own image recipes run commands and add package sources other "
         "than Debian's (the image build runs them as root: trust the blueprint's author).")


BUG_EXIT = 70  # EX_SOFTWARE: an internal error, not the user's input


class _Group(click.Group):
    """Turns typed errors into messages (exit 2), anything else into a bug report (exit 70)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except GeneratorError as exc:
            for i, line in enumerate(exc.lines()):
                click.echo(("error: " if i == 0 else "       ") + printable(line), err=True)
            if exc.hint and not exc.lines()[-1].startswith("hint:"):
                click.echo(f"hint: {printable(exc.hint)}", err=True)
            ctx.exit(exc.status)
        except (click.exceptions.Exit, click.ClickException, click.Abort, SystemExit):
            raise
        except (KeyboardInterrupt, Interrupted) as exc:
            code = exc.exit_code if isinstance(exc, Interrupted) else 130
            click.echo(f"interrupted ({exc or 'SIGINT'}); nothing half-written was left behind",
                       err=True)
            ctx.exit(code)
        except Exception as exc:
            if ctx.params.get("debug") or os.environ.get("GNS3LAB_DEBUG"):
                click.echo(traceback.format_exc(), err=True, nl=False)
            click.echo(f"internal error: {printable(type(exc).__name__)}: "
                       f"{printable(str(exc))[:500]}", err=True)
            click.echo(f"this is a bug in gns3lab {__version__}: please report it with the "
                       "command you ran (rerun with --debug for the traceback)", err=True)
            ctx.exit(BUG_EXIT)


@click.group(cls=_Group)
@click.version_option(__version__, prog_name="gns3lab")
@click.option("--debug", is_flag=True, help="Print the full traceback of an internal error.")
def main(debug: bool) -> None:
    """Build labs written as code into self-building GNS3 portable projects."""
    interrupt.install()


@main.command()
@BLUEPRINT
@click.option("--images-dir", "images_dirs", multiple=True, type=click.Path(path_type=Path))
@TRUST_RECIPES
def validate(blueprint: Path, images_dirs: tuple[Path, ...], trust_recipes: bool) -> None:
    """Check a blueprint and report every problem, and the images a build will make."""
    from generator.build import load_lab
    from generator.images.recipe_images import plan

    images = plan(blueprint, images_dirs, trust=trust_recipes)
    lab = load_lab(blueprint, images_dirs)
    click.echo(f"{lab.name}: ok ({len(lab.nodes)} nodes, {len(lab.links)} links)")
    for image in images:
        click.echo(f"image {image.recipe.name}: cached {image.built.path}" if image.built else
                   f"image {image.recipe.name}: build will make it (recipe key {image.key})")


@main.command()
@BLUEPRINT
@click.option("-o", "--output", "out_dir", default="dist", show_default=True,
              type=click.Path(path_type=Path), help="Folder for the archive.")
@click.option("--images-dir", "images_dirs", multiple=True, type=click.Path(path_type=Path),
              help="Folder with base images (repeatable).")
@click.option("--include-images/--no-include-images", default=None,
              help="Put every base image into the archive / none. Default: only those with "
                   "no public download URL (the ones gns3lab builds).")
@click.option("--no-images", is_flag=True,
              help="Do not look for base images: size overlays from the appliance, no injection.")
@click.option("--redact", is_flag=True,
              help="No private key in the archive: the controller makes the lab key at first "
                   "boot and the nodes fetch its public half from it.")
@TRUST_RECIPES
def build(blueprint: Path, out_dir: Path, images_dirs: tuple[Path, ...],
          include_images: bool | None,
          no_images: bool, redact: bool, trust_recipes: bool) -> None:
    """Build BLUEPRINT into OUTPUT/<lab>.gns3project (first building every image it names by
    recipe, ``image: <recipe>``, that no image folder holds yet)."""
    from generator.build import BuildOptions, build_lab
    from generator.hostcheck import resource_warnings

    if include_images and no_images:
        raise click.UsageError("--include-images and --no-images exclude each other")
    options = BuildOptions(out_dir=out_dir, images_dirs=images_dirs,
                           include_images=include_images, no_images=no_images, redact=redact,
                           trust_recipes=trust_recipes)
    result = build_lab(blueprint, options, _progress())
    totals = result.lab.totals()
    click.echo(f"built {result.archive} ({result.archive.stat().st_size} bytes): "
               f"{len(result.lab.nodes)} nodes, {len(result.lab.links)} links")
    click.echo(f"lab totals: {totals['ram_mb']} MB RAM, {totals['vcpus']} vCPUs, "
               f"{totals['disk_bytes'] / 2**30:.1f} GiB worst-case disk")
    for warning in resource_warnings(totals):
        click.echo(f"warning: {warning}", err=True)
    click.echo(f"lab SSH key: {result.key_path}" if result.key_path else
               "lab SSH key: made by the controller at first boot (--redact); log in to the "
               "nodes from the controller")


@main.command()
@BLUEPRINT
@click.option("--format", "fmt", type=click.Choice(["yaml", "json"]), default="yaml")
@click.option("--images-dir", "images_dirs", multiple=True, type=click.Path(path_type=Path))
def show(blueprint: Path, fmt: str, images_dirs: tuple[Path, ...]) -> None:
    """Print the resolved lab model."""
    from generator.build import load_lab

    data = _plain(load_lab(blueprint, images_dirs))
    if fmt == "json":
        click.echo(json.dumps(data, indent=2, sort_keys=True))
    else:
        from generator.render.yamltext import dump_yaml

        click.echo(dump_yaml(data), nl=False)


@main.command()
def schema() -> None:
    """Print the blueprint JSON Schema (for editors)."""
    from generator.blueprint.schema import json_schema

    click.echo(json.dumps(json_schema(), indent=2, sort_keys=True))


@main.command()
@click.argument("archive", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True)
def inspect(archive: Path, as_json: bool) -> None:
    """Describe a built archive: nodes, links, images needed, sizes."""
    from generator.hostcheck import resource_warnings
    from generator.read.inspect import inspect_archive

    info = inspect_archive(archive)
    if as_json:
        click.echo(json.dumps(info, indent=2, sort_keys=True))
        return
    p = printable
    click.echo(f"{p(info['name'])} (project revision {info['revision']}), "
               f"{info['archive_bytes']} bytes packed, {info['unpacked_bytes']} unpacked")
    click.echo(f"nodes ({len(info['nodes'])}):")
    for n in info["nodes"]:
        extra = f" ram={n['ram']}MB cpus={n['cpus']} nics={n['adapters']} " \
            f"image={p(n['image'])}" if n["type"] == "qemu" else ""
        seed = f" seed={p(n['seed'])}" if n["seed"] else ""
        click.echo(f"  {p(n['name']):<12} {p(n['type']):<16}{extra}{seed}")
    click.echo(f"links ({len(info['links'])}):")
    for link in info["links"]:
        click.echo(f"  {p(link)}")
    click.echo(f"layout: {p(info['layout'])}")
    click.echo("images needed: " + (", ".join(map(p, info["images_needed"])) or "none"))
    if info["images_included"]:
        click.echo("images included: " + ", ".join(map(p, info["images_included"])))
    for line in info["image_advice"]:
        click.echo(p(line))
    _echo_capture(info["capture"])
    click.echo(f"secrets ({len(info['secrets'])}):" if info["secrets"] else "secrets: none")
    for secret in info["secrets"]:
        click.echo(f"  {p(secret)}")
    if info["qemu_options"]:
        click.echo("QEMU options (extra arguments every start passes to QEMU; review them):")
        for node, options in sorted(info["qemu_options"].items()):
            click.echo(f"  {p(node)}: {p(options)}")
    if info["totals"]:
        t = info["totals"]
        click.echo(f"lab totals: {t['ram_mb']} MB RAM, {t['vcpus']} vCPUs, "
                   f"{t['disk_bytes'] / 2**30:.1f} GiB worst-case disk")
        for warning in resource_warnings(t):
            click.echo(f"warning: {warning}", err=True)
    if info["manifest_ok"] is False:
        raise GeneratorError("manifest check failed: " + "; ".join(info["manifest_mismatches"]))
    if info["manifest_ok"]:
        click.echo("manifest: every member matches its sha256")


@main.command()
@click.argument("archive", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--server", "server_url", required=True, metavar="URL",
              help="GNS3 server, e.g. http://localhost:3080.")
@click.option("--user", "username", default=None, help="GNS3 user (required by GNS3 3.x).")
@click.option("--password", default=None, help="Password of --user.")
@click.option("--name", default=None,
              help="Project name (default: the archive's; GNS3 appends -1, -2 if taken).")
@click.option("--start", is_flag=True, help="Start all nodes.")
@click.option("--wait", is_flag=True,
              help="Follow the consoles until the lab is ready (implies --start).")
@click.option("--timeout", type=click.FloatRange(min=1), default=1800, show_default=True,
              help="Seconds --wait waits for 'lab ready'.")
@click.option("--console-log", "console_dir", type=click.Path(path_type=Path), default=None,
              help="With --wait: write each node's console transcript to DIR/<node>.log (a "
                   "node name that is not a plain file name gets a safe name and a hash).")
@click.option("--upload-images", "upload_dirs", multiple=True, metavar="DIR",
              type=click.Path(path_type=Path, file_okay=False),
              help="Upload base images the server lacks, from DIR (repeatable; then "
                   "$GNS3LAB_IMAGES and ~/GNS3/images/QEMU).")
@click.option("--stop", is_flag=True,
              help="Stop the nodes of the pushed project --name (default: the archive's).")
@click.option("--delete", is_flag=True, help="Stop and delete the pushed project --name.")
@click.option("--stall", type=click.FloatRange(min=1), default=900, show_default=True,
              help="With --wait: give up when no console prints anything for this long.")
@click.option("--timeline", "timeline_file", type=click.Path(path_type=Path, dir_okay=False),
              default=None, help="With --wait: write the timeline (each node's boot and "
              "cloud-init, each stage, lab ready, with their shares) to FILE as JSON.")
def push(archive: Path, server_url: str, username: str | None, password: str | None,
         name: str | None, start: bool, wait: bool, timeout: float,
         console_dir: Path | None, upload_dirs: tuple[Path, ...], stop: bool,
         delete: bool, stall: float, timeline_file: Path | None) -> None:
    """Import ARCHIVE into a GNS3 server, open it, and optionally start it and wait.

    Exit code 0 when done (with --wait: the lab reported ready), 1 when a stage failed or
    --wait timed out, 2 when the server refused or could not be reached.
    """
    from generator.server.push import push_archive
    from generator.server.pushview import PushDisplay

    with PushDisplay(sys.stderr, live=sys.stdout.isatty()) as display:
        result = push_archive(archive, server_url, username=username, password=password,
                              name=name, start=start, wait=wait, timeout=timeout,
                              upload_from=upload_dirs or None, stop=stop, delete=delete,
                              progress=display, stall=stall)
    _report_push(result, server_url, console_dir, timeline_file)


def _report_push(result: PushResult, server_url: str, console_dir: Path | None,
                 timeline_file: Path | None = None) -> None:
    """The summary of a push. Every name in it comes from the server (or a console) and is
    printed through :func:`printable`."""
    from generator.server.consolelog import write_console_logs

    p = printable
    if result.deleted or result.stopped:
        click.echo(f"project '{p(result.name)}': " + ("deleted" if result.deleted else "stopped"))
        return
    click.echo(f"project '{p(result.name)}' ({p(result.project_id)}) on {p(server_url)}: "
               f"{len(result.nodes)} nodes" + (", started" if result.started else ""))
    if not result.waited:
        return
    if console_dir is not None:
        for node, path in write_console_logs(console_dir, result.transcripts).items():
            if path.name != f"{node}.log":  # renamed: say where it went
                click.echo(f"console log of node '{p(node)}': {p(path)}", err=True)
    _report_timeline(result, timeline_file)
    stages = ", ".join(f"{stage} {'ok' if ok else 'failed'}" for stage, ok in result.stages)
    click.echo(f"stages: {p(stages) or 'none seen'}")
    failed = [c for c in result.checks if not c.ok]
    click.echo(f"checks: {len(result.checks) - len(failed)}/{len(result.checks)} ok"
               + "".join(f"; {p(c.node)} {p(c.address)} failed" for c in failed))
    if result.ready:
        click.echo("lab ready")
        return
    click.echo(f"lab not ready: {p(result.failure)}", err=True)
    for node, text in result.transcripts.items():
        tail = text.splitlines()[-5:]
        click.echo(f"last console lines of {p(node)}:" if tail else
                   f"{p(node)}: no console output", err=True)
        for line in tail:
            click.echo(f"  | {p(line)}", err=True)
    sys.exit(1)


def _report_timeline(result: PushResult, timeline_file: Path | None) -> None:
    """Print the timeline (names come from the server and consoles: shown as text) and write
    its JSON to ``timeline_file``."""
    from generator.server.timeline import render_text, timeline_json

    if result.timeline is None:
        return
    for line in render_text(result.timeline).splitlines():
        click.echo(printable(line))
    if timeline_file is not None:
        try:
            fileio.atomic_write(timeline_file, json.dumps(
                timeline_json(result.timeline), indent=2, sort_keys=True) + "\n")
        except OSError as exc:
            raise GeneratorError(f"cannot write the timeline to {printable(str(timeline_file))}: "
                                 f"{exc.strerror or exc}", hint="name a file you can write"
                                 ) from None
        click.echo(f"timeline: {printable(str(timeline_file))}")


def _plain(value: Any) -> Any:
    """Model records as plain data for YAML/JSON output."""
    if is_dataclass(value) and not isinstance(value, type):
        return {k: _plain(v) for k, v in asdict(value).items()}
    if isinstance(value, BaseModel):  # an add-on's typed settings
        return _plain(value.model_dump(mode="json"))
    if isinstance(value, Mapping):  # a dict, or the model's FrozenMap
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def _echo_capture(capture: dict[str, Any] | None) -> None:
    """inspect's lines about a captured archive (gns3lab capture) and its snapshots."""
    if capture is None:
        return
    p = printable
    if "captured_at" in capture:
        click.echo(f"captured {p(capture['captured_at'])} in GNS3 {p(capture['gns3_version'])} "
                   f"from {p(capture['source_archive'])} (sha256 {p(capture['source_sha256'])})")
        for stage in capture["stages"]:
            click.echo(f"  stage {p(stage['name'])}: {'ok' if stage['ok'] else 'failed'} in "
                       f"{stage['seconds']:.0f} s")
    click.echo(f"snapshots ({len(capture['snapshots'])}):")
    for snap in capture["snapshots"]:
        after = f" after stage {p(snap['stage'])}" if snap["stage"] else ""
        click.echo(f"  {p(snap['name'] or snap['member'])}{after}: {p(snap['member'])}, "
                   f"{snap['bytes']} bytes, {snap['members']} members")


def _register() -> None:
    """Command groups that live in their own modules."""
    from generator.cli.capture_cmd import capture
    from generator.cli.images import appliance, images
    from generator.cli.import_cmd import import_cmd
    from generator.cli.lifecycle import diff, graph
    from generator.cli.verify import verify

    main.add_command(images)
    main.add_command(appliance)
    main.add_command(graph)
    main.add_command(diff)
    main.add_command(verify)
    main.add_command(import_cmd)
    main.add_command(capture)


_register()

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
