"""An interrupted ``gns3lab images build`` leaves nothing (issue 17, finding 8).

The real build of ``debian-12`` (real mmdebstrap from Debian's mirror) is started as a
subprocess and stopped while mmdebstrap has its chroot mounts up (proc, sys, devpts, tmpfs):
SIGKILL, SIGTERM and SIGINT (Ctrl-C hits the terminal's foreground process group, which is
gns3lab's). Afterwards no process of that build may run, nothing may be mounted under its build
folder, and the next ``images build`` sweeps a folder a killed build left. The SIGKILL and
SIGTERM cases stop the build as soon as the mounts are up (half a minute on an idle machine),
long before mmdebstrap ends; the Ctrl-C case while apt still downloads.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from generator.images import recipe as imagerecipe
from generator.images.build import INDEX
from tests.helpers import REPO, write_qcow2

pytestmark = pytest.mark.slow

RECIPE = "debian-12"
#: How long mmdebstrap may take to download and unpack the essential packages and mount.
MOUNT_WAIT = 300
#: How long the build's processes may take to end once gns3lab is gone.
SETTLE = 5


def _read(path: Path) -> str:
    try:
        return path.read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _link(path: Path) -> str:
    try:
        return os.readlink(path)
    except OSError:
        return ""


def _processes(session: int, folder: str) -> dict[int, str]:
    """Live processes (not zombies) in the build's session, or whose arguments, environment,
    working directory or root name the images folder: pid -> command line."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        stat = _read(entry / "stat")
        if not stat:
            continue
        state, _ppid, _pgrp, sid = stat.rsplit(")", 1)[1].split()[:4]
        if state in ("Z", "X"):
            continue
        cmdline = _read(entry / "cmdline")
        named = (folder in cmdline or folder in _read(entry / "environ")
                 or _link(entry / "cwd").startswith(folder)
                 or _link(entry / "root").startswith(folder))
        if int(sid) == session or named:
            found[int(entry.name)] = cmdline
    return found


def _mounts_under(folder: str, mountinfo: Path = Path("/proc/self/mountinfo")) -> list[str]:
    """Mount points at or under ``folder`` in the mount namespace of ``mountinfo``'s process."""
    points = [line.split()[4].replace("\\040", " ") for line in _read(mountinfo).splitlines()
              if len(line.split()) > 4]
    return [p for p in points if p == folder or p.startswith(folder + "/")]


class Build:
    """One ``gns3lab images build`` in its own session (so a signal to its process group is a
    terminal's Ctrl-C), its output in a file (an orphan may hold a pipe open forever)."""

    def __init__(self, images_dir: Path, log: Path) -> None:
        self.images_dir = images_dir
        self.log = log
        with open(log, "wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "generator.cli", "images", "build", RECIPE,
                 "--images-dir", str(images_dir)],
                cwd=REPO, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True)

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def leftovers(self) -> dict[int, str]:
        return _processes(self.proc.pid, str(self.images_dir))

    def wait_for_chroot_mounts(self) -> Path:
        """Wait until mmdebstrap has mounted inside the build folder (seen from its own mount
        namespace, whichever that is); the build folder."""
        deadline = time.monotonic() + MOUNT_WAIT
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"build ended early:\n{self.output()}"
            for folder in self.images_dir.glob(".gns3lab-build-*"):
                for pid, cmdline in self.leftovers().items():
                    if "mmdebstrap" in cmdline and _mounts_under(
                            str(folder), Path(f"/proc/{pid}/mountinfo")):
                        return folder
            time.sleep(0.5)
        pytest.fail(f"no chroot mounts after {MOUNT_WAIT}s:\n{self.output()}")

    def wait_for_mmdebstrap(self) -> None:
        """Wait until mmdebstrap runs (it is downloading then, before any mount)."""
        deadline = time.monotonic() + MOUNT_WAIT
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"build ended early:\n{self.output()}"
            if any("mmdebstrap" in cmd for cmd in self.leftovers().values()):
                time.sleep(2)  # well into its work: apt runs
                return
            time.sleep(0.2)
        pytest.fail(f"no mmdebstrap after {MOUNT_WAIT}s:\n{self.output()}")

    def settled(self) -> dict[int, str]:
        """The build's processes still alive after at most :data:`SETTLE` seconds."""
        deadline = time.monotonic() + SETTLE
        while (left := self.leftovers()) and time.monotonic() < deadline:
            time.sleep(0.2)
        return left

    def clean_up(self) -> None:
        """Whatever the build under test left (before the fix): kill it, unmount it."""
        for pid in self.leftovers():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        time.sleep(0.5)
        for point in reversed(_mounts_under(str(self.images_dir))):
            subprocess.run(["umount", "-l", point], check=False)


@pytest.fixture
def images_dir(tmp_path: Path) -> Iterator[Path]:
    folder = tmp_path / "images"
    folder.mkdir()
    yield folder.resolve()


@pytest.fixture
def start(images_dir: Path, tmp_path: Path) -> Iterator:
    builds: list[Build] = []

    def start_build() -> Build:
        builds.append(Build(images_dir, tmp_path / f"build{len(builds)}.log"))
        return builds[-1]

    yield start_build
    for build in builds:
        build.clean_up()


def _cache_a_build(images_dir: Path) -> str:
    """Record a (blank) qcow2 as the cached build of the recipe, so the next ``images build``
    is a cache hit that takes a second: it must still sweep what a killed build left."""
    recipe = imagerecipe.get_recipe(RECIPE)
    image = write_qcow2(images_dir / imagerecipe.image_filename(recipe, "0" * 64), 1 << 20)
    st = image.stat()
    index = {imagerecipe.recipe_key(recipe): {
        "filename": image.name, "size": st.st_size, "mtime_ns": st.st_mtime_ns,
        "md5": "0" * 32, "sha256": "0" * 64}}
    (images_dir / INDEX).write_text(json.dumps(index))
    return image.name


def test_sigkill_during_mmdebstrap_leaves_no_process_no_mount_and_is_swept(
        start, images_dir: Path) -> None:  # type: ignore[no-untyped-def]
    build = start()
    folder = build.wait_for_chroot_mounts()
    os.kill(build.proc.pid, signal.SIGKILL)
    build.proc.wait()
    assert build.settled() == {}, "processes of the killed build still run"
    assert _mounts_under(str(folder)) == [], "mounts left inside the dead build folder"
    assert folder.is_dir()  # SIGKILL: nothing could clean up; the next build must

    name = _cache_a_build(images_dir)
    nxt = subprocess.run([sys.executable, "-m", "generator.cli", "images", "build", RECIPE,
                          "--images-dir", str(images_dir)], cwd=REPO, capture_output=True,
                         text=True, timeout=120)
    assert nxt.returncode == 0, nxt.stderr
    assert nxt.stdout.startswith(f"cached {images_dir / name}")
    assert not folder.exists(), "the next build did not sweep the dead build's folder"
    assert sorted(p.name for p in images_dir.iterdir()) == sorted(
        [INDEX, name, "gns3lab-debian-12.gns3a"])


@pytest.mark.parametrize(("signum", "status", "mounted", "group"), [
    (signal.SIGTERM, 143, True, False),  # kill PID: gns3lab alone, chroot mounted
    (signal.SIGINT, 130, False, True),  # Ctrl-C: the terminal's whole foreground group
    (signal.SIGINT, 130, False, False),  # kill -INT PID: gns3lab alone
], ids=["SIGTERM-mounted", "ctrl-c-downloading", "SIGINT-downloading"])
def test_sigterm_and_ctrl_c_during_mmdebstrap_leave_nothing(
        start, images_dir: Path, signum: int, status: int, mounted: bool,
        group: bool) -> None:  # type: ignore[no-untyped-def]
    """SIGTERM once the chroot mounts are up; SIGINT earlier, while apt downloads (which
    keeps this file's time down: waiting for the mounts takes half a minute or more)."""
    build = start()
    if mounted:
        folder = build.wait_for_chroot_mounts()
    else:
        build.wait_for_mmdebstrap()
        folder = next(images_dir.glob(".gns3lab-build-*"))
    if group:
        os.killpg(build.proc.pid, signum)
    else:
        os.kill(build.proc.pid, signum)
    try:
        rc = build.proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{signal.Signals(signum).name} did not end the build within 30 s:\n"
                    f"{build.output()}")
    assert rc == status, build.output()
    assert "interrupted" in build.output()
    assert build.settled() == {}
    assert _mounts_under(str(folder)) == []
    assert list(images_dir.iterdir()) == [], "an interrupted build left files behind"


def test_sweep_unmounts_a_dead_builds_mounts_and_never_deletes_through_them(
        tmp_path: Path) -> None:
    """What an older build left in the host's mount namespace (as finding 8 saw it: proc and a
    bind mount of a host folder inside the dead build folder): the sweep detaches them, then
    removes the folder; the host folder behind the bind mount keeps every file."""
    from generator.errors import ImageError
    from generator.images import workdir

    host = tmp_path / "host"
    host.mkdir()
    (host / "canary").write_text("must survive")
    images = tmp_path / "images"
    dead = images / f"{workdir.PREFIX}debian-12-abc-dead"
    (dead / "rootfs/mnt/host").mkdir(parents=True)
    subprocess.run(["mount", "--bind", host, dead / "rootfs/mnt/host"], check=True)
    try:
        # Same file system, same st_dev: only the mount id tells the bind mount apart.
        with pytest.raises(ImageError, match="rootfs/mnt/host: a mount point"):
            workdir.remove_tree(dead)
        assert (host / "canary").read_text() == "must survive"
        (dead / "rootfs/proc").mkdir(exist_ok=True)  # removed up to the mount point
        subprocess.run(["mount", "-t", "proc", "proc", dead / "rootfs/proc"], check=True)
        assert workdir.sweep(images) == [dead]
        assert not dead.exists() and _mounts_under(str(images)) == []
        assert (host / "canary").read_text() == "must survive"
    finally:
        for point in reversed(_mounts_under(str(images))):
            subprocess.run(["umount", "-l", point], check=False)


CONVERT_BUILD = """
import os, sys
from pathlib import Path
from generator import interrupt
from generator.images import build as imagebuild, recipe as imagerecipe
from tests.integration.test_imagebuild import TINY, fake_mmdebstrap

def mmdebstrap(recipe, rootfs):
    fake_mmdebstrap(recipe, rootfs)
    # Incompressible: qemu-img convert -c takes seconds, an orphan would outlive the check.
    (rootfs / "noise").write_bytes(os.urandom(112 << 20))

imagerecipe.RECIPES["tiny"] = imagerecipe.Recipe(**{**TINY.__dict__,
                                                    "disk_size": 192 * imagerecipe.MIB})
imagebuild.run_mmdebstrap = mmdebstrap
interrupt.install()
imagebuild.build_image("tiny", Path(sys.argv[1]))
"""


def test_sigkill_during_convert_leaves_no_qemu_img_and_the_next_build_sweeps(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The last stage: the real disk stages and qemu-img on the small recipe (its root tree
    made by the test, as in test_imagebuild), gns3lab SIGKILLed while qemu-img converts."""
    from generator.images import build as imagebuild
    from tests.integration.test_imagebuild import TINY, fake_mmdebstrap

    images = tmp_path / "images"
    images.mkdir()
    with open(tmp_path / "convert.log", "wb") as log:
        proc = subprocess.Popen([sys.executable, "-c", CONVERT_BUILD, str(images)], cwd=REPO,
                                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while not any(cmd.split()[:2] in (["qemu-img", "convert"],
                                          ["/usr/bin/qemu-img", "convert"])
                      for cmd in _processes(proc.pid, str(images)).values()):
            assert proc.poll() is None and time.monotonic() < deadline, \
                (tmp_path / "convert.log").read_text()
            time.sleep(0.01)
        proc.kill()
        proc.wait()
        deadline = time.monotonic() + 1  # the death signal is at once
        while (left := _processes(proc.pid, str(images))) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert left == {}, "qemu-img of the killed build still runs"
    finally:
        for pid in _processes(proc.pid, str(images)):
            os.kill(pid, signal.SIGKILL)
    [dead] = images.glob(".gns3lab-build-*")
    monkeypatch.setitem(imagerecipe.RECIPES, "tiny", TINY)
    monkeypatch.setattr(imagebuild, "run_mmdebstrap", fake_mmdebstrap)
    built = imagebuild.build_image("tiny", images)
    assert not dead.exists()
    assert sorted(p.name for p in images.iterdir()) == sorted(
        [INDEX, built.path.name, "gns3lab-tiny.gns3a"])
