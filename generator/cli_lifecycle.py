"""``gns3lab graph`` and ``gns3lab diff``: a lab's diagram, and what changed between two builds."""

from __future__ import annotations

from pathlib import Path

import click


@click.command()
@click.argument("blueprint", type=click.Path(path_type=Path))
@click.option("-o", "--output", "out", required=True, type=click.Path(path_type=Path),
              help="File to write: SVG, or PNG when it ends in .png.")
@click.option("--images-dir", "images_dirs", multiple=True, type=click.Path(path_type=Path),
              help="Folder with base images and appliances (repeatable).")
def graph(blueprint: Path, out: Path, images_dirs: tuple[Path, ...]) -> None:
    """Draw BLUEPRINT's topology (tiers, nodes, ports, networks) with Graphviz."""
    from .build import load_lab
    from .graph import render_png, render_svg

    lab = load_lab(blueprint, images_dirs)
    data = render_png(lab) if out.suffix.lower() == ".png" else render_svg(lab)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(data)
    click.echo(f"wrote {out} ({len(data)} bytes): {len(lab.nodes)} nodes, {len(lab.links)} links")
