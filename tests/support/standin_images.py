"""Stand-ins for base images that cannot be downloaded here (Cumulus VX, Ubuntu cloud images).

A stand-in is a small qcow2 holding one whole-disk ext4 filesystem with what injection needs of
a real guest: ``/etc`` with accounts, ``/etc/hostname``, the systemd unit folders and the login's
home. It is made without a libguestfs launch (``mkfs.ext4 -d`` fills the filesystem from a
folder, then ``qemu-img convert``), so a test's launch count is the build's alone.
:func:`write_fs` and :func:`write_full_fs` are that step alone, for tests that make other test
bases the same way (a partitioned disk: one call per partition at its offset; a full one).
:func:`override_appliances` writes copies of the repo's ``.gns3a`` files whose image entries
carry the stand-ins' md5 and size, for a blueprint's own ``appliances/`` folder (which the
catalogue searches first).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from generator.blueprint.appliances import REPO_APPLIANCES

#: The hostname every stand-in starts with: read back unchanged where nothing was injected.
STANDIN_HOSTNAME = "standin"


@dataclass(frozen=True)
class Standin:
    """One stand-in base image and the login account it has (uid/gid 1000)."""

    filename: str
    login: str

    def passwd(self) -> str:
        return (f"root:x:0:0:root:/root:/bin/bash\n"
                f"{self.login}:x:1000:1000:{self.login}:/home/{self.login}:/bin/bash\n")

    def group(self) -> str:
        return f"root:x:0:\n{self.login}:x:1000:\n"


def make_standin(folder: Path, standin: Standin, size_mb: int = 48) -> Path:
    """Write ``folder/<filename>``: a qcow2 with an ext4 root holding the accounts and folders."""
    image = folder / standin.filename
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "root"
        for sub in ("etc/systemd/system", "lib/systemd/system", "root", "var/log", "usr/bin",
                    f"home/{standin.login}"):
            (root / sub).mkdir(parents=True, exist_ok=True)
        (root / "etc/passwd").write_text(standin.passwd())
        (root / "etc/group").write_text(standin.group())
        (root / "etc/hostname").write_text(f"{STANDIN_HOSTNAME}\n")
        (root / "etc/hosts").write_text(f"127.0.0.1\tlocalhost\n127.0.1.1\t{STANDIN_HOSTNAME}\n")
        (root / "etc/os-release").write_text(f"ID=standin\nNAME=\"{standin.filename}\"\n")
        (root / "etc/fstab").write_text("# stand-in: one whole-disk ext4\n")
        (root / "root").chmod(0o700)
        os.chown(root / f"home/{standin.login}", 1000, 1000)
        raw = Path(tmp) / "disk.raw"
        write_fs(raw, root, size_mb << 20)
        to_qcow2(raw, image)
    return image


def write_fs(raw: Path, root: Path, size: int, *, offset: int = 0, fs_type: str = "ext4",
             uuid: str | None = None) -> None:
    """Make a ``fs_type`` filesystem of ``size`` bytes at byte ``offset`` of the raw file
    ``raw``, holding the tree ``root`` with its modes and owners (``mke2fs -d``)."""
    argv = ["mke2fs", "-q", "-F", "-t", fs_type, "-E", f"root_owner=0:0,offset={offset}",
            "-d", str(root)]
    argv += ["-U", uuid] if uuid else []
    subprocess.run([*argv, str(raw), f"{size >> 10}k"], check=True, capture_output=True)


def write_full_fs(raw: Path, root: Path, size: int, filler: str = "filler") -> None:
    """:func:`write_fs`, with ``root/<filler>`` as large as the filesystem takes: the largest
    size (in 1 KiB steps) ``mke2fs -d`` still fits, so not one more block is free. Non-zero
    bytes: ``mke2fs -d`` stores blocks of zeros as holes."""
    def fits(kib: int) -> bool:
        (root / filler).write_bytes(b"\xff" * (kib << 10))
        try:
            write_fs(raw, root, size)
        except subprocess.CalledProcessError:
            return False
        return True

    (root / filler).unlink(missing_ok=True)
    write_fs(raw, root, size)
    free = _free_kib(raw)
    # fits(low) holds and fits(high) does not; the file's own extent blocks take a few of the
    # free ones, so the answer lies just below ``free``.
    low, high = (free - 64, free + 1) if fits(free - 64) else (0, free + 1)
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (middle, high) if fits(middle) else (low, middle)
    if not fits(low):
        raise RuntimeError(f"mke2fs cannot even make an empty {size}-byte filesystem")


def _free_kib(raw: Path) -> int:
    """The free space of the filesystem at the start of ``raw``, in KiB (``dumpe2fs -h``)."""
    head = subprocess.run(["dumpe2fs", "-h", str(raw)], check=True, capture_output=True,
                          text=True).stdout
    fields = dict(line.split(":", 1) for line in head.splitlines() if ":" in line)
    return int(fields["Free blocks"]) * int(fields["Block size"]) >> 10


def to_qcow2(raw: Path, image: Path) -> Path:
    """``qemu-img convert`` the raw disk ``raw`` to the qcow2 ``image``."""
    subprocess.run(["qemu-img", "convert", "-q", "-f", "raw", "-O", "qcow2", str(raw),
                    str(image)], check=True, capture_output=True)
    return image


def override_appliances(target: Path, images: dict[str, Path]) -> list[Path]:
    """Copies of every repo appliance that names one of ``images`` (file name -> stand-in),
    with those image entries' md5sum and filesize set to the stand-in's; written to ``target``."""
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for path in sorted(REPO_APPLIANCES.glob("*.gns3a")):
        data = json.loads(path.read_text())
        entries = [img for img in data.get("images", []) if img["filename"] in images]
        if not entries:
            continue
        for img in entries:
            standin = images[img["filename"]]
            img["md5sum"] = hashlib.md5(standin.read_bytes()).hexdigest()
            img["filesize"] = standin.stat().st_size
        out = target / path.name
        out.write_text(json.dumps(data, indent=4))
        written.append(out)
    return written
