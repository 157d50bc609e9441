"""The blueprint loader (generator.blueprint.load), called directly: its limits on size, depth,
aliases and strings, duplicate and non-scalar keys, bad encodings, and the line and path of
every problem it reports (fast, pure: files in tmp_path only)."""

from __future__ import annotations

import codecs
import os
from pathlib import Path

import pytest

from generator.blueprint import schema
from generator.blueprint.load import (
    MAX_BLUEPRINT_BYTES,
    MAX_STRING,
    MAX_YAML_DEPTH,
    MAX_YAML_VALUES,
    load_blueprint,
    locate,
)
from generator.blueprint.source import Source, closest, format_path
from generator.errors import BlueprintError, Problem

GOOD = "name: lab1\nnodes:\n  vm1: {appliance: Debian}\n"


def problems_of(tmp_path: Path, text: str | bytes) -> list[Problem]:
    """The problems loading ``text`` as lab.yaml raises (it must raise)."""
    file = tmp_path / "lab.yaml"
    if isinstance(text, bytes):
        file.write_bytes(text)
    else:
        file.write_text(text)
    with pytest.raises(BlueprintError) as info:
        load_blueprint(tmp_path)
    assert info.value.problems
    for p in info.value.problems:
        assert p.file == str(file)
    return info.value.problems


def only(problems: list[Problem]) -> Problem:
    assert len(problems) == 1, [p.render() for p in problems]
    return problems[0]


def test_a_good_blueprint_loads_with_the_line_of_every_path(tmp_path: Path) -> None:
    (tmp_path / "lab.yaml").write_text(GOOD)
    blueprint, source = load_blueprint(tmp_path)
    assert isinstance(blueprint, schema.Blueprint)
    assert blueprint.name == "lab1" and list(blueprint.nodes) == ["vm1"]
    assert source.file == tmp_path / "lab.yaml" and source.folder == tmp_path
    assert source.line(("name",)) == 1
    assert source.line(("nodes", "vm1")) == 3
    assert source.line(("nodes", "vm1", "appliance")) == 3
    # A path the file does not hold falls back to its closest recorded parent.
    assert source.line(("nodes", "vm1", "ram", 0)) == 3


def test_nesting_past_the_limit_is_refused_while_composing(tmp_path: Path) -> None:
    deep = "x: " + "[" * (MAX_YAML_DEPTH + 5) + "]" * (MAX_YAML_DEPTH + 5) + "\n"
    p = only(problems_of(tmp_path, "name: lab1\n" + deep))
    assert f"nesting deeper than {MAX_YAML_DEPTH} levels" in p.message
    assert p.line == 2


def test_nesting_at_the_limit_reaches_the_schema(tmp_path: Path) -> None:
    """Depth 64 is allowed (the root mapping and extra's own value count): the loader lets it
    through and the schema takes free data under ``extra``."""
    depth = MAX_YAML_DEPTH - 2  # the root mapping, then extra's value
    text = GOOD + "extra:\n  d: " + "[" * depth + "]" * depth + "\n"
    (tmp_path / "lab.yaml").write_text(text)
    blueprint, _ = load_blueprint(tmp_path)
    assert "d" in blueprint.extra


def test_depth_through_aliases_is_counted(tmp_path: Path) -> None:
    half = MAX_YAML_DEPTH // 2 + 4
    text = ("name: lab1\n"
            f"a: &deep {'[' * half}{']' * half}\n"
            f"b: {'[' * half}*deep{']' * half}\n")
    p = only(problems_of(tmp_path, text))
    assert "through aliases" in p.message
    # The path is where the alias is used; the line is the anchored value's (the alias node
    # is that very node).
    assert p.line == 2 and p.path.startswith("b[0][0]")


def test_billion_laughs_is_refused_early(tmp_path: Path) -> None:
    lines = ["name: lab1", "l0: &l0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        lines.append(f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 10) + "]")
    p = only(problems_of(tmp_path, "\n".join(lines) + "\n"))
    assert f"more than {MAX_YAML_VALUES} values" in p.message
    assert p.line is not None and 3 <= p.line <= 10
    assert p.path.startswith("l")


def test_recursive_alias_is_refused(tmp_path: Path) -> None:
    p = only(problems_of(tmp_path, "name: lab1\nloop: &me [1, *me]\n"))
    assert "recursive alias" in p.message
    assert p.line == 2 and p.path.startswith("loop")


def test_a_long_string_is_refused_with_its_place(tmp_path: Path) -> None:
    text = f"name: lab1\ndescription: {'a' * (MAX_STRING + 1)}\n"
    p = only(problems_of(tmp_path, text))
    assert f"a string of {MAX_STRING + 1} characters" in p.message
    assert (p.line, p.path) == (2, "description")


def test_a_file_past_the_size_limit_is_refused_before_parsing(tmp_path: Path) -> None:
    text = GOOD + "#" * (MAX_BLUEPRINT_BYTES + 1) + "\n"
    p = only(problems_of(tmp_path, text))
    assert f"larger than {MAX_BLUEPRINT_BYTES >> 10} KiB" in p.message
    assert p.line is None


def test_duplicate_keys_name_the_second_one(tmp_path: Path) -> None:
    text = "name: lab1\nnodes:\n  vm1: {appliance: Debian}\n  vm1: {appliance: Debian}\n"
    p = only(problems_of(tmp_path, text))
    assert p.message == "duplicate key 'vm1'"
    assert (p.line, p.path) == (4, "nodes.vm1")


def test_a_key_that_is_a_list_is_refused(tmp_path: Path) -> None:
    p = only(problems_of(tmp_path, "name: lab1\n? [a, b]\n: 1\n"))
    assert "a key that is a list or mapping" in p.message
    assert p.line == 2


@pytest.mark.parametrize(("data", "words", "line"), [
    (codecs.BOM_UTF16_LE + "name: x\n".encode("utf-16-le"), "UTF-16", 1),
    (b"name: lab1\nnodes: {}\n\0\n", "NUL byte at byte offset 21", 3),
    (b"name: lab1\ndescription: caf\xe9\n", "not UTF-8: byte 0xe9", 2),
    (b"name: lab1\ndescription: \x1b\n", "U+001B is not allowed", 2),
    (b"name: lab1\nnodes: [\n", "malformed YAML", 3),
])
def test_bad_bytes_are_reported_at_their_line(tmp_path: Path, data: bytes, words: str,
                                              line: int) -> None:
    p = only(problems_of(tmp_path, data))
    assert words in p.message
    assert p.line == line


def test_validation_problems_carry_line_path_and_fix(tmp_path: Path) -> None:
    text = ("name: lab1\n"
            "nodes:\n"
            "  vm1:\n"
            "    appliance: Debian\n"
            "    ramm: 512\n"
            "  vm2: {appliance: Debian, cpus: 999}\n")
    problems = problems_of(tmp_path, text)
    by_path = {p.path: p for p in problems}
    assert set(by_path) == {"nodes.vm1.ramm", "nodes.vm2.cpus"}
    unknown = by_path["nodes.vm1.ramm"]
    assert (unknown.line, unknown.message) == (5, "unknown key 'ramm'")
    assert unknown.fix is not None and "did you mean 'ram'?" in unknown.fix
    bound = by_path["nodes.vm2.cpus"]
    assert bound.line == 6 and bound.fix == "use a number at most 255"
    assert [p.line for p in problems] == sorted(p.line or 0 for p in problems)


def test_not_a_mapping(tmp_path: Path) -> None:
    p = only(problems_of(tmp_path, "- just\n- a list\n"))
    assert p.message == "a blueprint must be a YAML mapping"


def test_locate_takes_a_folder_or_its_file_and_refuses_the_rest(tmp_path: Path) -> None:
    (tmp_path / "lab.yml").write_text(GOOD)
    assert locate(tmp_path) == tmp_path / "lab.yml"
    assert locate(tmp_path / "lab.yml") == tmp_path / "lab.yml"
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(BlueprintError, match="no lab.yaml in this folder"):
        locate(empty)
    os.mkfifo(tmp_path / "pipe.yaml")
    with pytest.raises(BlueprintError, match=r"FIFO \(named pipe\), not a YAML file"):
        locate(tmp_path / "pipe.yaml")
    outside = tmp_path / "outside.yaml"
    outside.write_text(GOOD)
    inner = tmp_path / "inner"
    inner.mkdir()
    (inner / "lab.yaml").symlink_to(outside)
    with pytest.raises(BlueprintError, match="symlink that leads out of its folder"):
        locate(inner)


def test_source_format_path_and_closest() -> None:
    assert format_path(("links", 3, "b")) == "links[3].b"
    assert format_path(()) == ""
    assert closest("debain", ["debian", "cumulus"]) == "did you mean 'debian'?"
    assert closest("zzz", []) == "none are defined"
    assert closest("zzz", ["a", "b"]) == "known: a, b"
    src = Source(file=Path("x/lab.yaml"), folder=Path("x"), lines={(): 1, ("a",): 4})
    p = src.problem(("a", "b"), "bad", "fix it")
    assert p.render() == "x/lab.yaml:4: a.b: bad (fix: fix it)"
