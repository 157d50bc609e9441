"""One object owns every path: in the staging folder and, identically, in the archive."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from generator.model import DataDisk, Node

PROJECT_FILE = "project.gns3"
META_DIR = "gns3lab"  # our own files inside the project folder (GNS3 carries them along)


@dataclass(frozen=True)
class Layout:
    """Paths of one build's staging tree; ``rel()`` gives the archive member name."""

    root: Path

    @property
    def project_file(self) -> Path:
        return self.root / PROJECT_FILE

    def node_dir(self, node: Node) -> Path:
        return self.root / "project-files" / "qemu" / node.node_id

    def overlay(self, node: Node) -> Path:
        return self.node_dir(node) / "hda_disk.qcow2"

    def data_disk(self, node: Node, disk: DataDisk) -> Path:
        return self.node_dir(node) / disk.filename

    def seed(self, node: Node) -> Path:
        return self.node_dir(node) / node.seed_name

    @property
    def meta_dir(self) -> Path:
        return self.root / META_DIR

    @property
    def manifest(self) -> Path:
        return self.meta_dir / "manifest.json"

    @property
    def blueprint_dir(self) -> Path:
        return self.meta_dir / "blueprint"

    @property
    def bootstrap_dir(self) -> Path:
        """The controller's bootstrap tree, kept in the archive for review."""
        return self.meta_dir / "bootstrap"

    def image(self, filename: str) -> Path:
        return self.root / "images" / "QEMU" / filename

    def rel(self, path: Path) -> str:
        return str(PurePosixPath(path.relative_to(self.root)))
