"""Write files into guest disks with libguestfs: one appliance launch per build.

Every node's qcow2 overlay is added to ONE guestfs handle (in batches of ``batch_size`` if there
are more), the appliance is launched once, and each disk is then mounted, written and unmounted in
turn. A launch costs about 20 s under TCG, so the number of launches is what matters; the
module-level :data:`LAUNCHES` counter (see :func:`launch_count`) lets tests prove it.

The library never sets ``LIBGUESTFS_BACKEND``: where KVM works libguestfs' defaults are right,
and where it does not the caller's environment chooses (tests use direct + force_tcg).
"""

from __future__ import annotations

import errno
import os
import re
import stat
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

from . import tools
from .errors import GeneratorError, InjectionError

#: Appliance launches since import; :func:`inject_all` and :func:`read_back_many` add one each batch.
LAUNCHES = 0
#: Where ``systemctl enable`` looks for unit files, in its order of precedence.
UNIT_DIRS = ("/etc/systemd/system", "/lib/systemd/system", "/usr/lib/systemd/system")
_MAX_DRIVES = 255  # libguestfs' limit with virtio-scsi
_BIG = 2 << 20  # contents larger than this go through upload(), not one protocol message
_LABEL = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")
_UNIT = re.compile(r"^[A-Za-z0-9:_.@\\-]+\.[a-z]+$")


@dataclass(frozen=True)
class GuestFile:
    """One file, directory or symlink to create in the guest.

    Files take ``content`` or a host ``source`` file; symlinks take ``target``. ``owner``/``group``
    are names looked up in the guest's /etc/passwd and /etc/group, or numeric ids. For directories
    every read bit of ``mode`` implies the matching search bit (like ``chmod +X``), so the default
    0o644 gives 0o755. ``mode`` is ignored for symlinks.
    """

    path: str
    content: bytes | None = None
    source: Path | None = None
    mode: int = 0o644
    owner: str | int = "root"
    group: str | int = "root"
    kind: Literal["file", "dir", "symlink"] = "file"
    target: str | None = None


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


def launch_count() -> int:
    """Number of libguestfs appliance launches made by this module so far."""
    return LAUNCHES


def _fail(inj: Injection, message: str, hint: str) -> InjectionError:
    return InjectionError(f"node {inj.node} (disk {inj.disk}): {message}", hint=hint)


# ---------------------------------------------------------------- checks made before launching

def _normalise(inj: Injection, path: str) -> str:
    """Absolute, ``..``-free form of a guest path; refuse relative paths and escapes."""
    if not path.startswith("/"):
        raise _fail(inj, f"guest path {path!r} is not absolute", "write it from the guest root, "
                    "e.g. /etc/lab/bootstrap.sh")
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
    if f.kind == "file" and f.source is not None and not Path(f.source).is_file():
        raise _fail(inj, f"{what}: source file {f.source} does not exist",
                    "check the path, relative to the directory gns3lab runs in")
    if f.kind == "symlink" and not f.target:
        raise _fail(inj, f"{what}: a symlink needs a target", "set target='/path/it/points/to'")
    if not 0 <= f.mode <= 0o7777:
        raise _fail(inj, f"{what}: mode {f.mode:#o} is not a permission mode", "use e.g. 0o644")
    return replace(f, path=_normalise(inj, f.path))


def _check_disk(inj: Injection) -> None:
    """The disk must be a writable qcow2 overlay whose backing file can be found."""
    disk = inj.disk
    if not disk.is_file():
        raise _fail(inj, "disk does not exist", "create the overlay before injecting")
    if not os.access(disk, os.W_OK) or not disk.stat().st_mode & 0o222:
        raise _fail(inj, "disk is read-only on the host", f"chmod u+w {disk}")
    try:
        info = tools.image_info(disk)
    except GeneratorError as exc:
        raise _fail(inj, f"cannot read the image header: {exc.message}", "is it a disk image?")
    if info.get("format") != "qcow2" or not info.get("backing-filename"):
        raise _fail(inj, f"disk is not a qcow2 overlay with a backing file "
                    f"(format {info.get('format')})", "inject into a per-node overlay "
                    "(tools.create_overlay), never into a base image")
    backing = Path(info.get("full-backing-filename") or info["backing-filename"])
    if not backing.is_absolute():
        backing = disk.parent / backing
    if not backing.exists():
        raise _fail(inj, f"backing file {backing} not found", "put the base image next to the "
                    "overlay, or rebase the overlay onto its path (qemu-img rebase -u)")


def _validate(inj: Injection) -> Injection:
    """All checks that need no appliance; returns the injection with normalised paths."""
    _check_disk(inj)
    files = tuple(_check_file(inj, f) for f in inj.files)
    if inj.hostname is not None and (len(inj.hostname) > 253 or not all(
            _LABEL.match(label) for label in inj.hostname.split("."))):
        raise _fail(inj, f"hostname {inj.hostname!r} is not a valid host name",
                    "use letters, digits and '-', dot-separated")
    for unit in inj.enable_units:
        if not _UNIT.match(unit):
            raise _fail(inj, f"{unit!r} is not a systemd unit name", "e.g. lab-bootstrap.service")
    for user, key in inj.authorized_keys:
        if not user or "/" in user or not key.strip() or "\n" in key.strip():
            raise _fail(inj, f"authorized key for {user!r} is not one non-empty line",
                        "give (user, 'ssh-ed25519 AAAA... comment') pairs")
    return replace(inj, files=files)


# ---------------------------------------------------------------- the appliance

@contextmanager
def _appliance(disks: Sequence[tuple[Path, str]], *, readonly: bool) -> Iterator[Any]:
    """A launched handle with ``disks`` (path, format) added; always closed, even on error."""
    global LAUNCHES
    try:
        import guestfs
    except ImportError as exc:
        raise InjectionError("the Python libguestfs module is not importable",
                             hint="apt-get install python3-guestfs, and use a venv made with "
                             "--system-site-packages by /usr/bin/python3") from exc
    g = guestfs.GuestFS(python_return_dict=True)
    try:
        for path, fmt in disks:
            g.add_drive_opts(str(path), format=fmt, readonly=readonly)
        LAUNCHES += 1
        try:
            g.launch()
        except RuntimeError as exc:
            raise InjectionError(f"libguestfs appliance did not start: {exc}",
                                 hint="run libguestfs-test-tool; without KVM set "
                                 "LIBGUESTFS_BACKEND=direct LIBGUESTFS_BACKEND_SETTINGS=force_tcg"
                                 ) from exc
        yield g
        try:
            g.shutdown()  # flushes the disks: an error here means lost writes
        except RuntimeError as exc:
            raise InjectionError(f"libguestfs failed to flush the disks: {exc}",
                                 hint="check free space on the host") from exc
    finally:
        g.close()


@contextmanager
def _guarded(g: Any, inj: Injection, doing: str) -> Iterator[None]:
    """Turn a libguestfs RuntimeError into an InjectionError that says what was being done."""
    try:
        yield
    except RuntimeError as exc:
        if g.last_errno() == errno.ENOSPC or "No space left" in str(exc):
            raise _fail(inj, f"no space left in the guest filesystem while {doing}",
                        "grow the base image (qemu-img resize, resize2fs) or inject less") from exc
        raise _fail(inj, f"libguestfs failed while {doing}: {exc}",
                    "inspect the disk with: virt-ls -la -a DISK /") from exc


def _disk_of(g: Any, dev: str, devices: Sequence[str]) -> str | None:
    """The whole-disk device holding ``dev`` (itself for a whole-disk filesystem)."""
    if dev in devices:
        return dev
    try:
        return g.part_to_dev(dev)
    except RuntimeError:
        return None  # LVM or other non-partition device


def _inspect_roots(g: Any, devices: Sequence[str]) -> dict[str, str]:
    """Map each disk device to the root filesystem inspect_os() found on it."""
    try:
        roots = g.inspect_os()
    except RuntimeError:
        return {}
    found: dict[str, str] = {}
    for root in roots:
        disk = _disk_of(g, root, devices)
        if disk is not None:
            found.setdefault(disk, root)
    return found


def _local_fs(g: Any, disk: str, devices: Sequence[str]) -> list[str]:
    """Mountable filesystems on one disk."""
    return [dev for dev, fstype in g.list_filesystems().items()
            if fstype not in ("swap", "unknown", "") and _disk_of(g, dev, devices) == disk]


def _localise(g: Any, dev: str, disk: str, devices: Sequence[str]) -> str | None:
    """Map an fstab device to this disk: overlays of one base share UUIDs, so inspection may
    resolve ``UUID=`` (or ``/dev/vda1``) to another disk. Match by UUID, then partition number."""
    if _disk_of(g, dev, devices) == disk:
        return dev
    local = _local_fs(g, disk, devices)
    try:
        uuid = g.vfs_uuid(dev)
        hits = [d for d in local if uuid and g.vfs_uuid(d) == uuid]
        if hits:
            return hits[0]
        num = g.part_to_partnum(dev)
        return next((d for d in local if d != disk and g.part_to_partnum(d) == num), None)
    except RuntimeError:
        return None


def _mount(g: Any, inj: Injection, disk: str, devices: Sequence[str], root: str | None,
           *, readonly: bool) -> tuple[str, tuple[str, ...]]:
    """Mount the guest root of one disk (and its fstab mounts); return root and extra mounts."""
    mount = g.mount_ro if readonly else g.mount
    if root is None:
        root = _find_etc(g, inj, disk, devices)
        with _guarded(g, inj, f"mounting {root}"):
            mount(root, "/")
        return root, ()
    with _guarded(g, inj, f"mounting {root}"):
        mount(root, "/")
    extra = []
    points = g.inspect_get_mountpoints(root)
    for point in sorted(points, key=lambda p: p.count("/") + (p != "/")):
        dev = _localise(g, points[point], disk, devices) if point != "/" else None
        if dev is not None:
            with _guarded(g, inj, f"mounting {dev} on {point}"):
                mount(dev, point)
            extra.append(point)
    return root, tuple(extra)


def _find_etc(g: Any, inj: Injection, disk: str, devices: Sequence[str]) -> str:
    """Fallback when inspection finds no OS: the first filesystem on the disk holding /etc."""
    for dev in _local_fs(g, disk, devices):
        try:
            g.mount_ro(dev, "/")
            if g.is_dir("/etc"):
                return dev
        except RuntimeError:
            pass
        finally:
            g.umount_all()
    raise _fail(inj, "guest filesystem not found: no filesystem on the disk contains /etc",
                "is the base image right? list it with: virt-filesystems --all -a DISK")


# ---------------------------------------------------------------- guest accounts

@dataclass(frozen=True)
class _Accounts:
    users: dict[str, tuple[int, int, str]]  # name -> uid, gid, home
    groups: dict[str, int]

    @classmethod
    def read(cls, g: Any) -> _Accounts:
        def rows(path: str) -> list[list[str]]:
            if not g.is_file(path):
                return []
            text = g.read_file(path).decode(errors="replace")
            return [ln.split(":") for ln in text.splitlines() if ln.count(":") >= 2]
        users = {r[0]: (int(r[2]), int(r[3]), r[5]) for r in rows("/etc/passwd")
                 if len(r) >= 6 and r[2].isdigit() and r[3].isdigit()}
        return cls(users, {r[0]: int(r[2]) for r in rows("/etc/group") if r[2].isdigit()})

    def ident(self, inj: Injection, value: str | int, group: bool) -> int:
        """Numeric id of an owner or group given by name or number."""
        if isinstance(value, int) or value.isdigit():
            return int(value)
        table = self.groups if group else {n: u[0] for n, u in self.users.items()}
        if value not in table:
            kind, db = ("group", "/etc/group") if group else ("user", "/etc/passwd")
            raise _fail(inj, f"unknown {kind} {value!r}: not in the guest's {db}",
                        f"add the {kind} to the base image, or give a numeric id")
        return table[value]

    def name(self, ident: int, group: bool) -> str | None:
        """Name of a numeric id, or None."""
        table = self.groups if group else {n: u[0] for n, u in self.users.items()}
        return next((n for n, i in table.items() if i == ident), None)


# ---------------------------------------------------------------- writing

def _replaceable(g: Any, path: str) -> None:
    """Remove a symlink or file at ``path`` so it can be recreated; parents are made."""
    if g.is_symlink(path) or g.is_file(path):
        g.rm(path)
    parent = path.rsplit("/", 1)[0] or "/"
    if not g.is_dir(parent):
        g.mkdir_p(parent)


def _write_file(g: Any, f: GuestFile, uid: int, gid: int) -> None:
    """Create one GuestFile with its exact mode and owner."""
    if f.kind == "dir":
        g.mkdir_p(f.path)
        g.chmod(f.mode | (f.mode & 0o444) >> 2, f.path)
        g.chown(uid, gid, f.path)
        return
    _replaceable(g, f.path)
    if f.kind == "symlink":
        g.ln_s(f.target, f.path)
        g.lchown(uid, gid, f.path)
        return
    if f.source is not None or len(f.content or b"") > _BIG:
        _upload(g, f)
    else:
        g.write(f.path, f.content)
    g.chmod(f.mode, f.path)
    g.chown(uid, gid, f.path)


def _upload(g: Any, f: GuestFile) -> None:
    if f.source is not None:
        g.upload(str(f.source), f.path)
        return
    with tempfile.NamedTemporaryFile() as tmp:
        tmp.write(f.content or b"")
        tmp.flush()
        g.upload(tmp.name, f.path)


def _set_hostname(g: Any, name: str) -> None:
    """Write /etc/hostname and point the (first) 127.0.1.1 line of /etc/hosts at ``name``."""
    g.write("/etc/hostname", f"{name}\n".encode())
    hosts = (g.read_file("/etc/hosts").decode(errors="replace") if g.is_file("/etc/hosts")
             else "127.0.0.1\tlocalhost\n")
    short = name.split(".")[0]
    entry = f"127.0.1.1\t{name}" + (f"\t{short}" if short != name else "")
    lines: list[str] = []
    for line in hosts.splitlines():
        if line.split()[:1] != ["127.0.1.1"]:
            lines.append(line)
        elif entry not in lines:
            lines.append(entry)
    if entry not in lines:
        lines.insert(min(1, len(lines)), entry)
    g.write("/etc/hosts", ("\n".join(lines) + "\n").encode())


def _add_key(g: Any, inj: Injection, acc: _Accounts, user: str, key: str) -> str:
    """Append ``key`` once to ~user/.ssh/authorized_keys (0700/0600, owned by the user)."""
    if user not in acc.users:
        raise _fail(inj, f"cannot add an SSH key for user {user!r}: not in the guest's "
                    "/etc/passwd", "create the user in the base image, or use an existing one")
    uid, gid, home = acc.users[user]
    ssh, path = f"{home.rstrip('/')}/.ssh", f"{home.rstrip('/')}/.ssh/authorized_keys"
    if not g.is_dir(home):
        g.mkdir_p(home)
        g.chown(uid, gid, home)
    if not g.is_dir(ssh):
        g.mkdir(ssh)
    g.chmod(0o700, ssh)
    g.chown(uid, gid, ssh)
    old = g.read_file(path).decode(errors="replace") if g.is_file(path) else ""
    if key.strip() not in (ln.strip() for ln in old.splitlines()):
        sep = "\n" if old and not old.endswith("\n") else ""
        g.write(path, f"{old}{sep}{key.strip()}\n".encode())
    g.chmod(0o600, path)
    g.chown(uid, gid, path)
    return path


def _install_targets(text: str) -> list[tuple[str, str]]:
    """(``wants``/``requires``, target) pairs from a unit's [Install] section."""
    section, out = "", []
    for line in (ln.strip() for ln in text.splitlines()):
        if line.startswith("["):
            section = line
        elif section == "[Install]" and "=" in line and line[0] not in "#;":
            key, _, value = line.partition("=")
            suffix = {"WantedBy": "wants", "RequiredBy": "requires"}.get(key.strip())
            out += [(suffix, target) for target in value.split()] if suffix else []
    return out


def _enable_unit(g: Any, inj: Injection, unit: str) -> list[str]:
    """Do what ``systemctl enable`` does: symlink the unit into each <target>.wants/."""
    template = re.sub(r"@[^@]+(\.[a-z]+)$", r"@\1", unit)
    found = next((f"{d}/{n}" for d in UNIT_DIRS for n in dict.fromkeys((unit, template))
                  if g.is_file(f"{d}/{n}")), None)
    if found is None:
        raise _fail(inj, f"cannot enable {unit}: no unit file in {', '.join(UNIT_DIRS)}",
                    "inject the unit file too (files=), or install it in the base image")
    targets = _install_targets(g.read_file(found).decode(errors="replace"))
    if not targets:
        raise _fail(inj, f"cannot enable {unit}: {found} has no [Install] WantedBy=/RequiredBy=",
                    "add an [Install] section, e.g. WantedBy=multi-user.target")
    links = []
    for suffix, target in targets:
        link = f"/etc/systemd/system/{target}.{suffix}/{unit}"
        _replaceable(g, link)
        g.ln_s(found, link)
        links.append(link)
    return links


def _inject_one(g: Any, inj: Injection, disk: str, devices: Sequence[str],
                root: str | None) -> DiskReport:
    """Mount one disk, write everything for it, and report (the caller unmounts)."""
    root, mounts = _mount(g, inj, disk, devices, root, readonly=False)
    with _guarded(g, inj, "reading /etc/passwd and /etc/group"):
        acc = _Accounts.read(g)
    owners = [(acc.ident(inj, f.owner, False), acc.ident(inj, f.group, True)) for f in inj.files]
    written: list[str] = []
    if inj.hostname:
        with _guarded(g, inj, "setting the hostname"):
            _set_hostname(g, inj.hostname)
        written += ["/etc/hostname", "/etc/hosts"]
    for f, (uid, gid) in zip(inj.files, owners):
        with _guarded(g, inj, f"writing {f.path}"):
            _write_file(g, f, uid, gid)
        written.append(f.path)
    for user, key in inj.authorized_keys:
        with _guarded(g, inj, f"adding an SSH key for {user}"):
            written.append(_add_key(g, inj, acc, user, key))
    for unit in inj.enable_units:
        with _guarded(g, inj, f"enabling {unit}"):
            written += _enable_unit(g, inj, unit)
    return DiskReport(inj.node, inj.disk, root, mounts, tuple(written))


def _batches(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    if not 1 <= size <= _MAX_DRIVES:
        raise InjectionError(f"batch_size {size} out of range", hint=f"use 1..{_MAX_DRIVES}")
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _combine(errors: list[InjectionError]) -> InjectionError:
    if len(errors) == 1:
        return errors[0]
    hints = "; ".join(dict.fromkeys(e.hint for e in errors if e.hint))
    return InjectionError(f"injection failed on {len(errors)} disks:\n"
                          + "\n".join(f"  {e.message}" for e in errors), hint=hints)


def inject_all(injections: Sequence[Injection], *, batch_size: int = 64,
               progress: Callable[[str], None] | None = None) -> InjectionReport:
    """Write every injection into its overlay with one appliance launch per ``batch_size`` disks.

    All checks that need no appliance run first. A failure on one disk does not stop the
    others; afterwards one InjectionError lists every failed disk.
    """
    say = progress or (lambda _msg: None)
    plans = [_validate(inj) for inj in injections]
    seen: dict[Path, str] = {}
    for inj in plans:
        other = seen.setdefault(inj.disk.resolve(), inj.node)
        if other != inj.node:
            raise _fail(inj, f"disk is also used by node {other}", "give every node its own overlay")
    plans = [p for p in plans if p.files or p.enable_units or p.hostname or p.authorized_keys]
    start, launches = time.monotonic(), 0
    reports: list[DiskReport] = []
    errors: list[InjectionError] = []
    for batch in _batches(plans, batch_size):
        say(f"starting libguestfs for {len(batch)} disk(s)")
        with _appliance([(p.disk, "qcow2") for p in batch], readonly=False) as g:
            launches += 1
            devices = g.list_devices()
            roots = _inspect_roots(g, devices)
            for inj, dev in zip(batch, devices):
                say(f"injecting into {inj.node} ({inj.disk.name})")
                try:
                    reports.append(_inject_one(g, inj, dev, devices, roots.get(dev)))
                except InjectionError as exc:
                    errors.append(exc)
                finally:
                    g.umount_all()
    if errors:
        raise _combine(errors)
    return InjectionReport(tuple(reports), launches, time.monotonic() - start)


# ---------------------------------------------------------------- reading back

def _stat(g: Any, path: str, acc: _Accounts) -> GuestStat | None:
    try:
        st = g.lstatns(path)
    except RuntimeError:
        return None
    mode = st["st_mode"]
    kind = ("dir" if stat.S_ISDIR(mode) else "symlink" if stat.S_ISLNK(mode)
            else "file" if stat.S_ISREG(mode) else "other")
    content = None
    if kind == "file" and st["st_size"] <= _BIG:
        content = g.read_file(path)
    elif kind == "file":
        with tempfile.NamedTemporaryFile() as tmp:
            g.download(path, tmp.name)
            content = Path(tmp.name).read_bytes()
    uid, gid = st["st_uid"], st["st_gid"]
    return GuestStat(path, kind, stat.S_IMODE(mode), uid, gid, acc.name(uid, False),
                     acc.name(gid, True), content, g.readlink(path) if kind == "symlink" else None)


def read_back_many(requests: Mapping[Path, Sequence[str]], *,
                   batch_size: int = 64) -> dict[Path, dict[str, GuestStat]]:
    """Stat and read guest paths on several disks, read-only, one launch per batch.

    Disks are mounted as for injection (root plus fstab mounts). Missing paths are left out.
    """
    disks = list(requests)
    out: dict[Path, dict[str, GuestStat]] = {}
    for batch in _batches(disks, batch_size):
        formats = [(d, tools.image_info(d).get("format", "qcow2")) for d in batch]
        with _appliance(formats, readonly=True) as g:
            devices = g.list_devices()
            roots = _inspect_roots(g, devices)
            for disk, dev in zip(batch, devices):
                label = Injection(node=disk.stem, disk=disk)
                try:
                    _mount(g, label, dev, devices, roots.get(dev), readonly=True)
                    acc = _Accounts.read(g)
                    stats = {p: _stat(g, p, acc) for p in requests[disk]}
                    out[disk] = {p: s for p, s in stats.items() if s is not None}
                finally:
                    g.umount_all()
    return out


def read_back(disk: Path, paths: Sequence[str]) -> dict[str, GuestStat]:
    """:func:`read_back_many` for one disk."""
    return read_back_many({disk: paths})[disk]
