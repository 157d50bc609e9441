"""Small helpers shared by tests (no fixtures here). Nothing here runs an external program, so
the unit and golden tests may use all of it."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "tests" / "data"
BLUEPRINTS = DATA / "blueprints"


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


QCOW2_CLUSTER_BITS = 16
#: The feature name table qemu-img 7.2 writes: (type, bit, name); 0 incompatible, 1 compatible,
#: 2 autoclear.
QCOW2_FEATURES = ((0, 0, b"dirty bit"), (0, 1, b"corrupt bit"), (0, 2, b"external data file"),
                  (0, 3, b"compression type"), (0, 4, b"extended L2 entries"),
                  (1, 0, b"lazy refcounts"), (2, 0, b"bitmaps"), (2, 1, b"raw external data"))


def write_qcow2(path: Path, virtual_size: int) -> Path:
    """A blank qcow2 of ``virtual_size`` bytes, in pure Python, byte for byte what
    ``qemu-img create -f qcow2 PATH SIZE`` writes (version 3, 64 KiB clusters; header with
    the feature name table, refcount table, one refcount block, an empty L1 table in clusters
    0-3), so unit tests need no qemu-img and the goldens that name an image's md5 stay put.
    """
    cluster = 1 << QCOW2_CLUSTER_BITS
    l1_size = max(1, -(-virtual_size // (cluster * (cluster // 8))))
    header = struct.pack(">4sIQIIQIIQQIIQQQQII", b"QFI\xfb", 3, 0, 0, QCOW2_CLUSTER_BITS,
                         virtual_size, 0, l1_size, 3 * cluster, cluster, 1, 0, 0, 0, 0, 0, 4,
                         112) + bytes(8)  # compression type 0 (zlib), padded to 8 bytes
    table = b"".join(struct.pack(">BB46s", kind, bit, name) for kind, bit, name in QCOW2_FEATURES)
    header += struct.pack(">II", 0x6803F857, len(table)) + table + bytes(8)  # then end marker
    data = bytearray(3 * cluster + 8 * l1_size)
    data[:len(header)] = header
    data[cluster:cluster + 8] = struct.pack(">Q", 2 * cluster)  # refcount table -> block
    data[2 * cluster:2 * cluster + 8] = struct.pack(">4H", 1, 1, 1, 1)  # clusters 0-3 in use
    path.write_bytes(bytes(data))
    return path


def parse_size(size: str) -> int:
    """``64M`` / ``2G`` / ``4096`` -> bytes (the suffixes qemu-img takes)."""
    match = re.fullmatch(r"(\d+)([KMGT]?)", size)
    if not match:
        raise ValueError(f"not a size: {size}")
    return int(match[1]) << {"": 0, "K": 10, "M": 20, "G": 30, "T": 40}[match[2]]


def make_tiny_appliance(images_dir: Path, name: str, filename: str, size: str = "64M",
                        port_name_format: str = "eth{0}") -> Path:
    """A small blank qcow2 base image plus a .gns3a naming it with its real md5 and size."""
    images_dir.mkdir(parents=True, exist_ok=True)
    image = images_dir / filename
    if not image.exists():
        write_qcow2(image, parse_size(size))
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


def stale_goldens(request: Any, folder: Path, expected: set[str]) -> list[str]:
    """Files under ``folder`` (relative POSIX paths) that no case produces, for golden sets that
    are written one file per test; with ``--update-golden`` they are deleted first (and none is
    left to report)."""
    stale = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*")
                   if p.is_file() and p.relative_to(folder).as_posix() not in expected)
    if request.config.getoption("--update-golden"):
        for name in stale:
            (folder / name).unlink()
        return []
    return stale


def path_with(folder: Path, *programs: str) -> Path:
    """``folder`` holding links to just ``programs`` (from the real PATH), to be the whole PATH."""
    folder.mkdir()
    for name in programs:
        real = shutil.which(name)
        assert real, f"{name} is needed on this host for the test"
        (folder / name).symlink_to(real)
    return folder
