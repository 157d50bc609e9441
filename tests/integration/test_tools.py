"""tools: the one runner's error record, its interrupt handling, and the preflight table."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from generator import interrupt, tools
from generator.errors import GeneratorError, Interrupted, ToolError
from generator.write.disks import create_blank_disk
from tests.helpers import REPO, path_with

pytestmark = pytest.mark.slow  # runs real programs (sh, qemu-img, ssh-keygen)


def test_tool_error_fields_and_exit_status() -> None:
    bare = ToolError("it broke")
    assert (bare.argv, bare.exit_code, bare.stderr_tail, bare.hint) == ((), None, "", None)
    full = ToolError("it broke", "try again", argv=["prog", Path("/x")], exit_code=3,
                     stderr_tail="boom")
    assert full.argv == ("prog", "/x") and full.exit_code == 3 and full.stderr_tail == "boom"
    assert full.lines() == ["it broke", "hint: try again"]
    # gns3lab's own exit status is not the program's exit code
    assert full.status == 2 and GeneratorError("x").status == 2


def test_failing_program_fills_the_record() -> None:
    with pytest.raises(ToolError) as caught:
        tools.run(["sh", "-c", "echo noise; echo boom >&2; exit 3"])
    err = caught.value
    assert err.argv == ("sh", "-c", "echo noise; echo boom >&2; exit 3")
    assert err.exit_code == 3 and err.stderr_tail == "boom"
    assert err.message == "command failed (exit 3): sh -c echo noise; echo boom >&2; exit 3\nboom"


def test_stdout_stands_in_for_an_empty_stderr_and_ok_codes_pass() -> None:
    with pytest.raises(ToolError) as caught:
        tools.run(["sh", "-c", "echo only-stdout; exit 1"])
    assert caught.value.stderr_tail == "only-stdout"
    assert tools.run(["sh", "-c", "exit 1"], ok=(0, 1)).returncode == 1


def test_stderr_tail_keeps_the_last_lines() -> None:
    with pytest.raises(ToolError) as caught:
        tools.run(["sh", "-c", "for i in $(seq 1 30); do echo line$i >&2; done; exit 1"])
    assert caught.value.stderr_tail.splitlines() == [f"line{i}" for i in range(19, 31)]


def test_killed_program_has_a_negative_exit_code_and_the_signal_name() -> None:
    with pytest.raises(ToolError) as caught:
        tools.run(["sh", "-c", "kill -KILL $$"])
    assert caught.value.exit_code == -signal.SIGKILL
    assert caught.value.message == "command failed (killed by SIGKILL): sh -c kill -KILL $$"


def test_timeout_is_a_tool_error_without_exit_code() -> None:
    with pytest.raises(ToolError, match=r"timed out after 0s: sleep 5") as caught:
        tools.run(["sleep", "5"], timeout=0.3)
    assert caught.value.argv == ("sleep", "5") and caught.value.exit_code is None


def test_qemu_img_failure_has_the_same_record(tmp_path: Path) -> None:
    missing = tmp_path / "no-such.qcow2"
    with pytest.raises(ToolError) as caught:
        tools.qemu_img("info", missing)
    err = caught.value
    assert err.argv == ("qemu-img", "info", str(missing)) and err.exit_code == 1
    assert "No such file or directory" in err.stderr_tail
    assert err.message == f"command failed (exit 1): qemu-img info {missing}\n{err.stderr_tail}"


def test_qemu_img_success_returns_stdout(tmp_path: Path) -> None:
    disk = tmp_path / "d.qcow2"
    create_blank_disk(disk, 1 << 20)
    assert tools.image_info(disk)["virtual-size"] == 1 << 20


def test_preflight_names_every_missing_program_with_its_package(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ToolError) as caught:
        tools.preflight(["qemu-img", "ssh-keygen", "dot", "mkfs.fat", "gns3lab-no-such-tool"])
    err = caught.value
    assert err.message == ("required programs not found: qemu-img (qemu-utils), "
                           "ssh-keygen (openssh-client), dot (graphviz), mkfs.fat (dosfstools), "
                           "gns3lab-no-such-tool")
    assert err.hint == ("install them with: apt-get install dosfstools gns3lab-no-such-tool "
                        "graphviz openssh-client qemu-utils")


def test_preflight_passes_and_names_only_what_is_missing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(path_with(tmp_path / "bin", "ssh-keygen", "dot")))
    tools.preflight(["ssh-keygen", "dot"])
    with pytest.raises(ToolError) as caught:
        tools.preflight(["ssh-keygen", "qemu-img", "dot", "qemu-img"])
    assert caught.value.lines() == ["required program not found: qemu-img (qemu-utils)",
                                    "hint: install it with: apt-get install qemu-utils"]


def test_preflight_checks_modules_and_files_in_the_same_message(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setitem(tools.MODULES, "gns3lab_no_such_module", "python3-gns3lab-none")
    absent = tmp_path / "mbr.bin"
    monkeypatch.setitem(tools.FILES, absent, "syslinux-common")
    tools.preflight(modules=["json"], files=[Path(__file__)])
    with pytest.raises(ToolError) as caught:
        tools.preflight(["qemu-img"], modules=["gns3lab_no_such_module", "json"], files=[absent])
    err = caught.value
    assert err.message == ("required program not found: qemu-img (qemu-utils); "
                           "required Python module not importable: gns3lab_no_such_module "
                           f"(python3-gns3lab-none); required file not found: {absent} "
                           "(syslinux-common)")
    assert err.hint is not None
    assert err.hint.startswith("install them with: apt-get install python3-gns3lab-none "
                               "qemu-utils syslinux-common; ")
    assert "--system-site-packages" in err.hint


def test_image_build_programs_all_have_a_package() -> None:
    from generator.images.build import HOST_PROGRAMS
    from generator.images.disk import MBR_CODE

    assert all(p in tools.PACKAGES for p in HOST_PROGRAMS)
    assert tools.FILES[MBR_CODE] == "syslinux-common"


def test_a_missing_program_at_run_time_gets_the_preflight_message(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    for call in (lambda: tools.run(["dot", "-Tsvg"]), lambda: tools.qemu_img("info", "x")):
        with pytest.raises(ToolError) as caught:
            call()
        name, package = ("dot", "graphviz") if caught.value.argv[0] == "dot" \
            else ("qemu-img", "qemu-utils")
        assert caught.value.message == f"required program not found: {name} ({package})"
        assert caught.value.hint == f"install it with: apt-get install {package}"
        assert caught.value.exit_code is None


def test_a_program_that_cannot_start_is_a_tool_error(tmp_path: Path) -> None:
    script = tmp_path / "not-executable"
    script.write_text("#!/bin/sh\n")
    with pytest.raises(ToolError, match="cannot run .*not-executable: .*Permission denied"):
        tools.run([script])


@pytest.fixture
def signals_to_interrupted():  # type: ignore[no-untyped-def]
    """The CLI's signal handling for one test, then pytest's back."""
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    interrupt.install()
    try:
        yield
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)
        interrupt._received.clear()


@pytest.mark.usefixtures("signals_to_interrupted")
def test_a_signal_while_a_program_runs_ends_it_and_is_raised(tmp_path: Path) -> None:
    """The child signals us, then would go on: its process group is ended (the terminal's
    Ctrl-C no longer reaches it), and Interrupted (not its ToolError) is raised at once."""
    done = tmp_path / "child-finished"
    start = time.monotonic()
    with pytest.raises(Interrupted) as caught:
        tools.run(["sh", "-c", f"kill -TERM {os.getpid()}; sleep 30; touch {done}; exit 3"])
    assert caught.value.signum == signal.SIGTERM and not done.exists()
    assert time.monotonic() - start < tools.GRACE


CHILD = """
import sys
from generator import interrupt, tools
interrupt.install()
try:
    if sys.argv[1] == "run":
        tools.run(sys.argv[2:], timeout=None)
    else:
        tools.qemu_img(*sys.argv[2:])
except BaseException as exc:
    sys.exit(getattr(exc, "exit_code", 1))
"""


def _session(sid: int) -> dict[int, str]:
    """Live processes (not zombies) of session ``sid``: pid -> command line."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, NotADirectoryError):
            continue
        state, _ppid, _pgrp, session = stat.rsplit(")", 1)[1].split()[:4]
        if int(session) == sid and state not in ("Z", "X"):
            found[int(entry.name)] = cmdline
    return found


def _start_child(tmp_path: Path, *argv: str) -> subprocess.Popen:
    """A Python that runs ``argv`` through tools (``run ...`` or ``qemu-img ...``), in its
    own session; returned once its program runs."""
    proc = subprocess.Popen([sys.executable, "-c", CHILD, *argv], cwd=REPO,
                            start_new_session=True, stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while len(_session(proc.pid)) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    return proc


def _settled(sid: int, seconds: float = 3) -> dict[int, str]:
    deadline = time.monotonic() + seconds
    while (left := _session(sid)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left


def _fifo(tmp_path: Path) -> Path:
    """qemu-img blocks opening a FIFO that nobody writes: a qemu-img that runs until killed."""
    fifo = tmp_path / "never.raw"
    os.mkfifo(fifo)
    return fifo


@pytest.mark.parametrize("how", ["run", "qemu-img"])
def test_a_sigkilled_gns3lab_takes_its_child_along(tmp_path: Path, how: str) -> None:
    """PR_SET_PDEATHSIG: nothing can run in gns3lab when it is SIGKILLed, the kernel ends
    the child (an orphaned qemu-img convert went on for minutes)."""
    argv = ["run", "sleep", "300"] if how == "run" else ["qemu-img", "info", str(_fifo(tmp_path))]
    proc = _start_child(tmp_path, *argv)
    try:
        assert any(argv[1] in cmd for cmd in _session(proc.pid).values())
        proc.kill()
        proc.wait()
        assert _settled(proc.pid) == {}
    finally:
        for pid in _session(proc.pid):
            os.kill(pid, signal.SIGKILL)


@pytest.mark.parametrize(("how", "signum"), [("run", signal.SIGTERM), ("run", signal.SIGINT),
                                             ("qemu-img", signal.SIGTERM)])
def test_sigterm_or_ctrl_c_ends_the_childs_whole_group(tmp_path: Path, how: str,
                                                      signum: int) -> None:
    """SIGTERM to gns3lab, or Ctrl-C to its terminal's process group: the child's own group
    (here with a grandchild) is ended, gns3lab exits 128+signal, nothing is left."""
    argv = (["run", "sh", "-c", "sleep 300 & sleep 301; wait"] if how == "run"
            else ["qemu-img", "info", str(_fifo(tmp_path))])
    proc = _start_child(tmp_path, *argv)
    try:
        time.sleep(0.3)  # the grandchild too
        os.killpg(proc.pid, signum)  # gns3lab's group only: children have their own
        assert proc.wait(timeout=tools.GRACE + 5) == 128 + signum
        assert _settled(proc.pid) == {}
    finally:
        for pid in _session(proc.pid):
            os.kill(pid, signal.SIGKILL)


def test_a_timeout_ends_the_childs_whole_group(tmp_path: Path) -> None:
    marker = f"sleep {300 + os.getpid() % 1000}"
    with pytest.raises(ToolError, match="timed out"):
        tools.run(["sh", "-c", f"{marker} & sleep 302; wait"], timeout=0.5)
    deadline = time.monotonic() + 3
    while any(marker in cmd for cmd in _session(os.getsid(0)).values()):
        assert time.monotonic() < deadline, "the timed-out child's grandchild still runs"
        time.sleep(0.1)


def test_mmdebstrap_runs_contained() -> None:
    """Its own PID namespace (it is PID 1 there, the kernel ends its tree with it) and a
    private mount namespace (its mounts never reach the host)."""
    out = tools.run(tools.contained(["sh", "-c", "echo $$; readlink /proc/self/ns/mnt"]))
    pid, mnt = out.stdout.decode().split()
    assert pid == "1" and mnt != os.readlink("/proc/self/ns/mnt")


def test_atomic_file_never_shows_a_secret_to_others_while_writing(tmp_path: Path) -> None:
    """fileio.atomic_file(path, 0o600) (the lab key's writer): the temp file is 0600 from its
    first byte, even under a permissive umask and over a stale temp file of the same name."""
    from generator import fileio

    target = tmp_path / "id_ed25519"
    stale = tmp_path / f".{target.name}.{os.getpid()}.tmp"
    stale.write_text("stale")
    stale.chmod(0o644)
    old = os.umask(0o022)
    try:
        with fileio.atomic_file(target, 0o600) as fh:
            fh.write(b"secret")
            fh.flush()
            assert os.fstat(fh.fileno()).st_mode & 0o777 == 0o600
    finally:
        os.umask(old)
    assert target.read_bytes() == b"secret" and target.stat().st_mode & 0o777 == 0o600
    assert not stale.exists()
