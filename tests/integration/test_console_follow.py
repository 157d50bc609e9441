"""Following consoles costs one thread per console: :class:`ConsoleTail` reads in its caller's
thread and :class:`ConsoleWatch` runs one reader thread per console, against real TCP consoles
on 127.0.0.1 that speak a little telnet."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from generator.server.consoles import ConsoleTail, ConsoleWatch, PushEvent

IAC_DO_ECHO = bytes([255, 253, 1])
IAC_WONT_ECHO = bytes([255, 252, 1])


class Console:
    """A loopback TCP console: sends ``script`` on the first connection (``delay`` seconds
    after it), then keeps it open until closed, collecting what the client sends back."""

    def __init__(self, script: bytes, delay: float = 0) -> None:
        self.script, self.delay, self.received = script, delay, bytearray()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        conn, _ = self._listener.accept()
        with conn:
            time.sleep(self.delay)
            conn.sendall(self.script)
            conn.settimeout(0.1)
            while not self._done.is_set():
                try:
                    data = conn.recv(1024)
                except TimeoutError:
                    continue
                if not data:
                    return
                self.received += data

    def close(self) -> None:
        self._done.set()
        self._listener.close()
        self._thread.join(5)


@pytest.fixture
def made() -> Iterator[list[Console]]:
    consoles: list[Console] = []
    yield consoles
    for console in consoles:
        console.close()


def console_threads() -> list[str]:
    return sorted(t.name for t in threading.enumerate() if t.name.startswith("console-"))


def test_a_tail_reads_in_the_callers_thread_and_loses_nothing(made: list[Console]) -> None:
    console = Console(IAC_DO_ECHO + b"one\r\ntwo\r\n\x1b[1mthree\x1b[0m\r\n")
    made.append(console)
    before = threading.active_count()
    with ConsoleTail("127.0.0.1", console.port) as tail:
        assert threading.active_count() == before  # no reader thread of its own
        time.sleep(0.5)  # the console has sent everything before anyone reads
        seen = []
        for line in tail.lines(timeout=10):
            seen.append(line)
            if line == "three":
                break
    assert seen == ["one", "two", "three"]
    deadline = time.monotonic() + 5
    while bytes(console.received) != IAC_WONT_ECHO and time.monotonic() < deadline:
        time.sleep(0.05)
    assert bytes(console.received) == IAC_WONT_ECHO  # the negotiation was answered on reading


def test_a_watch_runs_one_thread_per_console_and_ends_them(made: list[Console]) -> None:
    made += [Console(b"booting\r\n"), Console(b"booting\r\n"),
             Console(b"gns3lab: stage base ok\r\ngns3lab: lab ready\r\n", delay=1.5)]
    endpoints = {f"n{i}": ("127.0.0.1", c.port) for i, c in enumerate(made)}
    events: list[PushEvent] = []
    with ConsoleWatch(endpoints, events.append) as watch:
        assert console_threads() == ["console-n0", "console-n1", "console-n2"]
        outcome = watch.wait(timeout=30)
    assert outcome.ready and outcome.stages == [("base", True)]
    assert console_threads() == []
    assert {e.node for e in events if e.message.startswith("console connected")} == \
        {"n0", "n1", "n2"}
    assert outcome.transcripts["n0"] == "booting\n"
