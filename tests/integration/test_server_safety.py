"""``push`` against a lying server (issue 17): a fake GNS3 server on 127.0.0.1
(tests/support/fake_gns3.py) answers with hostile node names, wrong types, missing keys and
endless bodies; fake telnet consoles flood. Whatever the server says, push writes only inside
``--console-log DIR``, prints the server's strings as text, exits 0, 1 or 2 (never 70, never a
traceback), and stays within bounds of memory and time.
"""

from __future__ import annotations

import json
import os
import struct
import sys
import threading
import time
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from generator.cli import main
from generator.errors import ServerError
from generator.server.api import Gns3Client
from generator.server.consoles import ConsoleTail, ConsoleWatch
from tests.support.fake_gns3 import Calls, FakeGns3, Raw, Stream, TelnetConsole, node
from tests.support.peak import measure

pytestmark = pytest.mark.slow

READY = b"booting\r\ngns3lab: lab ready\r\n"
#: Memory ceiling of a push up to (and refusing) the server's answer.
CEILING_MB = 200


def project(name: str = "lab", nodes: tuple[str, ...] = ("r1",)) -> dict[str, Any]:
    return {"project_id": "6a9d1f80-0000-4000-8000-000000000001", "type": "topology",
            "revision": 9, "version": "2.2.61", "name": name,
            "topology": {"computes": [], "drawings": [], "links": [],
                         "nodes": [{"node_id": f"6a9d1f80-0000-4000-8000-00000000010{i}",
                                    "name": n, "node_type": "qemu", "compute_id": "local",
                                    "properties": {}} for i, n in enumerate(nodes)]}}


def write_archive(path: Path, doc: dict[str, Any] | None = None) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("project.gns3", json.dumps(doc or project()))
    return path


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    return write_archive(tmp_path / "lab.gns3project")


def push(server: FakeGns3, archive: Path, *args: str) -> Result:
    result = CliRunner(mix_stderr=False).invoke(
        main, ["push", str(archive), "--server", server.url, *args])
    assert result.exit_code in (0, 1, 2), (result.exit_code, result.output, result.stderr)
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    return result


def cli(*args: str | Path) -> list[str | Path]:
    return [sys.executable, "-m", "generator.cli", *args]


def files_under(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())


# -- finding 3: console-log file names ---------------------------------------------------------


def test_console_log_names_stay_inside_the_folder(tmp_path: Path, archive: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    logs = tmp_path / "logs"
    escaping = "../" * 12 + str(outside / "ESCAPED").lstrip("/")
    names = [escaping, str(outside / "ABS"), "no/such/folder/x", "..", ".hidden", "r1"]
    with TelnetConsole([READY]) as console, \
            FakeGns3([node(n, console.port) for n in names]) as server:
        result = push(server, archive, "--wait", "--timeout", "30", "--console-log", str(logs))
    assert result.exit_code == 0, result.stderr
    assert files_under(outside) == []
    written = files_under(logs)
    assert len(written) == len(names)
    assert all(p.parent == logs and p.suffix == ".log" for p in written)
    assert (logs / "r1.log").is_file()  # a plain name keeps its plain file name
    assert not any(p.name.startswith(".") for p in written)


def test_console_log_never_follows_a_symlink(tmp_path: Path, archive: Path) -> None:
    """A symlink (or a hard link) standing at a log's name in DIR is replaced, not written
    through."""
    target, linked = tmp_path / "victim.txt", tmp_path / "linked.txt"
    target.write_text("keep me\n")
    linked.write_text("keep me too\n")
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "r1.log").symlink_to(target)
    os.link(linked, logs / "r2.log")
    with TelnetConsole([READY]) as console, \
            FakeGns3([node("r1", console.port), node("r2", console.port)]) as server:
        result = push(server, archive, "--wait", "--timeout", "30", "--console-log", str(logs))
    assert result.exit_code == 0, result.stderr
    assert target.read_text() == "keep me\n" and linked.read_text() == "keep me too\n"
    assert not (logs / "r1.log").is_symlink() and (logs / "r2.log").stat().st_nlink == 1
    assert sorted(p.name for p in logs.iterdir()) == ["r1.log", "r2.log"]


def test_a_console_log_folder_that_is_a_file_is_refused(tmp_path: Path, archive: Path) -> None:
    (tmp_path / "logs").write_text("a file\n")
    with TelnetConsole([READY]) as console, FakeGns3([node("r1", console.port)]) as server:
        result = push(server, archive, "--wait", "--timeout", "30", "--console-log",
                      str(tmp_path / "logs"))
    assert result.exit_code == 2, result.stderr
    assert "error: cannot write the console logs in " in result.stderr


# -- finding 5: the server's strings are text --------------------------------------------------

HOSTILE_NAMES = ["\x1b]0;TITLE\x07t1", "\x1b[2Jclear", "\x1b[31mred", "b[/bold]x",
                 "[link=http://evil.example/]click[/link]"]


def test_server_strings_reach_the_terminal_escaped(tmp_path: Path, archive: Path) -> None:
    with TelnetConsole([b"hello\r\n"]) as console, \
            FakeGns3([node(n, console.port) for n in HOSTILE_NAMES],
                     project_name="\x1b[2Jproject") as server:
        server.replies["computes"] = [{"compute_id": "local", "name": "\x1b[31mlocal",
                                       "connected": True}]
        result = push(server, archive, "--wait", "--timeout", "3")
    assert result.exit_code == 1, result.stderr
    out = result.stdout + result.stderr
    assert "\x1b" not in out and "\x07" not in out
    assert "\\x1b[2Jclear: started" in result.stderr
    assert "b[/bold]x: started" in result.stderr
    assert "last console lines of \\x1b[31mred:" in result.stderr
    assert "\\x1b[2Jproject" in result.stdout


def test_a_server_error_message_is_escaped(archive: Path) -> None:
    with FakeGns3() as server:
        server.replies["open"] = Raw(json.dumps(
            {"message": "boom \x1b]0;pwned\x07 [bold]x[/bold] \x1b[2J"}).encode(), 409)
        result = push(server, archive)
    assert result.exit_code == 2
    assert "\x1b" not in result.stderr and "\x07" not in result.stderr
    assert "boom \\x1b]0;pwned\\x07 [bold]x[/bold]" in result.stderr


# -- finding 9: replies of the wrong shape -----------------------------------------------------

WRONG = {
    "computes as a mapping": ("computes", {"local": {"compute_id": "local"}}),
    "import without project_id": ("import", {"name": "lab"}),
    "import as a list": ("import", [1, 2]),
    "nodes as a string": ("nodes", "nodes"),
    "a node without a name": ("nodes", [{"node_id": "x", "node_type": "qemu"}]),
    "a node name that is a number": ("nodes", [dict(node("r1"), name=5)]),
    "a console port that is a string": ("nodes", [dict(node("r1"), console="23")]),
    "links as a number": ("links", 5),
    "version as a list": ("version", [1]),
    "a project id with a slash": ("import", {"project_id": "../../x", "name": "lab"}),
    "JSON nested too deep": ("nodes", Raw(b"[" * 100_000 + b"]" * 100_000)),
}


@pytest.mark.parametrize("route,reply", list(WRONG.values()), ids=list(WRONG))
def test_a_reply_of_the_wrong_shape_is_refused(archive: Path, route: str, reply: Any) -> None:
    with FakeGns3() as server:
        server.replies[route] = reply
        result = push(server, archive, "--start")
    assert result.exit_code == 2, result.stderr
    assert result.stderr.count("error: ") == 1
    assert "GNS3 server" in result.stderr.split("error: ")[1]


def test_an_image_listing_of_the_wrong_shape_is_refused(tmp_path: Path) -> None:
    doc = project()
    doc["topology"]["nodes"][0]["properties"]["hda_disk_image"] = "base.qcow2"
    bundle = write_archive(tmp_path / "lab.gns3project", doc)
    with zipfile.ZipFile(bundle, "a") as zf:
        zf.writestr("gns3lab/manifest.json", json.dumps(
            {"images": {"base.qcow2": {"md5": "0" * 32, "size": 1}}, "files": {}}))
    listings: list[Any] = [["base.qcow2"], {"base.qcow2": {}}, [{"filename": 5}]]
    for listing in listings:
        with FakeGns3() as server:
            server.replies["images"] = listing
            result = push(server, bundle)
        assert result.exit_code == 2, (listing, result.stderr)
        assert "GNS3 server" in result.stderr


def test_a_node_that_vanishes_between_two_lists(archive: Path) -> None:
    both = [node("r1"), node("r2")]
    with FakeGns3() as server:
        server.replies["nodes"] = Calls(both, both, [node("r1")])
        result = push(server, archive, "--start")
    assert result.exit_code == 2, result.stderr
    assert "error: node 'r2' of 'lab' is gone from the server's list" in result.stderr


def node_stream(count: int) -> Iterator[bytes]:
    yield b"["
    for i in range(count):
        yield (b"," if i else b"") + json.dumps(node(f"n{i}")).encode()
    yield b"]"


def test_a_two_million_node_reply_is_refused_in_bounded_memory(tmp_path: Path,
                                                                archive: Path) -> None:
    with FakeGns3() as server:
        server.replies["nodes"] = Stream(lambda: node_stream(2_000_000))
        begin = time.monotonic()
        run = measure(cli("push", archive, "--server", server.url), tmp_path / "out.txt",
                      timeout=300)
    assert run.returncode == 2, run.output
    assert "error: " in run.output and "Traceback" not in run.output
    assert "more than" in run.output
    assert run.peak_mb < CEILING_MB, run.peak_mb
    assert time.monotonic() - begin < 30


def test_a_dripping_answer_ends_at_the_timeout() -> None:
    """A body sent a byte at a time, each well within the socket timeout, still ends at the
    client's timeout."""
    def drip() -> Iterator[bytes]:
        yield b"["
        for _ in range(60):
            time.sleep(0.25)
            yield b" "
        yield b"]"

    with FakeGns3() as server:
        server.replies["computes"] = Stream(drip)
        client = Gns3Client(server.url, timeout=2)
        begin = time.monotonic()
        with pytest.raises(ServerError, match="still coming after 2 s"):
            client.computes()
    assert time.monotonic() - begin < 8


# -- finding 10: a console flood ---------------------------------------------------------------


def consume_flood(size: int) -> tuple[float, list[str]]:
    """CPU seconds this thread spends reading ``size`` bytes sent without a newline, and the
    lines it got (thread time: other processes on the machine do not count)."""
    chunk = b"A" * (1 << 20)
    with TelnetConsole(lambda: [chunk] * (size >> 20) + [b"\r\nend\r\n"]) as console:
        got: list[str] = []
        with ConsoleTail("127.0.0.1", console.port) as tail:
            begin = time.thread_time()
            deadline = time.monotonic() + 120
            while "end" not in got[-1:] and time.monotonic() < deadline:
                got += tail.lines(timeout=1)
            spent = time.thread_time() - begin
    return spent, got


def test_a_console_flood_without_newlines_is_read_in_linear_time() -> None:
    small, _ = consume_flood(4 << 20)
    large, lines = consume_flood(16 << 20)
    assert lines[-1] == "end"
    assert sum(len(line) for line in lines) == (16 << 20) + 3  # nothing lost
    assert max(len(line) for line in lines) <= 64 << 10
    # linear: 4x the input costs about 4x the time (quadratic would be 16x)
    assert large < 8 * max(small, 0.05), (small, large)


def test_a_console_streaming_without_lines_is_not_a_stall() -> None:
    stop = threading.Event()

    def spinner() -> Iterator[bytes]:  # firmware redrawing a spinner: no printable line
        end = time.monotonic() + 4
        while time.monotonic() < end and not stop.is_set():
            yield b"\x1b[2K\r\b"
            time.sleep(0.01)
        yield b"\r\ngns3lab: lab ready\r\n"

    with TelnetConsole(spinner) as console:
        with ConsoleWatch({"vm1": ("127.0.0.1", console.port)}) as watch:
            outcome = watch.wait(timeout=60, stall=2)
        stop.set()
    assert outcome.failure is None and outcome.ready


def test_a_flood_leaves_a_transcript(tmp_path: Path, archive: Path) -> None:
    flood = [b"A" * (1 << 20)] * 16 + [b"\r\ngns3lab: lab ready\r\n"]
    logs = tmp_path / "logs"
    with TelnetConsole(flood) as console, FakeGns3([node("r1", console.port)]) as server:
        result = push(server, archive, "--wait", "--timeout", "60", "--stall", "5",
                      "--console-log", str(logs))
    assert result.exit_code == 0, result.stderr
    assert (logs / "r1.log").stat().st_size > 1 << 20


def test_a_transcript_keeps_its_newest_text(monkeypatch: pytest.MonkeyPatch) -> None:
    """A console that never stops costs bounded memory: the oldest lines go, and the
    transcript says how much."""
    import generator.server.consoles as consoles

    monkeypatch.setattr(consoles, "MAX_TRANSCRIPT", 10_000)
    script = [f"line {i:05d} ".encode() * 10 + b"\r\n" for i in range(2000)]
    with TelnetConsole([*script, b"gns3lab: lab ready\r\n"]) as console:
        with ConsoleWatch({"vm1": ("127.0.0.1", console.port)}) as watch:
            outcome = watch.wait(timeout=60)
    text = outcome.transcripts["vm1"]
    assert outcome.ready
    assert text.startswith("[gns3lab: ") and "earlier characters dropped]" in text
    assert len(text) < 10_000 + 200 and text.endswith("gns3lab: lab ready\n")


# -- finding 7 (push): a zip bomb is refused before the server is asked ------------------------


def deflated(data: bytes) -> tuple[bytes, int, int]:
    """(raw deflate stream, CRC-32, size) of ``data``."""
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    return comp.compress(data) + comp.flush(), zlib.crc32(data), len(data)


def deflated_spaces(size: int) -> tuple[bytes, int, int]:
    """The same for ``size`` bytes of spaces (a multiple of 1 MiB), made in a blink: after a
    full flush the compressor starts afresh, so every 1 MiB block deflates to the same bytes
    (about 1000:1), and the stream is that piece repeated."""
    block = b" " * (1 << 20)
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    piece = comp.compress(block) + comp.flush(zlib.Z_FULL_FLUSH)
    crc = 0
    for _ in range(size >> 20):
        crc = zlib.crc32(block, crc)
    return piece * (size >> 20) + comp.flush(), crc, size


def write_zip(path: Path, members: dict[str, tuple[bytes, int, int]]) -> Path:
    """A zip of deflated members (name -> (stream, CRC, size)), written by hand: zipfile
    would spend a minute compressing a bomb."""
    out, central = bytearray(), bytearray()
    for name, (data, crc, size) in members.items():
        raw = name.encode()
        central += struct.pack("<4s6H3L5H2L", b"PK\1\2", 20, 20, 0, 8, 0, 0x21, crc, len(data),
                               size, len(raw), 0, 0, 0, 0, 0, len(out)) + raw
        out += struct.pack("<4s5H3L2H", b"PK\3\4", 20, 0, 8, 0, 0x21, crc, len(data), size,
                           len(raw), 0) + raw + data
    end = struct.pack("<4s4H2LH", b"PK\5\6", 0, 0, len(members), len(members), len(central),
                      len(out), 0)
    path.write_bytes(bytes(out + central + end))
    return path


def zip_bomb(path: Path, member: str, size: int) -> Path:
    """An archive whose ``member`` inflates to ``size`` bytes of spaces."""
    members = {"project.gns3": deflated(json.dumps(project()).encode())}
    members[member] = deflated_spaces(size)
    return write_zip(path, members)


@pytest.mark.parametrize("member", ["project.gns3", "gns3lab/manifest.json",
                                    "images/QEMU/base.qcow2"])
def test_push_of_a_zip_bomb_stays_small(tmp_path: Path, member: str) -> None:
    bomb = zip_bomb(tmp_path / "bomb.gns3project", member, 2 << 30)
    assert bomb.stat().st_size < 3 << 20  # a 2 MB zip bomb
    with FakeGns3() as server:
        run = measure(cli("push", bomb, "--server", server.url), tmp_path / "out.txt",
                      limit_bytes=8 << 30, timeout=300)
        asked = server.routes()
    assert run.returncode == 2, run.output
    assert "zip bomb" in run.output or "more than" in run.output, run.output
    assert run.peak_mb < CEILING_MB, run.peak_mb
    assert asked == []  # refused before contacting the server


# -- fuzz: whatever the server answers, exit 0, 1 or 2 -----------------------------------------

ODD_TEXT = st.one_of(st.text(max_size=40), st.sampled_from(
    ["", "\x1b[2J", "\x1b]0;x\x07", "[/bold]", "[link=http://e.x/]y[/link]", "../../x",
     "/abs", "\x00", "a" * 5000, "\u202etxt", "local"]))
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(min_value=-2**70, max_value=2**70),
                    st.floats(allow_nan=False), ODD_TEXT)
JSON = st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(ODD_TEXT, inner, max_size=4)), max_leaves=12)


def mutated(good: Any) -> st.SearchStrategy[Any]:
    """A reply near a good one: a key dropped or given any value, an item replaced, or any
    JSON at all."""
    options: list[st.SearchStrategy[Any]] = [JSON]
    if isinstance(good, dict) and good:
        options += [st.sampled_from(sorted(good)).map(lambda k: {x: v for x, v in good.items()
                                                                if x != k}),
                    st.tuples(st.sampled_from(sorted(good)), JSON).map(
                        lambda kv: dict(good, **{kv[0]: kv[1]}))]
    if isinstance(good, list) and good:
        options += [mutated(good[0]).map(lambda item: [item, *good[1:]]),
                    st.just(good * 3)]
    return st.one_of(options)


#: The routes each kind of push asks, and its options.
MODES = {"--start": ["version", "computes", "import", "open", "nodes", "links", "start",
                     "file"],
         "--delete": ["version", "projects", "nodes", "stop", "delete"]}


@pytest.fixture(scope="module")
def fuzz_server() -> Iterator[FakeGns3]:
    with FakeGns3([node("r1", 1), node("r2", 1)]) as server:
        yield server


@pytest.fixture(scope="module")
def fuzz_archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_archive(tmp_path_factory.mktemp("fuzz") / "lab.gns3project")


@settings(max_examples=200, deadline=5000, derandomize=True, database=None, print_blob=True,
          phases=[Phase.explicit, Phase.generate],
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large])
@given(data=st.data())
def test_fuzz_server_replies(fuzz_server: FakeGns3, fuzz_archive: Path, data: Any) -> None:
    """Any one answer replaced (from its first, second or third request on) by a near miss or
    by any JSON: exit 0, 1 or 2, no traceback, no escape sequence reaching the terminal."""
    defaults = fuzz_server.defaults()
    mode = data.draw(st.sampled_from(sorted(MODES)), label="mode")
    route = data.draw(st.sampled_from(MODES[mode]), label="route")
    reply = data.draw(mutated(defaults[route]), label="reply")
    good_calls = data.draw(st.integers(0, 2), label="good answers before it")
    fuzz_server.replies = {route: Calls(*[defaults[route]] * good_calls, reply)}
    if route == "file":  # read back (and written) only when the import is arranged
        fuzz_server.replies["computes"] = [
            {"compute_id": "local", "name": "local", "connected": True},
            {"compute_id": "remote1", "name": "remote1", "connected": True}]
    result = push(fuzz_server, fuzz_archive, mode)
    assert "\x1b" not in result.stdout + result.stderr


@pytest.mark.parametrize("answer", [
    b"NOT HTTP AT ALL\r\n\r\n",
    b"HTTP/1.1 200 OK\r\n" + b"X-Filler: y\r\n" * 200 + b"\r\n",
    b"HTTP/1.1 200 OK\r\nX-Long: " + b"y" * 100_000 + b"\r\n\r\n",
    b"HTTP/1.1 999999999999999999999 OK\r\n\r\n",
], ids=["not HTTP", "too many headers", "a header line too long", "an odd status"])
def test_a_server_that_does_not_speak_http(archive: Path, answer: bytes) -> None:
    with TelnetConsole([answer]) as raw:
        result = CliRunner(mix_stderr=False).invoke(
            main, ["push", str(archive), "--server", f"http://127.0.0.1:{raw.port}"])
    assert result.exit_code == 2, (result.exit_code, result.stderr)
    assert result.stderr.startswith("error: ") and "GNS3 server" in result.stderr


def test_the_fake_server_plays_a_good_push(archive: Path) -> None:
    """The fuzz starts from a push that works: the defaults are a well-behaved server."""
    with FakeGns3([node("r1", 1)]) as server:
        result = push(server, archive, "--start")
    assert result.exit_code == 0, result.stderr
    assert server.routes() == ["/v3/version", "version", "computes", "import", "open",
                               "nodes", "links", "nodes", "nodes", "start", "nodes"]
