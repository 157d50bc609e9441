"""A lying GNS3 server for tests: answers the endpoints ``push`` uses with scripted replies.

:class:`FakeGns3` is a ``ThreadingHTTPServer`` on 127.0.0.1 (a free port) speaking the 2.2 API
under ``/v2`` without authentication (``/v3`` answers 404, so the client settles on ``/v2``).
By default it plays a well-behaved server holding one opened project whose nodes are
:attr:`FakeGns3.nodes`; a test replaces any reply in :attr:`FakeGns3.replies` by route name:

====================  ========================================================
route                 request
====================  ========================================================
``version``           ``GET /v2/version``
``computes``          ``GET /v2/computes``
``images``            ``GET /v2/computes/<id>/qemu/images``
``import``            ``POST /v2/projects/<id>/import`` (the upload is read and dropped)
``open``              ``POST /v2/projects/<id>/open``
``nodes``             ``GET /v2/projects/<id>/nodes``
``links``             ``GET /v2/projects/<id>/links``
``start``             ``POST /v2/projects/<id>/nodes/<id>/start``
``projects``          ``GET /v2/projects``
``stop``              ``POST /v2/projects/<id>/nodes/stop``
``delete``            ``DELETE /v2/projects/<id>``
``file``              ``GET|POST /v2/projects/<id>/files/<path>``
``suspend``           ``POST /v2/projects/<id>/nodes/suspend``
``snapshots``         ``GET /v2/projects/<id>/snapshots``
``snapshot``          ``POST /v2/projects/<id>/snapshots``
``export``            ``GET /v2/projects/<id>/export`` (default: a one-file export zip)
====================  ========================================================

A reply is any JSON value (sent with status 200), a :class:`Raw` (status and bytes, and a
Content-Length that may lie), a
:class:`Stream` (status and an iterable of byte chunks, sent without a Content-Length: for
bodies too large to build in memory), or a :class:`Calls` (one of those per request, in turn:
a server whose answers change between two requests). Every request is logged in
:attr:`FakeGns3.requests` as ``(method, route)``.

:class:`TelnetConsole` is a console port that plays one script to every connection. Both stop
with their context manager, and by themselves after :data:`LIFETIME` seconds at the latest.
"""

from __future__ import annotations

import io
import json
import re
import socket
import threading
import uuid
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

#: Seconds after which a fake server or console shuts itself down, whatever the test does.
LIFETIME = 600.0

_ROUTES: list[tuple[str, re.Pattern[str], str]] = [
    ("GET", re.compile(r"^/v2/version$"), "version"),
    ("GET", re.compile(r"^/v2/computes$"), "computes"),
    ("GET", re.compile(r"^/v2/computes/[^/]+/qemu/images$"), "images"),
    ("POST", re.compile(r"^/v2/projects/[^/]+/import$"), "import"),
    ("POST", re.compile(r"^/v2/projects/[^/]+/open$"), "open"),
    ("GET", re.compile(r"^/v2/projects/[^/]+/nodes$"), "nodes"),
    ("GET", re.compile(r"^/v2/projects/[^/]+/links$"), "links"),
    ("POST", re.compile(r"^/v2/projects/[^/]+/nodes/[^/]+/start$"), "start"),
    ("GET", re.compile(r"^/v2/projects$"), "projects"),
    ("POST", re.compile(r"^/v2/projects/[^/]+/nodes/stop$"), "stop"),
    ("DELETE", re.compile(r"^/v2/projects/[^/]+$"), "delete"),
    ("GET", re.compile(r"^/v2/projects/[^/]+/files/.+$"), "file"),
    ("POST", re.compile(r"^/v2/projects/[^/]+/files/.+$"), "file"),
    ("POST", re.compile(r"^/v2/projects/[^/]+/nodes/suspend$"), "suspend"),
    ("GET", re.compile(r"^/v2/projects/[^/]+/snapshots$"), "snapshots"),
    ("POST", re.compile(r"^/v2/projects/[^/]+/snapshots$"), "snapshot"),
    ("GET", re.compile(r"^/v2/projects/[^/]+/export$"), "export"),
]


@dataclass(frozen=True)
class Raw:
    """A reply sent as it is."""

    body: bytes
    status: int = 200
    length: int | None = None  #: the Content-Length announced (None: the body's)


@dataclass(frozen=True)
class Stream:
    """A reply sent chunk by chunk, without a Content-Length (the connection closes after)."""

    chunks: Callable[[], Iterable[bytes]]
    status: int = 200


class Calls:
    """Replies given in turn, one per request; the last one is repeated."""

    def __init__(self, *replies: Any) -> None:
        self._replies = list(replies)

    def next(self) -> Any:
        return self._replies.pop(0) if len(self._replies) > 1 else self._replies[0]


def node(name: str, console: int | None = None, **fields: Any) -> dict[str, Any]:
    """A node as GNS3 2.2 describes it: a QEMU node with a telnet console on 127.0.0.1."""
    return {"name": name, "node_id": str(uuid.uuid5(uuid.NAMESPACE_URL, name)),
            "node_type": "qemu", "status": "stopped", "console_type": "telnet",
            "console_host": "127.0.0.1", "console": console, "compute_id": "local", **fields}


def exported_zip(name: str, nodes: list[dict[str, Any]]) -> bytes:
    """What GNS3 exports of a project (its ``project.gns3`` only): a well-behaved export."""
    doc = {"project_id": str(uuid.uuid4()), "name": name, "type": "topology", "revision": 9,
           "version": "2.2.61", "topology": {"nodes": [
               {k: n[k] for k in ("node_id", "name", "node_type", "compute_id") if k in n}
               | {"properties": {}} for n in nodes], "links": [], "computes": [],
               "drawings": []}}
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        zf.writestr("project.gns3", json.dumps(doc))
    return out.getvalue()


class FakeGns3:
    """A scripted GNS3 2.2 server on 127.0.0.1; use as a context manager."""

    def __init__(self, nodes: list[dict[str, Any]] | None = None,
                 project_name: str = "lab") -> None:
        self.nodes = nodes if nodes is not None else [node("r1")]
        self.project_id = str(uuid.uuid4())
        self.project_name = project_name
        self.replies: dict[str, Any] = {}
        self.requests: list[tuple[str, str]] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.1}, daemon=True)
        self._timer = threading.Timer(LIFETIME, self.close)
        self._timer.daemon = True

    def __enter__(self) -> Self:
        self._thread.start()
        self._timer.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop serving (idempotent)."""
        self._timer.cancel()
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join(5)
        self._server.server_close()

    def routes(self) -> list[str]:
        """The routes asked for, in order."""
        return [route for _, route in self.requests]

    def defaults(self) -> dict[str, Any]:
        """What a well-behaved server answers."""
        project = {"project_id": self.project_id, "name": self.project_name,
                   "status": "opened"}
        return {"version": {"version": "2.2.61", "local": True},
                "computes": [{"compute_id": "local", "name": "local", "connected": True}],
                "images": [], "import": dict(project, status="closed"), "open": project,
                "nodes": self.nodes, "links": [], "start": {"status": "started"},
                "projects": [project], "stop": None, "delete": None, "file": None,
                "suspend": None, "snapshots": [], "snapshot": {"snapshot_id": "s1"},
                "export": Raw(exported_zip(self.project_name, self.nodes))}

    def reply_for(self, route: str) -> Any:
        reply = self.replies[route] if route in self.replies else self.defaults()[route]
        return reply.next() if isinstance(reply, Calls) else reply

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_: Any) -> None:  # quiet
                pass

            def _answer(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                while length > 0:  # drop the upload (an archive, a project file)
                    got = len(self.rfile.read(min(length, 1 << 20)))
                    length = length - got if got else 0
                path = self.path.split("?", 1)[0]
                route = next((r for m, pattern, r in _ROUTES
                              if m == method and pattern.match(path)), None)
                fake.requests.append((method, route or path))
                if route is None:
                    return self._send(Raw(b'{"message": "not found"}', 404))
                self._send(fake.reply_for(route))

            def _send(self, reply: Any) -> None:
                if not isinstance(reply, (Raw, Stream)):
                    reply = Raw(b"" if reply is None else json.dumps(reply).encode())
                self.send_response(reply.status)
                self.send_header("Content-Type", "application/json")
                try:
                    if isinstance(reply, Raw):
                        length = len(reply.body) if reply.length is None else reply.length
                        self.send_header("Content-Length", str(length))
                        self.end_headers()
                        self.wfile.write(reply.body)
                    else:
                        self.send_header("Connection", "close")
                        self.end_headers()
                        for chunk in reply.chunks():
                            self.wfile.write(chunk)
                except OSError:  # the client stopped reading: that is what caps are for
                    self.close_connection = True

            def do_GET(self) -> None:
                self._answer("GET")

            def do_POST(self) -> None:
                self._answer("POST")

            def do_DELETE(self) -> None:
                self._answer("DELETE")

        return Handler


class TelnetConsole:
    """A console port on 127.0.0.1: every connection gets ``script`` (byte chunks, or a
    callable making them), then stays open until the console closes."""

    def __init__(self, script: Iterable[bytes] | Callable[[], Iterable[bytes]]) -> None:
        self._script = script
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.2)
        self.port = self._listener.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._timer = threading.Timer(LIFETIME, self.close)
        self._timer.daemon = True

    def __enter__(self) -> Self:
        self._thread.start()
        self._timer.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        self._timer.cancel()
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(5)
        self._listener.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except (TimeoutError, OSError):
                continue
            threading.Thread(target=self._play, args=(conn,), daemon=True).start()

    def _play(self, conn: socket.socket) -> None:
        with conn:
            chunks = self._script() if callable(self._script) else self._script
            try:
                for chunk in chunks:
                    if self._stop.is_set():
                        return
                    conn.sendall(chunk)
            except OSError:
                return
            conn.settimeout(0.2)
            while not self._stop.is_set():
                try:
                    if not conn.recv(1024):
                        return
                except TimeoutError:
                    continue
                except OSError:
                    return
