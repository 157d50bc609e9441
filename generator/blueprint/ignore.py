"""Which files of a blueprint folder git would ignore, decided without running git.

Running ``git check-ignore`` inside a stranger's folder runs that folder's own ``.git/config``
(``core.fsmonitor``, hooks, filters): a blueprint could run a command on the builder. So the
``.gitignore`` files are read here, as text, with this subset of gitignore(5):

- every ``.gitignore`` inside the blueprint folder (a regular file, not a symlink, its first
  MAX_IGNORE_BYTES); a deeper file overrides a higher one, and inside one file the last
  matching line wins. Not read: ``.git/info/exclude``, ``core.excludesFile``, and
  ``.gitignore`` files above the blueprint folder (the folder is what travels);
- blank lines and ``#`` comments are skipped; trailing spaces are dropped unless escaped;
  ``\\#`` and ``\\!`` start a literal ``#`` or ``!``;
- ``!pattern`` re-includes; a file inside an ignored folder stays ignored (git never looks
  inside it, and neither does the walk);
- ``pattern/`` matches folders only; a ``/`` at the start or in the middle anchors the pattern
  to the ``.gitignore``'s folder, else it matches at any depth;
- ``*`` and ``?`` (never ``/``), ``[a-z]`` and ``[!a-z]``, ``\\x`` for a literal ``x``; ``**/``
  at the start (any folder), ``/**`` at the end (everything inside), ``/**/`` (zero or more
  folders).

A line beyond those (more than MAX_DOUBLE_STARS ``**``, longer than MAX_PATTERN characters, an
unclosed ``[``) is skipped: ignoring is a convenience of the author's, so a line that is not
understood archives a file of the blueprint's own rather than dropping it. Matching cannot
backtrack without end: each ``*`` is an atomic group (as ``fnmatch`` does).
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path

MAX_IGNORE_BYTES = 64 << 10  # of one .gitignore
MAX_RULES = 2000  # lines kept from one .gitignore
MAX_PATTERN = 1024  # characters of one pattern
MAX_DOUBLE_STARS = 4  # '**' segments in one pattern


@dataclass(frozen=True)
class Rule:
    """One pattern line: its regex (on the path relative to its .gitignore's folder)."""

    regex: re.Pattern[str]
    negate: bool
    dir_only: bool

    def matches(self, rel: str, is_dir: bool) -> bool:
        return (is_dir or not self.dir_only) and self.regex.fullmatch(rel) is not None


@dataclass(frozen=True)
class IgnoreFile:
    """The rules of one ``.gitignore``, and the folder (relative, '' for the root) it is in."""

    base: str
    rules: tuple[Rule, ...]


def parse_rule(line: str) -> Rule | None:
    """One line of a .gitignore as a :class:`Rule`, or None (blank, comment, not understood)."""
    line = line.rstrip("\n").rstrip("\r")
    line = re.sub(r"(?<!\\)\s+$", "", line)  # trailing blanks, unless escaped
    if not line or line.startswith("#") or len(line) > MAX_PATTERN:
        return None
    negate = line.startswith("!")
    if negate:
        line = line[1:]
    elif line.startswith(("\\!", "\\#")):
        line = line[1:]
    dir_only = line.endswith("/") and not line.endswith("\\/")
    line = line[:-1] if dir_only else line
    anchored = "/" in line
    line = line.lstrip("/")
    if not line or line.count("**") > MAX_DOUBLE_STARS:
        return None
    try:
        body = _translate(line.split("/"))
        regex = re.compile(body if anchored else "(?:.*/)?" + body, re.DOTALL)
    except (re.error, ValueError):
        return None
    return Rule(regex, negate, dir_only)


def _translate(parts: list[str]) -> str:
    """The regex of a pattern split at '/': segments joined by '/', with '**' segments."""
    parts = [p for i, p in enumerate(parts) if not (p == "**" and i and parts[i - 1] == "**")]
    out = ""
    for i, seg in enumerate(parts):
        first, last = i == 0, i == len(parts) - 1
        if seg == "**":
            out += (".*" if last else "(?:.*/)?") if first else "/.*" if last else "(?:/.*)?"
            continue
        if not first and not (i == 1 and parts[0] == "**"):
            out += "/"  # after a leading '**', '(?:.*/)?' already ends with the slash
        out += _segment(seg)
    return out


def _segment(seg: str) -> str:
    """One path segment: ``*`` and ``?`` never cross '/'. Each ``*`` before more text is an
    atomic group reaching the next literal piece's first occurrence (no exponential
    backtracking on hostile patterns such as ``*a*a*a*a*b``)."""
    pieces = re.split(r"(?<!\\)\*+", seg)
    if len(pieces) == 1:
        return _piece(seg)
    out = _piece(pieces[0])
    for piece in pieces[1:-1]:
        out += f"(?>[^/]*?{_piece(piece)})"
    return out + "[^/]*" + _piece(pieces[-1])


def _piece(text: str) -> str:
    """Text without '*': ``?``, ``[...]`` classes and ``\\x`` escapes; the rest literal."""
    out, i = "", 0
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text):
            out += re.escape(text[i + 1])
            i += 2
            continue
        if c == "?":
            out += "[^/]"
        elif c == "[":
            end = text.find("]", i + 2)
            if end < 0:
                raise ValueError("unclosed [")
            inner = text[i + 1:end]
            neg = inner[:1] in ("!", "^")
            inner = inner[1:] if neg else inner
            inner = "".join("\\" + ch if ch in "\\[]^" else ch for ch in inner)
            out += f"[{'^' if neg else ''}{inner}]"
            i = end
        else:
            out += re.escape(c)
        i += 1
    return out


def read_ignore_file(folder: Path, base: str) -> IgnoreFile | None:
    """``folder/.gitignore`` as rules, or None when there is none (or it is not a plain
    file: a symlink or FIFO named ``.gitignore`` is not followed, as git does)."""
    path = folder / ".gitignore"
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        data = fh.read(MAX_IGNORE_BYTES)
    rules = [r for r in map(parse_rule, data.decode("utf-8", "replace").splitlines()) if r]
    return IgnoreFile(base, tuple(rules[:MAX_RULES])) if rules else None


def is_ignored(stack: list[IgnoreFile], rel: str, is_dir: bool) -> bool:
    """Whether ``rel`` (relative to the blueprint folder, '/'-separated) is ignored by the
    ``.gitignore`` files of its folder and the folders above (``stack``, root first)."""
    for ignore in reversed(stack):
        sub = rel[len(ignore.base) + 1:] if ignore.base else rel
        for rule in reversed(ignore.rules):
            if rule.matches(sub, is_dir):
                return not rule.negate
    return False
