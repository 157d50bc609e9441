"""Bounded downloads for the image cache: http(s) only, every byte capped, deadlines, stoppable.

A URL comes from an appliance or from a stranger's archive, and the server behind it may lie,
so every step has a bound: the scheme (http and https only, checked again at each of at most
:data:`MAX_REDIRECTS` redirects: urllib's own handler would follow ``ftp://``), the announced
``Content-Length`` (refused before any body byte is read when it is past the cap), the body (the
read stops at the cap, whatever the server sends), the time (``timeout`` for the connection and
each read, ``deadline`` for the whole download) and the unpacked size (decompression is
streamed and stops at the declared size). A :class:`Transfers` lets the thread that got a
signal stop every download at once: it shuts the sockets down, so no worker stays blocked in a
read, and each worker removes its partial files on the way out.
"""

from __future__ import annotations

import bz2
import gzip
import http.client
import lzma
import os
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any
from urllib.parse import urljoin, urlsplit

from generator.errors import ImageError

SCHEMES = ("http", "https")
MAX_REDIRECTS = 5
BLOCK = 1 << 20
MIN_RATE = 64 << 10  # bytes/s: the default deadline allows the declared size at this rate
GRACE = 600  # seconds the default deadline adds for a slow start
DECOMPRESSORS: dict[str, Callable[[IO[bytes]], Any]] = {
    "xz": lambda f: lzma.open(f), "lzma": lambda f: lzma.open(f),
    "gzip": lambda f: gzip.open(f), "bzip2": lambda f: bz2.open(f),
}
RESUME_HINT = "run 'gns3lab images pull' again: it resumes"
#: progress(bytes done, bytes expected or 0)
Tick = Callable[[int, int], None]


@dataclass(frozen=True)
class Bounds:
    """How long a download may take: ``timeout`` seconds to connect and for each read, and
    ``deadline`` seconds for the whole of it (None: :data:`GRACE` plus the size at
    :data:`MIN_RATE`, so a big image on a slow line still gets there)."""

    timeout: float = 30
    deadline: float | None = None

    def seconds_for(self, size: int) -> float:
        return self.deadline if self.deadline is not None else GRACE + size / MIN_RATE


class Cancelled(BaseException):
    """A download stopped because another thread got a signal (never caught as Exception)."""


class Transfers:
    """The downloads of one pull: a cancel flag and the sockets to shut down when it is set."""

    def __init__(self) -> None:
        self.cancelled = threading.Event()
        self._sockets: set[socket.socket] = set()
        self._lock = threading.Lock()

    def add(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.add(sock)
        if self.cancelled.is_set():
            _shut(sock)

    def cancel(self) -> None:
        """Stop every download: a blocked read returns at once (the socket is shut down)."""
        self.cancelled.set()
        with self._lock:
            for sock in self._sockets:
                _shut(sock)

    def check(self) -> None:
        if self.cancelled.is_set():
            raise Cancelled()


def _shut(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # already closed


def check_url(url: object, where: str) -> str:
    """``url`` if it is an http or https URL with a host; else ImageError naming ``where``."""
    try:
        parts = urlsplit(url) if isinstance(url, str) else None
        host = parts.hostname if parts else None
    except ValueError:  # a malformed host ("http://[::1")
        parts = host = None
    if parts is None or parts.scheme.lower() not in SCHEMES or not host:
        raise ImageError(f"{where}: URL {url!r} refused: only http and https URLs are pulled",
                         hint="a file:// or ftp:// URL in an appliance or archive is not an "
                              "image source; get the file by hand and 'images import' it")
    return url  # type: ignore[return-value]


# --------------------------------------------------------------------------- opening


def _tracked(base: type[http.client.HTTPConnection], transfers: Transfers) -> Callable[..., Any]:
    """A connection class of ``base`` whose socket ``transfers`` can shut down."""
    class Tracked(base):  # type: ignore[valid-type, misc]
        def connect(self) -> None:
            super().connect()
            # Kept until the pull ends: the response reads from this socket after the
            # connection object has let go of it (urllib and HTTP/1.0 both close that early).
            transfers.add(self.sock)

    return Tracked


class _HTTP(urllib.request.HTTPHandler):
    def __init__(self, transfers: Transfers) -> None:
        super().__init__()
        self.conn = _tracked(http.client.HTTPConnection, transfers)

    def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(self.conn, req)


class _HTTPS(urllib.request.HTTPSHandler):
    def __init__(self, transfers: Transfers) -> None:
        super().__init__()
        self.conn = _tracked(http.client.HTTPSConnection, transfers)

    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(self.conn, req)  # the default context: certificates checked


def _opener(transfers: Transfers) -> urllib.request.OpenerDirector:
    """http and https only (no file, ftp or data handler), redirects not followed (each one
    is checked by :func:`open_url`), proxies from the environment as urllib has them."""
    opener = urllib.request.OpenerDirector()
    for handler in (urllib.request.ProxyHandler(), _HTTP(transfers), _HTTPS(transfers),
                    urllib.request.HTTPDefaultErrorHandler(),
                    urllib.request.HTTPErrorProcessor()):
        opener.add_handler(handler)
    return opener


def open_url(url: str, start: int, bounds: Bounds, transfers: Transfers, where: str
             ) -> tuple[http.client.HTTPResponse, str]:
    """GET ``url`` (from byte ``start``, by a Range request) following at most
    :data:`MAX_REDIRECTS` redirects, each to http or https; the response and its final URL.
    An HTTPError other than a redirect is raised as is."""
    opener = _opener(transfers)
    for _ in range(MAX_REDIRECTS + 1):
        check_url(url, where)
        request = urllib.request.Request(url, headers={"User-Agent": "gns3lab"})
        if start:
            request.add_header("Range", f"bytes={start}-")
        try:
            return opener.open(request, timeout=bounds.timeout), url
        except urllib.error.HTTPError as exc:
            location = exc.headers.get("Location") if exc.code in (301, 302, 303, 307, 308) \
                else None
            exc.close()
            if location is None:
                raise
            try:
                target = urljoin(url, location)
            except ValueError:  # a malformed Location: refused by the scheme check below
                target = location
            if not target.lower().startswith(("http://", "https://")):
                raise ImageError(f"{where}: {url} answers with a redirect to {target!r} "
                                 "refused: only http and https URLs are pulled") from None
            url = target
    raise ImageError(f"{where}: {url} is more than {MAX_REDIRECTS} redirects away from the "
                     "URL given: refused")


# --------------------------------------------------------------------------- fetching


def open_private(path: Path, append: bool = False) -> IO[bytes]:
    """``path`` opened for writing with mode 0600 whatever the umask (a private cache)."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if append else os.O_TRUNC)
    fd = os.open(path, flags, 0o600)
    os.fchmod(fd, 0o600)
    return os.fdopen(fd, "ab" if append else "wb")


@dataclass(frozen=True)
class Fetch:
    """One download: where from, where to, the most bytes it may have, and who asked."""

    url: str
    part: Path
    cap: int
    where: str  # the appliance or archive that names the URL (for messages)
    label: str  # the image's file name


def fetch(job: Fetch, bounds: Bounds, transfers: Transfers, tick: Tick | None = None) -> None:
    """Download ``job.url`` into ``job.part`` (resuming from its length), at most ``job.cap``
    bytes, within ``bounds``. A refused or oversized answer leaves no part; a cut connection
    or a timeout keeps it for resuming; a signal (:class:`Cancelled`, Interrupted) removes it."""
    have = job.part.stat().st_size if job.part.is_file() else 0
    if have > job.cap:
        job.part.unlink()
        have = 0
    deadline = time.monotonic() + bounds.seconds_for(job.cap)
    keep = False
    try:
        keep = _fetch(job, have, deadline, bounds, transfers, tick)
    except Resumable:
        keep = True
        raise
    finally:
        if not keep:
            job.part.unlink(missing_ok=True)


def _fetch(job: Fetch, have: int, deadline: float, bounds: Bounds, transfers: Transfers,
           tick: Tick | None) -> bool:
    """:func:`fetch`'s work; True when ``job.part`` is to be kept."""
    try:
        response, url = open_url(job.url, have, bounds, transfers, job.where)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have:  # asked past the end: what we have is the whole file
            return True
        raise ImageError(f"download of {job.label} failed: HTTP {exc.code} {exc.reason} "
                         f"from {job.url}", hint="get it by hand from the appliance's page "
                         "and run 'gns3lab images import FILE'") from None
    except (urllib.error.URLError, OSError, http.client.HTTPException, ValueError) as exc:
        transfers.check()  # also a malformed answer or URL (bad status line, bad port)
        reason = getattr(exc, "reason", exc)
        raise _resumable(f"download of {job.label} from {job.url} failed: {reason}") from None
    with response:
        resumed = response.status == 206
        if not resumed:
            have = 0  # the server ignored the Range: start over
        length = int(response.headers.get("Content-Length") or 0) if \
            (response.headers.get("Content-Length") or "").isdigit() else 0
        if have + length > job.cap:
            raise ImageError(f"{job.where}: {url} announces {have + length} bytes, more than "
                             f"the {job.cap} {job.label} may have: refused before reading it")
        total = have + length if length else 0
        with open_private(job.part, append=resumed) as out:
            have = _copy(response, out, have, deadline, bounds, transfers, job, tick, total)
    if total and have < total:
        raise _resumable(f"download of {job.label} was interrupted after {have} of {total} "
                         "bytes")
    return True


def _copy(response: http.client.HTTPResponse, out: IO[bytes], have: int, deadline: float,
          bounds: Bounds, transfers: Transfers, job: Fetch, tick: Tick | None,
          total: int) -> int:
    """The body into ``out``, one read at a time (``read1``: a slow server cannot hold one
    call past ``timeout``), stopping at the cap, the deadline or a cancel; bytes held."""
    while True:
        transfers.check()
        if time.monotonic() > deadline:
            raise _resumable(f"download of {job.label} from {job.url} not done after "
                             f"{bounds.seconds_for(job.cap):g} s: stopped after {have} bytes")
        try:
            block = response.read1(min(BLOCK, job.cap - have + 1))
        except TimeoutError:
            raise _resumable(f"download of {job.label} from {job.url}: no data for "
                             f"{bounds.timeout:g} s: stopped after {have} bytes") from None
        except (OSError, http.client.HTTPException) as exc:  # resets, bad chunks
            transfers.check()
            raise _resumable(f"download of {job.label} was interrupted after {have} bytes: "
                             f"{exc}") from None
        transfers.check()  # a shut-down socket reads as the end: it was a cancel, not the end
        if not block:
            return have
        if have + len(block) > job.cap:
            raise ImageError(f"{job.where}: {job.url} sends more than the {job.cap} bytes "
                             f"{job.label} may have: stopped, nothing was kept")
        try:
            out.write(block)
        except OSError as exc:  # a full disk or a file-size limit: this pull cannot go on
            raise ImageError(f"cannot write {job.part}: {exc.strerror or exc}") from None
        have += len(block)
        if tick:
            tick(have, total)


class Resumable(ImageError):
    """A download that stopped part way (cut, timed out): the part is kept for resuming."""


def _resumable(message: str) -> Resumable:
    return Resumable(message, hint=RESUME_HINT)


# --------------------------------------------------------------------------- unpacking


def unpack(part: Path, out: Path, compression: str, size: int, transfers: Transfers,
           label: str) -> None:
    """Decompress ``part`` into ``out``, streamed, never writing more than ``size`` bytes; the
    part is removed either way, and ``out`` too unless it was written whole."""
    opener = DECOMPRESSORS[compression]
    done, ok = 0, False
    try:
        with part.open("rb") as raw, opener(raw) as src, open_private(out) as dst:
            while block := src.read(min(BLOCK, size - done + 1)):
                transfers.check()
                if done + len(block) > size:
                    raise ImageError(f"{label}: the {compression} download unpacks to more "
                                     f"than the {size} bytes declared: stopped, nothing was "
                                     "kept")
                dst.write(block)
                done += len(block)
        ok = True
    except (OSError, EOFError, lzma.LZMAError) as exc:
        raise ImageError(f"{label}: the {compression} download does not unpack: {exc}; "
                         "nothing was kept") from None
    finally:
        part.unlink(missing_ok=True)
        if not ok:
            out.unlink(missing_ok=True)
