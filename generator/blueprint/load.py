"""Read a blueprint file: bounded, line-numbered YAML, checked against the records.

A blueprint is a folder holding ``lab.yaml`` (plus the files it references) or a single YAML
file, and it may come from a stranger. The loader only ``stat``s before it opens, reads at most
MAX_BLUEPRINT_BYTES of UTF-8, and refuses, before anything is constructed, nesting past
MAX_YAML_DEPTH, aliases that expand past MAX_YAML_VALUES, strings past MAX_STRING, recursive
aliases, non-scalar and duplicate keys. It records the line of every path (a :class:`Source`),
then validates against :class:`generator.blueprint.schema.Blueprint`. Every problem found is
raised as one :class:`BlueprintError` with its file, line and path.
"""

from __future__ import annotations

import codecs
import copy
import functools
import os
import stat
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from generator.blueprint.confine import confined, hard_link_problem
from generator.blueprint.folder import scan_folder
from generator.blueprint.problems import validation_problems
from generator.blueprint.schema import Blueprint
from generator.blueprint.source import Source, format_path
from generator.blueprint.sshkey import MAX_PUBLIC_KEY, parse_public_key
from generator.errors import BlueprintError, LoaderLimit, Problem, Refused

# Limits of what the loader reads. A blueprint is a few KB; these stop a hostile file early,
# before any of it is turned into Python objects.
MAX_BLUEPRINT_BYTES = 1 << 20  # 1 MiB
MAX_YAML_DEPTH = 64  # nesting of mappings and lists, aliases included
MAX_YAML_VALUES = 200_000  # values after expanding aliases (billion laughs: 387 million)
MAX_STRING = 256 << 10  # characters in one key or value
#: A blueprint file with one of these names is a folder blueprint: its folder is archived.
FOLDER_BLUEPRINTS = ("lab.yaml", "lab.yml")


class _LineLoader(yaml.SafeLoader):
    """A SafeLoader that refuses nesting past MAX_YAML_DEPTH while it composes (PyYAML's
    composer recurses, so a 900-deep file would otherwise end in RecursionError), and turns a
    constructor's ValueError (``2026-13-45``, a 5000-digit int) into a marked YAML error."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        self._depth += 1
        try:
            if self._depth > MAX_YAML_DEPTH:
                raise LoaderLimit(self.peek_event().start_mark.line + 1, (),
                               f"nesting deeper than {MAX_YAML_DEPTH} levels",
                               "flatten the data; a blueprint needs only a few levels")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep)
        except (ValueError, OverflowError) as exc:
            raise yaml.constructor.ConstructorError(
                None, None, f"cannot read this value ({exc})", node.start_mark) from None


def _check_graph(root: yaml.Node) -> None:
    """Refuse recursive aliases, non-scalar keys, long strings, and aliases that expand past
    MAX_YAML_VALUES values or MAX_YAML_DEPTH levels. Each node is visited once (memoised), so
    a billion-laughs file is refused after a few hundred steps and a few KB."""
    memo: dict[int, tuple[int, int]] = {}  # id(node) -> (values, height) once expanded
    active: set[int] = set()

    def visit(node: yaml.Node, depth: int, path: tuple) -> tuple[int, int]:
        line = node.start_mark.line + 1
        if id(node) in active:
            raise LoaderLimit(line, path, "recursive alias: this value contains itself",
                           "write the data out; an alias may not point into itself")
        if id(node) not in memo:
            active.add(id(node))
            memo[id(node)] = measure(node, depth, path)
            active.discard(id(node))
        values, height = memo[id(node)]
        if depth + height > MAX_YAML_DEPTH:
            raise LoaderLimit(line, path, f"nesting deeper than {MAX_YAML_DEPTH} levels "
                           "(through aliases)", "use fewer nested aliases")
        return values, height

    def measure(node: yaml.Node, depth: int, path: tuple) -> tuple[int, int]:
        if isinstance(node, yaml.ScalarNode):
            if len(node.value) > MAX_STRING:
                raise LoaderLimit(node.start_mark.line + 1, path,
                               f"a string of {len(node.value)} characters (at most "
                               f"{MAX_STRING})", "put long content into a file beside the "
                               "blueprint (inject: source:)")
            return 1, 0
        children: list[tuple[yaml.Node, tuple]] = []
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if not isinstance(key, yaml.ScalarNode):
                    raise LoaderLimit(key.start_mark.line + 1, path, "a key that is a list or "
                                   "mapping", "write keys as plain names")
                children += [(key, path), (value, path + (key.value,))]
        else:
            children = [(item, path + (i,)) for i, item in enumerate(node.value)]
        values, height = 1, 0
        for child, child_path in children:
            v, h = visit(child, depth + 1, child_path)
            values, height = values + v, max(height, h + 1)
            if values > MAX_YAML_VALUES:
                raise LoaderLimit(node.start_mark.line + 1, path,
                               f"this expands to more than {MAX_YAML_VALUES} values "
                               "(aliases repeated inside aliases)",
                               "write the data out, or use fewer aliases")
        return values, height

    visit(root, 1, ())


def _record_lines(node: yaml.Node, path: tuple, lines: dict[tuple, int]) -> None:
    """The line of every mapping key and sequence item, by path. Bounded by _check_graph."""
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: set[Any] = set()
        for key_node, value_node in node.value:
            key = key_node.value
            if key in seen:
                raise LoaderLimit(key_node.start_mark.line + 1, path + (key,),
                               f"duplicate key '{key}'",
                               "each name may appear once; rename or merge them")
            seen.add(key)
            lines[path + (key,)] = key_node.start_mark.line + 1
            _record_lines(value_node, path + (key,), lines)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            lines[path + (i,)] = item.start_mark.line + 1
            _record_lines(item, path + (i,), lines)


def locate(path: Path) -> Path:
    """The YAML file of a blueprint given as a folder or a file. Only ``stat``s, never opens:
    a FIFO or device named as the blueprint is refused instead of read."""
    try:
        is_dir = stat.S_ISDIR(os.stat(path).st_mode)
    except (OSError, ValueError):  # ValueError: a NUL in the path
        is_dir = False
    if is_dir:
        for name in FOLDER_BLUEPRINTS:
            if os.path.lexists(path / name):
                return _checked_file(path / name)
        raise BlueprintError([Problem(str(path), None, "", "no lab.yaml in this folder",
                                      "create lab.yaml, or pass the YAML file itself")])
    return _checked_file(path)


def _checked_file(file: Path) -> Path:
    """``file`` if it is a regular file that is not a symlink out of its own folder."""
    def refuse(message: str, fix: str) -> BlueprintError:
        return BlueprintError([Problem(str(file), None, "", message, fix)])

    if file.is_symlink():
        folder, real = os.path.realpath(file.parent), os.path.realpath(file)
        if os.path.commonpath([folder, real]) != folder:
            raise refuse(f"is a symlink that leads out of its folder (to {real})",
                         "replace the link by the file itself")
    try:
        mode = os.stat(file).st_mode
    except (OSError, ValueError):
        raise refuse("no such file or folder", "check the path") from None
    if not stat.S_ISREG(mode):
        raise refuse(f"is a {_file_kind(mode)}, not a YAML file",
                     "pass a blueprint folder or its lab.yaml")
    return file


def _file_kind(mode: int) -> str:
    for test, name in ((stat.S_ISDIR, "folder"), (stat.S_ISFIFO, "FIFO (named pipe)"),
                       (stat.S_ISCHR, "character device"), (stat.S_ISBLK, "block device"),
                       (stat.S_ISSOCK, "socket")):
        if test(mode):
            return name
    return "special file"


def _read_text(file: Path) -> str:
    """The blueprint's text: at most MAX_BLUEPRINT_BYTES of UTF-8 without NUL bytes. A
    problem names the byte offset and line. O_NONBLOCK: a file swapped for a FIFO after
    :func:`locate` cannot block the open."""
    def refuse(line: int | None, message: str, fix: str) -> BlueprintError:
        return BlueprintError([Problem(str(file), line, "", message, fix)])

    try:
        fd = os.open(file, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as exc:
        raise refuse(None, f"cannot be read: {exc.strerror}", "check the file's permissions"
                     ) from None
    with os.fdopen(fd, "rb") as fh:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise refuse(None, "is not a regular file", "pass a blueprint folder or its lab.yaml")
        linked = hard_link_problem(file.name, st)
        if linked:
            raise refuse(None, *linked)
        data = fh.read(MAX_BLUEPRINT_BYTES + 1)
    if len(data) > MAX_BLUEPRINT_BYTES:
        raise refuse(None, f"the file is larger than {MAX_BLUEPRINT_BYTES >> 10} KiB",
                     "a blueprint is a few KB; keep big content in files beside it "
                     "(inject: source:)")
    for bom, name in ((codecs.BOM_UTF32_LE, "UTF-32"), (codecs.BOM_UTF32_BE, "UTF-32"),
                      (codecs.BOM_UTF16_LE, "UTF-16"), (codecs.BOM_UTF16_BE, "UTF-16")):
        if data.startswith(bom):
            raise refuse(1, f"the file is {name} (it starts with a {name} byte-order mark)",
                         "save it as UTF-8")
    nul = data.find(b"\0")
    if nul >= 0:
        line = data.count(b"\n", 0, nul) + 1
        if min(data[0::2].count(0), data[1::2].count(0)) * 4 < len(data) < \
                max(data[0::2].count(0), data[1::2].count(0)) * 4:
            raise refuse(line, "the file looks like UTF-16 (a NUL byte after every character)",
                         "save it as UTF-8")
        raise refuse(line, f"NUL byte at byte offset {nul}", "remove it; a blueprint is text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise refuse(line, f"not UTF-8: byte 0x{data[exc.start]:02x} at byte offset "
                     f"{exc.start} ({exc.reason})", "save the file as UTF-8 (it may be "
                     "Latin-1 or Windows-1252)") from None


#: Texts up to this size are remembered by :func:`_parse` (a blueprint or recipe is a few KB).
PARSE_CACHE_TEXT = 64 << 10


def _parse(file: Path, text: str) -> tuple[Any, dict[tuple, int]]:
    """:func:`_parse_text`, remembered for small texts: ``validate`` and ``build`` read the
    blueprint twice (the recipe plan, then the resolve) and the built-in recipes once per
    blueprint, and PyYAML's pure-Python parser is slow. The result is a function of
    (file, text) alone; each caller gets its own copy (``deepcopy`` keeps the sharing that
    aliases made), so what one changes never reaches the next. Errors are not remembered."""
    if len(text) > PARSE_CACHE_TEXT:
        return _parse_text(file, text)
    data, lines = _parse_remembered(file, text)
    return copy.deepcopy(data), dict(lines)


@functools.lru_cache(maxsize=32)
def _parse_remembered(file: Path, text: str) -> tuple[Any, dict[tuple, int]]:
    return _parse_text(file, text)


def _parse_text(file: Path, text: str) -> tuple[Any, dict[tuple, int]]:
    """Compose once, check the node graph against the limits, record lines, construct."""
    loader = None
    try:
        loader = _LineLoader(text)  # the reader checks every character here
        root = loader.get_single_node()
        lines: dict[tuple, int] = {}
        if root is not None:
            _check_graph(root)
            _record_lines(root, (), lines)
        data = loader.construct_document(root) if root is not None else None
    except LoaderLimit as exc:
        raise BlueprintError([Problem(str(file), exc.line, format_path(exc.path), exc.message,
                                      exc.fix)]) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        raise BlueprintError([Problem(str(file), line, "", f"malformed YAML: {exc.problem}",
                                      "fix the YAML syntax at that line")]) from None
    except yaml.reader.ReaderError as exc:  # a character YAML does not allow (e.g. ESC)
        line = text.count("\n", 0, exc.position) + 1
        raise BlueprintError([Problem(str(file), line, "", f"character U+{exc.character:04X} "
                                      f"is not allowed in YAML",
                                      "remove it, or write it as an escape in a "
                                      "double-quoted string")]) from None
    finally:
        if loader is not None:
            loader.dispose()
    return data, lines


def load_blueprint(path: Path) -> tuple[Blueprint, Source]:
    """Read and check a blueprint. Raises BlueprintError listing every problem."""
    file = locate(Path(path))
    data, lines = _parse(file, _read_text(file))
    source = Source(file=file, folder=file.parent, lines=lines)
    if not isinstance(data, dict):
        raise BlueprintError([source.problem((), "a blueprint must be a YAML mapping",
                                             "start with 'name: mylab' and 'nodes:'")])
    try:
        blueprint = Blueprint.model_validate(data)
    except ValidationError as exc:
        raise BlueprintError(validation_problems(source, exc)) from None
    return blueprint, source


def check_brought_files(blueprint: Blueprint, source: Source) -> None:
    """Checks of what a blueprint brings beside its YAML, made after resolve (whose messages
    name the line that names a file come first): ``ssh_key:``'s ``.pub`` and, for a folder
    blueprint, every file of the folder that would be archived."""
    check_public_key(blueprint, source)
    if source.file.name in FOLDER_BLUEPRINTS:  # its folder travels too: refuse what may not
        scan_folder(source.folder, source.file)


def check_public_key(blueprint: Blueprint, source: Source) -> None:
    """``ssh_key:``'s ``.pub`` is one OpenSSH public key (it reaches every node's
    authorized_keys). Where the file is missing or not confined, resolve says so."""
    if blueprint.ssh_key is None:
        return
    written = blueprint.ssh_key + ".pub"
    try:
        pub = confined(source.folder, written, "file")
        fd = os.open(pub, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except (Refused, OSError):
        return  # resolve reports the path with its own words
    with os.fdopen(fd, "rb") as fh:
        data = fh.read(MAX_PUBLIC_KEY + 1)
    try:
        parse_public_key(data, written)
    except Refused as exc:
        raise BlueprintError([source.problem(("ssh_key",), exc.message, exc.fix)]) from None
