"""Appliance files from a stranger's blueprint are blueprint files (issue 17, finding 4).

``appliance: /abs/x.gns3a``, ``appliance: ../x.gns3a`` and a symlinked ``appliances/`` folder
were accepted although the README promises confinement; ``appliances/z.gns3a -> /dev/zero``
made ``validate`` exit 70 (MemoryError at 2.7 GB) and a FIFO there hung it. Now each is exit 2
with the blueprint's file (and line, for an ``appliance:`` path) and a fix. The user's own image
folders may hold symlinks, but a FIFO, a device or a huge file there never hangs a run or fills
its memory either.

Each run is ``gns3lab`` in a child process under a 1 GiB address-space limit and a timeout, so a
regression shows as a failed test, not a hung or killed test run.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from generator.blueprint.appliances import REPO_APPLIANCES
from tests.helpers import REPO

TIMEOUT = 60
MEMORY = 1 << 30
OUTSIDE = "Outside Guest"


def _limit_memory() -> None:  # pragma: no cover - runs in the child
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY, MEMORY))


def gns3lab(t: Path, *args: str, images: Path | None = None) -> tuple[int, str]:
    """``gns3lab ARGS`` in ``t`` (HOME there too): exit code and output; -1 for a hang."""
    env = {**os.environ, "HOME": str(t / "home"), "PYTHONPATH": str(REPO)}
    env.pop("GNS3LAB_IMAGES", None)
    if images is not None:
        env["GNS3LAB_IMAGES"] = str(images)
    code = "import sys; from generator.cli import main; sys.exit(main())"
    try:
        proc = subprocess.run([sys.executable, "-c", code, *args], cwd=t, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              errors="replace", timeout=TIMEOUT, preexec_fn=_limit_memory)
    except subprocess.TimeoutExpired:
        return -1, f"HANG: no answer in {TIMEOUT} s"
    return proc.returncode, proc.stdout


def appliance_text(name: str) -> str:
    """The repository's Debian appliance under another name."""
    data = json.loads((REPO_APPLIANCES / "debian.gns3a").read_text())
    data["name"] = name
    return json.dumps(data)


def blueprint(t: Path, ref: str) -> Path:
    """``t/bp/lab.yaml``: one node on appliance ``ref`` (line 3)."""
    (t / "home").mkdir(exist_ok=True)
    bp = t / "bp"
    bp.mkdir(exist_ok=True)
    (bp / "lab.yaml").write_text(f"name: evil\nnodes:\n  vm1: {{appliance: '{ref}'}}\n")
    return bp


def refused(t: Path, bp: Path, *, images: Path | None = None) -> str:
    """validate and build both exit 2 with one message, no traceback, nothing written."""
    code, out = gns3lab(t, "validate", str(bp.relative_to(t)), images=images)
    assert code == 2, f"validate exit {code}:\n{out}"
    assert "Traceback" not in out and "internal error" not in out, out
    code, built = gns3lab(t, "build", str(bp.relative_to(t)), "-o", "out", "--no-images",
                          images=images)
    assert code == 2, f"build exit {code}:\n{built}"
    assert not (t / "out").exists(), "build left its output folder behind"
    first = [line for line in out.splitlines() if line.startswith("error: ")][0]
    assert first in built, (out, built)
    assert "(fix: " in first, first
    return first


# --------------------------------------------------------------------------- appliance: PATH


PATHS: dict[str, Callable[[Path], str]] = {
    "absolute": lambda t: str(t / "outside.gns3a"),
    "dotdot": lambda t: "../outside.gns3a",
    "symlink-out": lambda t: (os.symlink(t / "outside.gns3a", t / "bp/inside.gns3a"),
                              "inside.gns3a")[1],
}


@pytest.mark.parametrize("how", sorted(PATHS))
def test_appliance_path_outside_the_folder_is_refused(tmp_path: Path, how: str) -> None:
    (tmp_path / "outside.gns3a").write_text(appliance_text(OUTSIDE))
    bp = blueprint(tmp_path, "placeholder")
    ref = PATHS[how](tmp_path)
    blueprint(tmp_path, ref)
    first = refused(tmp_path, bp)
    assert first.startswith("error: bp/lab.yaml:3: nodes.vm1.appliance: "), first
    assert {"absolute": "absolute path", "dotdot": "'..'",
            "symlink-out": "symlink that leads out"}[how] in first, first


@pytest.mark.parametrize("kind", ["fifo", "dev-zero", "huge"])
def test_appliance_path_to_a_special_or_huge_file_is_refused(tmp_path: Path, kind: str) -> None:
    bp = blueprint(tmp_path, "x.gns3a")
    make_special(bp / "x.gns3a", kind)
    first = refused(tmp_path, bp)
    if kind == "fifo":  # the blueprint loader may refuse a FIFO anywhere in the folder first
        assert first.startswith("error: bp/") and "FIFO" in first, first
        return
    assert first.startswith("error: bp/lab.yaml:3: nodes.vm1.appliance: "), first
    assert {"dev-zero": "symlink that leads out", "huge": "cannot be used"}[kind] in first, first
    if kind == "huge":
        assert "bp/x.gns3a: has 2099510 bytes (at most 1048576" in gns3lab(
            tmp_path, "validate", "bp")[1]


def test_appliance_path_inside_the_folder_still_works(tmp_path: Path) -> None:
    bp = blueprint(tmp_path, "vendor/inside.gns3a")
    (bp / "vendor").mkdir()
    (bp / "vendor/inside.gns3a").write_text(appliance_text("Inside Guest"))
    code, out = gns3lab(tmp_path, "validate", "bp")
    assert code == 0, out


# --------------------------------------------------------------------------- appliances/ folder


def make_special(path: Path, kind: str) -> None:
    """A FIFO, a symlink to /dev/zero, a 2 MiB file, or a hard link, at ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "dev-zero":
        path.symlink_to("/dev/zero")
    elif kind == "huge":
        path.write_text(appliance_text("Huge Guest")[:-1] + ', "pad": "'
                        + "x" * (2 << 20) + '"}')
    elif kind == "hardlink":
        outside = path.parent.parent.parent / "host-file.gns3a"
        outside.write_text(appliance_text(OUTSIDE))
        os.link(outside, path)


@pytest.mark.parametrize("kind", ["fifo", "dev-zero", "huge", "hardlink"])
def test_special_files_in_the_appliances_folder_are_refused(tmp_path: Path, kind: str) -> None:
    """``appliances/z.gns3a`` a FIFO (hung validate), -> /dev/zero (exit 70 at 2.7 GB), 2 MiB,
    or a hard link to a file outside (read as if it were the blueprint's own)."""
    bp = blueprint(tmp_path, OUTSIDE if kind == "hardlink" else "Ubuntu Cloud Guest")
    make_special(bp / "appliances" / "z.gns3a", kind)
    first = refused(tmp_path, bp)
    assert first.startswith("error: bp/appliances"), first
    assert {"fifo": "a FIFO", "dev-zero": "is a symlink", "huge": "bytes (at most 1048576",
            "hardlink": "hard link"}[kind] in first, first


def test_symlinked_appliances_folder_is_refused(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "outside.gns3a").write_text(appliance_text(OUTSIDE))
    bp = blueprint(tmp_path, OUTSIDE)
    (bp / "appliances").symlink_to(elsewhere, target_is_directory=True)
    first = refused(tmp_path, bp)
    assert first.startswith("error: bp/appliances: 'appliances' is a symlink that leads out"), \
        first


# --------------------------------------------------------------------------- the user's folders


@pytest.mark.parametrize("kind", ["fifo", "dev-zero", "huge"])
def test_user_image_folder_specials_never_hang_or_fill_memory(tmp_path: Path, kind: str
                                                               ) -> None:
    """$GNS3LAB_IMAGES is the user's own (symlinks are fine there), but a FIFO, a device or a
    huge file is skipped at once: a lab that does not use it validates; a lab naming an
    unknown appliance is told what was wrong with the broken file."""
    images = tmp_path / "images"
    make_special(images / "z.gns3a", kind)
    os.symlink(tmp_path / "linked.gns3a", images / "linked.gns3a")
    (tmp_path / "linked.gns3a").write_text(appliance_text("Linked Guest"))
    blueprint(tmp_path, "Linked Guest")
    code, out = gns3lab(tmp_path, "validate", "bp", images=images)
    assert code == 0, out
    blueprint(tmp_path, "Missing Guest")
    code, out = gns3lab(tmp_path, "validate", "bp", images=images)
    assert code == 2 and "Traceback" not in out, out
    assert out.startswith(f"error: {images}/z.gns3a: "), out
    assert {"fifo": "a FIFO", "dev-zero": "a device", "huge": "bytes (at most 1048576"}[kind] \
        in out, out
