"""``gns3lab import``: a GNS3 project (``.gns3`` file, revisions 5-10, or ``.gns3project``
archive) -> a blueprint folder that ``gns3lab validate`` accepts.

The pipeline, one call per stage: open the source with the safe reader (``source``), parse the
project into typed records with every problem collected (``project``), map the records to the
blueprint's data, its appliances and seeds (``mapping``, ``images``, ``seeds``), then write the
folder beside the destination, validate it as ``gns3lab validate`` would, and only then move it
into place: on any error nothing is left behind.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from generator.blueprint.appliances import REPO_APPLIANCES, load_catalogue
from generator.errors import BlueprintError, Problem
from generator.fileio import atomic_write
from generator.importing.images import ImageMatcher
from generator.importing.mapping import Mapper
from generator.importing.project import parse_project
from generator.importing.seeds import SeedReader
from generator.importing.source import ProjectSource
from generator.model import Lab
from generator.render.yamltext import dump_yaml

HEADER = ("# Imported by `gns3lab import` from {source}.\n"
          "# Positions, labels, drawings and the scene size are pinned as the project had them.\n")


@dataclass(frozen=True)
class ImportResult:
    folder: Path
    nodes: int
    links: int
    did: tuple[str, ...]
    lost: tuple[str, ...]


def import_project(source: Path, out: Path, *, skip_unsupported: bool = False,
                   images_dirs: Sequence[Path] = ()) -> ImportResult:
    """Turn the project at ``source`` into the blueprint folder ``out`` (which must not exist
    or be empty). BlueprintError with one problem per thing wrong; nothing written then."""
    check_destination(out)
    from generator.images.baseimages import search_dirs

    local = search_dirs(images_dirs)
    catalogue = load_catalogue([REPO_APPLIANCES, *local], strict=1)
    src = ProjectSource(source)
    try:
        project = parse_project(src.data, str(source))
        images = ImageMatcher(src, catalogue, local)
        imported = Mapper(project, str(source), images, SeedReader(src), skip_unsupported).run()
    finally:
        src.close()
    files = {**images.files, **imported.files,
             "lab.yaml": (HEADER.format(source=source.name) +
                          dump_yaml(imported.blueprint)).encode()}
    lab = write_folder(out, files, images_dirs)
    return ImportResult(out, len(lab.nodes), len(lab.links), tuple(imported.did),
                        tuple(imported.lost))


def check_destination(out: Path) -> None:
    if out.is_symlink() or (out.exists() and (not out.is_dir() or any(out.iterdir()))):
        raise BlueprintError([Problem(str(out), None, "", "exists and is not an empty folder",
                                      "give a new folder to write the blueprint to")])


def write_folder(out: Path, files: dict[str, bytes], images_dirs: Sequence[Path] = ()
                 ) -> Lab:
    """Write ``files`` into a temporary folder beside ``out``, validate it, then rename it to
    ``out``; the temporary folder is removed on any error."""
    from generator.build import load_lab

    parent = out.absolute().parent
    parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.import-", dir=parent))
    try:
        for name, data in sorted(files.items()):
            (tmp / name).parent.mkdir(parents=True, exist_ok=True)
            atomic_write(tmp / name, data)
        try:
            lab = load_lab(tmp / "lab.yaml", tuple(images_dirs))
        except BlueprintError as exc:  # name the folder the user asked for, not the temporary
            for p in exc.problems:
                p.file = p.file.replace(str(tmp), str(out))
            raise BlueprintError(exc.problems) from None
        if out.exists():
            out.rmdir()  # empty: checked before
        os.rename(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return lab
