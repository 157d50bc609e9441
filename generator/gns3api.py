"""A small client for a running GNS3 server (2.2 or 3.x), and a reader for node consoles.

Only the standard library is used (``urllib``, ``socket``). The client speaks the REST API
under ``/v2`` (GNS3 2.2) or ``/v3`` (GNS3 3.x) and finds out which on first use. Every failure,
from an unreachable server to an HTTP error, is raised as :class:`~generator.errors.ServerError`
carrying the HTTP status and the server's own message.
"""

from __future__ import annotations

import base64
import contextlib
import json
import re
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .errors import ServerError

#: API prefixes tried in order; GNS3 3.x answers the first, 2.2 only the second.
API_PREFIXES = ("/v3", "/v2")


class Gns3Client:
    """REST client for one GNS3 server.

    ``username``/``password`` are required for GNS3 3.x (JWT login); for 2.2 they are sent as
    HTTP Basic credentials when given (servers started with ``auth = true``).
    """

    def __init__(self, url: str, username: str | None = None, password: str | None = None,
                 timeout: float = 30) -> None:
        self.url = url.rstrip("/")
        self.username, self.password, self.timeout = username, password, timeout
        self._prefix: str | None = None
        self._version: dict[str, Any] | None = None
        self._token: str | None = None

    # -- connection ------------------------------------------------------------------------

    @property
    def prefix(self) -> str:
        """``/v2`` or ``/v3``, detected from the server on first use."""
        if self._prefix is None:
            self._detect()
        assert self._prefix is not None
        return self._prefix

    def version(self) -> dict[str, Any]:
        """The server's ``/version`` answer, e.g. ``{"version": "3.0.6", "local": true}``."""
        if self._version is None:
            self._detect()
        assert self._version is not None
        return self._version

    def _detect(self) -> None:
        """Find the API prefix: ``/vN/version`` needs no authentication in either version."""
        for prefix in API_PREFIXES:
            status, body = self._send("GET", f"{prefix}/version", authenticate=False)
            if status == 200 and isinstance(body, dict):
                self._prefix, self._version = prefix, body
                return
        raise ServerError(f"{self.url} does not look like a GNS3 server (no /v2 or /v3 API)",
                          hint="check the server URL and port")

    def _login(self) -> None:
        """Get a JWT from GNS3 3.x."""
        if not self.username or self.password is None:
            raise ServerError(f"GNS3 {self.version().get('version', '3.x')} at {self.url} "
                              "requires a user name and password",
                              hint="pass the credentials of a GNS3 user (e.g. the admin user)")
        status, body = self._send("POST", "/v3/access/users/authenticate", authenticate=False,
                                  data={"username": self.username, "password": self.password})
        if status != 200 or not isinstance(body, dict) or "access_token" not in body:
            raise _http_error("POST", "/v3/access/users/authenticate", status, body,
                              hint="check the user name and password")
        self._token = body["access_token"]

    def _auth_headers(self) -> dict[str, str]:
        if self.prefix == "/v3":
            if self._token is None:
                self._login()
            return {"Authorization": f"Bearer {self._token}"}
        if self.username:
            pair = f"{self.username}:{self.password or ''}".encode()
            return {"Authorization": "Basic " + base64.b64encode(pair).decode()}
        return {}

    def request(self, method: str, path: str, data: Any = None, *,
                body_file: Path | None = None, expect: tuple[int, ...] = (200, 201, 204)) -> Any:
        """Call ``<prefix><path>`` and return the decoded JSON answer (``None`` when empty).

        ``data`` is sent as JSON; ``body_file`` is streamed as raw bytes instead. A status
        outside ``expect`` raises ServerError. An expired 3.x token is renewed once.
        """
        full = self.prefix + path
        status, body = self._send(method, full, data=data, body_file=body_file)
        if status == 401 and self.prefix == "/v3" and self._token is not None:
            self._token = None
            status, body = self._send(method, full, data=data, body_file=body_file)
        if status not in expect:
            raise _http_error(method, full, status, body)
        return body

    def _send(self, method: str, path: str, *, data: Any = None, body_file: Path | None = None,
              authenticate: bool = True) -> tuple[int, Any]:
        """One HTTP exchange; returns (status, decoded body). Raises only if unreachable."""
        headers = {"Accept": "application/json", **(self._auth_headers() if authenticate else {})}
        payload: Any = None
        if body_file is not None:
            headers["Content-Type"] = "application/octet-stream"
            headers["Content-Length"] = str(body_file.stat().st_size)
        elif data is not None:
            headers["Content-Type"] = "application/json"
            payload = json.dumps(data).encode()
        try:
            with open(body_file, "rb") if body_file else contextlib.nullcontext() as stream:
                req = urllib.request.Request(self.url + path, method=method, headers=headers,
                                             data=stream if body_file is not None else payload)
                with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                    return resp.status, _decode(resp.read())
        except urllib.error.HTTPError as exc:
            return exc.code, _decode(exc.read())
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise ServerError(f"cannot reach GNS3 server at {self.url}: {reason}",
                              hint="is gns3server running, and are the host and port right?"
                              ) from exc

    # -- projects --------------------------------------------------------------------------

    def import_project(self, archive_path: Path | str, name: str | None = None
                       ) -> dict[str, Any]:
        """Upload a ``.gns3project`` archive as a new, closed project named ``name`` (default:
        the name inside the archive). If that name is taken, GNS3 appends ``-1``, ``-2``, …;
        the answer's ``name`` is the final one.

        A fresh project id is used, never the one inside the archive: GNS3 2.2 would treat
        the upload as a snapshot restore of that project instead.
        """
        archive = Path(archive_path)
        if not archive.is_file():
            raise ServerError(f"archive not found: {archive}")
        query = "?" + urllib.parse.urlencode({"name": name}) if name else ""
        return self.request("POST", f"/projects/{uuid.uuid4()}/import{query}", body_file=archive)

    def projects(self) -> list[dict[str, Any]]:
        """Every project the server knows."""
        return self.request("GET", "/projects")

    def open_project(self, pid: str) -> dict[str, Any]:
        """Open a project: this creates its nodes, so image and property errors show here."""
        return self.request("POST", f"/projects/{pid}/open")

    def close_project(self, pid: str) -> None:
        """Close a project (its nodes are stopped)."""
        self.request("POST", f"/projects/{pid}/close")

    def delete_project(self, pid: str) -> None:
        """Delete a project and its files from the server."""
        self.request("DELETE", f"/projects/{pid}")

    # -- nodes and links -------------------------------------------------------------------

    def nodes(self, pid: str) -> list[dict[str, Any]]:
        """The nodes of an opened project."""
        return self.request("GET", f"/projects/{pid}/nodes")

    def links(self, pid: str) -> list[dict[str, Any]]:
        """The links of an opened project."""
        return self.request("GET", f"/projects/{pid}/links")

    def node(self, pid: str, nid: str) -> dict[str, Any]:
        """One node, with its ``status``, ``console`` and ``command_line``."""
        return self.request("GET", f"/projects/{pid}/nodes/{nid}")

    def start_all(self, pid: str) -> None:
        """Start every node of an opened project."""
        self.request("POST", f"/projects/{pid}/nodes/start")

    def stop_all(self, pid: str) -> None:
        """Stop every node of an opened project."""
        self.request("POST", f"/projects/{pid}/nodes/stop")

    def start_node(self, pid: str, nid: str) -> Any:
        """Start one node (3.x wants a JSON body, even an empty one)."""
        return self.request("POST", f"/projects/{pid}/nodes/{nid}/start", data={})

    def stop_node(self, pid: str, nid: str) -> Any:
        """Stop one node."""
        return self.request("POST", f"/projects/{pid}/nodes/{nid}/stop")

    def start_capture(self, pid: str, lid: str) -> dict[str, Any]:
        """Start a packet capture on a link; the answer holds ``capture_file_path``."""
        action = "capture/start" if self.prefix == "/v3" else "start_capture"
        return self.request("POST", f"/projects/{pid}/links/{lid}/{action}", {})

    def stop_capture(self, pid: str, lid: str) -> None:
        """Stop the packet capture on a link."""
        action = "capture/stop" if self.prefix == "/v3" else "stop_capture"
        self.request("POST", f"/projects/{pid}/links/{lid}/{action}")


def _decode(raw: bytes) -> Any:
    """JSON if it parses, else the text (GNS3 3.x answers some 500s with plain text)."""
    if not raw:
        return None
    text = raw.decode(errors="replace")
    try:
        return json.loads(text)
    except ValueError:
        return text


def _http_error(method: str, path: str, status: int, body: Any,
                hint: str | None = None) -> ServerError:
    """A ServerError naming the request, the status and the server's message."""
    message = body.get("message") if isinstance(body, dict) else body
    if not message:
        message = "(no message)"
    if status == 401:
        hint = hint or "check the user name and password"
    elif status == 500:
        hint = hint or "the server failed internally; its log has the details"
    return ServerError(f"{method} {path}: HTTP {status}: {str(message).strip()}", hint=hint)


# -- serial consoles ---------------------------------------------------------------------------

IAC, DONT, DO, WONT, WILL, SB, SE = 255, 254, 253, 252, 251, 250, 240
#: ANSI/VT100 control sequences (colours, cursor moves) that firmware writes to serial consoles.
_ANSI = re.compile(r"\x1b(\[[0-?]*[ -/]*[@-~]|[@-Z\\-_])")


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
            if data[i] != IAC:
                out.append(data[i])
                i += 1
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


class ConsoleTail:
    """Follow a node's telnet console (raw TCP), as decoded text lines.

    >>> with ConsoleTail("127.0.0.1", 5000) as tail:       # doctest: +SKIP
    ...     for line in tail.lines(timeout=60):
    ...         print(line)
    """

    def __init__(self, host: str, port: int, connect_timeout: float = 10) -> None:
        self.host, self.port = host, port
        self._filter = TelnetFilter()
        self._buffer = ""
        try:
            self._sock = socket.create_connection((host, port), timeout=connect_timeout)
        except OSError as exc:
            raise ServerError(f"cannot connect to console {host}:{port}: {exc}",
                              hint="is the node started, and is its console type telnet?") from exc
        self.closed = False

    def __enter__(self) -> ConsoleTail:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        """Disconnect from the console (the node keeps running)."""
        self._sock.close()
        self.closed = True

    def read(self, timeout: float) -> str:
        """Text received within ``timeout`` seconds of waiting (``""`` if none, or at EOF)."""
        if self.closed:
            return ""
        self._sock.settimeout(max(timeout, 0.001))
        try:
            chunk = self._sock.recv(65536)
        except TimeoutError:
            return ""
        except OSError as exc:
            raise ServerError(f"console {self.host}:{self.port}: {exc}") from exc
        if not chunk:
            self.close()
            return ""
        data, replies = self._filter.feed(chunk)
        if replies:
            self._sock.sendall(replies)
        return _ANSI.sub("", data.decode("utf-8", errors="replace"))

    def lines(self, timeout: float) -> Iterator[str]:
        """Yield non-empty lines (without line endings) until ``timeout`` seconds have passed
        or the console closes; a last unterminated line is yielded at EOF."""
        deadline = time.monotonic() + timeout
        while not self.closed and (remaining := deadline - time.monotonic()) > 0:
            self._buffer += self.read(remaining)
            *complete, self._buffer = re.split(r"\r?\n|\r(?!$)", self._buffer)
            yield from (line for line in complete if line.strip("\r"))
        if self.closed and self._buffer:
            yield self._buffer.rstrip("\r")
            self._buffer = ""
