"""The machine a benchmark ran on: cores, memory, CPU, kernel, KVM, tool versions, load."""

from __future__ import annotations

import fcntl
import os
import platform
import subprocess
from pathlib import Path

KVM_CREATE_VM = 0xAE01


def kvm_usable() -> bool:
    """/dev/kvm opens and can create a VM (libguestfs here is still told what to use by
    LIBGUESTFS_BACKEND_SETTINGS: force_tcg ignores KVM even where it works)."""
    try:
        fd = os.open("/dev/kvm", os.O_RDWR | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        vm = fcntl.ioctl(fd, KVM_CREATE_VM, 0)
        os.close(vm)
        return True
    except OSError:
        return False
    finally:
        os.close(fd)


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _version(argv: list[str]) -> str:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=30).stdout
    except OSError:
        return "not found"
    return out.strip().splitlines()[0] if out.strip() else "unknown"


def describe() -> dict:
    """Everything about this host that a reader needs to weigh the figures."""
    mem_kb = next(int(ln.split()[1]) for ln in Path("/proc/meminfo").read_text().splitlines()
                  if ln.startswith("MemTotal:"))
    commit = _version(["git", "-C", str(Path(__file__).resolve().parent.parent), "rev-parse",
                       "--short", "HEAD"])
    return {
        "nproc": os.cpu_count(),
        "memory_gib": round(mem_kb / (1 << 20), 1),
        "cpu_model": _cpu_model(),
        "kernel": platform.release(),
        "kvm_usable": kvm_usable(),
        "libguestfs_backend": os.environ.get("LIBGUESTFS_BACKEND", ""),
        "libguestfs_backend_settings": os.environ.get("LIBGUESTFS_BACKEND_SETTINGS", ""),
        "python": platform.python_version(),
        "qemu_img": _version(["qemu-img", "--version"]),
        "git_commit": commit,
        "load_at_start": [round(x, 2) for x in os.getloadavg()],
    }
