"""libguestfs falls back to TCG by itself where /dev/kvm exists but cannot run guests.

This host is such a host (its /dev/kvm is not backed by hardware virtualisation): a launch
under KVM never shows an appliance, and libguestfs alone would wait 20 minutes. The build
runs with libguestfs' own defaults (no LIBGUESTFS_BACKEND_SETTINGS, which conftest sets for
every other test), so the real first launch fails, the fallback says so in one line, and the
build succeeds. One real build: the stalled KVM launch, then one TCG launch. The build waits
out TEST_STALL_SECONDS instead of the product's KVM_STALL_SECONDS (30 s): a stall is a stall
after 5 s as after 30 s here, and the test need not sit idle (the constant is set in the build's
own process, which otherwise runs ``python -m generator.cli`` unchanged).

The other way such a host fails is a qemu that dies at once (``failed to set MSR 0x10a``, an
assertion in qemu's KVM code, ``kvm run failed``): libguestfs then raises only its generic
"guestfs_launch failed" and qemu's words reach the appliance console. A stand-in qemu
(``LIBGUESTFS_HV``) says exactly that and exits when libguestfs launches the appliance under
KVM (``accel=kvm`` with the appliance's channel in argv), and execs the real qemu otherwise.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from generator import tools
from generator.errors import InjectionError
from generator.write.inject_session import (
    FALLBACK_MESSAGE,
    TCG_SETTING,
    appliance,
)

pytestmark = pytest.mark.slow

LAB = """\
name: kvmfallback
nodes:
  vm1:
    appliance: gns3lab Debian 12
    inject:
      - {path: /etc/motd, content: "built on a host whose KVM cannot run guests\\n"}
"""


def _kvm_is_unusable() -> bool:
    """Whether this host's /dev/kvm exists without hardware virtualisation under it."""
    flags = Path("/proc/cpuinfo").read_text().split()
    return Path("/dev/kvm").exists() and "vmx" not in flags and "svm" not in flags


#: The KVM stall the first test's build waits out (the product's default stays
#: KVM_STALL_SECONDS).
TEST_STALL_SECONDS = 5.0


def _run(*args: str, env: dict[str, str], cwd: Path,
         stall: float | None = None) -> subprocess.CompletedProcess[str]:
    """``gns3lab ARGS`` in a child Python (``python -m generator.cli``); with ``stall``, the
    child's KVM_STALL_SECONDS is set to it before the CLI runs."""
    argv = [sys.executable, "-m", "generator.cli", *args]
    if stall is not None:
        argv[1:3] = ["-c", "import runpy, generator.write.inject_session as session; "
                     f"session.KVM_STALL_SECONDS = {stall!r}; "
                     "runpy.run_module('generator.cli', run_name='__main__', alter_sys=True)"]
    return subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True,
                          timeout=1200, check=False)


def test_unusable_kvm_falls_back_to_tcg_and_the_build_succeeds(lab_image, tmp_path: Path
                                                               ) -> None:
    assert _kvm_is_unusable(), "this test needs a host whose /dev/kvm cannot run guests"
    (tmp_path / "lab.yaml").write_text(LAB)
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIBGUESTFS_")}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[2])
    images = str(lab_image.path.parent)
    built = _run("build", str(tmp_path), "-o", str(tmp_path / "dist"), "--images-dir", images,
                 "--no-include-images", env=env, cwd=tmp_path, stall=TEST_STALL_SECONDS)
    out = built.stdout + built.stderr
    assert built.returncode == 0, out
    fallback = [line for line in out.splitlines() if FALLBACK_MESSAGE in line]
    assert len(fallback) == 1, out
    assert f"no appliance after {TEST_STALL_SECONDS:.0f} s under KVM" in fallback[0]
    assert "retried with TCG" in fallback[0]
    assert TCG_SETTING not in env.get("LIBGUESTFS_BACKEND_SETTINGS", "")
    assert "injecting into vm1" in out
    archive = tmp_path / "dist" / "kvmfallback.gns3project"
    with zipfile.ZipFile(archive) as zf:
        overlay = next(i for i in zf.infolist() if i.filename.endswith(".qcow2"))
        assert overlay.file_size > 256 << 10, "the overlay holds no injected data"
    verified = _run("verify", str(archive), "--images-dir", images, env=env, cwd=tmp_path)
    assert verified.returncode == 0, verified.stdout + verified.stderr


#: What qemu prints on a host whose KVM cannot run guests, as seen in the field.
MSR = ("qemu-system-x86_64: error: failed to set MSR 0x10a to 0x0\n"
       "qemu-system-x86_64: ../../target/i386/kvm/kvm.c:2955: kvm_buf_set_msrs: Assertion "
       "`ret == cpu->kvm_msr_buf->nmsrs' failed.")
KVM_RUN = ("error: kvm run failed Invalid argument\n"
           "RAX=0000000000000000 RBX=0000000000000000 RCX=0000000000000000")
NO_MODULE = "qemu-system-x86_64: Could not access KVM kernel module: Permission denied"
EARLY = ("qemu-system-x86_64: Host doesn't support requested feature: "
         "CPUID.80000001H:ECX.svm [bit 2]")
#: A qemu failure TCG would meet too: never retried.
LOCKED = ('qemu-system-x86_64: -drive file=/x.qcow2: Failed to get "write" lock\n'
          "Is another process using the image [/x.qcow2]?")

STAND_IN = """#!/bin/sh
# A qemu whose KVM cannot run guests: what it says, then exit, when libguestfs launches its
# appliance under KVM; the real qemu for everything else ({tcg}).
kvm= launch=
for arg in "$@"; do
    case "$arg" in
        *accel=kvm*|-enable-kvm) kvm=1 ;;
        *org.libguestfs.channel*) launch=1 ;;
    esac
done
if [ -n "$launch" ]; then echo "kvm=$kvm" >> {log}; fi
if [ -n "$launch" ] && [ -n "$kvm" ]; then
    cat {said} >&2
    exit 134
fi
if [ -n "$launch" ] && [ -n "{tcg}" ]; then
    echo "qemu-system-x86_64: stand-in: no TCG launch in this test" >&2
    exit 1
fi
exec {qemu} "$@"
"""


def stand_in_qemu(folder: Path, said: str, *, tcg_fails: bool,
                  monkeypatch: pytest.MonkeyPatch) -> Path:
    """Install the stand-in qemu for libguestfs (``LIBGUESTFS_HV``) with libguestfs' own
    defaults (no force_tcg); returns the log of its appliance launches (``kvm=1`` or
    ``kvm=``)."""
    qemu = shutil.which("qemu-system-x86_64")
    assert qemu, "qemu-system-x86_64 is needed"
    (folder / "said.txt").write_text(said + "\n")
    log = folder / "launches.log"
    wrapper = folder / "qemu-stand-in"
    wrapper.write_text(STAND_IN.format(tcg="fail" if tcg_fails else "", log=log,
                                       said=folder / "said.txt", qemu=qemu))
    wrapper.chmod(0o755)
    monkeypatch.setenv("LIBGUESTFS_HV", str(wrapper))
    monkeypatch.setenv("LIBGUESTFS_BACKEND", "direct")
    monkeypatch.delenv("LIBGUESTFS_BACKEND_SETTINGS", raising=False)
    return log


def blank_disk(folder: Path) -> Path:
    disk = folder / "disk.qcow2"
    tools.qemu_img("create", "-q", "-f", "qcow2", disk, "16M")
    return disk


@pytest.mark.parametrize("said, reason", [
    (MSR, "failed to set MSR 0x10a to 0x0"),
    (KVM_RUN, "kvm run failed Invalid argument"),
    (NO_MODULE, "Could not access KVM kernel module: Permission denied"),
    (EARLY, "qemu exited before the appliance started: Host doesn't support requested "
            "feature: CPUID.80000001H:ECX.svm [bit 2]"),
], ids=["msr", "kvm-run", "no-module", "early-exit"])
def test_a_qemu_that_dies_under_kvm_is_retried_once_with_tcg(
        said: str, reason: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each shape is recognised from the console although libguestfs' error is generic: one
    line says so, and the second launch is under TCG (here it fails too, so the test takes
    seconds: the stand-in refuses it; the successful TCG launch is the next test's)."""
    log = stand_in_qemu(tmp_path, said, tcg_fails=True, monkeypatch=monkeypatch)
    lines: list[str] = []
    with pytest.raises(InjectionError) as caught:
        with appliance([(blank_disk(tmp_path), "qcow2")], readonly=True, progress=lines.append):
            pass
    assert log.read_text().split() == ["kvm=1", "kvm="]  # KVM, then TCG: once
    [fallback] = [line for line in lines if FALLBACK_MESSAGE in line]
    assert f"({reason}" in fallback and "retried with TCG" in fallback, fallback
    assert "stand-in: no TCG launch in this test" in caught.value.message


def test_a_disk_problem_is_not_taken_for_kvm(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """A qemu that names a disk problem would fail under TCG as well: no retry, and the error
    carries qemu's line instead of libguestfs' generic text alone."""
    log = stand_in_qemu(tmp_path, LOCKED, tcg_fails=True, monkeypatch=monkeypatch)
    lines: list[str] = []
    with pytest.raises(InjectionError) as caught:
        with appliance([(blank_disk(tmp_path), "qcow2")], readonly=True, progress=lines.append):
            pass
    assert log.read_text().split() == ["kvm=1"]
    assert not [line for line in lines if FALLBACK_MESSAGE in line]
    assert 'Failed to get "write" lock' in caught.value.message


def test_after_a_kvm_death_the_tcg_launch_works(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """The whole fallback with the real qemu under TCG: the appliance starts and reads the
    disk (one TCG launch, about a minute on a loaded host)."""
    log = stand_in_qemu(tmp_path, MSR, tcg_fails=False, monkeypatch=monkeypatch)
    lines: list[str] = []
    with appliance([(blank_disk(tmp_path), "qcow2")], readonly=True,
                   progress=lines.append) as g:
        assert g.list_devices() == ["/dev/sda"]
    assert log.read_text().split() == ["kvm=1", "kvm="]
    assert len([line for line in lines if FALLBACK_MESSAGE in line]) == 1


def test_a_build_whose_qemu_dies_under_kvm_succeeds_under_tcg(
        lab_image, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The whole build with the stand-in qemu dying as on an unusable /dev/kvm (failed to set
    MSR 0x10a, then qemu's KVM assertion): one line says so, the injection runs under TCG and
    the build succeeds at once (no stall to wait out)."""
    log = stand_in_qemu(tmp_path, MSR, tcg_fails=False, monkeypatch=monkeypatch)
    (tmp_path / "lab.yaml").write_text(LAB)
    env = {k: v for k, v in os.environ.items() if k != "LIBGUESTFS_BACKEND_SETTINGS"}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[2])
    built = _run("build", str(tmp_path), "-o", str(tmp_path / "dist"), "--images-dir",
                 str(lab_image.path.parent), "--no-include-images", env=env, cwd=tmp_path)
    out = built.stdout + built.stderr
    assert built.returncode == 0, out
    fallback = [line for line in out.splitlines() if FALLBACK_MESSAGE in line]
    assert len(fallback) == 1 and "(failed to set MSR 0x10a to 0x0)" in fallback[0], out
    assert "injecting into vm1" in out
    assert log.read_text().split() == ["kvm=1", "kvm="]
