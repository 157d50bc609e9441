"""The blueprint as the archive carries it: its plain files, never a secret.

What goes in: the blueprint's YAML (console passwords replaced by their SHA-512 crypt hash)
and the files :func:`generator.blueprint.folder.scan_folder` lists. What never goes in:
symlinks (a ``keys -> ~/.ssh`` link would copy the builder's keys), hidden entries, the output
folder and earlier archives, whatever the folder's ``.gitignore`` files ignore (read as text:
no program runs in a stranger's folder), and any file with a private key anywhere in it. A
FIFO, a device, a hard link or names that collide by case are refused (exit 2).

Each file is opened without following links or blocking, checked again on the open file (it
may have been swapped since the walk), and scanned for a private key while it is copied.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

import yaml

from generator.blueprint.confine import MAX_FILE_BYTES
from generator.blueprint.folder import entry_problem, scan_folder, shown_path
from generator.blueprint.load import FOLDER_BLUEPRINTS
from generator.errors import BlueprintError, Problem
from generator.model import Lab
from generator.passwords import derived_salt, sha512_crypt
from generator.secretscan import scan

CHUNK = 1 << 20


def copy_blueprint(lab: Lab, target: Path, out_dir: Path,
                   note: Callable[[str], None] = lambda _: None) -> list[Path]:
    """Write the archived blueprint into ``target``; ``note`` hears what was left out, why.
    Returns the source files archived (the blueprint's YAML first)."""
    target.mkdir(parents=True)
    yaml_text = lab.blueprint_file.read_text(encoding="utf-8")
    (target / lab.blueprint_file.name).write_text(hash_passwords(yaml_text, lab.name),
                                                  encoding="utf-8")
    if lab.blueprint_file.name not in FOLDER_BLUEPRINTS:
        return [lab.blueprint_file]  # a single-file blueprint: the file alone
    skip = [p for p in (out_dir, lab.ssh_key) if p is not None]
    walked = scan_folder(lab.blueprint_folder, lab.blueprint_file, skip)
    for rel, reason in walked.left_out:
        note(f"not archived: {rel} ({reason})")
    archived = [lab.blueprint_file]
    for rel, path in walked.files.items():
        if copy_plain_file(path, rel, target / rel):
            archived.append(path)
        else:
            note(f"not archived: {rel} (a private key)")
    return archived


def copy_plain_file(path: Path, rel: str, dest: Path) -> bool:
    """Copy ``path`` to ``dest`` unless it holds a private key anywhere (then False, and no
    byte of it is written). The open file is checked as the walk checked its name, scanned,
    then copied from the same descriptor."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as exc:
        raise BlueprintError([Problem(shown_path(path.parent, path.name), None, "",
                                      f"cannot be read: {exc.strerror}", "check the file's "
                                      "permissions, or list it in .gitignore")]) from None
    with os.fdopen(fd, "rb") as src:
        problem = entry_problem(rel, os.fstat(fd))
        if problem:
            raise BlueprintError([Problem(shown_path(path.parent, path.name), None, "",
                                          *problem)])
        if scan(_chunks(src)).private_key:
            return False
        src.seek(0)
        dest.parent.mkdir(parents=True, exist_ok=True)
        with dest.open("wb") as out:
            for chunk in _chunks(src):
                out.write(chunk)
    return True


def _chunks(src: BinaryIO) -> Iterator[bytes]:
    """The file's bytes in chunks, at most MAX_FILE_BYTES (the walk checked the size; a file
    growing since stops there)."""
    left = MAX_FILE_BYTES
    while left > 0 and (chunk := src.read(min(CHUNK, left))):
        left -= len(chunk)
        yield chunk


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


def _password_nodes(node: yaml.Node | None,
                    place: tuple) -> Iterator[tuple[yaml.Node, yaml.Node, tuple]]:
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
