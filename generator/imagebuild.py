"""Build the gns3lab base image: a small, offline, bootable Debian cloud image.

:func:`build_image` turns a named :class:`Recipe` (see :data:`RECIPES`) into a qcow2 file plus a
GNS3 appliance file (``.gns3a``, registry version 4) in an images directory. Everything comes
from Debian packages: ``mmdebstrap`` builds the root tree, ``mke2fs -d`` writes it into the root
partition of a raw disk, a small FAT partition holds the kernel, initramfs and SYSLINUX, and
``qemu-img`` converts the disk to qcow2. No loop devices, no mounts, no libguestfs.

Disk layout (MBR, like a vendor cloud image that boots from its own disk)::

    sector 0          SYSLINUX mbr.bin (boots the active partition) + partition table
    1 MiB .. 65 MiB   /dev/vda2, FAT16 "GNS3LABBOOT", active: ldlinux.sys, syslinux.cfg,
                      vmlinuz, initrd.img (copies of the ones in the root fs /boot)
    65 MiB .. end     /dev/vda1, ext4 "gns3lab-root", mounted at / (the last partition, so a
                      later growpart could grow it)

Kernel command line: ``root=/dev/vda1 rw console=ttyS0,115200n8 net.ifnames=0``. The image
therefore needs a virtio root disk and its console is the first serial port; NICs are
``eth0..ethN``.

The output name carries a short hash of the recipe (suite, packages, hook scripts, config files,
layout), so an unchanged recipe is a cache hit that returns at once. A build runs in a
temporary directory inside the images directory and is renamed into place at the end; a failed
build leaves nothing behind. Building needs root (mmdebstrap's root mode, file ownership).

This is a lab/test image: root has an EMPTY password, for logging in on the serial console while
debugging (sshd still refuses empty passwords). Host keys, machine-id and hostname are removed
at build time and made per node on first boot (cloud-init ``ssh`` module: ed25519 only).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shlex
import shutil
import struct
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from . import tools
from .errors import ImageError, ToolError

#: Bump when the Python side of the build (disk layout, mmdebstrap flags) changes.
LAYOUT_VERSION = "1"

#: Host programs the build runs, and the Debian package of each (for the install hint).
HOST_PROGRAMS = {
    "mmdebstrap": "mmdebstrap",
    "mke2fs": "e2fsprogs",
    "mkfs.fat": "dosfstools",
    "mcopy": "mtools",
    "syslinux": "syslinux",
    "qemu-img": "qemu-utils",
}

#: SYSLINUX MBR code (boots the partition marked active), from syslinux-common.
MBR_CODE = Path("/usr/lib/syslinux/mbr/mbr.bin")

SECTOR = 512
MIB = 1024 * 1024
DATA = "imagebuild"

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Recipe:
    """Everything that decides an image's content. All of it goes into the cache key."""

    name: str
    suite: str
    sources: tuple[str, ...]
    packages: tuple[str, ...]
    essential_hooks: tuple[str, ...]
    customize_hooks: tuple[str, ...]
    cloud_cfg: str
    boot_cfg: str
    disk_size: int
    boot_size: int
    appliance_name: str
    version_prefix: str
    description: str


DEBIAN_12 = Recipe(
    name="debian-12",
    suite="bookworm",
    sources=(
        "deb http://deb.debian.org/debian bookworm main",
        "deb http://deb.debian.org/debian-security bookworm-security main",
    ),
    packages=(
        "systemd-sysv", "udev", "linux-image-cloud-amd64", "cloud-init", "ifupdown", "ifenslave",
        "vlan", "bridge-utils", "iproute2", "iputils-ping", "netbase", "python3",
        "openssh-server", "openssh-client", "sudo", "isc-dhcp-client", "dnsmasq-base",
        "nftables", "ansible-core",
    ),
    essential_hooks=("essential.sh",),
    customize_hooks=("prune-modules.sh", "customize.sh"),
    cloud_cfg="90-gns3lab.cfg",
    boot_cfg="syslinux.cfg",
    disk_size=3 * 1024 * MIB,
    boot_size=64 * MIB,
    appliance_name="gns3lab Debian 12",
    version_prefix="12",
    description=(
        "Debian 12 (bookworm) cloud image built offline by gns3lab: cloud-init (NoCloud seed on "
        "the IDE cdrom), openssh-server, ansible-core, ifupdown/bridge/vlan/bonding, nftables, "
        "dnsmasq-base. Virtio disk and NICs only (cloud kernel), serial console on ttyS0, NICs "
        "eth0..ethN. Test image: root has an empty password on the console."
    ),
)

#: Recipes by name; add more here.
RECIPES: dict[str, Recipe] = {DEBIAN_12.name: DEBIAN_12}


@dataclass(frozen=True)
class BuiltImage:
    """A built (or cached) image and its appliance file."""

    path: Path
    appliance_path: Path
    md5: str
    size: int
    virtual_size: int
    key: str
    cached: bool


# --------------------------------------------------------------------------- recipe and naming


def data_file(name: str) -> Path:
    """Path of a helper file shipped as package data under ``generator/data/imagebuild``."""
    path = Path(str(resources.files("generator") / "data" / DATA / name))
    if not path.is_file():
        raise ImageError(f"image build helper file missing: {path}",
                         hint="reinstall gns3lab; the package data is incomplete")
    return path


def recipe_files(recipe: Recipe) -> list[str]:
    """Names of the helper files a recipe uses, in a fixed order."""
    return [*recipe.essential_hooks, *recipe.customize_hooks, recipe.cloud_cfg, recipe.boot_cfg]


def recipe_key(recipe: Recipe) -> str:
    """Short hash of everything that decides the image content."""
    h = hashlib.sha256()
    fields = {k: v for k, v in recipe.__dict__.items() if k != "description"}
    h.update(json.dumps({"layout": LAYOUT_VERSION, **fields}, sort_keys=True).encode())
    for name in recipe_files(recipe):
        h.update(name.encode() + b"\0" + data_file(name).read_bytes() + b"\0")
    return h.hexdigest()[:12]


def get_recipe(name: str) -> Recipe:
    """The recipe called ``name``, or an ImageError listing the known ones."""
    try:
        return RECIPES[name]
    except KeyError:
        raise ImageError(f"unknown image recipe: {name!r}",
                         hint=f"known recipes: {', '.join(sorted(RECIPES))}") from None


def image_filename(recipe: Recipe, key: str) -> str:
    """File name of the qcow2 image for ``recipe`` at ``key``."""
    return f"gns3lab-{recipe.name}-{key}.qcow2"


def appliance_filename(recipe: Recipe) -> str:
    """File name of the appliance file for ``recipe``."""
    return f"gns3lab-{recipe.name}.gns3a"


# --------------------------------------------------------------------------- public entry point


def build_image(name: str, images_dir: Path, *, force: bool = False,
                progress: Progress | None = None) -> BuiltImage:
    """Build image ``name`` into ``images_dir`` (or return the cached one).

    A cache hit needs the qcow2 named after the recipe key; the appliance file is rewritten
    if it does not describe that qcow2. ``force`` rebuilds even when cached. ``progress`` is
    called with short stage names: "mmdebstrap", "disk", "bootloader", "convert".
    """
    recipe = get_recipe(name)
    images_dir = Path(images_dir)
    images_dir.mkdir(parents=True, exist_ok=True)
    key = recipe_key(recipe)
    image = images_dir / image_filename(recipe, key)
    appliance = images_dir / appliance_filename(recipe)
    with _locked(images_dir):
        if image.is_file() and not force:
            return _cached(recipe, key, image, appliance)
        _preflight()
        _build(recipe, key, images_dir, image, appliance, progress or (lambda _stage: None))
    return _describe(recipe, key, image, appliance, cached=False)


def _cached(recipe: Recipe, key: str, image: Path, appliance: Path) -> BuiltImage:
    """Describe a cached image, reusing the appliance's checksum when it matches."""
    size = image.stat().st_size
    entry = _appliance_entry(appliance, image.name)
    if entry and entry.get("filesize") == size and entry.get("version") == key:
        return BuiltImage(path=image, appliance_path=appliance, md5=entry["md5sum"], size=size,
                          virtual_size=qcow2_virtual_size(image), key=key, cached=True)
    built = _describe(recipe, key, image, appliance, cached=True, write=True)
    return built


def _describe(recipe: Recipe, key: str, image: Path, appliance: Path, *, cached: bool,
              write: bool = False) -> BuiltImage:
    """Checksum an image; with ``write`` also (re)write its appliance file atomically."""
    md5 = md5sum(image)
    built = BuiltImage(path=image, appliance_path=appliance, md5=md5, size=image.stat().st_size,
                       virtual_size=qcow2_virtual_size(image), key=key, cached=cached)
    if write:
        _write_atomic(appliance, json.dumps(appliance_json(recipe, built), indent=4) + "\n")
    return built


def _preflight() -> None:
    """Fail early when not root or when a host program is missing."""
    if os.geteuid() != 0:
        raise ImageError("building the image needs root (mmdebstrap root mode, file ownership)",
                         hint="run the build as root, or point at a prebuilt image directory")
    missing = [p for p in HOST_PROGRAMS if shutil.which(p) is None]
    if not MBR_CODE.is_file():
        missing.append("syslinux-common")
    if missing:
        pkgs = sorted({HOST_PROGRAMS.get(p, p) for p in missing})
        raise ToolError(f"image build needs: {', '.join(missing)}",
                        hint=f"install it with: apt-get install {' '.join(pkgs)}")


@contextmanager
def _locked(directory: Path) -> Iterator[None]:
    """Hold an exclusive flock on ``directory`` itself (no lock file is left behind)."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


# --------------------------------------------------------------------------- the build


def _build(recipe: Recipe, key: str, images_dir: Path, image: Path, appliance: Path,
           progress: Progress) -> None:
    """Build into a temp dir inside ``images_dir`` and rename the results into place."""
    work = Path(tempfile.mkdtemp(prefix=f".gns3lab-build-{recipe.name}-{key}-", dir=images_dir))
    placed = False
    try:
        rootfs, raw, qcow2 = work / "rootfs", work / "disk.raw", work / "disk.qcow2"
        progress("mmdebstrap")
        run_mmdebstrap(recipe, rootfs)
        progress("disk")
        boot_start = MIB
        root_start = boot_start + recipe.boot_size
        write_partition_table(raw, recipe.disk_size, boot=(boot_start, recipe.boot_size),
                              root=(root_start, recipe.disk_size - root_start),
                              signature=int(key[:8], 16))
        make_root_fs(raw, rootfs, root_start, recipe.disk_size - root_start)
        progress("bootloader")
        make_boot_fs(raw, rootfs, boot_start, recipe.boot_size, data_file(recipe.boot_cfg))
        _rmtree(rootfs)
        progress("convert")
        # Compressed: about 130 MiB instead of 330 MiB, costs ~15 s once; guest writes go to
        # overlays, so nothing ever rewrites these clusters.
        tools.qemu_img("convert", "-q", "-c", "-f", "raw", "-O", "qcow2", raw, qcow2)
        raw.unlink()
        os.chmod(qcow2, 0o644)
        os.replace(qcow2, image)
        placed = True
        _describe(recipe, key, image, appliance, cached=False, write=True)
    except BaseException:
        if placed:  # the appliance could not be written: take the image back out
            image.unlink(missing_ok=True)
        raise
    finally:
        _rmtree(work)


def run_mmdebstrap(recipe: Recipe, rootfs: Path) -> None:
    """Create the root tree of ``recipe`` in ``rootfs`` (root mode, no Recommends, no docs)."""
    def hook(kind: str, name: str) -> str:
        return f"--{kind}-hook=sh {shlex.quote(str(data_file(name)))} \"$1\""

    cloud_cfg = shlex.quote(str(data_file(recipe.cloud_cfg)))
    argv = [
        "mmdebstrap", "--mode=root", "--variant=apt", "--components=main",
        "--hook-dir=/usr/share/mmdebstrap/hooks/merged-usr",
        f"--include={','.join(recipe.packages)}",
        "--aptopt=APT::Install-Recommends \"false\"", "--aptopt=Acquire::Languages \"none\"",
        "--dpkgopt=path-exclude=/usr/share/man/*", "--dpkgopt=path-exclude=/usr/share/doc/*",
        "--dpkgopt=path-include=/usr/share/doc/*/copyright",
        "--dpkgopt=path-exclude=/usr/share/locale/*", "--dpkgopt=path-exclude=/usr/share/info/*",
        "--dpkgopt=path-exclude=/usr/share/lintian/*",
        *[hook("essential", name) for name in recipe.essential_hooks],
        f"--customize-hook=copy-in {cloud_cfg} /etc/cloud/cloud.cfg.d/",
        *[hook("customize", name) for name in recipe.customize_hooks],
        recipe.suite, str(rootfs), *recipe.sources,
    ]
    tools.run(argv, timeout=1800)


def write_partition_table(raw: Path, disk_size: int, *, boot: tuple[int, int],
                          root: tuple[int, int], signature: int) -> None:
    """Create the sparse raw disk with SYSLINUX's MBR code and two partitions.

    Entry 1 is the ext4 root (``/dev/vda1``), entry 2 the active FAT16 boot partition.
    ``boot`` and ``root`` are (offset, size) in bytes.
    """
    code = MBR_CODE.read_bytes()[:440]
    entries = _mbr_entry(root, 0x83, active=False) + _mbr_entry(boot, 0x06, active=True)
    mbr = code.ljust(440, b"\0") + struct.pack("<IH", signature, 0) + entries.ljust(64, b"\0")
    with open(raw, "wb") as f:
        f.truncate(disk_size)
        f.write(mbr + b"\x55\xaa")


def _mbr_entry(part: tuple[int, int], ptype: int, *, active: bool) -> bytes:
    """One 16-byte MBR partition entry (LBA, with CHS for a 255/63 geometry)."""
    start, size = part[0] // SECTOR, part[1] // SECTOR
    return struct.pack("<B3sB3sII", 0x80 if active else 0, _chs(start), ptype,
                       _chs(start + size - 1), start, size)


def _chs(lba: int) -> bytes:
    """CHS address of ``lba`` for 255 heads and 63 sectors per track, capped at 1023/254/63."""
    cyl, rest = divmod(lba, 255 * 63)
    head, sec = divmod(rest, 63)
    if cyl > 1023:
        cyl, head, sec = 1023, 254, 62
    return bytes([head, ((cyl >> 2) & 0xC0) | (sec + 1), cyl & 0xFF])


def make_root_fs(raw: Path, rootfs: Path, offset: int, size: int) -> None:
    """Write ext4 with the content of ``rootfs`` into ``raw`` at ``offset`` (no loop device)."""
    tools.run(["mke2fs", "-q", "-F", "-t", "ext4", "-L", "gns3lab-root",
               "-E", f"offset={offset}", "-d", rootfs, raw, f"{size // 1024}k"], timeout=900)


def make_boot_fs(raw: Path, rootfs: Path, offset: int, size: int, boot_cfg: Path) -> None:
    """FAT16 boot partition at ``offset``: kernel, initramfs, syslinux.cfg and SYSLINUX."""
    tools.run(["mkfs.fat", "-F", "16", "-n", "GNS3LABBOOT", f"--offset={offset // SECTOR}",
               "-h", str(offset // SECTOR), raw, str(size // 1024)])
    image = f"{raw}@@{offset}"
    kernel, initrd = _boot_files(rootfs)
    for src, dst in ((kernel, "::/vmlinuz"), (initrd, "::/initrd.img"),
                     (boot_cfg, "::/syslinux.cfg")):
        tools.run(["mcopy", "-i", image, src, dst])
    tools.run(["syslinux", "--install", f"--offset={offset}", raw])


def _boot_files(rootfs: Path) -> tuple[Path, Path]:
    """The one kernel and initramfs in ``rootfs/boot``."""
    kernels = sorted((rootfs / "boot").glob("vmlinuz-*"))
    if len(kernels) != 1:
        raise ImageError(f"expected one kernel in {rootfs / 'boot'}, found {len(kernels)}")
    version = kernels[0].name.removeprefix("vmlinuz-")
    initrd = rootfs / "boot" / f"initrd.img-{version}"
    if not initrd.is_file():
        raise ImageError(f"no initramfs for kernel {version} in {rootfs / 'boot'}")
    return kernels[0], initrd


# --------------------------------------------------------------------------- appliance


def appliance_json(recipe: Recipe, built: BuiltImage) -> dict:
    """The registry-version-4 GNS3 appliance that describes ``built``."""
    return {
        "appliance_id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"gns3lab:{recipe.name}")),
        "name": recipe.appliance_name,
        "category": "guest",
        "description": recipe.description,
        "vendor_name": "gns3lab",
        "vendor_url": "https://www.debian.org",
        "product_name": recipe.appliance_name,
        "registry_version": 4,
        "status": "experimental",
        "maintainer": "gns3lab",
        "maintainer_email": "gns3lab@localhost",
        "usage": "Console: serial (telnet). Login root with an empty password (test image).\n"
                 "Configured by cloud-init from a NoCloud seed ISO (volume id cidata) on the "
                 "cdrom.\n",
        "symbol": "linux_guest.svg",
        "port_name_format": "eth{0}",
        "qemu": {
            "adapter_type": "virtio-net-pci",
            "adapters": 1,
            "ram": 512,
            "hda_disk_interface": "virtio",
            "arch": "x86_64",
            "console_type": "telnet",
            "boot_priority": "c",
            "kvm": "allow",
        },
        "images": [{"filename": built.path.name, "version": built.key, "md5sum": built.md5,
                    "filesize": built.size}],
        "versions": [{"name": f"{recipe.version_prefix}-{built.key}",
                      "images": {"hda_disk_image": built.path.name}}],
    }


def _appliance_entry(appliance: Path, filename: str) -> dict | None:
    """The ``images[]`` entry for ``filename`` in an appliance file, if the file is readable."""
    try:
        data = json.loads(appliance.read_text())
    except (OSError, ValueError):
        return None
    for entry in data.get("images", []):
        if isinstance(entry, dict) and entry.get("filename") == filename:
            return entry
    return None


# --------------------------------------------------------------------------- small helpers


def md5sum(path: Path) -> str:
    """Hex md5 of a file, read in 4 MiB blocks."""
    h = hashlib.md5()
    with open(path, "rb") as f:
        while block := f.read(4 * MIB):
            h.update(block)
    return h.hexdigest()


def qcow2_virtual_size(path: Path) -> int:
    """Virtual size from a qcow2 header (magic ``QFI\\xfb``, size at byte 24), no subprocess."""
    with open(path, "rb") as f:
        header = f.read(32)
    if len(header) < 32 or header[:4] != b"QFI\xfb":
        raise ImageError(f"not a qcow2 image: {path}")
    return struct.unpack(">Q", header[24:32])[0]


def _write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temp file in the same directory and a rename."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _rmtree(path: Path) -> None:
    """Remove a build tree, but never descend into something still mounted under it."""
    if not path.exists():
        return
    prefix = str(path.resolve()) + "/"
    with open("/proc/self/mounts") as f:
        mounted = [line.split()[1] for line in f if line.split()[1].startswith(prefix)]
    if mounted:
        raise ImageError(f"not removing {path}: still mounted: {', '.join(mounted)}",
                         hint="unmount these and remove the directory by hand")
    shutil.rmtree(path, ignore_errors=True)
