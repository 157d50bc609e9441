"""One object owns every path: in the staging folder and, identically, in the archive.

``Layout(Path())`` spells archive member names (readers of a stranger's archive use it with
node ids, not model nodes). Paths outside a build (the GNS3 server's own folders) are here too,
so no other module spells them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from generator.archive_format import IMAGES_PREFIX, MANIFEST, META_DIR, NODES_PREFIX, PROJECT_FILE
from generator.model import DataDisk, Node

__all__ = ["META_DIR", "PROJECT_FILE", "Layout"]


@dataclass(frozen=True)
class Layout:
    """Paths of one build's staging tree; ``rel()`` gives the archive member name."""

    root: Path

    @property
    def project_file(self) -> Path:
        return self.root / PROJECT_FILE

    @property
    def project_files(self) -> Path:
        """Every node's own files (overlays, data disks, seeds), one folder per node."""
        return self.root / NODES_PREFIX

    def node_dir(self, node: Node) -> Path:
        return self.node_dir_of(node.node_id)

    def node_dir_of(self, node_id: str) -> Path:
        """A node's folder by its id: for a project file read back, whose nodes are mappings."""
        return self.project_files / "qemu" / node_id

    def overlay(self, node: Node) -> Path:
        return self.overlay_of(node.node_id)

    def overlay_of(self, node_id: str) -> Path:
        """A node's linked clone (GNS3 names a QEMU node's first disk ``hda_disk.qcow2``)."""
        return self.node_dir_of(node_id) / "hda_disk.qcow2"

    def data_disk(self, node: Node, disk: DataDisk) -> Path:
        return self.node_dir(node) / disk.filename

    def seed(self, node: Node) -> Path:
        return self.node_dir(node) / node.seed_name

    @property
    def meta_dir(self) -> Path:
        return self.root / META_DIR

    @property
    def manifest(self) -> Path:
        return self.root / MANIFEST

    @property
    def blueprint_dir(self) -> Path:
        return self.meta_dir / "blueprint"

    @property
    def bootstrap_dir(self) -> Path:
        """The controller's bootstrap tree, kept in the archive for review."""
        return self.meta_dir / "bootstrap"

    @property
    def images_dir(self) -> Path:
        """The base images an archive carries (GNS3 installs them on import)."""
        return self.root / IMAGES_PREFIX

    def image(self, filename: str) -> Path:
        return self.images_dir / filename

    def rel(self, path: Path) -> str:
        return str(PurePosixPath(path.relative_to(self.root)))

    def rel_dir(self, path: Path) -> str:
        """The member name prefix of a folder: :meth:`rel` with a trailing slash."""
        return self.rel(path) + "/"


def gns3_images_dir() -> Path:
    """The GNS3 server's default QEMU image folder (``~/GNS3/images/QEMU``), at call time."""
    return Path.home() / "GNS3" / "images" / "QEMU"


def imported_project_file(project_name: str) -> str:
    """The project file's name on a GNS3 server after import: GNS3 names it after the
    project, not ``project.gns3``."""
    return f"{project_name}.gns3"
