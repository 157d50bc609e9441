"""Paths a blueprint names stay inside its folder, and are plain files and folders.

A blueprint may come from a stranger. Every file it names (``inject: source:``, playbooks,
``ssh_key:``) is checked here before anything reads it: relative, no ``..``, no symlink that
leads out of the folder, no device, FIFO or socket, no second name (a hard link), and of a
bounded size. Pure checks on the
file system (``lstat`` only: nothing is opened).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path, PurePosixPath
from typing import Literal

from generator.errors import Refused

MAX_FILE_BYTES = 256 << 20  # one file a blueprint brings along
MAX_TREE_FILES = 10_000  # files below one folder a blueprint names

Kind = Literal["file", "dir", "any"]


def confined(folder: Path, written: str, kind: Kind = "file", *, walk_dir: bool = True) -> Path:
    """``written`` (relative to ``folder``) as a path inside ``folder``, checked; or Refused.
    A folder's entries are checked too unless ``walk_dir`` is False (the caller then confines
    each entry it reads)."""
    if not written or "\x00" in written:
        raise Refused(f"'{written}' is not a file name", "give a path relative to the "
                      "blueprint's folder")
    pure = PurePosixPath(written)
    if pure.is_absolute() or written.startswith("~"):
        raise Refused(f"'{written}' is outside the blueprint folder (absolute path)",
                      "copy the file into the blueprint's folder and name it relatively")
    if ".." in pure.parts:
        raise Refused(f"'{written}' leaves the blueprint folder ('..')",
                      "copy the file into the blueprint's folder and name it relatively")
    root = Path(os.path.realpath(folder))
    path = folder / pure
    real = Path(os.path.realpath(path))
    if real != root and root not in real.parents:
        raise Refused(f"'{written}' is a symlink that leads out of the blueprint folder "
                      f"(to {real})", "replace the link by the file itself")
    try:
        st = os.lstat(real)
    except FileNotFoundError:
        raise Refused(f"'{written}' not found in the blueprint folder",
                      "give a path relative to the blueprint's folder") from None
    except OSError as exc:
        raise Refused(f"'{written}' cannot be read: {exc.strerror}",
                      "check the file's permissions") from None
    check_mode(written, st, kind)
    if stat.S_ISDIR(st.st_mode) and walk_dir:
        walk(path, written)
    return path


def check_mode(written: str, st: os.stat_result, kind: Kind) -> None:
    """Refuse anything but a regular file or folder (as ``kind`` wants), and huge files."""
    if stat.S_ISDIR(st.st_mode):
        if kind == "file":
            raise Refused(f"'{written}' is a folder, not a file", "name a file")
        return
    if not stat.S_ISREG(st.st_mode):
        what = ("a FIFO" if stat.S_ISFIFO(st.st_mode) else "a socket"
                if stat.S_ISSOCK(st.st_mode) else "a device" if stat.S_ISCHR(st.st_mode)
                or stat.S_ISBLK(st.st_mode) else "not a regular file")
        raise Refused(f"'{written}' is {what}", "name a regular file")
    if kind == "dir":
        raise Refused(f"'{written}' is a file, not a folder", "name a folder")
    linked = hard_link_problem(written, st)
    if linked:
        raise Refused(f"'{written}' {linked[0]}", linked[1])
    if st.st_size > MAX_FILE_BYTES:
        raise Refused(f"'{written}' has {st.st_size} bytes (at most {MAX_FILE_BYTES} allowed)",
                      "put large content into the base image instead")


def hard_link_problem(written: str, st: os.stat_result) -> tuple[str, str] | None:
    """(message after the name, fix) when a regular file has more than one name. A hard link
    is not a symlink: ``ln /etc/shadow notes.txt`` looks like a plain file of the folder, and
    a link made inside the folder cannot be told apart from one that reaches a host file, so
    every file with a second name is refused, never read."""
    if not stat.S_ISREG(st.st_mode) or st.st_nlink <= 1:
        return None
    name = PurePosixPath(written).name
    return (f"is a hard link (one file with {st.st_nlink} names; another may be "
            "outside the blueprint folder)",
            f"make it a file of its own: cp --no-preserve=links {name} {name}.copy && "
            f"mv {name}.copy {name}")


def walk(folder: Path, written: str, skip_hidden: bool = False) -> list[Path]:
    """Every entry below ``folder``, sorted, after checking each: no symlinks, no special
    files, a bounded count. ``skip_hidden`` leaves out dot files and ``__pycache__``."""
    out: list[Path] = []

    def keep(name: str) -> bool:
        return not (skip_hidden and (name.startswith(".") or name == "__pycache__"))

    for dirpath, dirnames, filenames in os.walk(folder, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if keep(d))
        for name in dirnames + sorted(f for f in filenames if keep(f)):
            entry = Path(dirpath) / name
            rel = f"{written.rstrip('/')}/{entry.relative_to(folder).as_posix()}"
            st = os.lstat(entry)
            if stat.S_ISLNK(st.st_mode):
                raise Refused(f"'{rel}' is a symlink", "replace the link by the file itself")
            check_mode(rel, st, "any")
            out.append(entry)
            if len(out) > MAX_TREE_FILES:
                raise Refused(f"'{written}' holds more than {MAX_TREE_FILES} entries",
                              "name a smaller folder")
    return sorted(out)
