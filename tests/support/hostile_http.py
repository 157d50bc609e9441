"""A hostile HTTP server on 127.0.0.1 for the image-pull safety tests.

Each path is given a behaviour: a body (with a lying ``Content-Length``, or dripped a byte at a
time), an endless body with no length, or a redirect (to another path, ``ftp://``,
``file://``). The server records what it was asked and how many bytes it got out, and it is
bounded in time: every response stops when the server stops, and the server stops by itself
after ``lifetime`` seconds. A plain TCP listener stands in for an FTP server: the tests assert
that nothing ever connects to it.
"""

from __future__ import annotations

import socket
import ssl
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

CHUNK = 64 << 10


@dataclass
class Route:
    """What one path answers."""

    status: int = 200
    body: bytes = b""
    length: int | None = None  # the Content-Length to announce (None: the body's; -1: none)
    endless: int = 0  # > 0: after ``body``, this many zero bytes more (no length announced)
    drip: float = 0.0  # > 0: send the body one byte per ``drip`` seconds (after ``head``)
    head: int = 0  # with ``drip``: bytes sent at once before the drip starts
    location: str | None = None  # a redirect's target
    raw: bytes | None = None  # sent as the whole answer, status line and headers included


@dataclass
class Seen:
    """What the server saw."""

    gets: Counter = field(default_factory=Counter)  # requests per path
    sent: Counter = field(default_factory=Counter)  # body bytes handed to the socket, per path
    ftp_connections: int = 0


class HostileServer:
    """``with HostileServer() as srv: srv.routes["/x"] = Route(...); srv.url + "/x"``."""

    def __init__(self, lifetime: float = 90, tls: tuple[Path, Path] | None = None) -> None:
        """``tls``: (certificate, key) PEM files to serve https with."""
        self.routes: dict[str, Route] = {}
        self.seen = Seen()
        self.stopping = threading.Event()
        self.lifetime = lifetime
        handler = type("Handler", (_Handler,), {"owner": self})
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        if tls:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*tls)
            self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        scheme, host = ("https", "localhost") if tls else ("http", "127.0.0.1")
        self.url = f"{scheme}://{host}:{self.httpd.server_address[1]}"
        self.ftp = socket.create_server(("127.0.0.1", 0))
        self.ftp.settimeout(0.2)
        self.ftp_url = f"ftp://127.0.0.1:{self.ftp.getsockname()[1]}"
        self._threads = [threading.Thread(target=self.httpd.serve_forever, daemon=True),
                         threading.Thread(target=self._ftp_loop, daemon=True)]
        self._timer = threading.Timer(lifetime, self.stop)
        self._timer.daemon = True

    def __enter__(self) -> HostileServer:
        for thread in self._threads:
            thread.start()
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        """Stop serving (idempotent): every response in flight ends at its next step."""
        if self.stopping.is_set():
            return
        self.stopping.set()
        self._timer.cancel()
        self.httpd.shutdown()
        self.httpd.server_close()
        self.ftp.close()

    def _ftp_loop(self) -> None:
        """Count connections to the stand-in FTP port (there must be none)."""
        while not self.stopping.is_set():
            try:
                conn, _ = self.ftp.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.seen.ftp_connections += 1
            conn.close()


class _Handler(BaseHTTPRequestHandler):
    owner: HostileServer
    protocol_version = "HTTP/1.0"  # a body without a length ends when the connection closes

    def log_message(self, *args: object) -> None:  # keep pytest output clean
        pass

    def do_GET(self) -> None:
        owner, path = self.owner, self.path.split("?")[0]
        owner.seen.gets[path] += 1
        route = owner.routes.get(path)
        if route is None:
            self.send_error(404)
            return
        if route.raw is not None:
            self.wfile.write(route.raw)
            return
        self.send_response(route.status)
        if route.location is not None:
            self.send_header("Location", route.location)
        length = len(route.body) if route.length is None else route.length
        if length >= 0 and not route.endless:
            self.send_header("Content-Length", str(length))
        self.end_headers()
        try:
            self._send_body(route, lambda n: owner.seen.sent.update({path: n}))
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            pass  # the client hung up: what the tests want it to do

    def _send_body(self, route: Route, count: Callable[[int], None]) -> None:
        stopping = self.owner.stopping
        if route.drip:
            self.wfile.write(route.body[:route.head])
            self.wfile.flush()
            count(route.head)
            for i in range(route.head, len(route.body)):
                if _sleep(stopping, route.drip):
                    return
                self.wfile.write(route.body[i:i + 1])
                self.wfile.flush()
                count(1)
            return
        for i in range(0, len(route.body), CHUNK):
            if stopping.is_set():
                return
            self.wfile.write(route.body[i:i + CHUNK])
            count(len(route.body[i:i + CHUNK]))
        zeros, left = bytes(CHUNK), route.endless
        while left > 0 and not stopping.is_set():
            self.wfile.write(zeros[:left])
            count(min(left, CHUNK))
            left -= CHUNK


def _sleep(stopping: threading.Event, seconds: float) -> bool:
    """Sleep ``seconds`` unless the server stops first; True if it did."""
    end = time.monotonic() + seconds
    return stopping.wait(max(0.0, end - time.monotonic()))
