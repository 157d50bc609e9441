"""The one place that runs external programs, and the one table of what to install for them.

Every external command goes through :func:`run` (``subprocess``) or :func:`qemu_img` (``sh``, as
the project chose); both share one error record and one interrupt handling (:func:`_guarded`).
A missing program is reported apart from a failing one, with the Debian package to install; a
failure is a :class:`ToolError` whose ``argv``, ``exit_code`` and ``stderr_tail`` say what ran
and how it ended. :func:`preflight` checks every program (and Python module, and data file) a
piece of work will need at once, before it starts, and names all that are missing in one error.

No child outlives gns3lab. Each one starts in its own process group, with standard input from
/dev/null (a background group must never read the terminal), and with ``PR_SET_PDEATHSIG``
set to SIGKILL between fork and exec (:func:`_child_setup`), so the kernel kills it when
gns3lab dies, SIGKILL included. Since the terminal's Ctrl-C reaches gns3lab alone, a SIGINT or
SIGTERM to gns3lab ends the child's whole group (SIGTERM, SIGKILL after :data:`GRACE` s) before
:class:`Interrupted` is raised; a timeout ends it the same way. The death signal reaches the
direct child only: a program that starts a tree of processes or mounts file systems runs
under :func:`contained`, in its own PID and mount namespaces, where the kernel ends the whole
tree and drops every mount with it. The death signal fires when the *thread* that started the
child ends; every caller waits for its child in that thread, so that is when gns3lab ends.
"""

from __future__ import annotations

import ctypes
import importlib
import json
import logging
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TypeVar

import sh

from generator.errors import Interrupted, ToolError
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
    "unshare": "util-linux",
}

#: Python modules that come from Debian rather than from pip, and their package.
MODULES = {"guestfs": "python3-guestfs"}

#: SYSLINUX's MBR boot code, which the image build copies into sector 0.
SYSLINUX_MBR = Path("/usr/lib/syslinux/mbr/mbr.bin")

#: Data files a program needs that no program on PATH stands for, and their package.
FILES = {SYSLINUX_MBR: "syslinux-common"}

#: Seconds an interrupted (or timed-out) child's process group has between SIGTERM and SIGKILL.
GRACE = 5.0
#: How often a running child's wait looks for a signal to gns3lab.
_POLL = 0.2
_PR_SET_PDEATHSIG = 1
#: Looked up once here: the child calls it between fork and exec, where nothing may be loaded.
_prctl = ctypes.CDLL(None, use_errno=True).prctl

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


def _child_setup(parent: int) -> Callable[[], None]:
    """What a child runs between fork and exec (already in its own process group): ask the
    kernel for SIGKILL when its parent dies, and end at once if ``parent`` is already gone
    (it died before the request, so the signal would never come)."""

    def setup() -> None:
        # Only a foreign call and a system call: nothing here takes a lock that another
        # thread of the parent might have held at fork time.
        _prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
        if os.getppid() != parent:
            os._exit(128 + signal.SIGKILL)

    return setup


def contained(argv: Sequence[str | Path]) -> list[str]:
    """``argv`` run by ``unshare`` as PID 1 of a new PID namespace, inside a new private mount
    namespace (needs root). When that PID 1 ends, the kernel kills every process of the
    namespace; when the last of them ends, every mount they made goes with the namespace, and
    the host never sees those mounts at all. unshare gets the death signal from
    :func:`_child_setup` and passes it on to its child (``--kill-child``), so a SIGKILLed
    gns3lab takes the whole tree and its mounts with it."""
    return ["unshare", "--mount", "--propagation", "private", "--pid", "--fork",
            "--kill-child=SIGKILL", "--mount-proc", "--", *[str(a) for a in argv]]


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):  # already gone
        pass


def _interrupted() -> bool:
    try:
        check_interrupted()
    except Interrupted:
        return True
    return False


def _wait_or_end(pgid: int, wait: Callable[[float], bool], timeout: float | None) -> bool:
    """Wait until ``wait(seconds)`` says the child (leader of process group ``pgid``) ended:
    True. On a SIGINT or SIGTERM to gns3lab, or at ``timeout``, end its whole group first
    (SIGTERM, then SIGKILL after :data:`GRACE` seconds); then raise :class:`Interrupted`, or
    return False for the timeout."""
    end = None if timeout is None else time.monotonic() + timeout
    while not wait(_POLL):
        interrupted = _interrupted()
        if interrupted or (end is not None and time.monotonic() >= end):
            _signal_group(pgid, signal.SIGTERM)
            wait(GRACE)
            _signal_group(pgid, signal.SIGKILL)  # the leader, or what it left in its group
            wait(GRACE)
            check_interrupted()
            return False
    return True


def _communicate(proc: subprocess.Popen, input: bytes | None,
                 result: list[tuple[bytes, bytes]]) -> Callable[[float], bool]:
    """A ``wait(seconds)`` for :func:`_wait_or_end` that feeds ``input`` and drains the output
    of ``proc`` into ``result``."""
    fed = [False]

    def wait(seconds: float) -> bool:
        if not result:
            data, fed[0] = (None if fed[0] else input), True
            try:
                result.append(proc.communicate(data, timeout=seconds))
            except subprocess.TimeoutExpired:
                return False
        return True

    return wait


def _run_popen(args: list[str], input: bytes | None, timeout: float | None,
               cwd: Path | None, env: dict[str, str] | None) -> subprocess.CompletedProcess:
    """Start ``args`` in its own process group with the death signal, wait as
    :func:`_wait_or_end` says; TimeoutExpired once its group has been ended."""
    stdin = subprocess.PIPE if input is not None else subprocess.DEVNULL
    with subprocess.Popen(args, stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          cwd=cwd, env=env, process_group=0,
                          preexec_fn=_child_setup(os.getpid())) as proc:
        result: list[tuple[bytes, bytes]] = []
        if not _wait_or_end(proc.pid, _communicate(proc, input, result), timeout):
            err = result[0][1] if result else b""
            raise subprocess.TimeoutExpired(args, timeout or 0, stderr=err)
        return subprocess.CompletedProcess(args, proc.returncode, *result[0])


def run(argv: Sequence[str | Path], *, input: bytes | None = None, timeout: float | None = 600,
        cwd: Path | None = None, env: dict[str, str] | None = None,
        ok: tuple[int, ...] = (0,)) -> subprocess.CompletedProcess:
    """Run a command, capture its output, and raise ToolError unless it exits with ``ok``."""
    args = [str(a) for a in argv]
    try:
        proc = _guarded(lambda: _run_popen(args, input, timeout, cwd, env))
    except subprocess.TimeoutExpired as exc:
        raise ToolError(f"command timed out after {timeout:.0f}s: {' '.join(args)}",
                        argv=args, stderr_tail=_tail((exc.stderr or b"").decode(
                            errors="replace"))) from exc
    except OSError as exc:  # not found, not executable
        raise _not_started(args, exc) from exc
    if proc.returncode not in ok:
        raise _failed(args, proc.returncode, proc.stderr, proc.stdout)
    return proc


def _run_sh(argv: list[str]) -> str:
    """qemu-img through ``sh``, with the same process group, death signal and wait as
    :func:`_run_popen`; its stdout."""
    running = sh.Command(argv[0])(*argv[1:], _bg=True, _bg_exc=False, _new_group=True,
                                  _preexec_fn=_child_setup(os.getpid()))

    def wait(seconds: float) -> bool:
        # sh's own wait(timeout) sleeps 0.1 s between polls: a build that makes hundreds of
        # overlays would pay that on each; these polls start at 1 ms.
        end, pause = time.monotonic() + seconds, 0.001
        while running.process.is_alive()[0]:
            if time.monotonic() >= end:
                return False
            time.sleep(pause)
            pause = min(pause * 2, 0.05)
        running.wait()  # reaped already: raises its ErrorReturnCode, if any
        return True

    _wait_or_end(running.pid, wait, None)
    return str(running)


def qemu_img(*args: str | Path) -> str:
    """Run qemu-img through ``sh`` and return its stdout."""
    argv = ["qemu-img", *[str(a) for a in args]]
    try:
        return _guarded(lambda: _run_sh(argv))
    except sh.CommandNotFound as exc:
        raise _not_started(argv, exc) from exc
    except sh.ErrorReturnCode as exc:  # and sh.SignalException, with a negative exit code
        raise _failed(argv, exc.exit_code, exc.stderr or b"", exc.stdout or b"") from exc


def image_info(path: Path) -> dict:
    """``qemu-img info --output=json`` of one image, parsed. ``-U`` so a running VM is no bar."""
    return json.loads(qemu_img("info", "-U", "--output=json", path))
