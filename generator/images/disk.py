"""The raw disk of a built image: MBR, ext4 root and FAT boot partition, written reproducibly.

Every value that mke2fs, mkfs.fat, mtools and SYSLINUX would take from the clock or from a
random source is fixed: the caller passes one ``epoch`` (``SOURCE_DATE_EPOCH``) and one
``uuid``. :func:`clamp_tree` first sets every file's atime and mtime to at most ``epoch``;
mke2fs copies those, but it copies each source file's ctime too, which no program can set, so
:func:`fix_ctimes` rewrites the ctime of every used inode with debugfs afterwards.
"""

from __future__ import annotations

import os
import re
import struct
import time
from pathlib import Path

from generator import tools
from generator.errors import ImageError

#: SYSLINUX MBR code (boots the partition marked active), from syslinux-common.
MBR_CODE = tools.SYSLINUX_MBR
SECTOR = 512
#: ext4's first non-reserved inode (inodes 1..10 are written by mke2fs itself, at ``epoch``).
FIRST_INODE = 11


def epoch_env(epoch: int) -> dict[str, str]:
    """The environment that pins the clock of every Debian tool that reads it."""
    return {**os.environ, "SOURCE_DATE_EPOCH": str(epoch), "E2FSPROGS_FAKE_TIME": str(epoch),
            "TZ": "UTC", "LC_ALL": "C.UTF-8"}


def clamp_tree(root: Path, epoch: int) -> int:
    """Set atime to ``epoch`` and mtime to ``min(mtime, epoch)`` for every path under ``root``
    (symlinks themselves, not their targets); returns how many paths were changed.

    Package files keep their own (older) mtimes, so Python's pyc checks still hold; only what
    the build itself made (initramfs, ld.so.cache, pyc files, /etc edits) moves to ``epoch``.
    """
    changed = 0
    for path in [root, *sorted(root.rglob("*"))]:
        st = path.lstat()
        mtime = min(st.st_mtime_ns // 10**9, epoch)
        if st.st_atime_ns != epoch * 10**9 or st.st_mtime_ns != mtime * 10**9:
            os.utime(path, ns=(epoch * 10**9, mtime * 10**9), follow_symlinks=False)
            changed += 1
    return changed


def write_partition_table(raw: Path, disk_size: int, *, boot: tuple[int, int],
                          root: tuple[int, int], signature: int) -> None:
    """Create the sparse raw disk with SYSLINUX's MBR code and two partitions.

    Entry 1 is the ext4 root (``/dev/vda1``), entry 2 the active FAT16 boot partition.
    ``boot`` and ``root`` are (offset, size) in bytes.
    """
    code = MBR_CODE.read_bytes()[:440]
    entries = _mbr_entry(root, 0x83, active=False) + _mbr_entry(boot, 0x06, active=True)
    mbr = code.ljust(440, b"\0") + struct.pack("<IH", signature, 0) + entries.ljust(64, b"\0")
    with open(raw, "wb") as f:
        f.truncate(disk_size)
        f.write(mbr + b"\x55\xaa")


def _mbr_entry(part: tuple[int, int], ptype: int, *, active: bool) -> bytes:
    """One 16-byte MBR partition entry (LBA, with CHS for a 255/63 geometry)."""
    start, size = part[0] // SECTOR, part[1] // SECTOR
    return struct.pack("<B3sB3sII", 0x80 if active else 0, _chs(start), ptype,
                       _chs(start + size - 1), start, size)


def _chs(lba: int) -> bytes:
    """CHS address of ``lba`` for 255 heads and 63 sectors per track, capped at 1023/254/63."""
    cyl, rest = divmod(lba, 255 * 63)
    head, sec = divmod(rest, 63)
    if cyl > 1023:
        cyl, head, sec = 1023, 254, 62
    return bytes([head, ((cyl >> 2) & 0xC0) | (sec + 1), cyl & 0xFF])


def make_root_fs(raw: Path, rootfs: Path, offset: int, size: int, *, epoch: int,
                 uuid: str) -> None:
    """Write ext4 with the content of ``rootfs`` into ``raw`` at ``offset`` (no loop device):
    fixed UUID, directory hash seed and clock, then every inode's ctime set to ``epoch``."""
    clamp_tree(rootfs, epoch)
    tools.run(["mke2fs", "-q", "-F", "-t", "ext4", "-L", "gns3lab-root", "-U", uuid,
               "-E", f"offset={offset},hash_seed={uuid},root_owner=0:0",
               "-d", rootfs, raw, f"{size // 1024}k"], timeout=900, env=epoch_env(epoch))
    fix_ctimes(raw, offset, epoch)


def used_inodes(dumpe2fs_text: str) -> list[int]:
    """Numbers of the used inodes >= 11, from ``dumpe2fs`` output (its free-inode ranges)."""
    total = int(re.search(r"^Inode count:\s+(\d+)", dumpe2fs_text, re.M).group(1))  # type: ignore[union-attr]
    free = bytearray(total + 1)
    for ranges in re.findall(r"^\s+Free inodes: (.*)$", dumpe2fs_text, re.M):
        for part in filter(None, (p.strip() for p in ranges.split(","))):
            lo, _, hi = part.partition("-")
            free[int(lo):int(hi or lo) + 1] = b"\1" * (int(hi or lo) - int(lo) + 1)
    return [i for i in range(FIRST_INODE, total + 1) if not free[i]]


def fix_ctimes(raw: Path, offset: int, epoch: int) -> int:
    """Set ctime (and its nanoseconds) of every used inode to ``epoch``; returns the count."""
    device = f"{raw}?offset={offset}"
    text = tools.run(["dumpe2fs", device], timeout=300).stdout.decode(errors="replace")
    stamp = time.strftime("%Y%m%d%H%M%S", time.gmtime(epoch))
    inodes = [2, *used_inodes(text)]
    script = raw.with_name("ctimes.debugfs")
    script.write_text("".join(f"sif <{i}> ctime {stamp}\nsif <{i}> ctime_extra 0\n"
                              for i in inodes))
    try:
        tools.run(["debugfs", "-w", "-f", script, device], timeout=900, env=epoch_env(epoch))
    finally:
        script.unlink(missing_ok=True)
    return len(inodes)


def make_boot_fs(raw: Path, rootfs: Path, offset: int, size: int, boot_cfg: Path, *,
                 epoch: int, volume_id: int) -> None:
    """FAT16 boot partition at ``offset``: kernel, initramfs, syslinux.cfg and SYSLINUX,
    with a fixed volume id and every FAT timestamp at ``epoch``."""
    env = epoch_env(epoch)
    tools.run(["mkfs.fat", "--invariant", "-i", f"{volume_id:08x}", "-F", "16",
               "-n", "GNS3LABBOOT", f"--offset={offset // SECTOR}", "-h", str(offset // SECTOR),
               raw, str(size // 1024)], env=env)
    image = f"{raw}@@{offset}"
    kernel, initrd = boot_files(rootfs)
    for src, dst in ((kernel, "::/vmlinuz"), (initrd, "::/initrd.img"),
                     (boot_cfg, "::/syslinux.cfg")):
        tools.run(["mcopy", "-i", image, src, dst], env=env)
    tools.run(["syslinux", "--install", f"--offset={offset}", raw], env=env)


def boot_files(rootfs: Path) -> tuple[Path, Path]:
    """The one kernel and initramfs in ``rootfs/boot``."""
    kernels = sorted((rootfs / "boot").glob("vmlinuz-*"))
    if len(kernels) != 1:
        raise ImageError(f"expected one kernel in {rootfs / 'boot'}, found {len(kernels)}")
    version = kernels[0].name.removeprefix("vmlinuz-")
    initrd = rootfs / "boot" / f"initrd.img-{version}"
    if not initrd.is_file():
        raise ImageError(f"no initramfs for kernel {version} in {rootfs / 'boot'}")
    return kernels[0], initrd
