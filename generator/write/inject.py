"""Write files into guest disks with libguestfs: one appliance launch per build.

Every overlay is added to ONE guestfs handle (up to 255 disks, libguestfs' limit), the
appliance is launched once (about 20 s under TCG, plus about 0.5 s per disk), then each disk
is mounted, written and unmounted in turn with about six calls: mount, read /etc/passwd and
/etc/group (and /etc/hosts, authorized_keys and unit files only when they are needed), one
``tar_in`` with every file, directory, symlink, hostname, key and unit link, unmount. The
report says how many launches were made, and each is announced by a progress line starting
with :data:`LAUNCH_MESSAGE`. ``LIBGUESTFS_BACKEND`` is never set here: where KVM works
libguestfs' defaults are right. Where ``/dev/kvm`` exists but cannot run the appliance, the
launch falls back to TCG once by itself and says so in one progress line
(:data:`~generator.write.inject_session.FALLBACK_MESSAGE`).
"""

from __future__ import annotations

import os
import posixpath
import re
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from generator import qcow2, tools
from generator.errors import InjectionError
from generator.model import GuestFile
from generator.write.inject_accounts import Accounts, hosts_with, keys_with
from generator.write.inject_session import LAUNCH_MESSAGE, MAX_DRIVES, check_etc, failure, guarded
from generator.write.inject_session import Devices as _Devices
from generator.write.inject_session import appliance as _appliance
from generator.write.inject_session import mount as _mount
from generator.write.inject_session import read_text as _read_text
from generator.write.inject_tar import Entry, write_tar
from generator.write.inject_units import UNIT, enable_links

__all__ = ["LAUNCH_MESSAGE", "MAX_DRIVES", "DiskReport", "GuestFile", "Injection",
           "InjectionReport", "inject_all"]

_LABEL = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")


@dataclass(frozen=True)
class Injection:
    """Everything to write into one node's overlay; ``authorized_keys`` are (user, key line)."""
    node: str
    disk: Path
    files: tuple[GuestFile, ...] = ()
    enable_units: tuple[str, ...] = ()
    hostname: str | None = None
    authorized_keys: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class DiskReport:
    """What was done to one disk: the root device, the extra mounts and the paths written."""
    node: str
    disk: Path
    root: str
    mounts: tuple[str, ...]
    written: tuple[str, ...]


@dataclass(frozen=True)
class InjectionReport:
    """Result of :func:`inject_all`."""
    disks: tuple[DiskReport, ...]
    launches: int
    seconds: float


def _fail(inj: Injection, message: str, hint: str) -> InjectionError:
    return InjectionError(f"node {inj.node} (disk {inj.disk}): {message}", hint=hint)


# ---------------------------------------------------------------- checks made before launching

def _normalise(inj: Injection, path: str) -> str:
    """Absolute, ``..``-free form of a guest path; refuse relative paths and escapes."""
    if not path.startswith("/"):
        raise _fail(inj, f"guest path {path!r} is not absolute", "start it with /")
    parts: list[str] = []
    for part in path.split("/"):
        if part == "..":
            if not parts:
                raise _fail(inj, f"guest path {path!r} escapes the guest root",
                            "remove the '..' components")
            parts.pop()
        elif part not in ("", "."):
            parts.append(part)
    if not parts:
        raise _fail(inj, f"guest path {path!r} is the guest root itself", "name a file below /")
    return "/" + "/".join(parts)


def _check_file(inj: Injection, f: GuestFile) -> GuestFile:
    """Validate one GuestFile and return it with a normalised path."""
    what = f"guest {f.kind} {f.path!r}"
    if f.kind not in ("file", "dir", "symlink"):
        raise _fail(inj, f"{what}: unknown kind", "use kind 'file', 'dir' or 'symlink'")
    if f.kind == "file" and (f.content is None) == (f.source is None):
        raise _fail(inj, f"{what}: needs exactly one of content and source", "give one of them")
    if f.content is not None and not isinstance(f.content, bytes):
        raise _fail(inj, f"{what}: content must be bytes", "encode text, e.g. text.encode()")
    if f.kind == "file" and f.source is not None and not Path(f.source).is_file():
        raise _fail(inj, f"{what}: source file {f.source} does not exist",
                    "check the path, relative to the directory gns3lab runs in")
    if f.kind == "symlink" and not f.target:
        raise _fail(inj, f"{what}: a symlink needs a target", "set target='/path/it/points/to'")
    if not 0 <= f.mode <= 0o7777:
        raise _fail(inj, f"{what}: mode {f.mode:#o} is not a permission mode", "use e.g. 0o644")
    return replace(f, path=_normalise(inj, f.path))


def _backing_name(disk: Path) -> str | None:
    """The backing file name a qcow2 header holds ("" if none), or None if not a readable
    qcow2. Read from the header itself: one qemu-img process per disk costs 0.1 s at a busy
    host's load."""
    try:
        return qcow2.backing_name(qcow2.read_head(disk)) or ""
    except ValueError:
        return None

def _check_disk(inj: Injection) -> None:
    """The disk must be a writable qcow2 overlay whose backing file can be found."""
    disk = inj.disk
    if not disk.is_file():
        raise _fail(inj, "disk does not exist", "create the overlay before injecting")
    if not os.access(disk, os.W_OK) or not disk.stat().st_mode & 0o222:
        raise _fail(inj, "disk is read-only on the host", f"chmod u+w {disk}")
    backing = _backing_name(disk)
    if not backing:  # only a refusal asks qemu-img, for the format's name
        raise _fail(inj, f"disk is not a qcow2 overlay with a backing file (format "
                    f"{tools.image_info(disk).get('format')})", "inject into the node's own "
                    "overlay, the disk the build makes on its base image; never into a base "
                    "image")
    if not (disk.parent / backing).exists():
        raise _fail(inj, f"backing file {disk.parent / backing} not found", "put the base image "
                    "next to the overlay, or rebase the overlay onto its path (qemu-img rebase -u)")


def _validate(inj: Injection) -> Injection:
    """All checks that need no appliance; returns the injection with normalised paths."""
    _check_disk(inj)
    files = tuple(_check_file(inj, f) for f in inj.files)
    if inj.hostname is not None and (len(inj.hostname) > 253 or not all(
            _LABEL.match(label) for label in inj.hostname.split("."))):
        raise _fail(inj, f"hostname {inj.hostname!r} is not a valid host name",
                    "use letters, digits and '-', dot-separated")
    for unit in inj.enable_units:
        if not UNIT.match(unit):
            raise _fail(inj, f"{unit!r} is not a systemd unit name", "e.g. lab-bootstrap.service")
    for user, key in inj.authorized_keys:
        if not user or "/" in user or not key.strip() or "\n" in key.strip():
            raise _fail(inj, f"authorized key for {user!r} is not one non-empty line",
                        "give (user, 'ssh-ed25519 AAAA... comment') pairs")
    return replace(inj, files=files)


# ---------------------------------------------------------------- one disk

def _entry(f: GuestFile, uid: int, gid: int) -> Entry:
    """The tar member of one GuestFile (a directory's read bits imply its search bits)."""
    mode = f.mode | (f.mode & 0o444) >> 2 if f.kind == "dir" else f.mode
    return Entry(f.path, f.kind, mode, uid, gid, f.content, f.source, f.target)


def _planned_text(planned: dict[str, Entry], path: str) -> str | None:
    """The text an injected file will have (symlinks followed within the plan), or None."""
    for _ in range(8):
        e = planned.get(path)
        if e is None or e.kind == "dir":
            return None
        if e.kind == "file":
            data = e.content if e.source is None else e.source.read_bytes()
            return (data or b"").decode(errors="replace")
        path = posixpath.normpath(posixpath.join(posixpath.dirname(path), e.target or ""))
    return None


def _key_entries(g: Any, fail: Callable[[str, str], InjectionError], acc: Accounts,
                 inj: Injection, planned: dict[str, Entry]) -> list[Entry]:
    """~user/.ssh (0700) and its authorized_keys (0600, each key once), owned by the user."""
    by_user: dict[str, list[str]] = {}
    for user, key in inj.authorized_keys:
        by_user.setdefault(user, []).append(key)
    out: list[Entry] = []
    for user, keys in by_user.items():
        uid, gid, home = acc.login(fail, user)
        ssh, path = f"{home}/.ssh", f"{home}/.ssh/authorized_keys"
        with guarded(fail, f"adding an SSH key for {user}"):
            old = (_planned_text(planned, path) if path in planned else _read_text(g, path))
            if old is None and home and home not in planned and not g.is_dir(home):
                out.append(Entry(home, "dir", 0o755, uid, gid))
        out += [Entry(ssh, "dir", 0o700, uid, gid),
                Entry(path, "file", 0o600, uid, gid, keys_with(old, keys).encode())]
    return out


def _send(g: Any, fail: Callable[[str, str], InjectionError], entries: list[Entry]) -> None:
    """Every entry in one ``tar_in``; a failure names the members the error text names."""
    with tempfile.NamedTemporaryFile(prefix="gns3lab-inject-", suffix=".tar") as tmp:
        write_tar(entries, tmp)
        tmp.flush()
        try:
            g.tar_in(tmp.name, "/")
        except RuntimeError as exc:
            paths = list(dict.fromkeys(e.path for e in entries))
            named = [p for p in paths if f"{p.lstrip('/')}:" in str(exc)]
            raise failure(fail, "writing " + ", ".join(named or paths), exc) from exc


def _inject_one(g: Any, inj: Injection, devs: _Devices, disk: str) -> DiskReport:
    """Mount one disk, write everything for it in one tar, and report (the caller unmounts)."""
    def fail(message: str, hint: str) -> InjectionError:
        return _fail(inj, message, hint)

    mounted = _mount(g, fail, devs, disk, readonly=False)
    with guarded(fail, "reading /etc/passwd and /etc/group"):
        passwd = _read_text(g, "/etc/passwd")
        if passwd is None:
            check_etc(g, fail, mounted)
        acc = Accounts.parse(passwd, _read_text(g, "/etc/group"))
    entries: list[Entry] = []
    if inj.hostname:
        with guarded(fail, "setting the hostname"):
            hosts = hosts_with(_read_text(g, "/etc/hosts"), inj.hostname)
        entries += [Entry("/etc/hostname", "file", 0o644, 0, 0, f"{inj.hostname}\n".encode()),
                    Entry("/etc/hosts", "file", 0o644, 0, 0, hosts.encode())]
    entries += [_entry(f, acc.ident(fail, f.owner, False), acc.ident(fail, f.group, True))
                for f in inj.files]
    planned = {e.path: e for e in entries}
    keys = _key_entries(g, fail, acc, inj, planned)
    links: list[Entry] = []
    for unit in inj.enable_units:
        with guarded(fail, f"enabling {unit}"):
            links += [Entry(link, "symlink", 0o777, 0, 0, target=found)
                      for link, found in enable_links(fail, unit, lambda path: (
                          _planned_text(planned, path) if path in planned
                          else _read_text(g, path)))]
    _send(g, fail, entries + keys + links)
    written = [e.path for e in entries] + [e.path for e in keys if e.kind == "file"]
    written += [e.path for e in links]
    return DiskReport(inj.node, inj.disk, mounted.root, mounted.mounts,
                      tuple(dict.fromkeys(written)))


# ---------------------------------------------------------------- all disks

def _batches(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    """Slices of at most ``size`` items (one appliance each)."""
    if not 1 <= size <= MAX_DRIVES:
        raise InjectionError(f"batch_size {size} out of range", hint=f"use 1..{MAX_DRIVES}")
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _combine(errors: list[InjectionError]) -> InjectionError:
    """One error for all failed disks (the only one, if just one failed)."""
    if len(errors) == 1:
        return errors[0]
    hints = "; ".join(dict.fromkeys(e.hint for e in errors if e.hint))
    return InjectionError(f"injection failed on {len(errors)} disks:\n"
                          + "\n".join(f"  {e.message}" for e in errors), hint=hints)


def inject_all(injections: Sequence[Injection], *, batch_size: int = MAX_DRIVES,
               progress: Callable[[str], None] | None = None,
               inspect: bool = False) -> InjectionReport:
    """Write every injection into its overlay with one appliance launch per ``batch_size`` disks.

    All checks that need no appliance run first. A failure on one disk does not stop the
    others (nothing is written to a failed disk); afterwards one InjectionError lists every
    failed disk. The guest root is the filesystem holding /etc (``inspect=True`` asks
    libguestfs' inspect_os() first, which costs about as much as a second launch); the root's
    /etc/fstab mounts on the same disk follow. Each launch is announced to ``progress`` by a
    line starting with :data:`LAUNCH_MESSAGE`, so a caller that gets no report (an error was
    raised) can still count them.
    """
    say = progress or (lambda _msg: None)
    plans = [_validate(inj) for inj in injections]
    seen: dict[Path, str] = {}
    for inj in plans:
        other = seen.setdefault(inj.disk.resolve(), inj.node)
        if other != inj.node:
            raise _fail(inj, f"disk is also used by node {other}",
                        "give every node its own overlay")
    plans = [p for p in plans if p.files or p.enable_units or p.hostname or p.authorized_keys]
    start, launches = time.monotonic(), 0
    reports: list[DiskReport] = []
    errors: list[InjectionError] = []
    for batch in _batches(plans, batch_size):
        say(f"{LAUNCH_MESSAGE} {len(batch)} disk(s)")
        with _appliance([(p.disk, "qcow2") for p in batch], readonly=False,
                        progress=say) as g:
            launches += 1
            devs = _Devices.scan(g, inspect)
            for inj, disk in zip(batch, devs.disks, strict=True):
                say(f"injecting into {inj.node} ({inj.disk.name})")
                try:
                    reports.append(_inject_one(g, inj, devs, disk))
                except InjectionError as exc:
                    errors.append(exc)
                finally:
                    g.umount_all()
    if errors:
        raise _combine(errors)
    return InjectionReport(tuple(reports), launches, time.monotonic() - start)
