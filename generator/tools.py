"""The one place that runs external programs, and the one table of what to install for them.

Every external command goes through :func:`run` (``subprocess``) or :func:`qemu_img` (``sh``, as
the project chose); both share one error record and one interrupt handling (:func:`_guarded`).
A missing program is reported apart from a failing one, with the Debian package to install; a
failure is a :class:`ToolError` whose ``argv``, ``exit_code`` and ``stderr_tail`` say what ran
and how it ended. :func:`preflight` checks every program (and Python module, and data file) a
piece of work will need at once, before it starts, and names all that are missing in one error.
"""

from __future__ import annotations

import importlib
import json
import logging
import shutil
import signal
import subprocess
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TypeVar

import sh

from generator.errors import ToolError
from generator.interrupt import check as check_interrupted
from generator.interrupt import deferred

logging.getLogger("sh").setLevel(logging.WARNING)  # sh logs every chunk at DEBUG

#: Debian package that provides each program, for install hints (the one table: the build,
#: the image build and the diagram all name their programs here).
PACKAGES = {
    "qemu-img": "qemu-utils",
    "qemu-system-x86_64": "qemu-system-x86",
    "mmdebstrap": "mmdebstrap",
    "cloud-init": "cloud-init",
    "ansible-playbook": "ansible-core",
    "ansible-inventory": "ansible-core",
    "ansible-lint": "ansible-lint",
    "mke2fs": "e2fsprogs",
    "debugfs": "e2fsprogs",
    "dumpe2fs": "e2fsprogs",
    "mkfs.fat": "dosfstools",
    "mcopy": "mtools",
    "syslinux": "syslinux",
    "extlinux": "extlinux",
    "ssh-keygen": "openssh-client",
    "git": "git",
    "dot": "graphviz",
}

#: Python modules that come from Debian rather than from pip, and their package.
MODULES = {"guestfs": "python3-guestfs"}

#: SYSLINUX's MBR boot code, which the image build copies into sector 0.
SYSLINUX_MBR = Path("/usr/lib/syslinux/mbr/mbr.bin")

#: Data files a program needs that no program on PATH stands for, and their package.
FILES = {SYSLINUX_MBR: "syslinux-common"}

_T = TypeVar("_T")


def _importable(module: str) -> bool:
    try:
        importlib.import_module(module)
    except ImportError:
        return False
    return True


def missing(programs: Iterable[str] = (), *, modules: Iterable[str] = (),
            files: Iterable[Path] = ()) -> list[str]:
    """Which of ``programs`` are not on PATH, ``modules`` not importable and ``files`` absent."""
    return ([p for p in dict.fromkeys(programs) if shutil.which(p) is None]
            + [m for m in dict.fromkeys(modules) if not _importable(m)]
            + [str(f) for f in dict.fromkeys(files) if not Path(f).is_file()])


def preflight(programs: Iterable[str] = (), *, modules: Iterable[str] = (),
              files: Iterable[Path] = ()) -> None:
    """Check everything a piece of work will need, all at once, before it starts; one
    :class:`ToolError` names every missing program, module and file with its Debian package,
    and the one ``apt-get install`` line for them all."""
    programs, modules, files = list(programs), list(modules), [Path(f) for f in files]
    gone = set(missing(programs, modules=modules, files=files))
    if not gone:
        return
    parts, packages = [], set()
    for kind, names, table in (("program", programs, PACKAGES),
                               ("Python module", modules, MODULES),
                               ("file", [str(f) for f in files],
                                {str(k): v for k, v in FILES.items()})):
        absent = [n for n in dict.fromkeys(names) if n in gone]
        if absent:
            packages |= {table.get(n, n) for n in absent}
            label = f"{kind}s" if len(absent) > 1 else kind
            verb = "not importable" if kind == "Python module" else "not found"
            parts.append(f"required {label} {verb}: "
                         + ", ".join(f"{n} ({table[n]})" if n in table else n
                                     for n in absent))
    hint = (f"install {'them' if len(gone) > 1 else 'it'} with: "
            f"apt-get install {' '.join(sorted(packages))}")
    if gone & set(modules):
        hint += ("; the venv must see the system's Python modules (make it with "
                 "--system-site-packages by /usr/bin/python3)")
    raise ToolError("; ".join(parts), hint=hint)


def require(*programs: str) -> None:
    """:func:`preflight` of ``programs`` alone."""
    preflight(programs)


def _tail(text: str, lines: int = 12) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def _guarded(start: Callable[[], _T]) -> _T:
    """Run ``start`` (which runs a child program to its end) with signals deferred: a SIGINT or
    SIGTERM that came in meanwhile is raised as :class:`Interrupted` when it returns, and wins
    over whatever the child's end raised (the child got the same Ctrl-C)."""
    try:
        with deferred():
            return start()
    except Exception:
        check_interrupted()
        raise


def _not_started(args: list[str], exc: Exception) -> ToolError:
    """The error of a program that could not be started: missing (the preflight message) or
    not runnable."""
    found = Path(args[0]).exists() if "/" in args[0] else shutil.which(args[0]) is not None
    if not found:
        try:
            require(args[0])
        except ToolError as err:
            return ToolError(err.message, err.hint, argv=args)
    return ToolError(f"cannot run {args[0]}: {exc}", argv=args)


def _failed(args: list[str], exit_code: int, stderr: bytes, stdout: bytes) -> ToolError:
    """The error of a program that ended with ``exit_code`` (negative: killed by a signal)."""
    tail = _tail(stderr.decode(errors="replace") or stdout.decode(errors="replace"))
    if exit_code < 0:
        try:
            how = f"killed by {signal.Signals(-exit_code).name}"
        except ValueError:
            how = f"killed by signal {-exit_code}"
    else:
        how = f"exit {exit_code}"
    return ToolError(f"command failed ({how}): {' '.join(args)}" + (f"\n{tail}" if tail else ""),
                     argv=args, exit_code=exit_code, stderr_tail=tail)


def run(argv: Sequence[str | Path], *, input: bytes | None = None, timeout: float | None = 600,
        cwd: Path | None = None, env: dict[str, str] | None = None,
        ok: tuple[int, ...] = (0,)) -> subprocess.CompletedProcess:
    """Run a command, capture its output, and raise ToolError unless it exits with ``ok``."""
    args = [str(a) for a in argv]
    try:
        proc = _guarded(lambda: subprocess.run(args, input=input, capture_output=True,
                                               timeout=timeout, cwd=cwd, env=env, check=False))
    except subprocess.TimeoutExpired as exc:
        raise ToolError(f"command timed out after {timeout:.0f}s: {' '.join(args)}",
                        argv=args, stderr_tail=_tail((exc.stderr or b"").decode(
                            errors="replace"))) from exc
    except OSError as exc:  # not found, not executable
        raise _not_started(args, exc) from exc
    if proc.returncode not in ok:
        raise _failed(args, proc.returncode, proc.stderr, proc.stdout)
    return proc


def qemu_img(*args: str | Path) -> str:
    """Run qemu-img through ``sh`` and return its stdout."""
    argv = ["qemu-img", *[str(a) for a in args]]
    try:
        return _guarded(lambda: str(sh.Command(argv[0])(*argv[1:])))
    except sh.CommandNotFound as exc:
        raise _not_started(argv, exc) from exc
    except sh.ErrorReturnCode as exc:  # and sh.SignalException, with a negative exit code
        raise _failed(argv, exc.exit_code, exc.stderr or b"", exc.stdout or b"") from exc


def image_info(path: Path) -> dict:
    """``qemu-img info --output=json`` of one image, parsed. ``-U`` so a running VM is no bar."""
    return json.loads(qemu_img("info", "-U", "--output=json", path))
