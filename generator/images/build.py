"""Build the gns3lab base image: a small, offline, bootable Debian cloud image.

:func:`build_image` turns a named :class:`Recipe` (see :data:`RECIPES`) into a qcow2 file plus a
GNS3 appliance file (``.gns3a``, registry version 4) in an images directory. Everything comes
from Debian packages: ``mmdebstrap`` builds the root tree, ``mke2fs -d`` writes it into the root
partition of a raw disk, a small FAT partition holds the kernel, initramfs and SYSLINUX, and
``qemu-img`` converts the disk to qcow2. No loop devices, no libguestfs, and no mount of the
build's own (mmdebstrap's chroot mounts stay inside its private mount namespace).

Disk layout (MBR, like a vendor cloud image that boots from its own disk)::

    sector 0          SYSLINUX mbr.bin (boots the active partition) + partition table
    1 MiB .. 65 MiB   /dev/vda2, FAT16 "GNS3LABBOOT", active: ldlinux.sys, syslinux.cfg,
                      vmlinuz, initrd.img (copies of the ones in the root fs /boot)
    65 MiB .. end     /dev/vda1, ext4 "gns3lab-root", mounted at / (the last partition, so a
                      later growpart could grow it)

Kernel command line: ``root=/dev/vda1 rw console=ttyS0,115200n8 net.ifnames=0``. The image
therefore needs a virtio root disk and its console is the first serial port; NICs are
``eth0..ethN``.

Images are named by their content, ``gns3lab-<recipe>-<sha256[:12]>.qcow2``; the hidden index
``.gns3lab-builds.json`` maps the recipe key to the last build, so an unchanged recipe is a
cache hit at once. A build runs in a locked work folder inside the images directory
(:mod:`generator.images.workdir`) and is renamed into place at the end; a failed or interrupted
build leaves nothing behind, and the folder of a build that was killed outright (SIGKILL, power
loss) is swept by the next ``images build`` in that directory. mmdebstrap runs in its own PID
and mount namespaces (:func:`generator.tools.contained`): its chroot mounts are never visible
on the host, and the kernel ends its whole process tree, and drops those mounts, when
gns3lab dies. Building needs root.
The build is reproducible as far as Debian allows (``SOURCE_DATE_EPOCH``, fixed UUIDs, seeds
and times: :mod:`generator.images.disk`); docs/images.md says what was measured.

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
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from generator import fileio, qcow2, tools
from generator.errors import ImageError
from generator.images import disk as imagedisk
from generator.images import workdir
from generator.images.cache import make_cache
from generator.images.disk import MBR_CODE
from generator.images.recipe import (
    MIB,
    MODULES_HOOK,
    RECIPE_HOOK,
    Recipe,
    appliance_filename,
    data_file,
    get_recipe,
    image_filename,
    recipe_key,
    recipe_of,
)

#: The hidden index (GNS3 skips dot files) of recipe key -> last build of that recipe.
INDEX = ".gns3lab-builds.json"

#: Host programs the build runs (their Debian packages: :data:`generator.tools.PACKAGES`).
HOST_PROGRAMS = ("mmdebstrap", "unshare", "mke2fs", "mkfs.fat", "mcopy", "syslinux", "debugfs",
                 "dumpe2fs", "qemu-img")


Progress = Callable[[str], None]




@dataclass(frozen=True)
class BuiltImage:
    """A built (or cached) image and its appliance file. ``key`` is the recipe key; the
    file name carries ``sha256[:12]`` (see :attr:`digest`)."""

    path: Path
    appliance_path: Path
    md5: str
    sha256: str
    size: int
    virtual_size: int
    key: str
    cached: bool

    @property
    def digest(self) -> str:
        """The short content digest in the file name."""
        return self.sha256[:12]


# --------------------------------------------------------------------------- public entry point


def build_image(name: str | Recipe, images_dir: Path, *, force: bool = False,
                progress: Progress | None = None) -> BuiltImage:
    """Build image ``name`` (a built-in recipe's name, or a resolved :class:`Recipe`) into
    ``images_dir`` (or return the cached one).

    A cache hit needs the index entry for the recipe key and its qcow2, unchanged since it was
    recorded (size and mtime); the appliance file is rewritten if it does not describe that
    qcow2. ``force`` rebuilds even when cached. Every call first sweeps the work folders of
    builds that died in ``images_dir``. ``progress`` is called with short stage names:
    "mmdebstrap", "disk", "bootloader", "convert".
    """
    recipe = get_recipe(name) if isinstance(name, str) else name
    images_dir = Path(images_dir)
    make_cache(images_dir)  # private (0700) when gns3lab makes it, as for pulls
    key = recipe_key(recipe)
    appliance = images_dir / appliance_filename(recipe)
    with _locked(images_dir):
        workdir.sweep(images_dir)
        hit = None if force else _cached(recipe, key, images_dir, appliance)
        if hit is not None:
            return hit
        _preflight()
        return _build(recipe, key, images_dir, appliance, progress or (lambda _stage: None))


def find_build(recipe: Recipe, images_dir: Path) -> BuiltImage | None:
    """The indexed build of ``recipe`` in ``images_dir`` if its file is still as recorded,
    else None. Reads only (no lock, nothing rewritten)."""
    key = recipe_key(recipe)
    entry = _read_index(Path(images_dir)).get(key)
    if not isinstance(entry, dict):
        return None
    image = Path(images_dir) / str(entry.get("filename", ""))
    try:
        st = image.stat()
        if (st.st_size, st.st_mtime_ns) != (entry["size"], entry["mtime_ns"]) or \
                image.name != image_filename(recipe, str(entry["sha256"])):
            return None
        return BuiltImage(path=image, appliance_path=image.with_name(appliance_filename(recipe)),
                          md5=entry["md5"], sha256=entry["sha256"], size=st.st_size,
                          virtual_size=qcow2_virtual_size(image), key=key, cached=True)
    except (OSError, KeyError, TypeError, ImageError):
        return None


def _cached(recipe: Recipe, key: str, images_dir: Path, appliance: Path) -> BuiltImage | None:
    """The indexed build of ``key`` if its file is still as recorded, else None; its
    appliance file rewritten when it does not describe it."""
    built = find_build(recipe, images_dir)
    if built is None:
        return None
    if _appliance_entry(appliance, built.path.name) != _image_entry(recipe, built) or \
            _appliance_qemu(appliance) != appliance_json(recipe, built)["qemu"]:
        write_appliance(appliance, appliance_json(recipe, built))
    return built


def describe_image(path: Path, *, key: str = "", cached: bool = True) -> BuiltImage:
    """Checksum an image gns3lab built (md5 and sha256 in one pass) and check its name.

    Raises ImageError when the name's digest is not the content's (a renamed or changed file).
    """
    recipe = recipe_of(path.name)
    md5, sha256 = file_digests(path)
    if image_filename(recipe, sha256) != path.name:
        raise ImageError(f"{path} has sha256 {sha256}, which its name does not carry: "
                         "renamed or changed since it was built",
                         hint="rebuild it with 'gns3lab images build "
                              f"{recipe.name} --force'")
    return BuiltImage(path=path, appliance_path=path.with_name(appliance_filename(recipe)),
                      md5=md5, sha256=sha256, size=path.stat().st_size,
                      virtual_size=qcow2_virtual_size(path), key=key, cached=cached)


def _preflight() -> None:
    """Fail early when not root, or (all at once) when a host program or SYSLINUX's MBR code
    is missing."""
    if os.geteuid() != 0:
        raise ImageError("building the image needs root (mmdebstrap root mode, file ownership)",
                         hint="run the build as root, or point at a prebuilt image directory")
    tools.preflight(HOST_PROGRAMS, files=[MBR_CODE])


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


def _build(recipe: Recipe, key: str, images_dir: Path, appliance: Path,
           progress: Progress) -> BuiltImage:
    """Build into a temp dir inside ``images_dir``; name the qcow2 by its digest and rename it
    into place, then record it in the index and write its appliance file."""
    with workdir.work_folder(images_dir, f"{recipe.name}-{key}") as work:
        return _build_in(work, recipe, key, images_dir, appliance, progress)


def _build_in(work: Path, recipe: Recipe, key: str, images_dir: Path, appliance: Path,
              progress: Progress) -> BuiltImage:
    """The stages of :func:`_build` in the work folder ``work``."""
    image: Path | None = None
    try:
        rootfs, raw, qcow2 = work / "rootfs", work / "disk.raw", work / "disk.qcow2"
        epoch = recipe.source_date_epoch
        fs_uuid = str(uuid.uuid5(uuid.NAMESPACE_URL, f"gns3lab:{recipe.name}:{key}:root"))
        progress("mmdebstrap")
        run_mmdebstrap(recipe, rootfs)
        progress("disk")
        boot_start = MIB
        root_start = boot_start + recipe.boot_size
        imagedisk.write_partition_table(raw, recipe.disk_size,
                                        boot=(boot_start, recipe.boot_size),
                                        root=(root_start, recipe.disk_size - root_start),
                                        signature=int(key[:8], 16))
        imagedisk.make_root_fs(raw, rootfs, root_start, recipe.disk_size - root_start,
                               epoch=epoch, uuid=fs_uuid)
        progress("bootloader")
        imagedisk.make_boot_fs(raw, rootfs, boot_start, recipe.boot_size,
                               data_file(recipe.boot_cfg), epoch=epoch,
                               volume_id=int(key[4:12], 16))
        workdir.remove_tree(rootfs)
        progress("convert")
        # Compressed: about 130 MiB instead of 330 MiB, costs ~15 s once; guest writes go to
        # overlays, so nothing ever rewrites these clusters.
        tools.qemu_img("convert", "-q", "-c", "-f", "raw", "-O", "qcow2", raw, qcow2)
        raw.unlink()
        os.chmod(qcow2, 0o600)  # a private cache, as for pulled images
        md5, sha256 = file_digests(qcow2)
        image = images_dir / image_filename(recipe, sha256)
        os.replace(qcow2, image)
        built = BuiltImage(path=image, appliance_path=appliance, md5=md5, sha256=sha256,
                           size=image.stat().st_size, virtual_size=qcow2_virtual_size(image),
                           key=key, cached=False)
        write_appliance(appliance, appliance_json(recipe, built))
        _record(images_dir, built)
        return built
    except BaseException:
        if image is not None:  # the appliance or index could not be written: take it back
            image.unlink(missing_ok=True)
        raise


def _read_index(images_dir: Path) -> dict[str, dict]:
    """The build index (recipe key -> filename, size, mtime_ns, md5, sha256); {} if none."""
    try:
        data = json.loads((images_dir / INDEX).read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _record(images_dir: Path, built: BuiltImage) -> None:
    """Record ``built`` as the build of its recipe key (under the directory lock)."""
    index = _read_index(images_dir)
    st = built.path.stat()
    index[built.key] = {"filename": built.path.name, "size": st.st_size,
                        "mtime_ns": st.st_mtime_ns, "md5": built.md5, "sha256": built.sha256}
    fileio.atomic_write(images_dir / INDEX, json.dumps(index, indent=2, sort_keys=True) + "\n",
                        mode=0o600)


def run_mmdebstrap(recipe: Recipe, rootfs: Path) -> None:
    """Create the root tree of ``recipe`` in ``rootfs`` (root mode, no Recommends, no docs)."""
    def hook(kind: str, name: str) -> str:
        return f"--{kind}-hook=sh {shlex.quote(str(data_file(name)))} \"$1\""

    cloud_cfg = shlex.quote(str(data_file(recipe.cloud_cfg)))
    stage = rootfs.with_name("recipe")
    stage_recipe(recipe, stage)
    quoted = shlex.quote(str(stage))
    # The recipe's own steps run between the module pruning (customize_hooks[0]) and the
    # clean-up (customize.sh): kept modules go back before depmod, and the clean-up also sweeps
    # what the recipe's commands leave behind. A recipe without them gets exactly the argv
    # (and so the bytes) of layout 2.
    # Not the host's: mmdebstrap copies /etc/resolv.conf and /etc/hostname in (the
    # customize hook removes the hostname), and they would differ from host to host.
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
        *([f"{hook('customize', MODULES_HOOK)} {quoted} save"] if recipe.modules else []),
        *[hook("customize", name) for name in recipe.customize_hooks[:1]],
        *([f"{hook('customize', MODULES_HOOK)} {quoted} restore"] if recipe.modules else []),
        *([f"{hook('customize', RECIPE_HOOK)} {quoted}"] if recipe.customized else []),
        *[f"--customize-hook=chroot \"$1\" sh -c {shlex.quote(c)}" for c in recipe.commands],
        *[hook("customize", name) for name in recipe.customize_hooks[1:]],
        "--customize-hook=rm -f \"$1/etc/resolv.conf\"",
        recipe.suite, str(rootfs), *recipe.sources,
    ]
    env = imagedisk.epoch_env(recipe.source_date_epoch)
    # Perl (debconf) and Python (py3compile) hash seeds fixed: no random iteration order.
    env.update(PERL_HASH_SEED="0", PERL_PERTURB_KEYS="0", PYTHONHASHSEED="0")
    tools.run(tools.contained(argv), timeout=1800, env=env)


def stage_recipe(recipe: Recipe, stage: Path) -> None:
    """Write what the recipe step (``apply-recipe.sh``, ``keep-modules.sh``) reads: each file
    to place (its digest checked again: the recipe was read earlier, and the key names those
    bytes), its services, sysctl keys, modules and network renderer, one per line."""
    (stage / "files").mkdir(parents=True, exist_ok=True)
    rows = []
    for n, placed in enumerate(recipe.files):
        data = Path(placed.source).read_bytes()
        if hashlib.sha256(data).hexdigest() != placed.sha256:
            raise ImageError(f"{placed.source} changed since the recipe {recipe.name} was read",
                             hint="run the build again")
        (stage / "files" / str(n)).write_bytes(data)
        rows.append(f"{n} {placed.mode} {placed.owner} {placed.dest}\n")
    (stage / "files.list").write_text("".join(rows))
    (stage / "services").write_text("".join(f"{u}\n" for u in recipe.services))
    (stage / "sysctl.conf").write_text("".join(f"{k} = {v}\n" for k, v in recipe.sysctl))
    (stage / "modules").write_text("".join(f"{m}\n" for m in recipe.modules))
    (stage / "network").write_text(recipe.network + "\n")


# --------------------------------------------------------------------------- appliance


def appliance_json(recipe: Recipe, built: BuiltImage) -> dict:
    """The registry-version-4 GNS3 appliance that describes ``built``.

    The version is named like its image's version (``12-<digest>``): the registry's checker
    warns about a version named unlike all its images. Version 4 because it is the lowest that
    holds this appliance (the checker also warns when a file could be downgraded).
    """
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
        "port_name_format": recipe.port_name_format,
        "qemu": {
            "adapter_type": recipe.adapter_type,
            "adapters": recipe.adapters,
            "ram": recipe.ram,
            **({"cpus": recipe.vcpus} if recipe.vcpus != 1 else {}),
            "hda_disk_interface": "virtio",
            "arch": "x86_64",
            "console_type": recipe.console_type,
            "boot_priority": "c",
            "kvm": "allow",
        },
        "images": [_image_entry(recipe, built)],
        "versions": [{"name": image_version(recipe, built),
                      "images": {"hda_disk_image": built.path.name}}],
    }


def image_version(recipe: Recipe, built: BuiltImage) -> str:
    """The version of a built image, e.g. ``12-<sha256[:12]>``."""
    return f"{recipe.version_prefix}-{built.digest}"


def _image_entry(recipe: Recipe, built: BuiltImage) -> dict:
    """The appliance's ``images[]`` entry for ``built`` (no URL: it exists only here)."""
    return {"filename": built.path.name, "version": image_version(recipe, built),
            "md5sum": built.md5, "filesize": built.size}


def write_appliance(path: Path, data: dict) -> None:
    """Write an appliance document atomically (4-space JSON, like the registry's files)."""
    fileio.atomic_write(path, json.dumps(data, indent=4) + "\n")


def export_appliance(image: Path, out: Path | None = None) -> Path:
    """Write a ``.gns3a`` for an image gns3lab built (checked against its name) to ``out``
    (default: ``<image stem>.gns3a`` beside it); returns the path written."""
    built = describe_image(Path(image))
    target = Path(out) if out is not None else built.path.with_suffix(".gns3a")
    write_appliance(target, appliance_json(recipe_of(built.path.name), built))
    return target


def _appliance_qemu(appliance: Path) -> dict | None:
    """The ``qemu`` settings of an appliance file, if the file is readable."""
    try:
        data = json.loads(appliance.read_text())
    except (OSError, ValueError):
        return None
    return data.get("qemu") if isinstance(data, dict) else None


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
    """Hex md5 of a file, streamed."""
    return fileio.file_digests(path, ("md5",))["md5"]


def file_digests(path: Path) -> tuple[str, str]:
    """Hex md5 and sha256 of a file in one streaming pass."""
    digests = fileio.file_digests(path, ("md5", "sha256"))
    return digests["md5"], digests["sha256"]


def qcow2_virtual_size(path: Path) -> int:
    """Virtual size from the image's qcow2 header, no subprocess."""
    try:
        return qcow2.virtual_size(qcow2.read_head(path, 32))
    except ValueError:
        raise ImageError(f"not a qcow2 image: {path}") from None
