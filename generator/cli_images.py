"""``gns3lab images``: build, list, fetch and check base images."""

from __future__ import annotations

import os
from pathlib import Path

import click

from .cli_common import progress as _progress


@click.group()
def images() -> None:
    """Build and list base images."""


@images.command("build")
@click.argument("name")
@click.option("--images-dir", type=click.Path(path_type=Path), default=None,
              help="Where to write it (default: $GNS3LAB_IMAGES or ~/GNS3/images/QEMU).")
@click.option("--force", is_flag=True, help="Rebuild even if the cached image exists.")
def images_build(name: str, images_dir: Path | None, force: bool) -> None:
    """Build a base image (e.g. debian-12) from Debian packages, cached by recipe."""
    from .imagebuild import build_image
    from .images import ENV_IMAGES

    target = images_dir or Path(os.environ.get(ENV_IMAGES, "").split(os.pathsep)[0]
                                or Path.home() / "GNS3" / "images" / "QEMU")
    built = build_image(name, target, force=force, progress=_progress())
    state = "cached" if built.cached else "built"
    click.echo(f"{state} {built.path} ({built.size} bytes, md5 {built.md5})")
    click.echo(f"appliance: {built.appliance_path}")
