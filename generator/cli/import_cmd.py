"""``gns3lab import SOURCE -o FOLDER``: a GNS3 project or portable archive -> a blueprint
folder (:mod:`generator.importing`); prints what it did and what it could not carry over."""

from __future__ import annotations

from pathlib import Path

import click

from generator.cli.common import printable


@click.command("import")
@click.argument("source", type=click.Path(path_type=Path, dir_okay=False))
@click.option("-o", "--output", "out", required=True, type=click.Path(path_type=Path),
              help="The blueprint folder to write (new or empty).")
@click.option("--skip-unsupported", is_flag=True,
              help="Import the rest when some nodes are of a type a blueprint cannot hold "
                   "(VPCS, Docker, IOU, Dynamips, VirtualBox, VMware); they are listed.")
@click.option("--images-dir", "images_dirs", multiple=True, type=click.Path(path_type=Path),
              help="Look here first for the base images (to match them by md5).")
def import_cmd(source: Path, out: Path, skip_unsupported: bool,
               images_dirs: tuple[Path, ...]) -> None:
    """Turn the GNS3 project SOURCE (.gns3 file or .gns3project archive, GNS3 2.x or 3.x)
    into a blueprint folder that `gns3lab validate` accepts.

    Exit code 0 with what was imported and what was not carried over; 2 with one line per
    problem, and nothing written.
    """
    from generator.importing import import_project

    result = import_project(source, out, skip_unsupported=skip_unsupported,
                            images_dirs=images_dirs)
    click.echo(f"{printable(str(result.folder))}/lab.yaml: {result.nodes} nodes, "
               f"{result.links} links")
    for line in result.did:
        click.echo(f"  {printable(line)}")
    if result.lost:
        click.echo(f"not carried over ({len(result.lost)}):")
        for line in result.lost:
            click.echo(f"  - {printable(line)}")
    else:
        click.echo("everything the project says was carried over")
