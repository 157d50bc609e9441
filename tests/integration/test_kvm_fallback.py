"""libguestfs falls back to TCG by itself where /dev/kvm exists but cannot run guests.

This host is such a host (its /dev/kvm is not backed by hardware virtualisation): a launch
under KVM never shows an appliance, and libguestfs alone would wait 20 minutes. The build
runs with libguestfs' own defaults (no LIBGUESTFS_BACKEND_SETTINGS, which conftest sets for
every other test), so the real first launch fails, the fallback says so in one line, and the
build succeeds. One real build: the stalled KVM launch (KVM_STALL_SECONDS), then one TCG launch.
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from generator.write.inject_session import FALLBACK_MESSAGE, KVM_STALL_SECONDS, TCG_SETTING

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


def _run(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "generator.cli", *args], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=1200, check=False)


def test_unusable_kvm_falls_back_to_tcg_and_the_build_succeeds(lab_image, tmp_path: Path
                                                               ) -> None:
    assert _kvm_is_unusable(), "this test needs a host whose /dev/kvm cannot run guests"
    (tmp_path / "lab.yaml").write_text(LAB)
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIBGUESTFS_")}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[2])
    images = str(lab_image.path.parent)
    built = _run("build", str(tmp_path), "-o", str(tmp_path / "dist"), "--images-dir", images,
                 "--no-include-images", env=env, cwd=tmp_path)
    out = built.stdout + built.stderr
    assert built.returncode == 0, out
    fallback = [line for line in out.splitlines() if FALLBACK_MESSAGE in line]
    assert len(fallback) == 1, out
    assert f"no appliance after {KVM_STALL_SECONDS:.0f} s under KVM" in fallback[0]
    assert "retried with TCG" in fallback[0]
    assert TCG_SETTING not in env.get("LIBGUESTFS_BACKEND_SETTINGS", "")
    assert "injecting into vm1" in out
    archive = tmp_path / "dist" / "kvmfallback.gns3project"
    with zipfile.ZipFile(archive) as zf:
        overlay = next(i for i in zf.infolist() if i.filename.endswith(".qcow2"))
        assert overlay.file_size > 256 << 10, "the overlay holds no injected data"
    verified = _run("verify", str(archive), "--images-dir", images, env=env, cwd=tmp_path)
    assert verified.returncode == 0, verified.stdout + verified.stderr
