"""The one place that runs external programs.

Every external command goes through :func:`run` (or :func:`qemu_img`, which uses ``sh`` as the
project chose). A missing program is reported apart from a failing one, and a failure carries
the command, the exit code and the tail of its stderr.
"""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

import sh

from generator.errors import ToolError
from generator.interrupt import check as check_interrupted
from generator.interrupt import deferred

logging.getLogger("sh").setLevel(logging.WARNING)  # sh logs every chunk at DEBUG

#: Debian package that provides each program, for install hints.
PACKAGES = {
    "qemu-img": "qemu-utils",
    "qemu-system-x86_64": "qemu-system-x86",
    "mmdebstrap": "mmdebstrap",
    "cloud-init": "cloud-init",
    "ansible-playbook": "ansible-core",
    "ansible-inventory": "ansible-core",
    "ansible-lint": "ansible-lint",
    "mke2fs": "e2fsprogs",
    "extlinux": "extlinux",
    "ssh-keygen": "openssh-client",
    "git": "git",
    "dot": "graphviz",
}


def require(*programs: str) -> None:
    """Fail early, with an install hint, when a program is not on PATH."""
    missing = [p for p in programs if shutil.which(p) is None]
    if missing:
        pkgs = sorted({PACKAGES.get(p, p) for p in missing})
        raise ToolError(
            f"required program not found: {', '.join(missing)}",
            hint=f"install it with: apt-get install {' '.join(pkgs)}",
        )


def _tail(text: str, lines: int = 12) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def run(argv: Sequence[str | Path], *, input: bytes | None = None, timeout: float | None = 600,
        cwd: Path | None = None, env: dict[str, str] | None = None,
        ok: tuple[int, ...] = (0,)) -> subprocess.CompletedProcess:
    """Run a command, capture its output, and raise ToolError unless it exits with ``ok``."""
    args = [str(a) for a in argv]
    require(args[0])
    try:
        with deferred():
            proc = subprocess.run(args, input=input, capture_output=True, timeout=timeout,
                                  cwd=cwd, env=env, check=False)
    except subprocess.TimeoutExpired as exc:
        raise ToolError(f"command timed out after {timeout:.0f}s: {' '.join(args)}") from exc
    if proc.returncode not in ok:
        stderr = proc.stderr.decode(errors="replace") or proc.stdout.decode(errors="replace")
        raise ToolError(f"command failed (exit {proc.returncode}): {' '.join(args)}\n"
                        f"{_tail(stderr)}")
    return proc


def qemu_img(*args: str | Path) -> str:
    """Run qemu-img through ``sh`` and return its stdout."""
    require("qemu-img")
    try:
        with deferred():
            return str(sh.Command("qemu-img")(*[str(a) for a in args]))
    except sh.SignalException as exc:  # qemu-img got our Ctrl-C or SIGTERM: so do we
        check_interrupted()
        raise ToolError(f"qemu-img was killed by signal {-exc.exit_code}") from exc
    except sh.ErrorReturnCode as exc:
        stderr = exc.stderr.decode(errors="replace")
        raise ToolError(
            f"command failed (exit {exc.exit_code}): qemu-img {' '.join(str(a) for a in args)}\n"
            f"{_tail(stderr)}"
        ) from exc


def image_info(path: Path) -> dict:
    """``qemu-img info --output=json`` of one image, parsed. ``-U`` so a running VM is no bar."""
    return json.loads(qemu_img("info", "-U", "--output=json", path))


def create_overlay(path: Path, backing_name: str, backing_format: str, size: int | None = None,
                   backing_path: Path | None = None) -> None:
    """Create a qcow2 linked clone whose header names ``backing_name`` (a bare file name).

    With ``backing_path`` the base is opened to check it (size, format) and ``size`` may grow the
    disk; without it (``-u``) the overlay is made from the known virtual ``size`` alone, for
    ``--no-images`` builds.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    if backing_path is not None:
        # Create against the real file, then rewrite the header to the bare name: GNS3 rebases it
        # onto its own image directory before every start.
        qemu_img("create", "-q", "-f", "qcow2", "-F", backing_format, "-b", backing_path.resolve(),
                 path, *([str(size)] if size else []))
        qemu_img("rebase", "-u", "-F", backing_format, "-b", backing_name, path)
    else:
        if size is None:
            raise ToolError(f"cannot create overlay {path}: no base image and no known size")
        qemu_img("create", "-q", "-f", "qcow2", "-u", "-F", backing_format, "-b", backing_name,
                 path, str(size))


def create_blank_disk(path: Path, size: int) -> None:
    """Create an empty qcow2 data disk of ``size`` bytes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    qemu_img("create", "-q", "-f", "qcow2", path, str(size))
