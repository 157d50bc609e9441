"""What a GNS3 server says is data (issue 17): its strings are shown as text on the plain and
the live push display, its node names become safe console-log file names, and its answers are
checked for shape and size before push reads them. Pure: no server, no program."""

from __future__ import annotations

import io
import json

import pytest
from rich.console import Console

from generator.server.consolelog import log_file_name, log_file_names
from generator.server.consoles import PushEvent
from generator.server.pushview import PushDisplay
from generator.server.replies import (
    MAX_ITEMS,
    MAX_JSON_VALUES,
    NODE,
    BadReply,
    check_links,
    check_list,
    load_json,
)
from generator.server.safetext import printable

HOSTILE = ["\x1b]0;TITLE\x07t1", "\x1b[2Jclear", "\x1b[31mred", "b[/bold]x",
           "[link=http://evil.example/]click[/link]", "\u202eevil"]


def live_output(names: list[str]) -> str:
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=240, color_system=None)
    with PushDisplay(out, live=True, console=console) as display:
        for name in names:
            display(PushEvent("opened", f"opened on {name}", name, args=(name,)))
            display(PushEvent("started", f"status {name}", name))
            display(PushEvent("imported", f"imported as {name}"))
    return out.getvalue()


def test_the_live_display_shows_server_strings_as_text() -> None:
    text = live_output(HOSTILE)  # "b[/bold]x" made rich raise MarkupError (exit 70)
    for raw in ("\x1b]0;", "\x07", "\x1b[2J", "\x1b[31m", "\x1b]8;", "\u202e"):
        assert raw not in text, repr(raw)
    for literal in ("\\x1b[2Jclear", "b[/bold]x", "[link=http://evil.example/]click[/link]",
                    "\\u202eevil"):
        assert literal in text, literal


def test_the_plain_display_escapes_control_characters() -> None:
    out = io.StringIO()
    with PushDisplay(out, live=False) as display:
        for name in HOSTILE:
            display(PushEvent("started", "started", name))
    lines = out.getvalue().splitlines()
    assert lines[:3] == ["\\x1b]0;TITLE\\x07t1: started", "\\x1b[2Jclear: started",
                         "\\x1b[31mred: started"]
    assert "\x1b" not in out.getvalue()


def test_printable_keeps_ordinary_text() -> None:
    assert printable("r1: stage base ok\tdone ü") == "r1: stage base ok\tdone ü"
    assert printable("a\nb\x00\x9b") == "a\\x0ab\\x00\\x9b"
    assert printable(5) == "5"


def test_console_log_names_are_plain_or_hashed() -> None:
    assert log_file_name("r1") == "r1.log"
    assert log_file_name("spine-01.lab") == "spine-01.lab.log"
    for hostile in ("../../../tmp/x", "/tmp/x/ABS", "..", ".hidden", "a/b", "", "\x1b[2J",
                    "x" * 500):
        name = log_file_name(hostile)
        assert "/" not in name and not name.startswith(".") and name.endswith(".log")
        assert len(name) < 100, name
    assert log_file_name("a/b") != log_file_name("a_b") == "a_b.log"
    names = log_file_names(["R1", "r1", "a/b"])
    assert len({n.casefold() for n in names.values()}) == 3


def test_replies_are_checked_for_shape() -> None:
    good = {"name": "r1", "node_id": "0d4b-11", "node_type": "qemu", "console": 5000}
    assert check_list([good], NODE, "nodes") == [good]
    for bad, why in [({"nodes": []}, "not a list"), ([dict(good, name=5)], "'name' is a number"),
                     ([dict(good, node_id="../x")], "'node_id'"),
                     ([dict(good, console=70000)], "'console'"),
                     ([dict(good, console=True)], "'console' is a boolean"),
                     ([{k: v for k, v in good.items() if k != "name"}], "has no 'name'"),
                     ([good] * (MAX_ITEMS + 1), f"more than {MAX_ITEMS}")]:
        with pytest.raises(BadReply, match=why):
            check_list(bad, NODE, "nodes")
    with pytest.raises(BadReply, match="end"):
        check_links([{"link_id": "l1", "nodes": [{"node_id": 5}]}])


def test_json_is_parsed_within_bounds() -> None:
    assert load_json(b'{"a": [1, 2]}') == {"a": [1, 2]}
    with pytest.raises(BadReply, match="JSON values"):
        load_json(json.dumps([{}] * (MAX_JSON_VALUES + 1)).encode())
    with pytest.raises(BadReply, match="too deep"):
        load_json(b"[" * 100_000 + b"]" * 100_000)
    with pytest.raises(ValueError):
        load_json(b"<html>")
