"""``gns3lab capture ARCHIVE --server URL``: the lab as it stood when it was ready, archived
(:mod:`generator.server.capture`)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from generator.cli.common import printable


@click.command()
@click.argument("archive", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--server", "server_url", required=True, metavar="URL",
              help="The GNS3 server (controller), e.g. http://127.0.0.1:3080.")
@click.option("--user", "username", default=None, help="GNS3 user (required by GNS3 3.x).")
@click.option("--password", default=None, help="Password of --user.")
@click.option("-o", "--output", "out_dir", type=click.Path(path_type=Path, file_okay=False),
              default=Path("dist"), show_default=True,
              help="Folder for <lab>-<version>-ready.gns3project.")
@click.option("--checkpoints", is_flag=True,
              help="Snapshot the lab after each stage (GNS3 snapshots named after the stages, "
                   "carried in the captured archive).")
@click.option("--name", default=None, help="Project name on the server (default: the lab's).")
@click.option("--timeout", type=click.FloatRange(min=1), default=1800, show_default=True,
              help="Seconds from the first start to 'lab ready'.")
@click.option("--stall", type=click.FloatRange(min=1), default=900, show_default=True,
              help="Fail when no console prints anything for this many seconds.")
@click.option("--export-timeout", type=click.FloatRange(min=1), default=3600,
              show_default=True, help="Seconds GNS3's export of the lab may take to download.")
def capture(archive: Path, server_url: str, username: str | None, password: str | None,
            out_dir: Path, checkpoints: bool, name: str | None, timeout: float,
            stall: float, export_timeout: float) -> None:
    """Push ARCHIVE, let the lab build itself, and archive it as it stands when ready.

    The guests are synced by the lab's bootstrap, paused and powered off; GNS3 exports the
    project (with its snapshots) and gns3lab re-packs it with its manifest, README and diagram.
    A captured lab prints 'gns3lab: lab ready' on its next boot after only the check stage.
    Exit code 0 when captured, 2 when the lab did not get ready, the server refused a step or
    answered what GNS3 does not (then nothing is written into the output folder).
    """
    from generator.server.capture import capture_archive
    from generator.server.pushview import PushDisplay

    with PushDisplay(sys.stderr, live=sys.stdout.isatty()) as display:
        result = capture_archive(archive, server_url, out_dir, username=username,
                                 password=password, name=name, checkpoints=checkpoints,
                                 timeout=timeout, stall=stall,
                                 export_timeout=export_timeout, progress=display)
    record = result.manifest.capture
    assert record is not None
    for stage in record.stages:
        click.echo(f"stage {printable(stage.name)}: {'ok' if stage.ok else 'failed'} "
                   f"in {stage.seconds:.0f} s")
    for member, snap in sorted(record.snapshots.items()):
        click.echo(f"snapshot {printable(snap.name)} (after stage {printable(snap.stage)}): "
                   f"{printable(member)}")
    click.echo(f"captured {printable(str(result.archive))} (project {printable(result.name)} "
               "stays on the server, stopped)")
