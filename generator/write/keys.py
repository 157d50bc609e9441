"""The lab's SSH key pair: given in the blueprint, or generated once and kept with the output.

A generated key is kept in ``<output>/keys/<lab>/`` and reused by later builds into the same
output folder, so rebuilding gives a byte-identical archive and the user can log in to the lab.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from generator import tools
from generator.blueprint.sshkey import MAX_PUBLIC_KEY, parse_public_key
from generator.errors import GeneratorError, Refused
from generator.fileio import atomic_write


@dataclass(frozen=True)
class LabKey:
    private_path: Path
    public: str

    @property
    def private(self) -> bytes:
        return self.private_path.read_bytes()


def kept_key(lab_name: str, out_dir: Path) -> Path:
    """Where the generated key of ``lab_name`` is kept in the output folder ``out_dir``."""
    return out_dir / "keys" / lab_name / "id_ed25519"


def needs_keygen(lab_name: str, out_dir: Path, given: Path | None = None) -> bool:
    """Whether :func:`ensure_lab_key` will run ``ssh-keygen`` (no key given, none kept yet)."""
    return given is None and not kept_key(lab_name, out_dir).is_file()


def ensure_lab_key(lab_name: str, out_dir: Path, given: Path | None = None) -> LabKey:
    """The key pair to use: ``given`` (with its ``.pub``), or the kept one, or a new one."""
    if given is not None:
        pub = given.with_name(given.name + ".pub")
        if not given.is_file() or not pub.is_file():
            raise GeneratorError(f"ssh_key {given}: private key or {pub.name} not found",
                                 hint="give a private key file with its .pub beside it")
        try:  # load checked it already; the file may have changed since
            return LabKey(given, parse_public_key(pub.read_bytes()[:MAX_PUBLIC_KEY + 1],
                                                  pub.name))
        except Refused as exc:
            raise GeneratorError(f"ssh_key {exc.message}", hint=exc.fix) from None
    private = kept_key(lab_name, out_dir)
    folder = private.parent
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # parallel builds of one lab make one key
        if not private.is_file():
            for stale in folder.glob(".id_ed25519*"):  # a killed build's; we hold the lock
                if stale.is_dir() and not stale.is_symlink():
                    shutil.rmtree(stale, ignore_errors=True)
                else:
                    stale.unlink(missing_ok=True)
            with tempfile.TemporaryDirectory(prefix=f".id_ed25519.{os.getpid()}.",
                                             dir=folder) as tmp:
                made = Path(tmp) / "id_ed25519"
                tools.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C",
                           f"gns3lab@{lab_name}", "-f", made])
                # .pub first: whoever sees the private key finds its public half beside it
                atomic_write(private.with_name("id_ed25519.pub"),
                             made.with_name("id_ed25519.pub").read_bytes(), 0o644)
                atomic_write(private, made.read_bytes(), 0o600)
    return LabKey(private, private.with_name("id_ed25519.pub").read_text().strip())
