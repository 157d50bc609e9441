"""The files of a blueprint folder that travel with the archive, checked before any is read.

A folder blueprint (``lab.yaml`` in a folder) is archived with its plain files. The walk only
``lstat``s; ``.gitignore`` files are read as text (:mod:`generator.blueprint.ignore`), and no
program runs in the folder. Left out, with a note: hidden entries, ``__pycache__`` and
``.pyc``, what git ignores, symlinks (never followed), files past MAX_FILE_BYTES, earlier
archives and whatever the caller skips (the output folder, the lab's key). Refused (exit 2),
because nothing a stranger ships may reach the builder's own files or trip a reader:

- a FIFO, socket or device (reading one blocks or never ends);
- a regular file with more than one name (a hard link: ``ln /etc/shadow notes.txt`` would
  otherwise ship the host's file; a link inside the folder cannot be told from one out);
- a name that is not UTF-8 or holds a control character (no archive can carry it faithfully);
- two names that differ only by case or by Unicode normalisation (``Notes.txt`` and
  ``notes.txt``, a composed and a decomposed ``é``): GNS3 may extract the archive on a file
  system that folds them into one file;
- more than MAX_TREE_FILES files.

``validate`` runs the same walk as ``build``, so both refuse the same folders.
"""

from __future__ import annotations

import os
import stat
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from generator.blueprint.confine import MAX_FILE_BYTES, MAX_TREE_FILES, hard_link_problem
from generator.blueprint.ignore import IgnoreFile, is_ignored, read_ignore_file
from generator.errors import BlueprintError, Problem


@dataclass
class FolderScan:
    """What a walk of the folder found: the files to archive (relative '/'-separated name ->
    path) and what is left out, with why."""

    files: dict[str, Path] = field(default_factory=dict)
    left_out: list[tuple[str, str]] = field(default_factory=list)


def scan_folder(folder: Path, blueprint_file: Path, skip: Iterable[Path] = ()) -> FolderScan:
    """Walk ``folder`` (a folder blueprint's) as :mod:`generator.blueprint.folder` says; raise
    one :class:`BlueprintError` with every refused entry."""
    skipped = {os.path.realpath(p) for p in skip}
    scan, problems = FolderScan(), []
    stacks: dict[str, list[IgnoreFile]] = {}
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=False):
        here = Path(dirpath)
        base = here.relative_to(folder).as_posix() if here != folder else ""
        parent = stacks.get(base.rpartition("/")[0], []) if base else []
        own = read_ignore_file(here, base)
        stack = stacks[base] = [*parent, own] if own else parent
        keep_dirs = []
        for name in sorted(dirnames):
            rel = f"{base}/{name}" if base else name
            if _kept(here / name, rel, True, stack, skipped, scan):
                keep_dirs.append(name)
        dirnames[:] = keep_dirs
        for name in sorted(filenames):
            path, rel = here / name, f"{base}/{name}" if base else name
            st = None if path == blueprint_file else _kept(path, rel, False, stack, skipped,
                                                             scan)
            if st is None:
                continue
            problem = entry_problem(rel, st)
            if problem:
                problems.append(Problem(shown_path(folder, rel), None, "", *problem))
            else:
                scan.files[rel] = path
        if len(scan.files) > MAX_TREE_FILES:
            raise BlueprintError([Problem(str(folder), None, "", f"more than {MAX_TREE_FILES} "
                                          "files would be archived with the blueprint",
                                          "keep the blueprint in a folder of its own, or list "
                                          "what stays out in .gitignore")])
    problems += collisions(folder, [blueprint_file.name, *scan.files])
    if problems:
        raise BlueprintError(problems)
    return scan


def _kept(path: Path, rel: str, is_dir: bool, stack: list[IgnoreFile], skipped: set[str],
          scan: FolderScan) -> os.stat_result | None:
    """The ``lstat`` of ``path`` when the walk keeps it; None when it passes it by (recording
    why, unless it is hidden)."""
    name = path.name
    if name.startswith(".") or name == "__pycache__" or name.endswith(".pyc"):
        return None
    try:
        st = os.lstat(path)
    except OSError:  # removed while the folder was walked
        scan.left_out.append((rel, "gone while the folder was read"))
        return None
    if stat.S_ISLNK(st.st_mode):
        reason = "a symlink; links are never followed"
    elif os.path.realpath(path) in skipped or name.endswith(".gns3project"):
        reason = "the output folder, an archive or the lab's private key"
    elif is_ignored(stack, rel, is_dir):
        reason = "git ignores it"
    elif stat.S_ISREG(st.st_mode) and st.st_size > MAX_FILE_BYTES:
        reason = f"{st.st_size} bytes, larger than {MAX_FILE_BYTES}"
    else:
        return st
    scan.left_out.append((rel, reason))
    return None


def entry_problem(rel: str, st: os.stat_result) -> tuple[str, str] | None:
    """(message, fix) when the entry ``rel`` with status ``st`` may not be archived."""
    if not stat.S_ISREG(st.st_mode):
        what = ("a FIFO (named pipe)" if stat.S_ISFIFO(st.st_mode) else "a socket"
                if stat.S_ISSOCK(st.st_mode) else "a device" if stat.S_ISCHR(st.st_mode)
                or stat.S_ISBLK(st.st_mode) else "not a regular file")
        return (f"is {what}: a blueprint folder holds plain files only",
                "remove it from the blueprint folder, or list it in .gitignore")
    if rel != printable_name(rel):
        return ("the name has a control character or bytes that are not UTF-8", "rename it")
    return hard_link_problem(rel, st)


def printable_name(rel: str) -> str:
    """``rel`` for a message: control characters and bytes that are not UTF-8 escaped
    (``\\n``, ``\\xff``); a name that needs none comes back unchanged."""
    text = os.fsencode(rel).decode("utf-8", "backslashreplace")
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def shown_path(folder: Path, rel: str) -> str:
    """Where an entry is, for a message (its name escaped)."""
    return f"{folder}/{printable_name(rel)}"


def collisions(folder: Path, names: Iterable[str]) -> list[Problem]:
    """One problem per pair of names (or folder names) that differ only by case or Unicode
    normalisation: a case-insensitive or normalising file system makes them one file."""
    seen: dict[str, str] = {}
    reported: set[str] = set()
    problems = []
    for name in names:
        parts = name.split("/")
        for depth in range(1, len(parts) + 1):
            prefix = "/".join(parts[:depth])
            key = unicodedata.normalize("NFC", prefix).casefold()
            other = seen.setdefault(key, prefix)
            if other != prefix and prefix not in reported:
                reported.add(prefix)
                problems.append(Problem(shown_path(folder, prefix), None, "",
                                        _folding(prefix, other),
                                        "rename one of the two"))
    return problems


def _folding(name: str, other: str) -> str:
    """Why two names are one on some file systems: case, or Unicode normalisation (then both
    spelled with escapes, since they print alike)."""
    folds = "a file system that folds them (macOS, Windows) makes them one file"
    if unicodedata.normalize("NFC", name) == unicodedata.normalize("NFC", other):
        return (f"{ascii(name)} and {ascii(other)} are one name in two Unicode normalisations "
                f"(composed and decomposed characters): {folds}")
    return f"differs from '{printable_name(other)}' only by case: {folds}"
