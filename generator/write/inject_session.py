"""The libguestfs side of injection: one launched appliance, its devices, each disk's root.

A disk is mounted read-write at once when it has a single filesystem candidate (the whole disk,
or its one partition); only a disk with several candidates gets the read-only probe for the one
that holds /etc. Measured under TCG here: a mount 200-800 ms, umount_all 150-270 ms (both run
a program in the appliance, as do tar_in, ln_s and upload), read_file 300-500 ms, while pread,
write, chmod, chown and the is_* tests take 1-20 ms.

Where ``/dev/kvm`` exists but cannot run the appliance (cloud VMs, nested setups, a KVM module
that is not hardware-backed), the launch either dies with a KVM message (``failed to set MSR``,
a qemu assertion in its KVM code) or the appliance never starts: libguestfs then waits 20
minutes for it. :func:`appliance` stops a KVM launch that has shown no appliance after
:data:`KVM_STALL_SECONDS`, and after either failure launches once more with libguestfs'
``force_tcg`` setting, saying so in one progress line. Any other launch failure is an error.

libguestfs' own error for a qemu that dies at once is generic ("guestfs_launch failed. This
usually means the libguestfs appliance failed to start or crashed"): what qemu said reaches
only the appliance console, an ``EVENT_APPLIANCE`` message. So the console of a KVM launch is
kept (its tail) and read with the error: a KVM message there, or qemu ending before the
appliance printed anything (every console line is qemu's own, none about a disk), means KVM.
"""

from __future__ import annotations

import errno
import os
import re
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from generator.errors import InjectionError

MAX_DRIVES = 255  # libguestfs' limit with virtio-scsi
READ_MAX = 1 << 20  # what one pread returns at most here (a protocol message is 4 MB)
#: The start of the progress line said before every appliance launch (tests count them).
LAUNCH_MESSAGE = "starting libguestfs for"
#: How long a launch under KVM may go without an appliance before KVM is taken as unusable.
#: With working KVM the appliance is up in 2-5 s (15 s on a loaded host); the first launch's
#: supermin build runs before qemu starts, so it is not counted. Giving up too early on a slow
#: KVM only costs the TCG launch's extra time; waiting costs this much on every such build.
KVM_STALL_SECONDS = 30.0
#: The start of the one line said when libguestfs falls back to TCG (tests look for it).
FALLBACK_MESSAGE = "gns3lab: KVM is unusable here"
TCG_SETTING = "force_tcg"  # libguestfs' backend setting for software emulation

#: Launch failure texts that mean KVM cannot run guests here (qemu and libguestfs wording).
_KVM_FAILURES = tuple(re.compile(p, re.IGNORECASE) for p in (
    r"failed to set MSR 0x[0-9a-f]+[^\n]*",
    r"kvm_[a-z_]+: Assertion [^\n]*",
    r"Assertion [^\n]*kvm[^\n]*",
    r"Could not access KVM kernel module[^\n]*",
    r"failed to initiali[sz]e kvm[^\n]*",
    r"KVM internal error[^\n]*",
    r"kvm run failed[^\n]*",
    r"error: kvm[^\n]*",
    r"KVM_[A-Z_]+ failed[^\n]*",
    r"kvm: [^\n]*(?:not supported|unsupported|failed)[^\n]*",
    r"KVM: entry failed[^\n]*",
))
#: A line qemu itself wrote (``qemu-system-x86_64: ...``), as opposed to the appliance's.
_QEMU_LINE = re.compile(r"qemu(?:-system-[\w.-]+|-kvm)?: ")
#: qemu errors that TCG would meet as well: the disks, not the accelerator.
_NOT_KVM = re.compile(r"lock|could not open|no such file|permission denied|not a directory|"
                      r"image format|No space", re.IGNORECASE)
CONSOLE_TAIL = 16 << 10  # bytes of the launch's console kept for the diagnosis

Fail = Callable[[str, str], InjectionError]


def kvm_unusable(text: str, console: str = "") -> str | None:
    """The part of a launch failure's text (libguestfs' error, then what the appliance console
    showed) that says KVM cannot run guests here, else None. A console on which only qemu
    spoke, about no disk, is qemu ending before the appliance started: KVM too."""
    for pattern in _KVM_FAILURES:
        found = pattern.search(f"{text}\n{console}")
        if found:
            return " ".join(found[0].split())[:120]
    return _exited_early(console)


def _exited_early(console: str) -> str | None:
    """Why a launch's qemu ended before the appliance printed a line, or None when the
    appliance did print, nothing was seen, or qemu named a disk problem (TCG would fail too)."""
    lines = [line.strip() for line in console.splitlines() if line.strip()]
    if not lines or not all(_QEMU_LINE.match(line) for line in lines):
        return None
    if any(_NOT_KVM.search(line) for line in lines):
        return None
    last = _QEMU_LINE.sub("", lines[-1], count=1)
    return " ".join(f"qemu exited before the appliance started: {last}".split())[:120]


@contextmanager
def _console(g: Any, guestfs: Any) -> Iterator[list[str]]:
    """The appliance console's messages while the body launches ``g`` (the tail is kept)."""
    seen: list[str] = []

    def keep(_event: int, _handle: int, buf: bytes | str, _array: Any) -> None:
        seen.append(buf.decode(errors="replace") if isinstance(buf, bytes) else buf)
        while sum(map(len, seen)) > CONSOLE_TAIL and len(seen) > 1:
            seen.pop(0)

    handle = g.set_event_callback(keep, guestfs.EVENT_APPLIANCE)
    try:
        yield seen
    finally:
        g.delete_event_callback(handle)


def _appliance_qemu(parent: int) -> int | None:
    """The pid of the libguestfs qemu that ``parent`` started and that runs under KVM (it holds
    /dev/kvm open), or None. libguestfs' direct backend forks qemu from the caller itself."""
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        with suppress(OSError, IndexError, ValueError):
            stat = Path(entry.path, "stat").read_text()
            if int(stat.rsplit(")", 1)[1].split()[1]) != parent:
                continue
            if b"org.libguestfs.channel" not in Path(entry.path, "cmdline").read_bytes():
                continue
            if any(os.readlink(fd.path) == "/dev/kvm" for fd in os.scandir(f"{entry.path}/fd")):
                return int(entry.name)
    return None


@contextmanager
def _stall_watch(seconds: float) -> Iterator[list[str]]:
    """While the body launches, kill its qemu if it has run under KVM for ``seconds`` without
    the launch returning; the list then holds the reason. A TCG qemu is never touched."""
    stalled: list[str] = []
    done = threading.Event()

    def watch() -> None:
        since: float | None = None
        while not done.wait(0.5):
            pid = _appliance_qemu(os.getpid())
            if pid is None:
                since = None  # qemu not started yet (supermin builds the appliance first)
                continue
            since = since or time.monotonic()
            if time.monotonic() - since >= seconds:
                stalled.append(f"no appliance after {seconds:.0f} s under KVM")
                with suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)  # launch() then fails at once
                return

    thread = threading.Thread(target=watch, name="kvm-stall-watch", daemon=True)
    thread.start()
    try:
        yield stalled
    finally:
        done.set()
        thread.join()


def _handle(guestfs: Any, disks: Sequence[tuple[Path, str]], readonly: bool, tcg: bool) -> Any:
    """A fresh handle with ``disks`` added; ``tcg`` adds libguestfs' force_tcg setting."""
    g = guestfs.GuestFS(python_return_dict=True)
    if tcg:
        g.set_backend_settings([*g.get_backend_settings(), TCG_SETTING])
    for path, fmt in disks:
        g.add_drive_opts(str(path), format=fmt, readonly=readonly)
    return g


def _not_started(exc: RuntimeError, console: str = "") -> InjectionError:
    said = [line.strip() for line in console.splitlines() if _QEMU_LINE.match(line.strip())]
    return InjectionError(f"libguestfs appliance did not start: {exc}"
                          + (f" (qemu: {said[-1]})" if said else ""),
                          hint="is a VM still using one of the disks? Else run "
                          "libguestfs-test-tool")


def _launch(guestfs: Any, disks: Sequence[tuple[Path, str]], readonly: bool,
            progress: Callable[[str], None]) -> Any:
    """A launched handle; a launch that fails because KVM is unusable is retried once under
    TCG, with one progress line. Any other failure is an InjectionError."""
    g = _handle(guestfs, disks, readonly, tcg=False)
    already_tcg = TCG_SETTING in g.get_backend_settings()  # the caller's environment says so
    stalled: list[str] = []
    console: list[str] = []
    try:
        if already_tcg:
            g.launch()
        else:
            with _stall_watch(KVM_STALL_SECONDS) as stalled, _console(g, guestfs) as console:
                g.launch()
        return g
    except RuntimeError as exc:
        g.close()
        reason = (stalled[0] if stalled else None) or kvm_unusable(str(exc), "".join(console))
        if reason is None or already_tcg:
            raise _not_started(exc, "".join(console)) from exc
    progress(f"{FALLBACK_MESSAGE} ({reason}); libguestfs retried with TCG (slower)")
    g = _handle(guestfs, disks, readonly, tcg=True)
    try:
        with _console(g, guestfs) as console:
            g.launch()
    except RuntimeError as exc:
        g.close()
        raise _not_started(exc, "".join(console)) from exc
    return g


@contextmanager
def appliance(disks: Sequence[tuple[Path, str]], *, readonly: bool,
              progress: Callable[[str], None] | None = None) -> Iterator[Any]:
    """A launched handle with ``disks`` (path, format) added; always closed, even on error.

    Where KVM is unusable the launch falls back to TCG once, announced to ``progress``."""
    try:
        import guestfs
    except ImportError as exc:
        raise InjectionError("the Python libguestfs module is not importable",
                             hint="apt-get install python3-guestfs, and use a venv made with "
                             "--system-site-packages by /usr/bin/python3") from exc
    g = _launch(guestfs, disks, readonly, progress or (lambda _msg: None))
    try:
        yield g
        try:
            g.shutdown()  # flushes the disks: an error here means lost writes
        except RuntimeError as exc:
            raise InjectionError(f"libguestfs failed to flush the disks: {exc}",
                                 hint="check free space on the host") from exc
    finally:
        g.close()


def failure(fail: Fail, doing: str, exc: RuntimeError) -> InjectionError:
    """The InjectionError for a libguestfs RuntimeError raised while ``doing``."""
    if getattr(exc, "errno", None) == errno.ENOSPC or os.strerror(errno.ENOSPC) in str(exc):
        return fail(f"no space left in the guest filesystem while {doing}",
                    "grow the base image (qemu-img resize, resize2fs) or inject less")
    return fail(f"libguestfs failed while {doing}: {exc}",
                "inspect the disk with: virt-ls -la -a DISK /")


@contextmanager
def guarded(fail: Fail, doing: str) -> Iterator[None]:
    """Turn a libguestfs RuntimeError into an InjectionError that says what was being done."""
    try:
        yield
    except RuntimeError as exc:
        raise failure(fail, doing, exc) from exc


def on_disk(dev: str, disk: str) -> bool:
    """Whether ``dev`` is ``disk`` itself or one of its partitions (/dev/sda vs /dev/sdaa1)."""
    rest = dev[len(disk):] if dev.startswith(disk) else "x"
    return rest == "" or rest.lstrip("p").isdigit()


@dataclass(frozen=True)
class Devices:
    """The launched handle's disks and partitions, and (with inspection) each disk's root."""
    disks: list[str]
    partitions: list[str]
    roots: dict[str, str]

    @classmethod
    def scan(cls, g: Any, inspect: bool) -> Devices:
        disks = g.list_devices()
        roots: dict[str, str] = {}
        try:
            found = g.inspect_os() if inspect else []
        except RuntimeError:
            found = []
        for root in found:
            disk = next((d for d in disks if on_disk(root, d)), None)
            if disk is not None:  # None: LVM and the like, left to the /etc probe
                roots.setdefault(disk, root)
        return cls(disks, g.list_partitions(), roots)

    def candidates(self, disk: str) -> list[str]:
        """Where a filesystem may be: the partitions, or the whole disk if it has none."""
        return [p for p in self.partitions if on_disk(p, disk)] or [disk]


def read_bytes(g: Any, path: str) -> bytes:
    """A guest file's bytes (symlinks followed); raises RuntimeError as libguestfs does.

    One ``pread`` (about 8 ms under TCG); ``read_file`` streams through a temporary file in the
    appliance and costs 300-500 ms, so it is only used for a file past one message."""
    data = g.pread(path, READ_MAX, 0)
    return g.read_file(path) if len(data) >= READ_MAX else data


def read_text(g: Any, path: str) -> str | None:
    """A guest text file (symlinks followed), or None if it cannot be read."""
    try:
        data = read_bytes(g, path)
    except RuntimeError:
        return None
    return data.decode(errors="replace")


def _not_found(fail: Fail) -> InjectionError:
    return fail("guest filesystem not found: no filesystem on the disk contains /etc",
                "is the base image right? list it with: virt-filesystems --all -a DISK")


def _probe_root(g: Any, fail: Fail, candidates: Sequence[str]) -> str:
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
        raise _not_found(fail)
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
    text = read_text(g, "/etc/fstab") if parts else None
    mounts = []
    for fields in (ln.split() for ln in (text or "").splitlines()):
        if len(fields) < 2 or fields[0].startswith("#") or fields[1] in ("/", "none", "swap"):
            continue
        if len(fields) > 3 and "noauto" in fields[3].split(","):
            continue
        dev = _resolve(g, fields[0], parts)
        if dev is not None and fields[1].startswith("/"):
            mounts.append((fields[1], dev))
    return sorted(mounts, key=lambda m: m[0].rstrip("/").count("/"))


@dataclass(frozen=True)
class Mounted:
    """One disk's guest root and extra mounts; ``checked``: /etc is known to be there (else the
    caller checks it after its first reads, which saves a call on every good disk)."""
    root: str
    mounts: tuple[str, ...]
    checked: bool


def mount(g: Any, fail: Fail, devs: Devices, disk: str, *, readonly: bool) -> Mounted:
    """Mount one disk's guest root and the filesystems its /etc/fstab puts on the same disk.

    With one filesystem candidate it is mounted straight away (no read-only probe pass)."""
    do_mount = g.mount_ro if readonly else g.mount
    candidates = devs.candidates(disk)
    parts = [p for p in candidates if p != disk]
    root = devs.roots.get(disk)
    checked, done = root is not None, False
    if root is None and len(candidates) > 1:
        root, checked = _probe_root(g, fail, candidates), True
    elif root is None:
        root = candidates[0]
        try:
            do_mount(root, "/")
        except RuntimeError:
            raise _not_found(fail) from None  # no filesystem at all
        done = True
    with guarded(fail, f"mounting {root} and the filesystems in its /etc/fstab"):
        if not done:
            do_mount(root, "/")
        extra = [(point, dev) for point, dev in _fstab_mounts(g, parts) if dev != root]
        for point, dev in extra:
            do_mount(dev, point)
    return Mounted(root, tuple(point for point, _ in extra), checked)


def check_etc(g: Any, fail: Fail, mounted: Mounted) -> None:
    """Refuse a disk whose mounted root has no /etc (only asked when a read came back empty)."""
    if not mounted.checked and not g.is_dir("/etc"):
        raise _not_found(fail)
