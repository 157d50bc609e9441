"""Node consoles: a telnet reader, the lines the lab's VMs print, and following many at once.

A node's serial console is a raw TCP (telnet) socket on its compute. :class:`ConsoleTail` reads
one in the caller's thread, answers telnet negotiation and hands out clean text lines.
:class:`ConsoleWatch` follows several consoles at once: one daemon thread per console reads it
through a :class:`ConsoleTail`, reconnecting when it drops, and puts the lines that mean
something, as :class:`PushEvent` records, on the one queue the waiting thread reads:

- ``Cloud-init v. 22.4.2 finished at …`` on every VM,
- ``gns3lab: stage <name> ok|failed`` and ``gns3lab: check <node> <address> ok|failed`` from
  the controller, and finally ``gns3lab: lab ready``.

The wait ends at ``lab ready`` (success), at the first failed stage, or at the timeout.
"""

from __future__ import annotations

import codecs
import collections
import contextlib
import queue
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Literal, Self

from generator.errors import ServerError

#: How long a console thread blocks at most before it looks at its stop flag again.
POLL_INTERVAL = 0.5
#: Pause between attempts to (re)connect to a console that is not there (yet).
RETRY_INTERVAL = 0.2
CONNECT_TIMEOUT = 3.0
#: Seconds to wait for each console thread to finish after the wait is over.
JOIN_TIMEOUT = 5.0
#: Longest console line: a flood without newlines is cut into lines of this many characters,
#: so reading stays linear in the input.
MAX_LINE = 64 << 10
#: Characters of console text kept per node; past it the oldest lines go (a console may
#: print forever).
MAX_TRANSCRIPT = 16 << 20

EventKind = Literal["imported", "opened", "images", "placed", "started", "console", "cloud-init",
                    "stage", "check", "ready", "stopped", "deleted"]

_STAGE = re.compile(r"(?:^|\s)gns3lab: stage (?P<name>\S+) (?P<state>ok|failed)\s*$")
_CHECK = re.compile(
    r"(?:^|\s)gns3lab: check (?P<node>\S+) (?P<address>\S+) (?P<state>ok|failed)\s*$")
_READY = re.compile(r"(?:^|\s)gns3lab: lab ready\s*$")
_CLOUD_INIT = re.compile(r"Cloud-init v\. (?P<version>\S+) finished at")


@dataclass(frozen=True)
class PushEvent:
    """One progress report. ``node`` is the node it concerns (None for the whole project).
    Stages and checks also carry ``ok`` and their fields in ``args``: ``(stage,)`` or
    ``(checked node, address)``."""

    kind: EventKind
    message: str
    node: str | None = None
    ok: bool | None = None
    args: tuple[str, ...] = ()

    def __str__(self) -> str:
        return f"{self.node}: {self.message}" if self.node else self.message


Progress = Callable[[PushEvent], None]


@dataclass(frozen=True)
class CheckResult:
    """One ``gns3lab: check <node> <address> ok|failed`` line."""

    node: str
    address: str
    ok: bool


@dataclass
class WaitOutcome:
    """What following the consoles found."""

    stages: list[tuple[str, bool]] = field(default_factory=list)
    checks: list[CheckResult] = field(default_factory=list)
    cloud_init: list[str] = field(default_factory=list)  #: nodes whose cloud-init finished
    ready: bool = False
    failure: str | None = None  #: why the lab is not ready (failed stage, timeout)
    transcripts: dict[str, str] = field(default_factory=dict)  #: node name -> console text

    @property
    def finished(self) -> bool:
        """True once the wait can stop: the lab is ready or a stage failed."""
        return self.ready or self.failure is not None

    def record(self, event: PushEvent) -> None:
        """Take one console event into account."""
        if event.kind == "ready":
            self.ready = True
        elif event.kind == "cloud-init" and event.node not in self.cloud_init:
            self.cloud_init.append(event.node or "")
        elif event.kind == "stage":
            (name,) = event.args
            self.stages.append((name, bool(event.ok)))
            if not event.ok and self.failure is None:
                self.failure = f"stage {name} failed (reported by {event.node})"
        elif event.kind == "check":
            node, address = event.args
            self.checks.append(CheckResult(node, address, bool(event.ok)))



def parse_console_line(node: str, line: str) -> PushEvent | None:
    """The event a console line stands for, or None for ordinary output."""
    if match := _STAGE.search(line):
        return PushEvent("stage", f"stage {match['name']} {match['state']}", node,
                         match["state"] == "ok", (match["name"],))
    if match := _CHECK.search(line):
        text = f"check {match['node']} {match['address']} {match['state']}"
        return PushEvent("check", text, node, match["state"] == "ok",
                         (match["node"], match["address"]))
    if _READY.search(line):
        return PushEvent("ready", "lab ready", node, True)
    if match := _CLOUD_INIT.search(line):
        return PushEvent("cloud-init", f"cloud-init {match['version']} finished", node)
    return None



# -- following consoles ------------------------------------------------------------------------


class _ConsoleFollower(threading.Thread):
    """Reads one node's console until told to stop, reconnecting whenever it drops.

    Every line goes into :attr:`lines`; the lines that mean something go to ``events`` as
    :class:`PushEvent`. Only the main thread calls the progress callback.
    """

    def __init__(self, node: str, host: str, port: int, events: queue.Queue[PushEvent],
                 stop: threading.Event) -> None:
        super().__init__(name=f"console-{node}", daemon=True)
        self.node, self.host, self.port = node, host, port
        self.lines: collections.deque[str] = collections.deque()
        self.dropped = 0  #: characters of the oldest lines dropped past MAX_TRANSCRIPT
        self._kept = 0
        self._received = 0  #: characters received on earlier connections
        self._tail: ConsoleTail | None = None
        self._queue, self._halt = events, stop  # not _stop: threading.Thread has one

    @property
    def received(self) -> int:
        """Characters received so far, printable or not: any output is a sign of life."""
        tail = self._tail
        return self._received + (tail.received if tail is not None else 0)

    def run(self) -> None:
        try:
            self._follow()
        except Exception as exc:
            self._queue.put(PushEvent("console", f"console reader failed: {exc!r}", self.node))

    def _follow(self) -> None:
        connections = 0
        while not self._halt.is_set():
            try:
                tail = ConsoleTail(self.host, self.port, connect_timeout=CONNECT_TIMEOUT)
            except ServerError:  # not listening yet, or gone for a moment
                self._halt.wait(RETRY_INTERVAL)
                continue
            connections += 1
            again = "re" if connections > 1 else ""
            self._say(f"console {again}connected ({self.host}:{self.port})")
            self._tail = tail
            with tail:
                self._read(tail)
            self._received, self._tail = self._received + tail.received, None
            if not self._halt.is_set():
                self._say("console closed, reconnecting")
                self._halt.wait(RETRY_INTERVAL)

    def _read(self, tail: ConsoleTail) -> None:
        """Read until the console closes or fails (then :attr:`ConsoleTail.eof` is set), or
        the stop flag is set."""
        while not self._halt.is_set() and not tail.eof:
            for line in tail.lines(timeout=POLL_INTERVAL):
                self._keep(line)
                if event := parse_console_line(self.node, line):
                    self._queue.put(event)

    def _keep(self, line: str) -> None:
        """Add a line to the transcript, dropping the oldest past :data:`MAX_TRANSCRIPT`."""
        self.lines.append(line)
        self._kept += len(line) + 1
        while self._kept > MAX_TRANSCRIPT and len(self.lines) > 1:
            old = self.lines.popleft()
            self._kept -= len(old) + 1
            self.dropped += len(old) + 1

    def _say(self, message: str) -> None:
        self._queue.put(PushEvent("console", message, self.node))


class ConsoleWatch:
    """Follow several consoles at once; use as a context manager around starting the nodes,
    so that no early output is missed, then call :meth:`wait`.

    ``consoles`` maps node name -> (host, port).
    """

    def __init__(self, consoles: Mapping[str, tuple[str, int]],
                 progress: Progress = lambda _: None) -> None:
        self._events: queue.Queue[PushEvent] = queue.Queue()
        self._stop = threading.Event()
        self._progress = progress
        self._followers = [_ConsoleFollower(node, host, port, self._events, self._stop)
                           for node, (host, port) in consoles.items()]

    def __enter__(self) -> ConsoleWatch:
        for follower in self._followers:
            follower.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def stop(self) -> None:
        """Stop every console thread and wait (bounded) for them to end."""
        self._stop.set()
        for follower in self._followers:
            if follower.is_alive():
                follower.join(JOIN_TIMEOUT)

    def transcripts(self) -> dict[str, str]:
        """Every console's lines so far, by node name (the newest :data:`MAX_TRANSCRIPT`
        characters of each)."""
        return {f.node: _transcript(f) for f in self._followers}

    def _seen(self) -> int:
        """Characters received on every console: streaming output counts even while it
        makes no line (a spinner, a flood without newlines)."""
        return sum(f.received for f in self._followers)

    def wait(self, timeout: float, stall: float | None = None) -> WaitOutcome:
        """Handle console events until the lab is ready, a stage fails, ``timeout`` seconds
        have passed, or (``stall``) no console sent anything for that many seconds: guests
        that stopped progressing fail fast instead of waiting out the timeout. Stops the
        console threads; the outcome carries the transcripts."""
        outcome = WaitOutcome()
        deadline = time.monotonic() + timeout
        seen, quiet_since = self._seen(), time.monotonic()
        try:
            while not outcome.finished:
                now = time.monotonic()
                remaining = deadline - now
                if remaining <= 0:
                    outcome.failure = f"no 'gns3lab: lab ready' within {timeout:g} s"
                    break
                if self._seen() != seen:
                    seen, quiet_since = self._seen(), now
                elif stall is not None and now - quiet_since > stall:
                    outcome.failure = (f"no console printed anything for {stall:g} s: the "
                                       "guests stopped progressing")
                    break
                try:
                    event = self._events.get(timeout=min(remaining, POLL_INTERVAL))
                except queue.Empty:
                    continue
                outcome.record(event)
                self._progress(event)
        finally:
            self.stop()
        outcome.transcripts = self.transcripts()
        return outcome


def _transcript(follower: _ConsoleFollower) -> str:
    lines = list(follower.lines)  # a copy: the thread may still append
    note = f"[gns3lab: {follower.dropped} earlier characters dropped]\n" \
        if follower.dropped else ""
    return note + "".join(line + "\n" for line in lines)


# -- telnet -----------------------------------------------------------------------------------

IAC, DONT, DO, WONT, WILL, SB, SE = 255, 254, 253, 252, 251, 250, 240
#: ANSI/VT100 control sequences (colours, cursor moves) that firmware writes to serial consoles.
_ANSI = re.compile(r"\x1b(\[[0-?]*[ -/]*[@-~]|[@-Z\\-_])")
#: A line ends at CRLF, LF or CR (a CR at the very end may be the first half of a CRLF).
_LINE_END = re.compile(r"\r?\n|\r(?!$)")
_LINE_BREAK = re.compile(r"[\r\n]")


class TelnetFilter:
    """Strips telnet commands from a byte stream and produces the minimal refusals.

    Every ``DO`` is answered ``WONT`` and every ``WILL`` ``DONT``; subnegotiations and other
    commands are dropped. State carries over between chunks.
    """

    def __init__(self) -> None:
        self._pending = b""

    def feed(self, chunk: bytes) -> tuple[bytes, bytes]:
        """Return (data bytes, reply bytes to send back) for one received chunk."""
        data, self._pending = self._pending + chunk, b""
        out, replies, i = bytearray(), bytearray(), 0
        while i < len(data):
            if data[i] != IAC:  # copy the run up to the next command at C speed
                end = data.find(IAC, i)
                end = len(data) if end < 0 else end
                out += data[i:end]
                i = end
                continue
            step = self._command(data, i, out, replies)
            if step == 0:  # incomplete command: wait for the next chunk
                self._pending = data[i:]
                break
            i += step
        return bytes(out), bytes(replies)

    @staticmethod
    def _command(data: bytes, i: int, out: bytearray, replies: bytearray) -> int:
        """Handle the command at ``data[i]`` (an IAC); return its length, 0 if incomplete."""
        if i + 1 >= len(data):
            return 0
        cmd = data[i + 1]
        if cmd == IAC:
            out.append(IAC)
            return 2
        if cmd in (DO, DONT, WILL, WONT):
            if i + 2 >= len(data):
                return 0
            if cmd in (DO, WILL):
                replies += bytes([IAC, WONT if cmd == DO else DONT, data[i + 2]])
            return 3
        if cmd == SB:
            end = data.find(bytes([IAC, SE]), i + 2)
            return 0 if end < 0 else end + 2 - i
        return 2


def clean_console_line(line: str) -> str:
    """A console line as a person would read it: escape sequences removed, backspaces applied
    (firmware draws spinners with them), other control characters dropped."""
    text = _ANSI.sub("", line)
    if text.isprintable():  # the common case, checked in C
        return text.rstrip()
    out: list[str] = []
    for char in text:
        if char == "\b":
            if out:
                out.pop()
        elif char == "\t" or char.isprintable():
            out.append(char)
    return "".join(out).rstrip()


class ConsoleTail:
    """Read a node's telnet console (raw TCP) and hand out its text, in the caller's thread.

    Telnet negotiation is answered as it arrives; until the caller reads, the kernel keeps
    what the console sent, so connecting right after the node starts misses nothing.

    >>> with ConsoleTail("127.0.0.1", 5000) as tail:       # doctest: +SKIP
    ...     for line in tail.lines(timeout=60):
    ...         print(line)
    """

    def __init__(self, host: str, port: int, connect_timeout: float = 10) -> None:
        self.host, self.port = host, port
        try:
            self._sock = socket.create_connection((host, port), timeout=connect_timeout)
        except (OSError, ValueError) as exc:  # ValueError: a host name no resolver takes
            raise ServerError(f"cannot connect to console {host}:{port}: {exc}",
                              hint="is the node started, and is its console type telnet?") from exc
        self._telnet = TelnetFilter()
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._partial: list[str] = []  # the unterminated line, in the pieces it came in
        self._pending = 0  # its length
        self.received = 0  #: characters of console text received (telnet commands aside)
        self.eof = False

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        """Disconnect from the console (the node keeps running)."""
        with contextlib.suppress(OSError):  # already closed by the other end
            self._sock.shutdown(socket.SHUT_RDWR)
        self._sock.close()

    def read(self, timeout: float) -> str:
        """Raw text (escape sequences included) the console sent, waiting up to ``timeout``
        seconds for some; ``""`` when nothing came. Sets :attr:`eof` once the console closed
        (or the connection failed)."""
        if self.eof:
            return ""
        try:
            self._sock.settimeout(max(timeout, 0.001))
            chunk = self._sock.recv(65536)
            if not chunk:
                self.eof = True
                return self._decoder.decode(b"", final=True)
            data, replies = self._telnet.feed(chunk)
            if replies:
                self._sock.sendall(replies)
        except TimeoutError:
            return ""
        except OSError:  # reset by the other end, or closed here
            self.eof = True
            return ""
        text = self._decoder.decode(data)
        self.received += len(text)
        return text

    def lines(self, timeout: float) -> Iterator[str]:
        """Yield non-empty, cleaned lines (see :func:`clean_console_line`) until ``timeout``
        seconds have passed or the console closes; a last unterminated line is yielded at
        the end of the console. A line longer than :data:`MAX_LINE` is cut into pieces of
        that length: the unterminated rest carried between reads stays bounded, so each read
        costs time in proportion to what it brought."""
        deadline = time.monotonic() + timeout
        while not self.eof and (remaining := deadline - time.monotonic()) > 0:
            yield from filter(None, map(clean_console_line, self._split(self.read(remaining))))
        if self.eof and (last := clean_console_line("".join(self._partial))):
            self._partial, self._pending = [], 0
            yield last

    def _split(self, text: str) -> list[str]:
        """The lines ``text`` completes. Text without a line end is only put aside (no copy
        of what came before), so a long line costs its length, not its length squared."""
        partial = self._partial
        if not _LINE_BREAK.search(text) and self._pending + len(text) <= MAX_LINE and not (
                partial and partial[-1].endswith("\r")):
            if text:
                partial.append(text)
                self._pending += len(text)
            return []
        *complete, rest = _LINE_END.split("".join(partial) + text)
        while len(rest) > MAX_LINE:
            complete.append(rest[:MAX_LINE])
            rest = rest[MAX_LINE:]
        self._partial, self._pending = ([rest] if rest else []), len(rest)
        return complete
