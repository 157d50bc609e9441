"""Test base images of realistic size, made without a libguestfs launch.

Each image is one whole-disk ext4 (``mkfs.ext4 -d`` from a staging tree, then ``qemu-img
convert`` to qcow2) holding what injection and ``virt-customize`` need of a real guest (accounts,
``/etc/os-release``, systemd unit folders, the login's home) plus a few hundred MB of real files
copied from this host's ``/usr`` so the disk is as big as a small cloud image. The images for
bundling are different: raw, non-sparse, of an exact size, never mounted.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

#: Host folders copied into each image (``/usr/bin`` and ``/usr/sbin``: about 380 MB here).
CONTENT = ("usr/bin", "usr/sbin")
VIRTUAL_MB = 2048


@dataclass(frozen=True)
class BaseSpec:
    """One test base image: its file name and the login account it has (uid/gid 1000)."""

    filename: str
    login: str
    hostname: str


SWITCH = BaseSpec("bench-switch.qcow2", "cumulus", "cumulus")
SERVER = BaseSpec("bench-server.qcow2", "ubuntu", "ubuntu")


def _write_etc(root: Path, spec: BaseSpec) -> None:
    etc = root / "etc"
    for sub in ("systemd/system/multi-user.target.wants", "ssh", "sudoers.d", "dhcp"):
        (etc / sub).mkdir(parents=True, exist_ok=True)
    (etc / "passwd").write_text(f"root:x:0:0:root:/root:/bin/bash\n{spec.login}:x:1000:1000:"
                                f"{spec.login}:/home/{spec.login}:/bin/bash\n")
    (etc / "shadow").write_text(f"root:*:19000:0:99999:7:::\n{spec.login}:*:19000:0:99999:7:::\n")
    (etc / "group").write_text(f"root:x:0:\nsudo:x:27:{spec.login}\n{spec.login}:x:1000:\n")
    (etc / "hostname").write_text(f"{spec.hostname}\n")
    (etc / "hosts").write_text(f"127.0.0.1\tlocalhost\n127.0.1.1\t{spec.hostname}\n")
    (etc / "fstab").write_text("LABEL=bench-root / ext4 defaults 0 1\n")
    (etc / "machine-id").write_text("")
    shutil.copy("/etc/os-release", etc / "os-release")


def _stage_tree(root: Path, spec: BaseSpec) -> None:
    """The guest tree: /etc, the unit and home folders, and the copied host content."""
    for sub in ("lib/systemd/system", "root", "var/log", "var/lib", "tmp", f"home/{spec.login}",
                "usr/lib/systemd/system"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    _write_etc(root, spec)
    (root / "root").chmod(0o700)
    (root / "tmp").chmod(0o1777)
    os.chown(root / f"home/{spec.login}", 1000, 1000)
    for sub in CONTENT:
        # Hard links cost nothing and mkfs.ext4 -d reads them as plain files; copy if refused.
        if subprocess.run(["cp", "-al", f"/{sub}", str(root / sub)],
                          capture_output=True).returncode != 0:
            shutil.rmtree(root / sub, ignore_errors=True)
            subprocess.run(["cp", "-a", f"/{sub}", str(root / sub)], check=True)
    (root / "bin").symlink_to("usr/bin")
    (root / "sbin").symlink_to("usr/sbin")


def make_base(folder: Path, spec: BaseSpec) -> Path:
    """``folder/<filename>``, made once (kept while it exists)."""
    image = folder / spec.filename
    if image.exists():
        return image
    work = folder / f".{spec.filename}.work"
    shutil.rmtree(work, ignore_errors=True)
    root, raw = work / "root", work / "disk.raw"
    try:
        _stage_tree(root, spec)
        subprocess.run(["mkfs.ext4", "-q", "-F", "-L", "bench-root", "-E", "root_owner=0:0",
                        "-d", str(root), str(raw), f"{VIRTUAL_MB}M"], check=True,
                       capture_output=True)
        subprocess.run(["qemu-img", "convert", "-q", "-f", "raw", "-O", "qcow2", str(raw),
                        str(image) + ".tmp"], check=True, capture_output=True)
        os.replace(str(image) + ".tmp", image)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return image


def make_filled(path: Path, size: int) -> Path:
    """A raw image of exactly ``size`` bytes with no hole (a 64 MiB random block repeated, each
    copy tagged with its offset so no two blocks are equal)."""
    if path.exists() and path.stat().st_size == size:
        return path
    block = bytearray(os.urandom(64 << 20))
    with open(str(path) + ".tmp", "wb") as out:
        for offset in range(0, size, len(block)):
            block[:8] = offset.to_bytes(8, "little")
            out.write(block[:size - offset])
    os.replace(str(path) + ".tmp", path)
    return path


def md5_of(path: Path) -> str:
    """md5 of a file, streamed (the appliance records it)."""
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "md5").hexdigest()
