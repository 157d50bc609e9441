"""``gns3lab graph`` and ``gns3lab diff``: a lab's diagram, and what changed between two builds."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from rich.console import Console

    from generator.read.diff import LabDiff


@click.command()
@click.argument("blueprint", type=click.Path(path_type=Path))
@click.option("-o", "--output", "out", required=True, type=click.Path(path_type=Path),
              help="File to write: SVG, or PNG when it ends in .png.")
@click.option("--images-dir", "images_dirs", multiple=True, type=click.Path(path_type=Path),
              help="Folder with base images and appliances (repeatable).")
def graph(blueprint: Path, out: Path, images_dirs: tuple[Path, ...]) -> None:
    """Draw BLUEPRINT's topology (tiers, nodes, ports, networks) with Graphviz."""
    from generator.build import load_lab
    from generator.write.diagram import render_png, render_svg

    lab = load_lab(blueprint, images_dirs)
    data = render_png(lab) if out.suffix.lower() == ".png" else render_svg(lab)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(data)
    click.echo(f"wrote {out} ({len(data)} bytes): {len(lab.nodes)} nodes, {len(lab.links)} links")


@click.command()
@click.argument("old", type=click.Path(path_type=Path, exists=True))
@click.argument("new", type=click.Path(path_type=Path, exists=True))
@click.option("--json", "as_json", is_flag=True, help="Print the differences as JSON.")
@click.option("--images-dir", "images_dirs", multiple=True, type=click.Path(path_type=Path),
              help="Folder with appliances for blueprints (repeatable).")
def diff(old: Path, new: Path, as_json: bool, images_dirs: tuple[Path, ...]) -> None:
    """Compare two labs, each an archive or a blueprint.

    Exit code 0 when they are equal, 1 when they differ, 2 on error (as diff(1) does).
    """
    import json

    from rich.console import Console

    from generator.read.diff import diff_labs

    result = diff_labs(old, new, images_dirs)
    if as_json:
        click.echo(json.dumps(result.to_json(), indent=2, sort_keys=True))
    else:
        print_diff(result, Console(highlight=False, soft_wrap=True))
    raise SystemExit(0 if result.equal else 1)


def _value(value: object) -> str:
    return "-" if value is None or value == "" else str(value)


def print_diff(result: LabDiff, console: Console) -> None:
    """The human form of a :class:`generator.read.diff.LabDiff` on a rich console."""
    from rich.text import Text

    out = console.print
    out(Text(f"old: {result.old}\nnew: {result.new}"))
    count = 0
    for name, sec in result.sections.items():
        if not sec:
            continue
        out(Text(name, style="bold"))
        for key in sec.added:
            out(Text(f"  + {key}", style="green"))
        for key in sec.removed:
            out(Text(f"  - {key}", style="red"))
        for end, was, now in sec.rewired:
            out(Text(f"  ~ {end} rewired: {was} -> {now}", style="yellow"))
        for key, change in sec.changed.items():
            if isinstance(change, str):  # a unified diff
                out(Text(f"  ~ {key}", style="yellow"))
                for line in change.splitlines():
                    style = "green" if line.startswith("+") else \
                        "red" if line.startswith("-") else "cyan" if line.startswith("@") else ""
                    out(Text(f"      {line}", style=style))
            elif isinstance(change, dict):
                parts = [f"{k} {_value(a)} -> {_value(b)}" for k, (a, b) in change.items()]
                out(Text(f"  ~ {key}: " + ", ".join(parts), style="yellow"))
            else:
                out(Text(f"  ~ {key}: {_value(change[0])} -> {_value(change[1])}",
                         style="yellow"))
        count += len(sec.added) + len(sec.removed) + len(sec.rewired) + len(sec.changed)
    for what in result.not_compared:
        out(Text(f"not compared: {what}", style="dim"))
    out(Text("no differences" if result.equal else
             f"{count} difference{'s' if count != 1 else ''}", style="bold"))
