"""Write files into guest disks with libguestfs: one appliance launch per build.

Every overlay is added to ONE guestfs handle (per ``batch_size`` disks), the appliance is launched
once (about 20 s under TCG), then each disk is mounted, written and unmounted in turn.
:func:`launch_count` lets tests prove it. ``LIBGUESTFS_BACKEND`` is never set here: where KVM
works libguestfs' defaults are right; elsewhere the caller's environment chooses.
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

from generator import tools
from generator.errors import InjectionError

#: Appliance launches since import (one per batch of inject_all and read_back_many).
LAUNCHES = 0
#: Where ``systemctl enable`` looks for unit files, in its order of precedence.
UNIT_DIRS = ("/etc/systemd/system", "/lib/systemd/system", "/usr/lib/systemd/system")
_MAX_DRIVES = 255  # libguestfs' limit with virtio-scsi
_BIG = 2 << 20  # write() sends one protocol message (2-4 MB at most); bigger goes by upload()
_LABEL = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")
_UNIT = re.compile(r"^[A-Za-z0-9:_.@\\-]+\.[a-z]+$")


@dataclass(frozen=True)
class GuestFile:
    """One file, directory or symlink to create in the guest.

    Files take ``content`` or a host ``source`` file; symlinks take ``target``. ``owner``/``group``
    are names looked up in the guest's /etc/passwd and /etc/group, or numeric ids. For directories
    every read bit of ``mode`` implies the matching search bit (like ``chmod +X``), so the default
    0o644 gives 0o755. ``mode`` is ignored for symlinks. Missing parents become root 0755.
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


def _check_disk(inj: Injection) -> None:
    """The disk must be a writable qcow2 overlay whose backing file can be found."""
    disk = inj.disk
    if not disk.is_file():
        raise _fail(inj, "disk does not exist", "create the overlay before injecting")
    if not os.access(disk, os.W_OK) or not disk.stat().st_mode & 0o222:
        raise _fail(inj, "disk is read-only on the host", f"chmod u+w {disk}")
    info = tools.image_info(disk)
    if info.get("format") != "qcow2" or not info.get("backing-filename"):
        raise _fail(inj, f"disk is not a qcow2 overlay with a backing file "
                    f"(format {info.get('format')})", "inject into a per-node overlay "
                    "(tools.create_overlay), never into a base image")
    backing = disk.parent / info.get("full-backing-filename", info["backing-filename"])
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
                                 hint="is a VM still using one of the disks? Else run "
                                 "libguestfs-test-tool; without KVM set LIBGUESTFS_BACKEND=direct "
                                 "LIBGUESTFS_BACKEND_SETTINGS=force_tcg") from exc
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
        if getattr(exc, "errno", None) == errno.ENOSPC or os.strerror(errno.ENOSPC) in str(exc):
            raise _fail(inj, f"no space left in the guest filesystem while {doing}",
                        "grow the base image (qemu-img resize, resize2fs) or inject less") from exc
        raise _fail(inj, f"libguestfs failed while {doing}: {exc}",
                    "inspect the disk with: virt-ls -la -a DISK /") from exc


def _on_disk(dev: str, disk: str) -> bool:
    """Whether ``dev`` is ``disk`` itself or one of its partitions (/dev/sda vs /dev/sdaa1)."""
    rest = dev[len(disk):] if dev.startswith(disk) else "x"
    return rest == "" or rest.lstrip("p").isdigit()


@dataclass(frozen=True)
class _Devices:
    """The launched handle's disks and partitions, and (with inspection) each disk's root."""
    disks: list[str]
    partitions: list[str]
    roots: dict[str, str]

    @classmethod
    def scan(cls, g: Any, inspect: bool) -> _Devices:
        disks = g.list_devices()
        roots: dict[str, str] = {}
        try:
            found = g.inspect_os() if inspect else []
        except RuntimeError:
            found = []
        for root in found:
            disk = next((d for d in disks if _on_disk(root, d)), None)
            if disk is not None:  # None: LVM and the like, left to the /etc probe
                roots.setdefault(disk, root)
        return cls(disks, g.list_partitions(), roots)

    def candidates(self, disk: str) -> list[str]:
        """Where a filesystem may be: the partitions, or the whole disk if it has none."""
        return [p for p in self.partitions if _on_disk(p, disk)] or [disk]


def _probe_root(g: Any, inj: Injection, candidates: Sequence[str]) -> str:
    """The filesystem that holds /etc; with several, prefer one with os-release and fstab."""
    scores: dict[str, int] = {}
    for dev in candidates:
        try:
            g.mount_ro(dev, "/")
            if g.is_dir("/etc"):
                scores[dev] = 1 + g.exists("/etc/os-release") + g.exists("/etc/fstab")
        except RuntimeError:
            pass  # swap, extended partition, no filesystem
        finally:
            g.umount_all()
    if not scores:
        raise _fail(inj, "guest filesystem not found: no filesystem on the disk contains /etc",
                    "is the base image right? list it with: virt-filesystems --all -a DISK")
    return max(scores, key=lambda dev: scores[dev])


def _resolve(g: Any, spec: str, parts: Sequence[str]) -> str | None:
    """The partition of THIS disk an fstab device names. Overlays of one base share UUIDs and
    labels, so names are never resolved across disks."""
    key, _, value = spec.partition("=")
    for prefix, kind in (("/dev/disk/by-uuid/", "UUID"), ("/dev/disk/by-label/", "LABEL")):
        if spec.startswith(prefix):
            key, value = kind, spec[len(prefix):]
    if key in ("UUID", "LABEL"):
        read = g.vfs_uuid if key == "UUID" else g.vfs_label
        for part in parts:
            try:
                if read(part).lower() == value.strip('"').lower():
                    return part
            except RuntimeError:
                continue
        return None
    num = re.fullmatch(r"/dev/(?:[shv]|xv)d[a-z](\d+)", spec)  # the guest's own disk is vda
    if num is None:
        return None
    return next((p for p in parts if (m := re.search(r"\d+$", p)) and m[0] == num[1]), None)


def _fstab_mounts(g: Any, parts: Sequence[str]) -> list[tuple[str, str]]:
    """(mount point, device) for the fstab lines of the mounted root that live on this disk."""
    if not parts or not g.exists("/etc/fstab"):
        return []
    mounts = []
    for fields in (ln.split() for ln in g.read_file("/etc/fstab").decode(errors="replace")
                   .splitlines()):
        if len(fields) < 2 or fields[0].startswith("#") or fields[1] in ("/", "none", "swap"):
            continue
        if len(fields) > 3 and "noauto" in fields[3].split(","):
            continue
        dev = _resolve(g, fields[0], parts)
        if dev is not None and fields[1].startswith("/"):
            mounts.append((fields[1], dev))
    return sorted(mounts, key=lambda m: m[0].rstrip("/").count("/"))


def _mount(g: Any, inj: Injection, devs: _Devices, disk: str,
           *, readonly: bool) -> tuple[str, tuple[str, ...]]:
    """Mount one disk's guest root and its fstab mounts; return the root and the mount points."""
    mount = g.mount_ro if readonly else g.mount
    parts = [p for p in devs.candidates(disk) if p != disk]
    root = devs.roots.get(disk) or _probe_root(g, inj, devs.candidates(disk))
    with _guarded(g, inj, f"mounting {root} and the filesystems in its /etc/fstab"):
        mount(root, "/")
        extra = [(point, dev) for point, dev in _fstab_mounts(g, parts) if dev != root]
        for point, dev in extra:
            mount(dev, point)
    return root, tuple(point for point, _ in extra)


# ---------------------------------------------------------------- guest accounts

def _read_text(g: Any, path: str) -> str:
    """A guest text file (symlinks followed), or "" if there is none."""
    if not g.is_file(path, followsymlinks=True):
        return ""
    return g.read_file(path).decode(errors="replace")


@dataclass(frozen=True)
class _Accounts:
    users: dict[str, tuple[int, int, str]]  # name -> uid, gid, home
    groups: dict[str, int]

    @classmethod
    def read(cls, g: Any) -> _Accounts:
        def rows(path: str) -> list[list[str]]:
            return [ln.split(":") for ln in _read_text(g, path).splitlines() if ln.count(":") > 1]
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
    if f.source is not None:
        g.upload(str(f.source), f.path)
    elif len(f.content or b"") <= _BIG:
        g.write(f.path, f.content)
    else:
        with tempfile.NamedTemporaryFile() as tmp:
            tmp.write(f.content or b"")
            tmp.flush()
            g.upload(tmp.name, f.path)
    g.chmod(f.mode, f.path)
    g.chown(uid, gid, f.path)


def _set_hostname(g: Any, name: str) -> None:
    """Write /etc/hostname and point the (first) 127.0.1.1 line of /etc/hosts at ``name``."""
    g.write("/etc/hostname", f"{name}\n".encode())
    hosts = (_read_text(g, "/etc/hosts") or "127.0.0.1\tlocalhost\n")
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
    old = _read_text(g, path)
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
                  if g.is_file(f"{d}/{n}", followsymlinks=True)), None)
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


def _inject_one(g: Any, inj: Injection, devs: _Devices, disk: str) -> DiskReport:
    """Mount one disk, write everything for it, and report (the caller unmounts)."""
    root, mounts = _mount(g, inj, devs, disk, readonly=False)
    with _guarded(g, inj, "reading /etc/passwd and /etc/group"):
        acc = _Accounts.read(g)
    owners = [(acc.ident(inj, f.owner, False), acc.ident(inj, f.group, True)) for f in inj.files]
    written: list[str] = []
    if inj.hostname:
        with _guarded(g, inj, "setting the hostname"):
            _set_hostname(g, inj.hostname)
        written += ["/etc/hostname", "/etc/hosts"]
    for f, (uid, gid) in zip(inj.files, owners, strict=True):
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
    """Slices of at most ``size`` items (one appliance each)."""
    if not 1 <= size <= _MAX_DRIVES:
        raise InjectionError(f"batch_size {size} out of range", hint=f"use 1..{_MAX_DRIVES}")
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _combine(errors: list[InjectionError]) -> InjectionError:
    """One error for all failed disks (the only one, if just one failed)."""
    if len(errors) == 1:
        return errors[0]
    hints = "; ".join(dict.fromkeys(e.hint for e in errors if e.hint))
    return InjectionError(f"injection failed on {len(errors)} disks:\n"
                          + "\n".join(f"  {e.message}" for e in errors), hint=hints)


def inject_all(injections: Sequence[Injection], *, batch_size: int = 64,
               progress: Callable[[str], None] | None = None,
               inspect: bool = False) -> InjectionReport:
    """Write every injection into its overlay with one appliance launch per ``batch_size`` disks.

    All checks that need no appliance run first. A failure on one disk does not stop the
    others; afterwards one InjectionError lists every failed disk. The guest root is the
    filesystem holding /etc (``inspect=True`` asks libguestfs' inspect_os() first, which costs
    about as much as a second launch); the root's /etc/fstab mounts on the same disk follow.
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
        say(f"starting libguestfs for {len(batch)} disk(s)")
        with _appliance([(p.disk, "qcow2") for p in batch], readonly=False) as g:
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


# ---------------------------------------------------------------- reading back

def _stat(g: Any, path: str, acc: _Accounts) -> GuestStat | None:
    """One path's GuestStat, or None if it does not exist (read_file streams: no size limit)."""
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
                     acc.name(gid, True), g.read_file(path) if kind == "file" else None,
                     g.readlink(path) if kind == "symlink" else None)


def read_back_many(requests: Mapping[Path, Sequence[str]], *, batch_size: int = 64,
                   inspect: bool = False) -> dict[Path, dict[str, GuestStat]]:
    """Stat and read guest paths on several disks, read-only, one launch per batch.

    Disks are mounted as for injection (root plus fstab mounts). Missing paths are left out.
    """
    disks = list(requests)
    out: dict[Path, dict[str, GuestStat]] = {}
    for batch in _batches(disks, batch_size):
        formats = [(d, tools.image_info(d).get("format", "qcow2")) for d in batch]
        with _appliance(formats, readonly=True) as g:
            devs = _Devices.scan(g, inspect)
            for disk, dev in zip(batch, devs.disks, strict=True):
                label = Injection(node=disk.stem, disk=disk)
                try:
                    _mount(g, label, devs, dev, readonly=True)
                    acc = _Accounts.read(g)
                    stats = {p: _stat(g, p, acc) for p in requests[disk]}
                    out[disk] = {p: s for p, s in stats.items() if s is not None}
                finally:
                    g.umount_all()
    return out


def read_back(disk: Path, paths: Sequence[str]) -> dict[str, GuestStat]:
    """:func:`read_back_many` for one disk."""
    return read_back_many({disk: paths})[disk]
