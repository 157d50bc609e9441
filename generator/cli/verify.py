"""``gns3lab verify ARCHIVE``: every check of :mod:`generator.read.verify`, then exit 0 or 2."""

from __future__ import annotations

import json
from pathlib import Path

import click

from generator.cli.common import printable


@click.command()
@click.argument("archive", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--images-dir", "images_dirs", multiple=True, type=click.Path(path_type=Path),
              help="Look here first for the base images (repeatable; then the image cache, "
                   "$GNS3LAB_IMAGES and ~/GNS3/images/QEMU).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.pass_context
def verify(ctx: click.Context, archive: Path, images_dirs: tuple[Path, ...],
           as_json: bool) -> None:
    """Check ARCHIVE: members against the manifest, the project against the GNS3 servers'
    schemas, overlays' backing files, seed ISOs, and the base images it needs.

    Exit code 0 when every check passes, 2 with one reason per problem.
    """
    from generator.read.verify import verify_archive

    report = verify_archive(archive, images_dirs)
    if as_json:
        click.echo(json.dumps(report.as_json(), indent=2, sort_keys=True))
    elif report.ok:
        checked = ", ".join(f"{what} {n}" for what, n in report.checked.items())
        click.echo(f"{printable(str(archive))}: ok ({checked})")
    else:
        click.echo(f"error: {printable(str(archive))}: {len(report.problems)} problem"
                   f"{'s' if len(report.problems) > 1 else ''}", err=True)
        for problem in report.problems:
            click.echo(f"  {printable(problem.render())}", err=True)
    if not report.ok:
        ctx.exit(2)
