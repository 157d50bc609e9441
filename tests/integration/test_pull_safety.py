"""``gns3lab images pull|list|verify`` against hostile appliances, archives and HTTP servers
(issue 17, findings 2, 6 and 7): only http(s), every byte bounded by the declared size, deadlines,
signals that end a pull at once, a private cache, bounded memory on a zip bomb. The real CLI runs
in a subprocess (signals and file-size limits are real); the servers are on 127.0.0.1 and stop
by themselves."""

from __future__ import annotations

import hashlib
import json
import lzma
import os
import resource
import signal
import stat
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import DATA, REPO
from tests.support.hostile_http import HostileServer, Route
from tests.support.peak import measure

pytestmark = pytest.mark.slow

MIB = 1 << 20
PAYLOAD = bytes(range(256)) * 4096  # 1 MiB: the size every hostile appliance declares
FSIZE = 16 * MIB  # the file-size limit the CLI runs under: a pull that writes past it is killed


@pytest.fixture
def server() -> Iterator[HostileServer]:
    with HostileServer(lifetime=90) as srv:
        yield srv


def gns3lab(*args: str | Path, tmp_path: Path, timeout: float = 60, fsize: int = FSIZE,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """The real CLI with the cache in ``tmp_path/cache`` and a file-size limit."""
    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))

    env = {**os.environ, "GNS3LAB_IMAGES": str(tmp_path / "cache"), "HOME": str(tmp_path),
           **(env or {})}
    return subprocess.run([sys.executable, "-m", "generator.cli", *map(str, args)], cwd=REPO,
                          env=env, capture_output=True, text=True, timeout=timeout,
                          preexec_fn=limit, check=False)


def blueprint(tmp_path: Path, url: str, *, size: int = len(PAYLOAD),
              md5: str | None = None, compression: str | None = None) -> Path:
    """A one-node lab whose appliance (in the blueprint's appliances/) names ``url``."""
    folder = tmp_path / "bp"
    (folder / "appliances").mkdir(parents=True)
    (folder / "lab.yaml").write_text("name: evil\nnodes:\n  vm1: {appliance: Evil}\n")
    app = json.loads((DATA / "appliances-v8" / "test-router.gns3a").read_text())
    image = {"filename": "evil.img", "version": "1.0", "filesize": size,
             "md5sum": hashlib.md5(PAYLOAD).hexdigest() if md5 is None else md5,
             "download_url": "https://example.org/", "direct_download_url": url}
    if compression:
        image["compression"] = compression
    app.update(name="Evil", images=[image],
               versions=[{"name": "1.0", "images": {"hda_disk_image": "evil.img"}}])
    (folder / "appliances" / "evil.gns3a").write_text(json.dumps(app))
    return folder


def cache_files(tmp_path: Path) -> list[str]:
    """Everything in the cache but the (empty, hidden) lock files."""
    cache = tmp_path / "cache"
    return sorted(p.name for p in cache.iterdir() if not p.name.endswith(".lock")) \
        if cache.is_dir() else []


def write_archive(path: Path, manifest: dict | Iterator[bytes],
                  image: str = "shadow.img") -> Path:
    """A stranger's .gns3project: one QEMU node on ``image`` and the given manifest (a dict,
    or its bytes in pieces)."""
    project = {"name": "stranger", "topology": {"nodes": [
        {"name": "vm1", "node_type": "qemu", "properties": {"hda_disk_image": image}}]}}
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("project.gns3", json.dumps(project))
        if isinstance(manifest, dict):
            zf.writestr("gns3lab/manifest.json", json.dumps(manifest))
        else:
            with zf.open("gns3lab/manifest.json", "w", force_zip64=True) as fh:
                for piece in manifest:
                    fh.write(piece)
    return path


# --------------------------------------------------------------------------- finding 2


@pytest.mark.parametrize("url", ["file:///etc/shadow", "file:///dev/zero",
                                 "ftp://127.0.0.1:9/evil.img"])
def test_appliance_url_that_is_not_http_is_refused(tmp_path: Path, url: str) -> None:
    bp = blueprint(tmp_path, url, size=0, md5="")
    pulled = gns3lab("images", "pull", bp, tmp_path=tmp_path)
    assert pulled.returncode == 2, pulled.stdout + pulled.stderr
    assert f"'{url}'" in pulled.stderr and "appliance 'Evil'" in pulled.stderr
    assert "only http and https" in pulled.stderr
    assert "ok " not in pulled.stdout
    assert cache_files(tmp_path) == []


def test_archive_manifest_url_that_is_not_http_is_refused(tmp_path: Path) -> None:
    archive = write_archive(tmp_path / "x.gns3project", {"images": {"shadow.img": {
        "url": "file:///etc/shadow"}}})
    pulled = gns3lab("images", "pull", archive, tmp_path=tmp_path)
    assert pulled.returncode == 2, pulled.stdout + pulled.stderr
    assert "'file:///etc/shadow'" in pulled.stderr and str(archive) in pulled.stderr
    assert cache_files(tmp_path) == []


def test_image_without_size_or_checksum_is_not_pulled(server: HostileServer,
                                                      tmp_path: Path) -> None:
    server.routes["/evil.img"] = Route(body=PAYLOAD)
    for size, md5 in ((0, ""), (len(PAYLOAD), ""), (0, hashlib.md5(PAYLOAD).hexdigest())):
        bp = blueprint(tmp_path / f"{size}{md5}", server.url + "/evil.img", size=size, md5=md5)
        pulled = gns3lab("images", "pull", bp, tmp_path=tmp_path)
        assert pulled.returncode == 2, pulled.stdout + pulled.stderr
        assert "declares no size or no checksum for evil.img" in pulled.stderr
        # and a file of that name is never "ok" unchecked
        (tmp_path / "cache").mkdir(exist_ok=True)
        (tmp_path / "cache" / "evil.img").write_bytes(b"anything")
        verified = gns3lab("images", "verify", bp, tmp_path=tmp_path)
        assert verified.returncode == 2 and "BAD evil.img" in verified.stdout
        (tmp_path / "cache" / "evil.img").unlink()
    assert server.seen.gets["/evil.img"] == 0


# --------------------------------------------------------------------------- finding 6


@pytest.mark.parametrize("target", ["ftp", "file"])
def test_redirect_to_another_scheme_is_refused(server: HostileServer, tmp_path: Path,
                                               target: str) -> None:
    location = f"{server.ftp_url}/evil.img" if target == "ftp" else "file:///etc/shadow"
    server.routes["/evil.img"] = Route(status=302, location=location)
    pulled = gns3lab("images", "pull", blueprint(tmp_path, server.url + "/evil.img"),
                     tmp_path=tmp_path, timeout=30)
    assert pulled.returncode == 2, pulled.stdout + pulled.stderr
    assert f"redirect to '{location}' refused: only http and https" in pulled.stderr
    assert server.seen.ftp_connections == 0
    assert cache_files(tmp_path) == []


def test_redirects_are_bounded(server: HostileServer, tmp_path: Path) -> None:
    for i in range(12):  # a chain of distinct URLs: no repeat for a loop detector to see
        server.routes[f"/r{i}"] = Route(status=302, location=f"{server.url}/r{i + 1}")
    pulled = gns3lab("images", "pull", blueprint(tmp_path, server.url + "/r0"),
                     tmp_path=tmp_path)
    assert pulled.returncode == 2, pulled.stdout + pulled.stderr
    assert "more than 5 redirects" in pulled.stderr
    assert sum(server.seen.gets.values()) == 6


def test_content_length_past_the_declared_size_stops_before_the_body(
        server: HostileServer, tmp_path: Path) -> None:
    server.routes["/evil.img"] = Route(body=bytes(200 * MIB), length=200 * MIB)
    start = time.monotonic()
    pulled = gns3lab("images", "pull", blueprint(tmp_path, server.url + "/evil.img"),
                     tmp_path=tmp_path)
    assert pulled.returncode == 2, pulled.stdout + pulled.stderr
    assert f"announces {200 * MIB} bytes, more than the {len(PAYLOAD)}" in pulled.stderr
    assert time.monotonic() - start < 20
    assert server.seen.sent["/evil.img"] < 32 * MIB  # what the socket buffers took, no more
    assert cache_files(tmp_path) == []


def test_endless_body_stops_at_the_declared_size(server: HostileServer, tmp_path: Path) -> None:
    server.routes["/evil.img"] = Route(endless=1 << 30)  # no length, 1 GiB of zeros
    pulled = gns3lab("images", "pull", blueprint(tmp_path, server.url + "/evil.img"),
                     tmp_path=tmp_path)
    assert pulled.returncode == 2, pulled.stdout + pulled.stderr
    assert f"sends more than the {len(PAYLOAD)} bytes" in pulled.stderr
    assert server.seen.sent["/evil.img"] < 64 * MIB
    assert cache_files(tmp_path) == []


def test_xz_bomb_stops_at_the_declared_size(server: HostileServer, tmp_path: Path) -> None:
    packer = lzma.LZMACompressor(format=lzma.FORMAT_XZ, preset=0)
    bomb = b"".join([*(packer.compress(bytes(MIB)) for _ in range(512)), packer.flush()])
    assert len(bomb) < MIB  # 512 MiB of zeros
    server.routes["/evil.img.xz"] = Route(body=bomb)
    pulled = gns3lab("images", "pull", blueprint(tmp_path, server.url + "/evil.img.xz",
                                                 compression="xz"), tmp_path=tmp_path)
    assert pulled.returncode == 2, pulled.stdout + pulled.stderr  # not killed at FSIZE
    assert f"unpacks to more than the {len(PAYLOAD)} bytes" in pulled.stderr
    assert cache_files(tmp_path) == []


def test_a_drip_times_out(server: HostileServer, tmp_path: Path) -> None:
    server.routes["/evil.img"] = Route(body=PAYLOAD, drip=20)
    start = time.monotonic()
    pulled = gns3lab("images", "pull", blueprint(tmp_path, server.url + "/evil.img"),
                     "--timeout", "2", tmp_path=tmp_path, timeout=40)
    assert pulled.returncode == 2, pulled.stdout + pulled.stderr
    assert "no data for 2 s" in pulled.stderr
    assert time.monotonic() - start < 15


def test_a_fast_drip_meets_the_deadline(server: HostileServer, tmp_path: Path) -> None:
    server.routes["/evil.img"] = Route(body=PAYLOAD, drip=0.2)
    start = time.monotonic()
    pulled = gns3lab("images", "pull", blueprint(tmp_path, server.url + "/evil.img"),
                     "--timeout", "2", "--deadline", "3", tmp_path=tmp_path, timeout=40)
    assert pulled.returncode == 2, pulled.stdout + pulled.stderr
    assert "not done after 3 s" in pulled.stderr
    assert time.monotonic() - start < 15


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_ends_a_pull_at_once_and_leaves_nothing(
        server: HostileServer, tmp_path: Path, signum: int) -> None:
    # Half of the image at once, then a byte every 20 s: the pull is stuck in a read.
    server.routes["/evil.img"] = Route(body=PAYLOAD, head=len(PAYLOAD) // 2, drip=20)
    bp = blueprint(tmp_path, server.url + "/evil.img")
    env = {**os.environ, "GNS3LAB_IMAGES": str(tmp_path / "cache"), "HOME": str(tmp_path)}
    proc = subprocess.Popen([sys.executable, "-m", "generator.cli", "images", "pull", str(bp)],
                            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        part = tmp_path / "cache" / ".evil.img.part"
        for _ in range(200):
            if part.is_file() and part.stat().st_size >= len(PAYLOAD) // 2:
                break
            time.sleep(0.05)
        assert part.is_file(), "the pull never started"
        proc.send_signal(signum)
        start = time.monotonic()
        _, err = proc.communicate(timeout=10)
        assert time.monotonic() - start < 3
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == 128 + signum, err
    assert "interrupted" in err
    assert cache_files(tmp_path) == []


def test_cache_files_are_private(server: HostileServer, tmp_path: Path) -> None:
    server.routes["/evil.img"] = Route(body=PAYLOAD)
    pulled = gns3lab("images", "pull", blueprint(tmp_path, server.url + "/evil.img"),
                     tmp_path=tmp_path)
    assert pulled.returncode == 0, pulled.stdout + pulled.stderr
    cache = tmp_path / "cache"
    assert stat.S_IMODE(cache.stat().st_mode) == 0o700
    assert (cache / "evil.img").read_bytes() == PAYLOAD
    for path in cache.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name


@pytest.mark.parametrize("raw", [
    b"HTTP/1.1 abc\r\n\r\n",  # a bad status line
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nxx\r\n",  # a bad chunk
    b"HTTP/1.1 302 Found\r\nLocation: http://[::1/x\r\n\r\n",  # a bad Location
    b"HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:99999/x\r\n\r\n",  # a bad port
    b"HTTP/1.1 200 OK\r\nContent-Length: lots\r\n\r\nabc",
], ids=["status", "chunk", "location", "port", "length"])
def test_a_malformed_answer_is_an_error_not_a_crash(server: HostileServer, tmp_path: Path,
                                                     raw: bytes) -> None:
    server.routes["/evil.img"] = Route(raw=raw)
    pulled = gns3lab("images", "pull", blueprint(tmp_path, server.url + "/evil.img"),
                     "--timeout", "2", tmp_path=tmp_path, timeout=40)
    assert pulled.returncode == 2, pulled.stdout + pulled.stderr
    assert "FAILED evil.img" in pulled.stderr or "refused" in pulled.stderr, pulled.stderr
    assert "internal error" not in pulled.stderr
    assert cache_files(tmp_path) in ([], [".evil.img.part"])


def test_https_pulls_with_checked_certificates(tmp_path: Path) -> None:
    """The https path (a trusted self-signed certificate for localhost): the image arrives;
    without the certificate trusted, nothing does; a redirect to file:// is refused there too."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost",
                    "-keyout", key, "-out", cert], check=True, capture_output=True)
    with HostileServer(lifetime=60, tls=(cert, key)) as srv:
        srv.routes["/evil.img"] = Route(body=PAYLOAD)
        srv.routes["/shadow.img"] = Route(status=302, location="file:///etc/shadow")
        bp = blueprint(tmp_path / "a", srv.url + "/evil.img")
        untrusted = gns3lab("images", "pull", bp, tmp_path=tmp_path)
        assert untrusted.returncode == 2 and "CERTIFICATE_VERIFY_FAILED" in untrusted.stderr
        trusted = {"SSL_CERT_FILE": str(cert)}
        pulled = gns3lab("images", "pull", bp, tmp_path=tmp_path, env=trusted)
        assert pulled.returncode == 0, pulled.stdout + pulled.stderr
        assert (tmp_path / "cache" / "evil.img").read_bytes() == PAYLOAD
        redirected = gns3lab("images", "pull", blueprint(tmp_path / "b", srv.url +
                                                         "/shadow.img"),
                             tmp_path=tmp_path / "b", env=trusted)
        assert redirected.returncode == 2
        assert "redirect to 'file:///etc/shadow' refused" in redirected.stderr


# --------------------------------------------------------------------------- finding 7


def test_zip_bomb_archive_keeps_images_commands_small(tmp_path: Path) -> None:
    """A 2 MB archive whose manifest inflates to 1 GiB (under the 1000:1 ratio a bomb check
    sees): each command reads at most its cap and exits 2."""
    block = b" " * (MIB - 1024) + os.urandom(512).hex().encode()
    manifest = iter([b'{"pad": "', *[block] * 1024, b'"}'])
    archive = write_archive(tmp_path / "bomb.gns3project", manifest)
    assert archive.stat().st_size < 3 * MIB
    env = {**os.environ, "GNS3LAB_IMAGES": str(tmp_path / "cache"), "HOME": str(tmp_path)}
    for command in ("list", "verify", "pull"):
        run = measure([sys.executable, "-m", "generator.cli", "images", command, archive],
                      tmp_path / f"{command}.out", cwd=REPO, env=env, limit_bytes=1 << 30,
                      timeout=120)
        assert run.returncode == 2, (command, run.output)
        assert "manifest.json" in run.output and "Traceback" not in run.output
        assert run.peak_mb < 200, (command, run.peak_mb)
