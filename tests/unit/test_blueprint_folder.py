"""The blueprint folder's walk, pure (issue 17, findings 1, 4, 13): the gitignore subset read
without git, refusals (hard links, FIFOs, sockets, devices, folded names, undecodable names),
private keys found anywhere in a file, the .pub grammar, and the smaller messages."""

from __future__ import annotations

import os
import socket
import time
import unicodedata
from pathlib import Path

import pytest

from generator.blueprint.confine import check_mode, confined
from generator.blueprint.folder import entry_problem, scan_folder
from generator.blueprint.ignore import IgnoreFile, is_ignored, parse_rule
from generator.blueprint.sshkey import parse_public_key
from generator.errors import ArchiveError, BlueprintError, Refused
from generator.naming import MAX_BOUND_DIGITS, expand_name
from generator.read.secrets import CHUNK, is_private_key_file
from generator.write.archive import check_folded_names

KEY = ("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n"
       "-----END OPENSSH PRIVATE KEY-----\n")
#: A real ed25519 public key line (ssh-keygen's output for a throwaway key).
PUB = ("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFb8jHhbk3Ts2m6r1L0WlUe0D4QHbq7m0lR0o1dJ8QmN "
       "me@example")


# --------------------------------------------------------------------------- gitignore subset


@pytest.mark.parametrize(("pattern", "path", "is_dir", "ignored"), [
    ("*.log", "a.log", False, True), ("*.log", "x/y/a.log", False, True),
    ("*.log", "a.logx", False, False), ("/build", "build", True, True),
    ("/build", "x/build", True, False), ("build/", "x/build", True, True),
    ("build/", "build", False, False), ("doc/*.txt", "doc/a.txt", False, True),
    ("doc/*.txt", "doc/x/a.txt", False, False), ("doc/*.txt", "x/doc/a.txt", False, False),
    ("**/foo", "foo", False, True), ("**/foo", "a/b/foo", False, True),
    ("a/**/b", "a/b", False, True), ("a/**/b", "a/x/y/b", False, True),
    ("a/**/b", "a/xb", False, False), ("foo/**", "foo/a/b", False, True),
    ("foo/**", "foo", True, False), ("logs/*", "logs", True, False),
    ("[ab]c", "bc", False, True), ("[!ab]c", "bc", False, False), ("[!ab]c", "dc", False, True),
    ("?x", "ax", False, True), ("\\#a", "#a", False, True), ("\\!a", "!a", False, True),
    ("a\\ ", "a ", False, True), ("a  ", "a", False, True), ("\\*", "*", False, True),
    ("\\*", "x", False, False),
])
def test_a_gitignore_line_matches_as_git_does(pattern: str, path: str, is_dir: bool,
                                              ignored: bool) -> None:
    rule = parse_rule(pattern)
    assert rule is not None
    assert rule.matches(path, is_dir) is ignored


@pytest.mark.parametrize("line", ["", "   ", "# a comment", "/", "!", "[abc", "a/**/**/**/**/**/b",
                                  "x" * 2000])
def test_lines_not_understood_are_skipped(line: str) -> None:
    assert parse_rule(line) is None


def test_a_hostile_pattern_cannot_backtrack_for_ever() -> None:
    rule = parse_rule("*a*a*a*a*a*a*a*a*a*a*a*a*b")
    assert rule is not None
    start = time.monotonic()
    assert not rule.matches("a" * 250, False)
    assert time.monotonic() - start < 0.5


def test_deeper_gitignore_and_later_lines_win() -> None:
    stack = [IgnoreFile("", tuple(filter(None, map(parse_rule, ["*.txt", "!keep.txt"])))),
             IgnoreFile("sub", (parse_rule("keep.txt"),))]  # type: ignore[arg-type]
    assert is_ignored(stack, "a.txt", False)
    assert not is_ignored(stack, "keep.txt", False)
    assert is_ignored(stack, "sub/keep.txt", False)
    assert not is_ignored(stack[:1], "sub/keep.txt", False)


# --------------------------------------------------------------------------- the walk


def folder(tmp_path: Path) -> Path:
    bp = tmp_path / "bp"
    bp.mkdir()
    (bp / "lab.yaml").write_text("name: x\n")
    return bp


def refused(bp: Path) -> str:
    with pytest.raises(BlueprintError) as info:
        scan_folder(bp, bp / "lab.yaml")
    return "\n".join(info.value.lines())


def test_the_walk_lists_plain_files_and_says_what_it_leaves_out(tmp_path: Path) -> None:
    bp = folder(tmp_path)
    (bp / ".gitignore").write_text("ignored/\n*.tmp\n")
    (bp / "ignored").mkdir()
    os.mkfifo(bp / "ignored" / "pipe")  # never looked at: the folder is pruned
    (bp / "a.tmp").write_text("x")
    (bp / ".hidden").write_text("x")
    (bp / "notes.txt").write_text("x")
    (bp / "link").symlink_to("/etc/passwd")
    (bp / "sub").mkdir()
    (bp / "sub" / "b.txt").write_text("x")
    found = scan_folder(bp, bp / "lab.yaml")
    assert list(found.files) == ["notes.txt", "sub/b.txt"]
    assert dict(found.left_out) == {"ignored": "git ignores it", "a.tmp": "git ignores it",
                                    "link": "a symlink; links are never followed"}


def test_a_hard_link_is_refused_with_the_fix(tmp_path: Path) -> None:
    bp = folder(tmp_path)
    (tmp_path / "host").write_text("secret")
    os.link(tmp_path / "host", bp / "notes.txt")
    message = refused(bp)
    assert f"{bp}/notes.txt: is a hard link (one file with 2 names" in message
    assert "cp --no-preserve=links notes.txt notes.txt.copy" in message


def test_special_files_are_refused_and_every_one_is_named(tmp_path: Path) -> None:
    bp = folder(tmp_path)
    os.mkfifo(bp / "pipe")
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(bp / "sock"))
        message = refused(bp)
    assert "pipe: is a FIFO (named pipe)" in message
    assert "sock: is a socket" in message
    problem = entry_problem("dev", os.lstat("/dev/null"))
    assert problem is not None and problem[0].startswith("is a device")


def test_a_name_that_is_not_utf8_is_refused(tmp_path: Path) -> None:
    bp = folder(tmp_path)
    (bp / os.fsdecode(b"bad\xffname")).write_text("x")
    (bp / "new\nline").write_text("x")
    message = refused(bp)
    assert f"{bp}/bad\\xffname: the name has a control character or bytes that are not " \
        "UTF-8 (fix: rename it)" in message
    assert f"{bp}/new\\nline: the name has" in message


@pytest.mark.parametrize(("first", "second"), [
    ("Notes.txt", "notes.txt"),
    (unicodedata.normalize("NFC", "é.txt"), unicodedata.normalize("NFD", "é.txt")),
    ("LAB.yaml", None),
])
def test_names_folding_together_are_refused(tmp_path: Path, first: str, second: str | None
                                            ) -> None:
    bp = folder(tmp_path)
    for name in filter(None, (first, second)):
        (bp / name).write_text("x")
    message = refused(bp)
    assert len(message.splitlines()) == 1, message
    if second is None:
        assert message.endswith("LAB.yaml: differs from 'lab.yaml' only by case: a file system "
                                "that folds them (macOS, Windows) makes them one file (fix: "
                                "rename one of the two)")
    elif first.isascii():
        assert "only by case" in message
    else:
        assert f"{ascii(first)} and {ascii(second)}" in message or \
            f"{ascii(second)} and {ascii(first)}" in message, message
        assert "two Unicode normalisations" in message


def test_too_many_files_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("generator.blueprint.folder.MAX_TREE_FILES", 3)
    bp = folder(tmp_path)
    for i in range(5):
        (bp / f"f{i}").write_text("x")
    assert "more than 3 files would be archived" in refused(bp)


def test_check_mode_refuses_a_hard_link(tmp_path: Path) -> None:
    (tmp_path / "a").write_text("x")
    os.link(tmp_path / "a", tmp_path / "b")
    with pytest.raises(Refused, match="'b' is a hard link"):
        check_mode("b", os.lstat(tmp_path / "b"), "file")
    with pytest.raises(Refused, match="'b' is a hard link"):
        confined(tmp_path, "b")


# --------------------------------------------------------------------------- private keys


@pytest.mark.parametrize("text", [
    "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n" + KEY,
    "# the lab's key\n" + KEY,
    "x" * (CHUNK - 10) + "\n" + KEY,  # the armour line split across two chunks
    "x" * (3 * CHUNK) + KEY,
])
def test_a_private_key_anywhere_in_a_file_is_found(tmp_path: Path, text: str) -> None:
    (tmp_path / "f").write_text(text)
    assert is_private_key_file(tmp_path / "f")


def test_public_keys_and_prose_are_not_private_keys(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----\n"
                                "keep the private key safe\n" + PUB)
    assert not is_private_key_file(tmp_path / "f")


# --------------------------------------------------------------------------- finding 13


def test_a_real_public_key_line_is_accepted() -> None:
    assert parse_public_key((PUB + "\n").encode(), "id.pub") == PUB


@pytest.mark.parametrize(("data", "words"), [
    (b"garbage here\n", "id.pub:1: not an OpenSSH public key (it does not start"),
    (b"ssh-ed25519 !!!!\n", "id.pub:1: not an OpenSSH public key (the key is not base64)"),
    (PUB.replace("ssh-ed25519", "ssh-rsa", 1).encode(), "do not name ssh-rsa"),
    ((PUB + "\n" + PUB + "\n").encode(), "id.pub:2: not one OpenSSH public key (2 lines"),
    (b"\n", "id.pub: not one OpenSSH public key (0 lines"),
    ((PUB + "\x1b[2J").encode(), "a control character"),
    (PUB.encode() + b"\xff", "id.pub:1: not an OpenSSH public key (a byte that is not ASCII)"),
    (b"x" * 20000, "more than a public key's"),
])
def test_a_bad_public_key_is_refused_with_its_line(data: bytes, words: str) -> None:
    with pytest.raises(Refused) as info:
        parse_public_key(data, "id.pub")
    assert words in info.value.message


def test_a_range_of_one_with_long_bounds_is_one_name() -> None:
    """``n[99999999999999999-99999999999999999]`` was "more than 1000 names"."""
    assert expand_name("n[99999999999999999-99999999999999999]") == ["n99999999999999999"]
    with pytest.raises(ValueError, match="has more than 1000 names"):
        expand_name("n[1-" + "9" * 5000 + "]")
    long = "1" * (MAX_BOUND_DIGITS + 1)
    with pytest.raises(ValueError, match=f"a bound of {MAX_BOUND_DIGITS + 1} digits"):
        expand_name(f"n[{long}-{long}]")


def test_too_many_nodes_names_the_count(tmp_path: Path) -> None:
    """pydantic gives no count for a mapping past max_length: 'None entries are too many'."""
    from generator.blueprint.load import load_blueprint

    lines = [f"  n{i}: {{appliance: Ubuntu Cloud Guest}}" for i in range(1001)]
    (tmp_path / "big.yaml").write_text("name: big\nnodes:\n" + "\n".join(lines) + "\n")
    with pytest.raises(BlueprintError) as info:
        load_blueprint(tmp_path / "big.yaml")
    assert info.value.lines() == [f"{tmp_path}/big.yaml:2: nodes: 1001 entries, more than the "
                                  "1000 allowed (fix: use at most 1000)"]


def test_the_archive_writer_refuses_folded_member_names() -> None:
    check_folded_names(["project.gns3", "gns3lab/blueprint/a.txt", "gns3lab/blueprint/b.txt"])
    for names in (["a/Notes.txt", "a/notes.txt"], ["A/x", "a/y"],
                  [unicodedata.normalize("NFC", "é"), unicodedata.normalize("NFD", "é")]):
        with pytest.raises(ArchiveError, match="differ only by case or Unicode"):
            check_folded_names(names)
