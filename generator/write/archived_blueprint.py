"""The blueprint as the archive carries it: its plain files, never a secret.

What goes in: the blueprint's YAML (console passwords replaced by their SHA-512 crypt hash)
and the regular files of its folder. What never goes in: symlinks (a ``keys -> ~/.ssh`` link
would copy the builder's keys), devices and FIFOs, hidden entries, the output folder and
earlier archives, the lab's private key and any other private key file, and whatever git
ignores there.
"""

from __future__ import annotations

import os
import shutil
import stat
from collections.abc import Callable
from pathlib import Path

import yaml

from generator import tools
from generator.blueprint.confine import MAX_FILE_BYTES
from generator.model import Lab
from generator.read.secrets import is_private_key_file
from generator.render.passwords import derived_salt, sha512_crypt


def copy_blueprint(lab: Lab, target: Path, out_dir: Path,
                   note: Callable[[str], None] = lambda _: None) -> list[Path]:
    """Write the archived blueprint into ``target``; ``note`` hears what was left out, why.
    Returns the source files archived (the blueprint's YAML first)."""
    target.mkdir(parents=True)
    yaml_text = lab.blueprint_file.read_text(encoding="utf-8")
    (target / lab.blueprint_file.name).write_text(hash_passwords(yaml_text, lab.name),
                                                  encoding="utf-8")
    if lab.blueprint_file.name not in ("lab.yaml", "lab.yml"):
        return [lab.blueprint_file]  # a single-file blueprint: the file alone
    folder = lab.blueprint_folder
    skip = {p.resolve() for p in (out_dir, lab.ssh_key) if p is not None}
    candidates = []
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=False):
        here = Path(dirpath)
        dirnames[:] = sorted(d for d in dirnames if not _left_out(here / d, skip, note, folder))
        candidates += [here / f for f in sorted(filenames)
                       if here / f != lab.blueprint_file
                       and not _left_out(here / f, skip, note, folder)]
    ignored = _git_ignored(folder, candidates)
    archived = [lab.blueprint_file]
    for path in candidates:
        rel = path.relative_to(folder)
        if path in ignored:
            note(f"not archived: {rel} (git ignores it)")
            continue
        dest = target / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, dest, follow_symlinks=False)
        archived.append(path)
    return archived


def _left_out(path: Path, skip: set[Path], note: Callable[[str], None], folder: Path) -> bool:
    rel = path.relative_to(folder)
    st = os.lstat(path)
    reason = None
    if path.name.startswith(".") or path.name == "__pycache__" or path.suffix == ".pyc":
        return True
    if path.resolve() in skip or path.suffix == ".gns3project":
        reason = "the output folder, an archive or the lab's private key"
    elif stat.S_ISLNK(st.st_mode):
        reason = "a symlink; links are never followed"
    elif not (stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode)):
        reason = "not a regular file"
    elif stat.S_ISREG(st.st_mode) and st.st_size > MAX_FILE_BYTES:
        reason = f"{st.st_size} bytes, larger than {MAX_FILE_BYTES}"
    elif stat.S_ISREG(st.st_mode) and is_private_key_file(path):
        reason = "a private key"
    if reason:
        note(f"not archived: {rel} ({reason})")
    return reason is not None


def _git_ignored(folder: Path, paths: list[Path]) -> set[Path]:
    """The paths git ignores, when the folder is in a git work tree (else none)."""
    if not paths or shutil.which("git") is None:
        return set()
    proc = tools.run(["git", "-C", folder, "check-ignore", "-z", "--stdin"],
                     input=b"\0".join(str(p).encode() for p in paths), timeout=60,
                     ok=(0, 1, 128))  # 1: nothing ignored; 128: not a git work tree
    if proc.returncode != 0:
        return set()
    return {Path(p.decode()) for p in proc.stdout.split(b"\0") if p}


def hash_passwords(text: str, lab: str) -> str:
    """The YAML text with every ``users[].password: X`` rewritten as ``password_hash: '$6$…'``
    (salted by lab and place, so the same blueprint gives the same text). Comments and layout
    elsewhere stay as written."""
    root = yaml.compose(text, Loader=yaml.SafeLoader)
    edits: list[tuple[int, int, str]] = []
    for key, value, place in _password_nodes(root, ()):
        hashed = sha512_crypt(str(value.value), derived_salt(lab, *map(str, place)))
        edits.append((key.start_mark.index, key.end_mark.index, "password_hash"))
        edits.append((value.start_mark.index, value.end_mark.index, f"'{hashed}'"))
    for start, end, new in sorted(edits, reverse=True):
        text = text[:start] + new + text[end:]
    return text


def _password_nodes(node: yaml.Node | None, place: tuple):
    """(key node, value node, place) of each scalar ``password`` inside a ``users`` list."""
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if key.value == "password" and "users" in place and isinstance(value,
                                                                            yaml.ScalarNode):
                yield key, value, place
            else:
                yield from _password_nodes(value, place + (key.value,))
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            yield from _password_nodes(item, place + (i,))
