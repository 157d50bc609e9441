"""Read guest paths back out of disks, read-only, for the tests that check an injection.

Disks are mounted as the injection mounts them (root plus its fstab mounts, through
generator.write.inject_session), one appliance launch per batch of up to 255 disks; each
launch is announced to ``progress`` with the injection's own LAUNCH_MESSAGE line, so a test
counts launches the same way for both.
"""

from __future__ import annotations

import stat
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from generator import tools
from generator.errors import InjectionError
from generator.write.inject_accounts import Accounts
from generator.write.inject_session import (
    LAUNCH_MESSAGE,
    MAX_DRIVES,
    Devices,
    appliance,
    mount,
    read_bytes,
    read_text,
)


@dataclass(frozen=True)
class GuestStat:
    """One guest path as read back: kind, mode bits, ids and names, content or link target."""
    path: str
    kind: Literal["file", "dir", "symlink", "other"]
    mode: int
    uid: int
    gid: int
    owner: str | None
    group: str | None
    content: bytes | None = None
    target: str | None = None


def _stat(g: Any, path: str, acc: Accounts) -> GuestStat | None:
    """One path's GuestStat, or None if it does not exist."""
    try:
        st = g.lstatns(path)
    except RuntimeError:
        return None
    mode = st["st_mode"]
    kind: Literal["file", "dir", "symlink", "other"] = (
        "dir" if stat.S_ISDIR(mode) else "symlink" if stat.S_ISLNK(mode)
        else "file" if stat.S_ISREG(mode) else "other")
    uid, gid = st["st_uid"], st["st_gid"]
    return GuestStat(path, kind, stat.S_IMODE(mode), uid, gid, acc.name(uid, False),
                     acc.name(gid, True),
                     read_bytes(g, path) if kind == "file" else None,
                     g.readlink(path) if kind == "symlink" else None)


def read_back_many(requests: Mapping[Path, Sequence[str]], *, batch_size: int = MAX_DRIVES,
                   inspect: bool = False, progress: Callable[[str], None] | None = None
                   ) -> dict[Path, dict[str, GuestStat]]:
    """Stat and read guest paths on several disks, read-only, one launch per batch.

    A path with ``*`` in it is a pattern: each guest path it matches is read (libguestfs'
    glob_expand), so a path whose name the guest decides (a kernel version) costs no second
    launch. Missing paths are left out."""
    disks = list(requests)
    out: dict[Path, dict[str, GuestStat]] = {}
    for start in range(0, len(disks), batch_size):
        batch = disks[start:start + batch_size]
        formats = [(d, tools.image_info(d).get("format", "qcow2")) for d in batch]
        if progress:
            progress(f"{LAUNCH_MESSAGE} {len(batch)} disk(s) (read-only)")
        with appliance(formats, readonly=True) as g:
            devs = Devices.scan(g, inspect)
            for disk, dev in zip(batch, devs.disks, strict=True):
                def fail(message: str, hint: str, disk: Path = disk) -> InjectionError:
                    return InjectionError(f"node {disk.stem} (disk {disk}): {message}", hint=hint)
                try:
                    mount(g, fail, devs, dev, readonly=True)
                    acc = Accounts.parse(read_text(g, "/etc/passwd"), read_text(g, "/etc/group"))
                    paths = [q for p in requests[disk]
                             for q in (g.glob_expand(p) if "*" in p else [p])]
                    stats = {p: _stat(g, p, acc) for p in paths}
                    out[disk] = {p: s for p, s in stats.items() if s is not None}
                finally:
                    g.umount_all()
    return out


def read_back(disk: Path, paths: Sequence[str]) -> dict[str, GuestStat]:
    """:func:`read_back_many` for one disk."""
    return read_back_many({disk: paths})[disk]


def launches(messages: Sequence[str]) -> int:
    """How many appliance launches the progress lines ``messages`` announce."""
    return sum(m.startswith(LAUNCH_MESSAGE) for m in messages)
