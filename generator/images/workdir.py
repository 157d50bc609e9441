"""The image build's work folder: made and locked for the build's life, removed without ever
leaving it, and swept by the next build when its own build died.

A build works in ``<images dir>/.gns3lab-build-<recipe>-<key>-<random>`` and holds an
exclusive ``flock`` on that folder for as long as it runs (the kernel drops the lock when the
process dies, however it dies). :func:`sweep` removes only folders whose lock it can take:
their build is dead. It first unmounts anything still mounted under such a folder (a build by
an older gns3lab ran mmdebstrap in the host's mount namespace), deepest first and never through
a symlink; :func:`remove_tree` then deletes it without following symlinks and refuses to enter
any directory on another mount, so it can never delete across a mount point into the host.
"""

from __future__ import annotations

import ctypes
import fcntl
import logging
import os
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from generator.errors import ImageError

#: Every build folder's name starts with this (GNS3 skips dot files).
PREFIX = ".gns3lab-build-"

_MNT_DETACH = 2
_UMOUNT_NOFOLLOW = 8
_libc = ctypes.CDLL(None, use_errno=True)
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW

log = logging.getLogger(__name__)


@contextmanager
def work_folder(images_dir: Path, name: str) -> Iterator[Path]:
    """A new build folder ``PREFIX + name + "-<random>"`` in ``images_dir``, locked while the
    block runs and removed when it ends (also on an exception or a signal)."""
    path = Path(tempfile.mkdtemp(prefix=f"{PREFIX}{name}-", dir=images_dir))
    fd = os.open(path, _DIR_FLAGS)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # new: nobody else can hold it
        yield path
    finally:
        try:
            remove_tree(path)
        finally:
            os.close(fd)


def sweep(images_dir: Path) -> list[Path]:
    """Remove the build folders in ``images_dir`` whose build is dead (unlocked); return them.
    A folder that cannot be unmounted or removed is logged and left (the build goes on)."""
    swept = []
    for entry in sorted(os.scandir(images_dir), key=lambda e: e.name):
        if not entry.name.startswith(PREFIX) or not entry.is_dir(follow_symlinks=False):
            continue  # a symlink or a file is not a build folder: never followed
        try:
            if _sweep_one(Path(entry.path)):
                swept.append(Path(entry.path))
        except (OSError, ImageError) as exc:
            log.warning("could not remove the dead build folder %s: %s", entry.path, exc)
    return swept


def _sweep_one(path: Path) -> bool:
    """Unmount and remove ``path`` if no live build holds its lock; whether it did."""
    fd = os.open(path, _DIR_FLAGS)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False  # a live build's folder
        unmount_under(path)
        remove_tree(path)
        return True
    finally:
        os.close(fd)


def mounts_under(path: Path) -> list[str]:
    """Mount points at or under ``path`` in this process's mount namespace, in mount order."""
    top = os.path.realpath(path)
    with open("/proc/self/mountinfo", encoding="utf-8", errors="surrogateescape") as f:
        points = [_unescape(line.split()[4]) for line in f if len(line.split()) > 4]
    return [p for p in points if p == top or p.startswith(top + "/")]


def _unescape(field: str) -> str:
    """A mountinfo path: space, tab, newline and backslash are written as octal escapes."""
    for code in ("\\040", "\\011", "\\012", "\\134"):
        field = field.replace(code, chr(int(code[1:], 8)))
    return field


def unmount_under(path: Path) -> None:
    """Detach every mount at or under ``path``, the last mounted first, never following a
    symlink (``UMOUNT_NOFOLLOW``); ImageError if any is still there afterwards."""
    for point in reversed(mounts_under(path)):
        if _libc.umount2(os.fsencode(point), _MNT_DETACH | _UMOUNT_NOFOLLOW) != 0:
            err = ctypes.get_errno()
            log.warning("umount %s: %s", point, os.strerror(err))
    left = mounts_under(path)
    if left:
        raise ImageError(f"not removing {path}: still mounted: {', '.join(left)}",
                         hint="unmount these (umount -l) and remove the folder by hand")


def remove_tree(path: Path) -> None:
    """Delete ``path`` and everything in it, never following a symlink and never entering a
    directory on another mount than ``path``'s own (ImageError, and that directory is kept)."""
    try:
        fd = os.open(path, _DIR_FLAGS)
    except FileNotFoundError:
        return
    try:
        _empty(fd, _mount_id(fd), str(path))
    finally:
        os.close(fd)
    os.rmdir(path)


def _mount_id(fd: int) -> int:
    """The id of the mount an open file lives on (``mnt_id`` in /proc/self/fdinfo)."""
    with open(f"/proc/self/fdinfo/{fd}") as f:
        for line in f:
            if line.startswith("mnt_id:"):
                return int(line.split()[1])
    raise ImageError(f"cannot tell which mount fd {fd} is on (no mnt_id in /proc)")


def _empty(fd: int, mount: int, where: str) -> None:
    """Delete everything in the open directory ``fd`` (which is on mount ``mount``)."""
    for entry in list(os.scandir(fd)):
        if not entry.is_dir(follow_symlinks=False):
            os.unlink(entry.name, dir_fd=fd)
            continue
        sub = os.open(entry.name, _DIR_FLAGS, dir_fd=fd)
        try:
            if _mount_id(sub) != mount or not stat.S_ISDIR(os.fstat(sub).st_mode):
                raise ImageError(f"not removing {where}/{entry.name}: a mount point",
                                 hint="unmount it (umount -l) and remove the folder by hand")
            _empty(sub, mount, f"{where}/{entry.name}")
        finally:
            os.close(sub)
        os.rmdir(entry.name, dir_fd=fd)
