"""tools: the one runner's error record, its interrupt handling, and the preflight table."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from generator import interrupt, tools
from generator.errors import GeneratorError, Interrupted, ToolError
from generator.write.disks import create_blank_disk
from tests.helpers import path_with

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
def test_a_signal_while_a_program_runs_is_raised_after_it_ends(tmp_path: Path) -> None:
    """The child signals us, then fails: Interrupted (not its ToolError) once it has ended."""
    done = tmp_path / "child-finished"
    with pytest.raises(Interrupted) as caught:
        tools.run(["sh", "-c", f"kill -TERM {os.getpid()}; sleep 0.2; touch {done}; exit 3"])
    assert caught.value.signum == signal.SIGTERM and done.exists()


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
