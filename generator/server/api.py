"""A small client for a running GNS3 server (2.2 or 3.x); :mod:`.consoles` reads node consoles.

Only the standard library is used (``urllib``, ``socket``). The client speaks the REST API
under ``/v2`` (GNS3 2.2) or ``/v3`` (GNS3 3.x) and finds out which on first use. Every failure,
from an unreachable server to an HTTP error, is raised as :class:`~generator.errors.ServerError`
carrying the HTTP status and the server's own message. Answers are read with a byte cap and
checked against the shapes in :mod:`.replies` before anything uses them: a broken or lying
server ends in a ServerError, not in a crash or in gigabytes of memory.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import json
import re
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from generator.errors import ServerError
from generator.server.replies import (
    COMPUTE,
    IMAGE,
    LISTED_PROJECT,
    MAX_REPLY_BYTES,
    NODE,
    PROJECT,
    STARTED,
    TOKEN,
    VERSION,
    BadReply,
    check_item,
    check_links,
    check_list,
    load_json,
)

#: API prefixes tried in order; GNS3 3.x answers the first, 2.2 only the second.
API_PREFIXES = ("/v3", "/v2")
#: Longest server message quoted in an error (2.2 can answer with pages of JSON).
MAX_MESSAGE = 2000


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
                self._prefix, self._version = prefix, self._checked(
                    "GET", f"{prefix}/version", body, lambda b: check_item(b, VERSION))
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
        self._token = self._checked("POST", "/v3/access/users/authenticate", body,
                                    lambda b: check_item(b, TOKEN))["access_token"]

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

        ``data`` is sent as JSON (``bytes`` as they are); ``body_file`` is streamed as raw
        bytes. A status outside ``expect`` raises ServerError. An expired 3.x token is renewed once.
        """
        full = self.prefix + path
        status, body = self._send(method, full, data=data, body_file=body_file)
        if status == 401 and self.prefix == "/v3" and self._token is not None:
            self._token = None
            status, body = self._send(method, full, data=data, body_file=body_file)
        if status not in expect:
            raise _http_error(method, full, status, body)
        return body

    def _call(self, method: str, path: str, check: Callable[[Any], Any], data: Any = None,
              *, body_file: Path | None = None) -> Any:
        """:meth:`request`, then the answer checked by ``check`` (see :mod:`.replies`)."""
        body = self.request(method, path, data, body_file=body_file)
        return self._checked(method, self.prefix + path, body, check)

    def _checked(self, method: str, path: str, body: Any, check: Callable[[Any], Any]) -> Any:
        try:
            return check(body)
        except BadReply as exc:
            raise self._bad_reply(method, path, str(exc)) from None

    def _bad_reply(self, method: str, path: str, problem: str) -> ServerError:
        return ServerError(f"the GNS3 server at {self.url} answered {method} {path} with "
                           f"something GNS3 does not send: {problem}",
                           hint="check that --server names a GNS3 server; if it does, that "
                                "server is broken (its log may say why)")

    def _send(self, method: str, path: str, *, data: Any = None, body_file: Path | None = None,
              authenticate: bool = True) -> tuple[int, Any]:
        """One HTTP exchange; returns (status, decoded body). Raises only if unreachable."""
        headers = {"Accept": "application/json", **(self._auth_headers() if authenticate else {})}
        payload: Any = None
        if body_file is not None:
            headers["Content-Type"] = "application/octet-stream"
            headers["Content-Length"] = str(body_file.stat().st_size)
        elif isinstance(data, bytes):  # a file's content, e.g. a rewritten project file
            headers["Content-Type"] = "application/octet-stream"
            payload = data
        elif data is not None:
            headers["Content-Type"] = "application/json"
            payload = json.dumps(data).encode()
        with open(body_file, "rb") if body_file else contextlib.nullcontext(payload) as body:
            req = urllib.request.Request(self.url + path, data=body, method=method,
                                         headers=headers)
            status, raw = self._exchange(req)
        try:
            return status, _decode(raw)
        except BadReply as exc:
            if 200 <= status < 300:
                raise self._bad_reply(method, path, str(exc)) from None
            return status, f"(an error page GNS3 does not send: {exc})"

    def _exchange(self, req: urllib.request.Request) -> tuple[int, bytes]:
        """Send ``req``; its status and body (capped). Raises ServerError only if the server
        cannot be reached, breaks the exchange or sends too much."""
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                return resp.status, _read_capped(resp, self.timeout)
        except urllib.error.HTTPError as exc:
            with exc:  # an error page is only quoted: its first bytes are enough
                return exc.code, exc.read(MAX_REPLY_BYTES)
        except BadReply as exc:
            raise self._bad_reply(req.get_method(), req.selector, str(exc)) from None
        except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
            reason = getattr(exc, "reason", exc)
            raise ServerError(f"cannot reach GNS3 server at {self.url}: {reason}",
                              hint="is gns3server running, and are the host and port right?"
                              ) from exc
        except ValueError as exc:  # a URL urllib cannot use
            raise ServerError(f"cannot use {self.url!r} as a GNS3 server URL: {exc}",
                              hint="give it as http://HOST:PORT") from exc

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
        return self._call("POST", f"/projects/{uuid.uuid4()}/import{query}",
                          lambda b: check_item(b, PROJECT), body_file=archive)

    def projects(self) -> list[dict[str, Any]]:
        """Every project the server knows."""
        return self._call("GET", "/projects", lambda b: check_list(b, LISTED_PROJECT,
                                                                    "projects"))

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
        return self._call("GET", f"/projects/{pid}/nodes", lambda b: check_list(b, NODE, "nodes"))

    def links(self, pid: str) -> list[dict[str, Any]]:
        """The links of an opened project."""
        return self._call("GET", f"/projects/{pid}/links", check_links)

    def node(self, pid: str, nid: str) -> dict[str, Any]:
        """One node, with its ``status``, ``console`` and ``command_line``."""
        return self._call("GET", f"/projects/{pid}/nodes/{nid}", lambda b: check_item(b, NODE))

    def stop_all(self, pid: str) -> None:
        """Stop every node of an opened project."""
        self.request("POST", f"/projects/{pid}/nodes/stop")

    def start_node(self, pid: str, nid: str) -> Any:
        """Start one node (3.x wants a JSON body, even an empty one)."""
        return self._call("POST", f"/projects/{pid}/nodes/{nid}/start",
                          lambda b: check_item(b, STARTED) if isinstance(b, dict) else None,
                          data={})

    # -- computes, images, project files ---------------------------------------------------

    def computes(self) -> list[dict[str, Any]]:
        """The controller's computes, in the order GNS3 keeps them (the order its import cycles
        through). 3.x does not list its built-in ``local`` compute; it is put first here, where
        the controller adds it at start."""
        found = self._call("GET", "/computes", lambda b: check_list(b, COMPUTE, "computes"))
        if self.prefix == "/v3" and not any(c.get("compute_id") == "local" for c in found):
            found = [{"compute_id": "local", "name": "local", "connected": True}, *found]
        return found

    def compute_images(self, compute_id: str, emulator: str = "qemu") -> list[dict[str, Any]]:
        """The images one compute has: ``filename``, ``path``, ``md5sum``, ``filesize`` (the
        compute hashes its real files, so this is right even where 3.x's image database lags)."""
        return self._call("GET", f"/computes/{compute_id}/{emulator}/images",
                          lambda b: check_list(b, IMAGE, "images"))

    def upload_image(self, compute_id: str, image: Path) -> None:
        """Upload a QEMU base image. 2.2 writes it straight onto ``compute_id``; 3.x takes it
        into the controller's image store, from where a remote compute is served on node
        creation."""
        name = urllib.parse.quote(image.name)
        if self.prefix == "/v3":
            self.request("POST", f"/images/upload/{name}", body_file=image)
        else:
            self.request("POST", f"/computes/{compute_id}/qemu/images/{name}", body_file=image)

    def read_project_file(self, pid: str, path: str) -> Any:
        """A file of a (loaded) project on the controller, decoded like any answer."""
        return self.request("GET", f"/projects/{pid}/files/{urllib.parse.quote(path)}")

    def write_project_file(self, pid: str, path: str, content: bytes) -> None:
        """Write a file into a (loaded) project's folder on the controller."""
        self.request("POST", f"/projects/{pid}/files/{urllib.parse.quote(path)}", content)

    def find_project(self, name: str) -> dict[str, Any] | None:
        """The project called exactly ``name``, or None."""
        return next((p for p in self.projects() if p.get("name") == name), None)


def _decode(raw: bytes) -> Any:
    """JSON if it parses (within bounds), else the text (GNS3 3.x answers some 500s with
    plain text)."""
    if not raw:
        return None
    try:
        return load_json(raw)
    except BadReply:
        raise
    except ValueError:
        return raw.decode(errors="replace")


def _read_capped(resp: http.client.HTTPResponse, timeout: float) -> bytes:
    """The answer's body, refused past :data:`MAX_REPLY_BYTES` (announced or sent) or when it
    is still coming ``timeout`` seconds after the headers (the socket timeout alone lets a
    byte-a-minute drip go on for ever)."""
    deadline = time.monotonic() + timeout
    announced = resp.headers.get("Content-Length", "")
    if announced.isdigit() and int(announced) > MAX_REPLY_BYTES:
        raise BadReply(f"a body of {announced} bytes, more than {MAX_REPLY_BYTES}")
    parts, size = [], 0
    while chunk := resp.read1(1 << 16):
        size += len(chunk)
        if size > MAX_REPLY_BYTES:
            raise BadReply(f"a body of more than {MAX_REPLY_BYTES} bytes")
        if time.monotonic() > deadline:
            raise BadReply(f"a body still coming after {timeout:g} s")
        parts.append(chunk)
    return b"".join(parts)


def _http_error(method: str, path: str, status: int, body: Any,
                hint: str | None = None) -> ServerError:
    """A ServerError naming the request, the status and the server's message."""
    message = str((body.get("message") if isinstance(body, dict) else body) or "(no message)")
    # 2.2 appends the whole JSON schema to validation errors; the sentence before it is enough.
    message = re.sub(r" in schema: \{.*", "", message, flags=re.DOTALL).strip()
    if len(message) > MAX_MESSAGE:
        message = message[:MAX_MESSAGE] + " [...]"
    if status == 401:
        hint = hint or "check the user name and password"
    elif status == 500:
        hint = hint or "the server failed internally; its log has the details"
    return ServerError(f"{method} {path}: HTTP {status}: {message}", hint=hint)
