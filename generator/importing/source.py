"""What ``gns3lab import`` reads: a ``.gns3`` file (and the node files beside it) or a
``.gns3project`` archive, opened with the one safe reader (:class:`SafeArchive`)."""

from __future__ import annotations

import hashlib
import os
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import Any

from generator.archive_format import IMAGES_PREFIX, NODES_PREFIX
from generator.errors import BlueprintError, Problem
from generator.read.bounded import MAX_JSON, parse_json
from generator.read.reader import SafeArchive, is_archive

MAX_SEED = 16 << 20  # bytes of a seed ISO read from a project
QCOW2_HEAD = 1 << 16


class ProjectSource:
    """The project file's JSON and access to the files a node names (its disks, its CD-ROM):
    members of the archive, or files of the project's folder (regular files only, confined)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.archive: SafeArchive | None = None
        if is_archive(path):
            self.archive = SafeArchive(path)
            self.data = self._archive_project(self.archive)
        else:
            self.data = parse_json_file(path)

    def _archive_project(self, archive: SafeArchive) -> Any:
        names = [n for n in archive.names if "/" not in n and n.endswith(".gns3")]
        if len(names) != 1:
            raise BlueprintError([Problem(str(self.path), None, "", f"the archive holds "
                                          f"{len(names)} project files (.gns3) at its top",
                                          "give a .gns3project exported by GNS3 or gns3lab")])
        return archive.json(names[0])

    def close(self) -> None:
        if self.archive is not None:
            self.archive.close()

    def node_file(self, node_id: str, kind: str, name: str) -> str | None:
        """The member (or file, relative to the project's folder) holding a node's file
        ``name``: in its own folder, else among the images; None when there is none."""
        if not name or "/" in name or "\\" in name or name in (".", ".."):
            return None
        for candidate in (f"{NODES_PREFIX}{kind}/{node_id}/{name}", f"{IMAGES_PREFIX}{name}"):
            if self._exists(candidate):
                return candidate
        return None

    def _exists(self, name: str) -> bool:
        if self.archive is not None:
            return name in self.archive.infos
        path = self.path.parent / PurePosixPath(name)
        try:
            st = os.lstat(path)
        except OSError:
            return False
        return stat.S_ISREG(st.st_mode) and not _leaves(self.path.parent, path)

    def read(self, name: str, cap: int) -> bytes:
        """A file's bytes, at most ``cap`` (an archive member through the safe reader)."""
        if self.archive is not None:
            return self.archive.read(name, cap)
        with open(self.path.parent / name, "rb") as fh:
            data = fh.read(cap + 1)
        if len(data) > cap:
            raise BlueprintError([Problem(str(self.path), None, name, "is larger than "
                                          f"{cap >> 20} MiB", "remove it from the project")])
        return data

    def head(self, name: str, size: int = QCOW2_HEAD) -> bytes:
        if self.archive is not None:
            return self.archive.head(name, size)
        with open(self.path.parent / name, "rb") as fh:
            return fh.read(size)

    def md5(self, name: str) -> str:
        """md5 of a file, streamed."""
        digest = hashlib.md5(usedforsecurity=False)
        if self.archive is not None:
            for chunk in self.archive.chunks(name):
                digest.update(chunk)
        else:
            with open(self.path.parent / name, "rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    digest.update(chunk)
        return digest.hexdigest()

    @contextmanager
    def as_file(self, name: str, cap: int) -> Iterator[Path]:
        """The file as a path on disk (for parsers that need one): the project's own file, or
        the archive member copied to a temporary file (at most ``cap`` bytes)."""
        if self.archive is None:
            yield self.path.parent / name
            return
        with tempfile.NamedTemporaryFile(prefix="gns3lab-import-") as tmp:
            self.archive.copy(name, tmp, cap)
            tmp.flush()
            yield Path(tmp.name)


def _leaves(folder: Path, path: Path) -> bool:
    """Whether ``path`` resolves outside ``folder`` (a symlinked directory on the way)."""
    try:
        path.resolve().relative_to(folder.resolve())
    except ValueError:
        return True
    return False


def parse_json_file(path: Path) -> Any:
    """A ``.gns3`` file parsed within the bounded reader's limits; BlueprintError otherwise."""
    def refuse(message: str, fix: str) -> BlueprintError:
        return BlueprintError([Problem(str(path), None, "", message, fix)])

    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as exc:
        raise refuse(f"cannot open: {exc.strerror}", "give a .gns3 or .gns3project file") \
            from None
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise refuse("not a regular file", "give a .gns3 or .gns3project file")
        data = fh.read(MAX_JSON + 1)
    try:
        return parse_json(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise refuse(f"not a GNS3 project file: {exc}", "give a .gns3 file saved by GNS3") \
            from None
