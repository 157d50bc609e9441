"""The image cache: pulls from a real HTTP server on 127.0.0.1 (Range, cut connections, 404,
xz, parallel pulls), import, verify, and images.py's sha256 and one-image-per-name checks."""

from __future__ import annotations

import hashlib
import json
import lzma
import os
import re
import stat
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from click.testing import CliRunner

from generator.cli import main
from generator.errors import ImageError
from generator.images import cache as imagecache
from generator.images.cache import ImageNeed, import_file, pull, pull_one
from tests.helpers import DATA

PAYLOAD = bytes(range(256)) * 4096 + b"gns3lab image tail"  # 1 MiB + a bit, not block-aligned


@dataclass
class Served:
    """What the test server serves and what it saw."""

    files: dict[str, bytes] = field(default_factory=dict)
    cut_once: set[str] = field(default_factory=set)  # paths whose next GET stops halfway
    delay: float = 0.0  # seconds per 64 KiB sent (to make two pulls overlap)
    gets: Counter = field(default_factory=Counter)
    ranges: list[str] = field(default_factory=list)


class _Handler(BaseHTTPRequestHandler):
    served: Served

    def log_message(self, *args: object) -> None:  # keep pytest output clean
        pass

    def do_GET(self) -> None:
        s = self.served
        s.gets[self.path] += 1
        body = s.files.get(self.path)
        if body is None:
            self.send_error(404, "Not Found")
            return
        start = 0
        rng = self.headers.get("Range")
        if rng:
            s.ranges.append(rng)
            start = int(re.fullmatch(r"bytes=(\d+)-", rng).group(1))  # type: ignore[union-attr]
            if start >= len(body):
                self.send_error(416)
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        else:
            self.send_response(200)
        rest = body[start:]
        self.send_header("Content-Length", str(len(rest)))
        self.end_headers()
        if self.path in s.cut_once:  # promise everything, send half, drop the connection
            s.cut_once.discard(self.path)
            self.wfile.write(rest[: len(rest) // 2])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(2)
            return
        for i in range(0, len(rest), 65536):
            self.wfile.write(rest[i:i + 65536])
            if s.delay:
                time.sleep(s.delay)


@pytest.fixture
def server() -> Iterator[tuple[str, Served]]:
    served = Served()
    handler = type("Handler", (_Handler,), {"served": served})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", served
    finally:
        httpd.shutdown()
        httpd.server_close()


def need_for(data: bytes, url: str | None, name: str = "disk.qcow2", **kw: object) -> ImageNeed:
    return ImageNeed(filename=name, appliance="Test", version="1", size=len(data),
                     md5=hashlib.md5(data).hexdigest(),
                     sha256=hashlib.sha256(data).hexdigest(), url=url,
                     page="https://example.org/login", **kw)  # type: ignore[arg-type]


def visible(cache: Path) -> list[str]:
    """What GNS3 would list in the cache folder (it skips dot files and .md5sum)."""
    return sorted(p.name for p in cache.iterdir()
                  if not p.name.startswith(".") and not p.name.endswith(".md5sum"))


def test_good_file(server: tuple[str, Served], tmp_path: Path) -> None:
    url, served = server
    served.files["/disk.qcow2"] = PAYLOAD
    seen: list[tuple[int, int]] = []
    path = pull_one(need_for(PAYLOAD, url + "/disk.qcow2"), tmp_path,
                    progress=lambda _n, done, total: seen.append((done, total)))
    assert path == tmp_path / "disk.qcow2" and path.read_bytes() == PAYLOAD
    assert seen[-1] == (len(PAYLOAD), len(PAYLOAD))
    assert visible(tmp_path) == ["disk.qcow2"]
    assert not list(tmp_path.glob(".*.part"))
    # Present and right: a second pull does not download again.
    pull_one(need_for(PAYLOAD, url + "/disk.qcow2"), tmp_path)
    assert served.gets["/disk.qcow2"] == 1


def test_wrong_checksum_is_rejected_and_nothing_is_kept(server: tuple[str, Served],
                                                        tmp_path: Path) -> None:
    url, served = server
    served.files["/disk.qcow2"] = PAYLOAD[:-1] + b"X"  # same size, other bytes
    with pytest.raises(ImageError, match=r"is not the image: .* has md5 \w+, expected") as info:
        pull_one(need_for(PAYLOAD, url + "/disk.qcow2"), tmp_path)
    assert "nothing was kept" in info.value.message
    assert visible(tmp_path) == []
    assert [p.name for p in tmp_path.iterdir() if not p.name.endswith(".lock")] == []


def test_cut_connection_then_resume(server: tuple[str, Served], tmp_path: Path) -> None:
    url, served = server
    served.files["/disk.qcow2"] = PAYLOAD
    served.cut_once.add("/disk.qcow2")
    need = need_for(PAYLOAD, url + "/disk.qcow2")
    with pytest.raises(ImageError, match="interrupted after") as info:
        pull_one(need, tmp_path)
    assert "resumes" in (info.value.hint or "")
    part = tmp_path / ".disk.qcow2.part"
    assert part.stat().st_size == len(PAYLOAD) // 2
    assert visible(tmp_path) == []  # never a partial file in place
    path = pull_one(need, tmp_path)
    assert path.read_bytes() == PAYLOAD
    assert served.ranges == [f"bytes={len(PAYLOAD) // 2}-"]  # resumed, not restarted
    assert not part.exists()


def test_404(server: tuple[str, Served], tmp_path: Path) -> None:
    url, _ = server
    with pytest.raises(ImageError, match=r"HTTP 404 .* from http://127\.0\.0\.1:\d+/gone") as info:
        pull_one(need_for(PAYLOAD, url + "/gone.qcow2"), tmp_path)
    assert "images import" in (info.value.hint or "")
    assert visible(tmp_path) == []


def test_xz_image_is_unpacked_and_checked(server: tuple[str, Served], tmp_path: Path) -> None:
    url, served = server
    served.files["/disk.qcow2.xz"] = lzma.compress(PAYLOAD, format=lzma.FORMAT_XZ)
    path = pull_one(need_for(PAYLOAD, url + "/disk.qcow2.xz", compression="xz"), tmp_path)
    assert path.read_bytes() == PAYLOAD
    assert [p.name for p in tmp_path.iterdir() if not p.name.endswith((".lock", "sum"))] == \
        ["disk.qcow2"]


def test_two_parallel_pulls_download_once(server: tuple[str, Served], tmp_path: Path) -> None:
    url, served = server
    served.files["/disk.qcow2"] = PAYLOAD
    served.delay = 0.02  # ~0.3 s per download: the two pulls overlap
    need = need_for(PAYLOAD, url + "/disk.qcow2")
    results: list[Path] = []
    threads = [threading.Thread(target=lambda: results.append(pull_one(need, tmp_path)))
               for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert results == [tmp_path / "disk.qcow2"] * 2
    assert served.gets["/disk.qcow2"] == 1


def test_pull_runs_a_bounded_number_at_once(server: tuple[str, Served], tmp_path: Path) -> None:
    url, served = server
    served.delay = 0.01
    datas = {f"img{i}.qcow2": PAYLOAD + bytes([i]) for i in range(4)}
    for name, data in datas.items():
        served.files[f"/{name}"] = data
    active, peak = set(), [0]

    def progress(name: str, done: int, total: int) -> None:
        active.add(name) if done < total else active.discard(name)
        peak[0] = max(peak[0], len(active))

    needs = [need_for(d, f"{url}/{n}", name=n) for n, d in datas.items()]
    needs.append(need_for(PAYLOAD, None, name="cumulus.qcow2"))
    results = pull(needs, tmp_path, jobs=2, progress=progress)
    assert [r.path.name if r.path else None for r in results] == [*datas, None]
    assert 1 <= peak[0] <= 2
    # Behind a login: the page to fetch it from, and how to add it after.
    assert "has no direct download: get it from https://example.org/login" in results[-1].problem
    assert "gns3lab images import FILE" in results[-1].problem


def test_import_checks_and_renames(tmp_path: Path) -> None:
    got = tmp_path / "Downloads" / "cumulus-linux-5.4.0-vx-amd64-qemu.qcow2 (1)"
    got.parent.mkdir()
    got.write_bytes(PAYLOAD)
    cache = tmp_path / "cache"
    need = need_for(PAYLOAD, None, name="cumulus.qcow2")
    assert import_file(got, [need], cache) == cache / "cumulus.qcow2"
    assert (cache / "cumulus.qcow2").read_bytes() == PAYLOAD
    got.write_bytes(PAYLOAD[:-1])
    with pytest.raises(ImageError, match="is none of the images known here"):
        import_file(got, [need], tmp_path / "cache2")
    assert not (tmp_path / "cache2").exists()


def test_verify_finds_a_changed_file(tmp_path: Path) -> None:
    (tmp_path / "disk.qcow2").write_bytes(PAYLOAD)
    need = need_for(PAYLOAD, None)
    [state] = imagecache.check_folder([need], [tmp_path])
    assert state.ok and state.path == tmp_path / "disk.qcow2"
    time.sleep(0.01)
    with open(tmp_path / "disk.qcow2", "r+b") as f:  # same size, one byte changed
        f.write(b"\xff")
    [state] = imagecache.check_folder([need], [tmp_path])
    assert not state.ok and "has md5" in state.problem
    [missing] = imagecache.check_folder([need_for(PAYLOAD, None, name="x.qcow2")], [tmp_path])
    assert missing.path is None and "is not in" in missing.problem


def test_cache_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("GNS3LAB_IMAGES", f"{tmp_path / 'a'}{os.pathsep}{tmp_path / 'b'}")
    assert imagecache.cache_dir() == tmp_path / "a"
    result = CliRunner().invoke(main, ["images", "path"])
    assert result.exit_code == 0 and result.output.strip() == str(tmp_path / "a")
    monkeypatch.delenv("GNS3LAB_IMAGES")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert imagecache.cache_dir() == tmp_path / ".cache" / "gns3lab" / "images"
    # What 'images pull' fills is where a build looks (before GNS3's own folder).
    from generator.images.baseimages import search_dirs

    assert search_dirs([tmp_path / "x"]) == [tmp_path / "x", imagecache.cache_dir(),
                                             tmp_path / "GNS3" / "images" / "QEMU"]


def test_bad_file_name_is_refused_before_any_download(tmp_path: Path) -> None:
    with pytest.raises(ImageError, match="not a bare file name"):
        pull_one(need_for(PAYLOAD, "http://127.0.0.1:9/x", name="../../x"), tmp_path / "c")
    assert not (tmp_path / "x").exists()


def _blueprint_with_served_image(tmp_path: Path, url: str, served: Served) -> Path:
    """A one-node blueprint whose appliance (in the blueprint's appliances/) points at the
    test server, with the real md5 and size."""
    served.files["/tiny.qcow2.xz"] = lzma.compress(PAYLOAD)
    folder = tmp_path / "bp"
    (folder / "appliances").mkdir(parents=True)
    (folder / "lab.yaml").write_text("name: tiny\nnodes:\n  vm1: {appliance: Tiny Served}\n")
    app = json.loads((DATA / "appliances-v8" /
                      "test-router.gns3a").read_text())
    app.update(name="Tiny Served", images=[{
        "filename": "tiny.qcow2", "version": "1.0", "md5sum": hashlib.md5(PAYLOAD).hexdigest(),
        "filesize": len(PAYLOAD), "download_url": "https://example.org/",
        "direct_download_url": f"{url}/tiny.qcow2.xz", "compression": "xz"}],
        versions=[{"name": "1.0", "images": {"hda_disk_image": "tiny.qcow2"}}])
    (folder / "appliances" / "tiny.gns3a").write_text(json.dumps(app))
    return folder


def test_cli_list_pull_verify_a_blueprint(server: tuple[str, Served], tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    url, served = server
    folder = _blueprint_with_served_image(tmp_path, url, served)
    cache = tmp_path / "cache"
    monkeypatch.setenv("GNS3LAB_IMAGES", str(cache))
    monkeypatch.setenv("HOME", str(tmp_path))
    runner = CliRunner()
    listed = runner.invoke(main, ["images", "list", str(folder), "--json"])
    assert listed.exit_code == 0, listed.output
    [row] = json.loads(listed.output)
    assert (row["name"], row["version"], row["size"], row["present"]) == (
        "tiny.qcow2", "1.0", len(PAYLOAD), False)
    assert row["md5"] == hashlib.md5(PAYLOAD).hexdigest()
    bad = runner.invoke(main, ["images", "verify", str(folder)])
    assert bad.exit_code == 2 and "1 of 1 image(s) missing or wrong" in bad.output
    pulled = runner.invoke(main, ["images", "pull", str(folder)])
    assert pulled.exit_code == 0, pulled.output
    assert (cache / "tiny.qcow2").read_bytes() == PAYLOAD
    good = runner.invoke(main, ["images", "verify", str(folder)])
    assert good.exit_code == 0 and f"ok {cache / 'tiny.qcow2'}" in good.output
    [row] = json.loads(runner.invoke(main, ["images", "list", str(folder), "--json"]).output)
    assert row["present"] and row["path"] == str(cache / "tiny.qcow2")
    assert row["sha256"] is None  # a blueprint knows no sha256; the manifest does
    table = runner.invoke(main, ["images", "list", str(folder)])
    assert table.exit_code == 0 and "tiny.qcow2" in table.output and "yes" in table.output


# --------------------------------------------------------------------------- images.py


def test_archive_needs_come_from_its_manifest_and_project(tmp_path: Path) -> None:
    """An archive's manifest records name, size, md5 and sha256 of each base; verify against a
    folder finds a same-named file with other content (the issue's corruption case)."""
    import zipfile

    good, other = PAYLOAD, PAYLOAD[::-1]
    archive = tmp_path / "lab.gns3project"
    project = {"topology": {"nodes": [
        {"node_type": "qemu", "properties": {"hda_disk_image": "base-a.qcow2"}},
        {"node_type": "qemu", "properties": {"hda_disk_image": "debian-12.6.qcow2"}},
        {"node_type": "ethernet_switch", "properties": {}}]}}
    manifest = {"images": {"base-a.qcow2": {"size": len(good),  # as build writes it
                                            "md5": hashlib.md5(good).hexdigest(),
                                            "sha256": hashlib.sha256(good).hexdigest()}}}
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("project.gns3", json.dumps(project))
        zf.writestr("gns3lab/manifest.json", json.dumps(manifest))
    needs = imagecache.needs_of(archive)
    assert [n.filename for n in needs] == ["base-a.qcow2", "debian-12.6.qcow2"]
    assert needs[0].sha256 == hashlib.sha256(good).hexdigest() and needs[0].size == len(good)
    debian = needs[1]  # not in the manifest: what the bundled appliance says
    assert debian.appliance == "Debian" and debian.md5 and debian.url and not debian.sha256
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    (folder / "base-a.qcow2").write_bytes(other)  # same name and size, other bytes
    runner = CliRunner()
    result = runner.invoke(main, ["images", "verify", str(archive), "--images-dir", str(folder)],
                           env={"GNS3LAB_IMAGES": str(tmp_path / "cache"),
                                "HOME": str(tmp_path)})
    assert result.exit_code == 2
    assert f"BAD base-a.qcow2: {folder / 'base-a.qcow2'} has md5 " in result.output
    (folder / "base-a.qcow2").write_bytes(good)
    [state, _] = imagecache.check_folder(needs, [folder])
    assert state.ok


# --------------------------------------------------------------------------- bounds (issue 17)


@pytest.mark.parametrize("url", ["file:///etc/shadow", "ftp://example.org/x.img", "http:///x",
                                 "data:,x", "/etc/shadow", 5])
def test_only_http_and_https_urls_are_pulled(tmp_path: Path, url: object) -> None:
    need = replace(need_for(PAYLOAD, None), url=url, origin="appliance 'Evil' (evil.gns3a)")
    with pytest.raises(ImageError, match="only http and https") as info:
        pull([need], tmp_path / "cache")
    assert info.value.message.startswith("appliance 'Evil' (evil.gns3a): image disk.qcow2: ")
    assert repr(url) in info.value.message
    assert not (tmp_path / "cache").exists()


def test_an_image_with_no_size_or_checksum_is_not_pulled(server: tuple[str, Served],
                                                          tmp_path: Path) -> None:
    url, served = server
    served.files["/disk.qcow2"] = PAYLOAD
    good = need_for(PAYLOAD, url + "/disk.qcow2")
    for bad in (replace(good, size=0), replace(good, md5="", sha256=""),
                replace(good, md5="not-an-md5", sha256="")):
        with pytest.raises(ImageError, match="declares no size or no checksum for disk.qcow2"):
            pull([replace(good, filename="other.qcow2", url=url + "/other"), bad], tmp_path)
    assert served.gets == Counter()  # one refused image: nothing at all was downloaded
    assert imagecache.check_pullable(replace(good, md5="")) is None  # a sha256 will do


def test_a_file_is_never_ok_without_a_checksum(tmp_path: Path) -> None:
    (tmp_path / "disk.qcow2").write_bytes(PAYLOAD)
    [state] = imagecache.check_folder([replace(need_for(PAYLOAD, None), md5="", sha256="")],
                                      [tmp_path])
    assert not state.ok and "declares no md5 or sha256 for disk.qcow2" in state.problem


def test_download_cap() -> None:
    need = need_for(PAYLOAD, None)
    assert imagecache.download_cap(need) == len(PAYLOAD)
    assert imagecache.download_cap(replace(need, compression="xz")) == \
        len(PAYLOAD) + len(PAYLOAD) // 50 + (1 << 20)


def test_a_cancel_ends_a_blocked_read_and_removes_the_part(tmp_path: Path) -> None:
    from generator.images.download import Cancelled, Transfers
    from tests.support.hostile_http import HostileServer, Route

    with HostileServer(lifetime=30) as srv:
        srv.routes["/disk.qcow2"] = Route(body=PAYLOAD, head=1000, drip=20)
        transfers, ended = Transfers(), []

        def run() -> None:
            try:
                pull_one(need_for(PAYLOAD, srv.url + "/disk.qcow2"), tmp_path,
                         transfers=transfers)
            except Cancelled:
                ended.append(time.monotonic())

        worker = threading.Thread(target=run)
        worker.start()
        part = tmp_path / ".disk.qcow2.part"
        # Under way: the part is open and the server has sent the first 1000 bytes; then a
        # moment for the read to take them and block on the drip. (The part's size on disk
        # cannot tell: its 1000 bytes stay in the writer's buffer, so waiting for it used to
        # run the loop's whole 5 s on every run.)
        for _ in range(100):
            if part.is_file() and srv.seen.sent["/disk.qcow2"] >= 1000:
                break
            time.sleep(0.05)
        time.sleep(0.5)
        start = time.monotonic()
        transfers.cancel()
        worker.join(timeout=5)
    assert ended and ended[0] - start < 1
    assert not part.exists()


def test_cache_and_imported_files_are_private(tmp_path: Path) -> None:
    got = tmp_path / "got.qcow2"
    got.write_bytes(PAYLOAD)
    got.chmod(0o644)
    cache = tmp_path / "cache"
    path = import_file(got, [need_for(PAYLOAD, None)], cache)
    assert stat.S_IMODE(cache.stat().st_mode) == 0o700
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


@pytest.mark.parametrize(("project", "manifest"), [
    ([1, 2], {}),
    ({"topology": {"nodes": {"a": 1}}}, {"images": {}}),
    ({"topology": {"nodes": [1, {"node_type": "qemu", "properties": ["hda_disk_image"]}]}},
     {"lab": "x"}),
])
def test_archive_needs_of_any_shape_are_empty_not_a_crash(tmp_path: Path, project: object,
                                                          manifest: object) -> None:
    import zipfile

    archive = tmp_path / "odd.gns3project"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("project.gns3", json.dumps(project))
        zf.writestr("gns3lab/manifest.json", json.dumps(manifest))
    assert imagecache.needs_of(archive) == []


@pytest.mark.parametrize(("manifest", "reason"), [
    ({"images": [{"name": "base.qcow2", "md5": "0" * 32}]}, "images is [{'name'"),
    ({"images": "x"}, "images is 'x'"),
    ({"images": {"base.qcow2": {"size": "lots", "md5": "0" * 32}}},
     "images.base.qcow2.size is 'lots': input should be a valid integer"),
])
def test_archive_manifest_not_in_builds_form_is_refused(tmp_path: Path, manifest: object,
                                                         reason: str) -> None:
    """Only the manifest build writes is read (images: a mapping of file names to records)."""
    import zipfile

    from generator.archive_format import ManifestError

    archive = tmp_path / "lots.gns3project"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("project.gns3", "{}")
        zf.writestr("gns3lab/manifest.json", json.dumps(manifest))
    with pytest.raises(ManifestError, match=re.escape(reason)):
        imagecache.needs_of(archive)


def test_list_shows_an_archives_words_as_text(tmp_path: Path) -> None:
    """Rich markup and escape sequences from a stranger's manifest are printed, not obeyed."""
    import zipfile

    archive = tmp_path / "words.gns3project"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("project.gns3", "{}")
        zf.writestr("gns3lab/manifest.json", json.dumps({"images": {"b.img": {
            "version": "b[/bold]x [link=http://evil.example/]click[/link]",
            "url": "http://x/\x1b[2J"}}}))
    result = CliRunner().invoke(main, ["images", "list", str(archive)],
                                env={"GNS3LAB_IMAGES": str(tmp_path / "c"),
                                     "HOME": str(tmp_path)})
    assert result.exit_code == 0, result.output
    assert "b[/bold]x [link=http://evil.example/]click[/link]" in result.output
    assert "\x1b" not in result.output and "http://x/\\x1b[2J" in result.output


@pytest.mark.parametrize("compression", ["xz", "gzip", "bzip2"])
def test_unpacking_stops_at_the_declared_size(server: tuple[str, Served], tmp_path: Path,
                                              compression: str) -> None:
    import bz2
    import gzip

    pack = {"xz": lzma.compress, "gzip": gzip.compress, "bzip2": bz2.compress}[compression]
    url, served = server
    served.files["/disk.qcow2.z"] = pack(PAYLOAD + bytes(32 << 20))  # 33 MiB for 1 MiB
    need = need_for(PAYLOAD, url + "/disk.qcow2.z", compression=compression)
    with pytest.raises(ImageError, match=f"the {compression} download unpacks to more than "
                                         f"the {len(PAYLOAD)} bytes declared"):
        pull_one(need, tmp_path)
    assert [p.name for p in tmp_path.iterdir() if not p.name.endswith(".lock")] == []


def test_a_cache_that_is_a_file_is_an_error_not_a_crash(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(ImageError, match="cannot make the image cache"):
        pull_one(need_for(PAYLOAD, "http://127.0.0.1:9/x"), tmp_path / "file" / "cache")


def test_a_cancel_during_unpacking_leaves_nothing(tmp_path: Path) -> None:
    from generator.images.download import Cancelled, Transfers, unpack

    part, out = tmp_path / ".disk.qcow2.part", tmp_path / ".disk.qcow2.unpacked"
    part.write_bytes(lzma.compress(PAYLOAD))
    transfers = Transfers()
    transfers.cancel()
    with pytest.raises(Cancelled):
        unpack(part, out, "xz", len(PAYLOAD), transfers, "disk.qcow2")
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------- appliance by path


def test_images_list_pull_verify_an_appliance_named_by_path(server: tuple[str, Served],
                                                            tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch
                                                            ) -> None:
    """``appliance: vendor/x.gns3a`` (a file inside the blueprint folder, not in appliances/):
    the images commands find it as build does (exit 70 before: the catalogue looked it up by
    name, and a file named by path is in no catalogue folder)."""
    url, served = server
    folder = _blueprint_with_served_image(tmp_path, url, served)
    (folder / "vendor").mkdir()
    (folder / "appliances" / "tiny.gns3a").rename(folder / "vendor" / "x.gns3a")
    (folder / "appliances").rmdir()
    (folder / "lab.yaml").write_text("name: tiny\nnodes:\n  vm1: {appliance: vendor/x.gns3a}\n")
    cache = tmp_path / "cache"
    monkeypatch.setenv("GNS3LAB_IMAGES", str(cache))
    monkeypatch.setenv("HOME", str(tmp_path))
    runner = CliRunner()
    listed = runner.invoke(main, ["images", "list", str(folder), "--json"])
    assert listed.exit_code == 0, listed.output
    [row] = json.loads(listed.output)
    assert (row["name"], row["appliance"], row["size"], row["present"]) == (
        "tiny.qcow2", "Tiny Served", len(PAYLOAD), False)
    assert row["url"] == f"{url}/tiny.qcow2.xz"
    pulled = runner.invoke(main, ["images", "pull", str(folder)])
    assert pulled.exit_code == 0, pulled.output
    assert (cache / "tiny.qcow2").read_bytes() == PAYLOAD
    good = runner.invoke(main, ["images", "verify", str(folder)])
    assert good.exit_code == 0 and f"ok {cache / 'tiny.qcow2'}" in good.output


def test_an_appliance_by_path_is_the_file_named_not_a_namesake(server: tuple[str, Served],
                                                               tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch
                                                               ) -> None:
    """A path names one file: an appliance of the same name in appliances/ with another
    image entry does not lend its URL or checksum to the list."""
    url, served = server
    folder = _blueprint_with_served_image(tmp_path, url, served)
    (folder / "vendor").mkdir()
    namesake = json.loads((folder / "appliances" / "tiny.gns3a").read_text())
    app = dict(namesake, images=[dict(namesake["images"][0],
                                      direct_download_url=f"{url}/vendor.qcow2.xz")])
    (folder / "vendor" / "x.gns3a").write_text(json.dumps(app))
    namesake["images"][0].update(md5sum="0" * 32, direct_download_url=f"{url}/other.xz")
    (folder / "appliances" / "tiny.gns3a").write_text(json.dumps(namesake))
    (folder / "lab.yaml").write_text("name: tiny\nnodes:\n  vm1: {appliance: vendor/x.gns3a}\n")
    monkeypatch.setenv("GNS3LAB_IMAGES", str(tmp_path / "cache"))
    monkeypatch.setenv("HOME", str(tmp_path))
    listed = CliRunner().invoke(main, ["images", "list", str(folder), "--json"])
    assert listed.exit_code == 0, listed.output
    [row] = json.loads(listed.output)
    assert (row["url"], row["md5"]) == (f"{url}/vendor.qcow2.xz",
                                        hashlib.md5(PAYLOAD).hexdigest())


@pytest.mark.parametrize("command", ["list", "pull", "verify"])
def test_images_of_a_blueprint_naming_an_appliance_outside_it_exit_2(
        server: tuple[str, Served], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        command: str) -> None:
    url, served = server
    folder = _blueprint_with_served_image(tmp_path, url, served)
    (folder / "appliances" / "tiny.gns3a").rename(tmp_path / "x.gns3a")
    (folder / "lab.yaml").write_text("name: tiny\nnodes:\n  vm1: {appliance: ../x.gns3a}\n")
    monkeypatch.setenv("GNS3LAB_IMAGES", str(tmp_path / "cache"))
    monkeypatch.setenv("HOME", str(tmp_path))
    result = CliRunner().invoke(main, ["images", command, str(folder)])
    assert result.exit_code == 2, result.output
    assert "../x.gns3a" in result.output and "Traceback" not in result.output
    assert served.gets == Counter() and not (tmp_path / "cache").exists()


# --------------------------------------------------------------------------- digest sidecars


def test_digest_sidecars_are_private(tmp_path: Path) -> None:
    """The md5 and sha256 sidecars build and verify write into the cache are 0600 like the
    images a pull writes (they were the umask's 0644)."""
    from generator.images.baseimages import digests_of

    image = tmp_path / "disk.qcow2"
    image.write_bytes(PAYLOAD)
    old = os.umask(0o022)
    try:
        md5, sha256 = digests_of(image)
    finally:
        os.umask(old)
    assert (md5, sha256) == (hashlib.md5(PAYLOAD).hexdigest(), hashlib.sha256(PAYLOAD).hexdigest())
    for sidecar in (tmp_path / "disk.qcow2.md5sum", tmp_path / ".disk.qcow2.sha256sum"):
        assert stat.S_IMODE(sidecar.stat().st_mode) == 0o600, sidecar
