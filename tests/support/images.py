"""The cached lab test image, NoCloud seed ISOs, and one-VM boots under TCG.

Fixture ``lab_image`` (session-scoped) builds ``debian-12`` (``recipe_images``: the built-in
recipes the recipes boot needs) with :func:`generator.images.build.
build_image` into ``$GNS3LAB_IMAGES`` or ``<repo>/.cache/images`` (git-ignored), so it is built
once and reused by later runs and later tests. Helpers: :func:`make_seed_iso`,
:func:`make_overlay`, :func:`boot_vm`.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from generator import tools
from generator.images.build import BuiltImage, build_image
from generator.write.iso import write_seed_iso
from tests.helpers import write_qcow2

REPO = Path(__file__).resolve().parents[2]
SEED_FILES = ("user-data", "meta-data", "network-config", "vendor-data")


def images_dir() -> Path:
    """Where the test image is cached: ``$GNS3LAB_IMAGES`` or ``<repo>/.cache/images``."""
    return Path(os.environ.get("GNS3LAB_IMAGES") or REPO / ".cache" / "images")


@pytest.fixture(scope="session")
def lab_image() -> BuiltImage:
    """The gns3lab Debian 12 image, built on first use and cached across runs."""
    return build_image("debian-12", images_dir())


#: The built-in recipes the mini lab boots besides debian-12 (test_openstack_mini_boot.py).
BOOT_RECIPES = ("frr", "debian-12-netplan")


@pytest.fixture(scope="session")
def recipe_images() -> dict[str, BuiltImage]:
    """The images of :data:`BOOT_RECIPES` by recipe name, built on first use and cached across
    runs like :func:`lab_image`."""
    return {name: build_image(name, images_dir()) for name in BOOT_RECIPES}


def make_seed_iso(path: Path, files: dict[str, str]) -> Path:
    """Write a NoCloud seed ISO (volume id ``cidata``) holding ``files`` (name -> text), with
    the product's own writer, so the boot test also proves that cloud-init reads it."""
    unknown = set(files) - set(SEED_FILES)
    if unknown:
        raise ValueError(f"not NoCloud seed files: {sorted(unknown)}")
    write_seed_iso(path, {name: text.encode() for name, text in files.items()})
    return path


def make_overlay(base: Path, path: Path) -> Path:
    """A throw-away qcow2 overlay on ``base`` (absolute backing path), so base stays untouched."""
    tools.qemu_img("create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", base.resolve(), path)
    return path


@dataclass
class BootResult:
    """What one VM boot left: exit code (None if killed), serial log, qemu stderr, seconds."""

    returncode: int | None
    log: str
    stderr: str
    seconds: float


def qemu_argv(disk: Path, seed: Path, serial_log: Path, *, nics: int = 1,
              memory: int = 512) -> list[str]:
    """qemu-system-x86_64 flags as GNS3 would give them: TCG, virtio disk/NICs, IDE cdrom.

    Each NIC is a UDP socket pointed at a closed loopback port (a link with nobody on the far
    end), so the guest sees ``eth0..``.
    """
    argv = ["qemu-system-x86_64", "-accel", "tcg,tb-size=256", "-m", str(memory), "-smp", "1",
            "-display", "none", "-monitor", "none", "-no-reboot",
            "-serial", f"file:{serial_log}",
            "-drive", f"file={disk},if=virtio,format=qcow2",
            "-cdrom", str(seed), "-nic", "none"]
    base_port = 40000 + (os.getpid() % 1000) * 20
    for i in range(nics):
        remote, local = base_port + 2 * i, base_port + 2 * i + 1
        netdev = f"socket,id=n{i},udp=127.0.0.1:{remote},localaddr=127.0.0.1:{local}"
        argv += ["-netdev", netdev, "-device", f"virtio-net-pci,netdev=n{i}"]
    return argv


def boot_vm(argv: list[str], serial_log: Path, *, timeout: float = 400) -> BootResult:
    """Run one VM until it powers off (``-no-reboot``) or ``timeout``; always kill it after."""
    start = time.monotonic()
    err_path = serial_log.with_name(serial_log.name + ".stderr")
    with open(err_path, "wb") as err:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=err, start_new_session=True)
    try:
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pass
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            code = None
        else:
            code = proc.returncode
    log = serial_log.read_text(errors="replace") if serial_log.exists() else ""
    return BootResult(returncode=code, log=log, stderr=err_path.read_text(errors="replace"),
                      seconds=time.monotonic() - start)


def write_recipe_standins(folder: Path) -> list[str]:
    """A tiny stand-in for every built-in recipe of which ``folder`` holds no appliance file:
    a blank qcow2 named by its own digest (``gns3lab-<recipe>-<sha256[:12]>.qcow2``) and the
    ``gns3lab-<recipe>.gns3a`` that ``images build`` would write for it. Not indexed as a build,
    so ``gns3lab build`` still builds the real image (and its appliance replaces this one);
    ``validate``, ``show`` and ``build --no-images`` take it, as they take the appliance of an
    earlier build. On a fresh clone this lets the tests that build a bundled blueprint with
    ``--no-images`` run in any order, whether or not a boot built its images before them (the
    suite never builds osa-host: nothing boots the full lab). The names made are returned."""
    from generator.images.build import BuiltImage, appliance_json, file_digests, write_appliance
    from generator.images.recipe import RECIPES, appliance_filename, image_filename, recipe_key

    made = []
    folder.mkdir(parents=True, exist_ok=True)
    for recipe in RECIPES.values():
        appliance = folder / appliance_filename(recipe)
        if appliance.exists():
            continue
        blank = write_qcow2(folder / f".standin-{recipe.name}.qcow2", recipe.disk_size)
        md5, sha256 = file_digests(blank)
        image = blank.rename(folder / image_filename(recipe, sha256))
        built = BuiltImage(path=image, appliance_path=appliance, md5=md5, sha256=sha256,
                           size=image.stat().st_size, virtual_size=recipe.disk_size,
                           key=recipe_key(recipe), cached=False)
        write_appliance(appliance, appliance_json(recipe, built))
        made.append(recipe.name)
    return made


def pytest_sessionstart(session: pytest.Session) -> None:
    """Stand-ins for the built-in recipe images the test cache has no appliance of yet (see
    :func:`write_recipe_standins`): every ``--no-images`` build of a bundled blueprint finds
    one, on a fresh clone too."""
    write_recipe_standins(images_dir())
