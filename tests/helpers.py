"""Small helpers shared by tests (no fixtures here)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from generator import tools

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "tests" / "data"
BLUEPRINTS = DATA / "blueprints"


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def make_tiny_appliance(images_dir: Path, name: str, filename: str, size: str = "64M",
                        port_name_format: str = "eth{0}") -> Path:
    """A small blank qcow2 base image plus a .gns3a naming it with its real md5 and size."""
    images_dir.mkdir(parents=True, exist_ok=True)
    image = images_dir / filename
    if not image.exists():
        tools.qemu_img("create", "-q", "-f", "qcow2", image, size)
    appliance = {
        "appliance_id": "6b0c1f52-3a43-4d5e-9c1e-0a6a3c9e2b11", "name": name,
        "category": "guest", "description": "test appliance", "vendor_name": "test",
        "vendor_url": "https://example.org", "product_name": name, "registry_version": 4,
        "status": "experimental", "maintainer": "gns3lab tests",
        "maintainer_email": "tests@example.org", "port_name_format": port_name_format,
        "qemu": {"adapter_type": "virtio-net-pci", "adapters": 1, "ram": 64,
                 "hda_disk_interface": "virtio", "arch": "x86_64", "console_type": "telnet",
                 "kvm": "allow"},
        "images": [{"filename": filename, "version": "1", "md5sum": md5(image),
                    "filesize": image.stat().st_size}],
        "versions": [{"name": "1", "images": {"hda_disk_image": filename}}],
    }
    path = images_dir / f"{Path(filename).stem}.gns3a"
    path.write_text(json.dumps(appliance, indent=4))
    return path


def save_transcripts(name: str, transcripts: dict[str, str]) -> Path:
    """Keep each node's console transcript in ``test-artifacts/<name>/`` (git-ignored)."""
    folder = REPO / "test-artifacts" / name
    folder.mkdir(parents=True, exist_ok=True)
    for node, text in transcripts.items():
        (folder / f"{node}.log").write_text(text)
    return folder


def link_image(image: Path, folder: Path) -> None:
    """Put a base image into a server's image folder (hard link, else a copy)."""
    target = folder / image.name
    if not target.exists():
        try:
            os.link(image, target)
        except OSError:
            shutil.copy(image, target)


@contextmanager
def judging_pushed_lab(server: Any, push: Any, artifacts: str) -> Iterator[None]:
    """Assertions about a pushed lab: on failure keep its consoles (and the server log), and
    always stop, close and delete the project."""
    try:
        yield
    except (AssertionError, StopIteration):
        folder = save_transcripts(artifacts, push.transcripts)
        server.failed = True
        raise AssertionError(f"consoles saved in {folder}") from None
    finally:
        server.client.stop_all(push.project_id)
        server.client.close_project(push.project_id)
        server.client.delete_project(push.project_id)
