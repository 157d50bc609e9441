"""The qcow2 header, read in Python: the backing file name and the virtual size, without a
``qemu-img`` process per disk. Big-endian: magic ``QFI\\xfb`` (0), version (4: u32, 2 or 3),
backing_file_offset (8: u64), backing_file_size (16: u32), cluster_bits (20), size (24: u64)."""

from __future__ import annotations

from pathlib import Path

MAGIC = b"QFI\xfb"
#: The header cluster: the backing file name lies inside it.
HEAD = 64 << 10


def read_head(path: Path, size: int = HEAD) -> bytes:
    """The first ``size`` bytes of a file (fewer if it is shorter)."""
    with path.open("rb") as fh:
        return fh.read(size)


def _checked(head: bytes, length: int) -> None:
    if len(head) < length or head[:4] != MAGIC:
        raise ValueError("not a qcow2 image (no QFI\\xfb magic)")
    version = int.from_bytes(head[4:8], "big")
    if version not in (2, 3):
        raise ValueError(f"qcow2 version {version}, not 2 or 3")


def backing_name(head: bytes) -> str | None:
    """The backing file name in a qcow2 header (its first bytes), or None when it has none.
    ValueError when ``head`` is no qcow2 header or the name lies outside it."""
    _checked(head, 20)
    offset, size = int.from_bytes(head[8:16], "big"), int.from_bytes(head[16:20], "big")
    if offset == 0:
        return None
    if size == 0 or size > 1023 or offset + size > len(head):
        raise ValueError(f"backing file name ({size} bytes at offset {offset}) lies outside "
                         "the header")
    try:
        return head[offset:offset + size].decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError("backing file name is not UTF-8") from None


def virtual_size(head: bytes) -> int:
    """The virtual disk size in bytes a qcow2 header records. ValueError if it is no qcow2."""
    _checked(head, 32)
    return int.from_bytes(head[24:32], "big")
