"""``push --console-log DIR``: each node's console transcript in a file of DIR.

Node names come from the server, which may name a node ``../../etc/x`` or ``/tmp/x``. So a file
name is derived, never taken: a plain name (letters, digits, ``.``, ``_``, ``-``, not starting
with a dot) is used as it is, anything else becomes its safe characters plus a short hash of
the whole name. Each file is written to a fresh temporary name in DIR and renamed over the
final one, so a symlink or hard link already standing at that name is replaced, never written
through.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Mapping
from pathlib import Path

from generator.errors import GeneratorError

_PLAIN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def log_file_name(node: str) -> str:
    """The file name (in DIR, no folder part) of ``node``'s transcript."""
    if _PLAIN.fullmatch(node):
        return f"{node}.log"
    return _hashed(node)


def _hashed(node: str) -> str:
    stem = _UNSAFE.sub("_", node).strip("._-")[:60] or "node"
    digest = hashlib.sha256(node.encode("utf-8", "surrogatepass")).hexdigest()[:10]
    return f"{stem}-{digest}.log"


def log_file_names(nodes: list[str]) -> dict[str, str]:
    """node -> file name for every node, no two alike (also on a case-insensitive file
    system: a clash takes the hashed form)."""
    names: dict[str, str] = {}
    taken: set[str] = set()
    for node in nodes:
        name = log_file_name(node)
        if name.casefold() in taken:
            name = _hashed(node)
        taken.add(name.casefold())
        names[node] = name
    return names


def write_console_logs(folder: Path, transcripts: Mapping[str, str]) -> dict[str, Path]:
    """Write each transcript to its file in ``folder`` (made if missing); node -> path."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        written = {}
        for node, name in log_file_names(list(transcripts)).items():
            written[node] = folder / name
            _replace(folder, name, transcripts[node].encode("utf-8", "replace"))
    except OSError as exc:
        raise GeneratorError(f"cannot write the console logs in {folder}: {exc.strerror}",
                             hint="choose a --console-log folder you can write") from None
    return written


def _replace(folder: Path, name: str, data: bytes) -> None:
    """``folder/name`` holds ``data``: written to a new file of a random name (O_EXCL: never
    an existing one) and renamed over ``name``."""
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".console-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, folder / name)
    finally:
        if os.path.lexists(tmp):
            os.unlink(tmp)
