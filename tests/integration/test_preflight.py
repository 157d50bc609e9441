"""``gns3lab build`` checks every host program it will need before it makes anything."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from generator.build import BuildOptions, host_needs, load_lab
from tests.helpers import BLUEPRINTS, REPO, make_tiny_appliance, path_with

DEMO = REPO / "blueprints" / "demo"  # a controller (injected), no ssh_key: makes a key
FABRIC = BLUEPRINTS / "fabric"  # gives its own ssh_key


@pytest.fixture(scope="module")
def images_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder whose .gns3a names the demo's appliance (a tiny blank qcow2)."""
    folder = tmp_path_factory.mktemp("images")
    make_tiny_appliance(folder, "gns3lab Debian 12", "gns3lab-debian-12-test.qcow2")
    return folder


def _build(blueprint: Path, out: Path, path: Path, *flags: str | Path
           ) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": str(path), "HOME": str(out.parent / "home")}
    argv = [sys.executable, "-m", "generator.cli", "build", blueprint, "-o", out, *flags]
    return subprocess.run([str(a) for a in argv], env=env, capture_output=True, text=True,
                          timeout=300, cwd=out.parent)


def test_build_without_qemu_img_stops_before_making_anything(tmp_path: Path,
                                                             images_dir: Path) -> None:
    out = tmp_path / "dist"
    path = path_with(tmp_path / "bin", "ssh-keygen", "dot")
    result = _build(DEMO, out, path, "--no-images", "--images-dir", images_dir)
    assert result.returncode == 2, result.stderr
    errors = [ln for ln in result.stderr.splitlines() if ln.startswith("error: ")]
    assert errors == ["error: required program not found: qemu-img (qemu-utils)"], result.stderr
    assert "hint: install it with: apt-get install qemu-utils" in result.stderr
    assert "Traceback" not in result.stderr
    assert not out.exists(), sorted(out.rglob("*"))


def test_build_names_every_missing_program_at_once(tmp_path: Path, images_dir: Path) -> None:
    out = tmp_path / "dist"
    out.mkdir()  # an existing output folder stays untouched: no keys/, no staging folder
    result = _build(DEMO, out, path_with(tmp_path / "bin"), "--no-images", "--images-dir",
                    images_dir)
    assert result.returncode == 2, result.stderr
    assert ("error: required programs not found: qemu-img (qemu-utils), "
            "ssh-keygen (openssh-client), dot (graphviz)") in result.stderr
    assert "hint: install them with: apt-get install graphviz openssh-client qemu-utils" \
        in result.stderr
    assert list(out.iterdir()) == []


def test_a_blueprint_error_still_comes_first(tmp_path: Path) -> None:
    """Preflight runs on the resolved lab: a broken blueprint is reported as such."""
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\nnodes:\n  vm1: {appliance: No Such Appliance}\n")
    result = _build(bad, tmp_path / "dist", path_with(tmp_path / "bin"), "--no-images")
    assert result.returncode == 2 and "No Such Appliance" in result.stderr, result.stderr
    assert "required program" not in result.stderr


@pytest.mark.parametrize(("blueprint", "options", "programs", "modules"), [
    (DEMO, {"no_images": True}, ["qemu-img", "ssh-keygen", "dot"], []),
    (DEMO, {}, ["qemu-img", "ssh-keygen", "dot"], ["guestfs"]),  # the controller is injected
    (DEMO, {"redact": True}, ["qemu-img", "dot"], ["guestfs"]),  # no key made here
    (FABRIC, {"no_images": True}, ["qemu-img", "dot"], []),  # its own ssh_key
])
def test_host_needs_follow_the_pipeline(tmp_path: Path, images_dir: Path, blueprint: Path,
                                        options: dict, programs: list[str], modules: list[str]
                                        ) -> None:
    lab = load_lab(blueprint, (images_dir,))
    assert host_needs(lab, BuildOptions(out_dir=tmp_path, **options)) == (programs, modules)


def test_a_kept_key_needs_no_ssh_keygen(tmp_path: Path, images_dir: Path) -> None:
    lab = load_lab(DEMO, (images_dir,))
    kept = tmp_path / "keys" / lab.name / "id_ed25519"
    kept.parent.mkdir(parents=True)
    kept.write_text("kept\n")
    programs, _ = host_needs(lab, BuildOptions(out_dir=tmp_path, no_images=True))
    assert programs == ["qemu-img", "dot"]
