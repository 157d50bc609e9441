"""``gns3lab capture`` against a GNS3 server that lies while the lab is captured (issue 22).

A fake GNS3 2.2 server on 127.0.0.1 (tests/support/fake_gns3.py) plays a good push (its one
node's console prints ``gns3lab: lab ready``), then lies where capture alone listens: the
export (not a zip, members named ``../`` or ``/etc``, a zip bomb, a ``project.gns3`` that is not
JSON, a body cut short, an error, a drip that never ends), the snapshot list (names that are
paths, dates that are not numbers) and the version. Whatever it says, the real CLI exits 2 with
one message naming the server and what to do, never a traceback, and leaves nothing in the
output folder: no archive, no partial file, no temporary folder (nor the folder it made). An
export without end that fills the disk ends the same way (a file-size limit stands in).
"""

from __future__ import annotations

import io
import json
import resource
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from generator.cli import main
from generator.errors import ServerError
from generator.server.capture import capture_archive
from generator.server.snapshots import SnapshotClient, rest
from tests.helpers import REPO
from tests.support.fake_gns3 import FakeGns3, Raw, Stream, TelnetConsole, exported_zip, node
from tests.support.hostile_archives import member, repeated, write_zip

pytestmark = pytest.mark.slow

READY = b"booting\r\ngns3lab: lab ready\r\n"
MIB = 1 << 20


def lab_archive(path: Path) -> Path:
    """A one-node lab archive (what push and capture read: its project file)."""
    doc = {"project_id": "6a9d1f80-0000-4000-8000-000000000001", "type": "topology",
           "revision": 9, "version": "2.2.61", "name": "lab",
           "topology": {"computes": [], "drawings": [], "links": [], "nodes": [
               {"node_id": "6a9d1f80-0000-4000-8000-000000000100", "name": "r1",
                "node_type": "qemu", "compute_id": "local", "properties": {}}]}}
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("project.gns3", json.dumps(doc))
    return path


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    return lab_archive(tmp_path / "lab.gns3project")


@pytest.fixture
def server() -> Iterator[FakeGns3]:
    with TelnetConsole([READY]) as console, FakeGns3([node("r1", console.port)]) as fake:
        yield fake


def capture(server: FakeGns3, archive: Path, out: Path, *args: str) -> Result:
    """The real CLI's ``capture`` (in process: click's runner)."""
    return CliRunner(mix_stderr=False).invoke(
        main, ["capture", str(archive), "--server", server.url, "-o", str(out),
               "--timeout", "60", *args])


def zip_bytes(tmp_path: Path, *members: Any) -> bytes:
    """The bytes of a zip written by hand (any member name, any declared size)."""
    return write_zip(tmp_path / "export.zip", members).read_bytes()


def good_project() -> bytes:
    with zipfile.ZipFile(io.BytesIO(exported_zip("lab", [node("r1")]))) as zf:
        return zf.read("project.gns3")


def snapshot_zip() -> bytes:
    """A snapshot as GNS3 writes it: an uncompressed zip of the project."""
    return exported_zip("lab", [node("r1")])


def assert_refused(result: Result, server: FakeGns3, out: Path, *words: str) -> None:
    """Exit 2, one error naming the server, a hint, no traceback, nothing left in ``out``."""
    assert result.exit_code == 2, (result.exit_code, result.stderr, result.output)
    lines = result.stderr.splitlines()  # the push's progress, then the error
    errors = [i for i, line in enumerate(lines) if line.startswith("error: ")]
    assert len(errors) == 1, result.stderr
    message = "\n".join(lines[errors[0]:])
    assert server.url in message, message
    assert "hint: " in message, message
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    for word in words:
        assert word in message, (word, message)
    assert not out.exists(), sorted(p.name for p in out.rglob("*"))  # not even the folder


# -- the baseline: the fake plays a good capture -----------------------------------------------


def test_the_fake_server_plays_a_good_capture(tmp_path: Path, server: FakeGns3,
                                              archive: Path) -> None:
    out = tmp_path / "out"
    result = capture(server, archive, out)
    assert result.exit_code == 0, (result.exit_code, result.stderr)
    assert [p.name for p in out.iterdir()] == ["lab-ready.gns3project"]
    assert {"suspend", "stop", "export"} <= set(server.routes())


# -- the export ---------------------------------------------------------------------------------


def hostile_exports(tmp_path: Path) -> dict[str, tuple[Any, tuple[str, ...]]]:
    """Case -> (the export reply, words the message must hold)."""
    project = member("project.gns3", good_project())
    return {
        "not-a-zip": (Raw(b"<html>Welcome to nginx</html>"), ("not a GNS3 project export",)),
        "dotdot-member": (Raw(zip_bytes(tmp_path, project, member("../escape.txt", b"x"))),
                          ("../escape.txt",)),
        "absolute-member": (Raw(zip_bytes(tmp_path, project, member("/etc/cron.d/x", b"x"))),
                            ("/etc/cron.d/x",)),
        "zip-bomb": (Raw(zip_bytes(tmp_path, project, repeated(
            "project-files/qemu/disk.qcow2", [(b"\0" * (64 * MIB), 32)]))), ("zip bomb",)),
        "project-not-json": (Raw(zip_bytes(tmp_path, member("project.gns3", b"{not json"))),
                             ("project.gns3",)),
        "project-not-a-project": (Raw(zip_bytes(tmp_path, member("project.gns3", b"[1, 2]"))),
                                  ("project.gns3",)),
        "no-project": (Raw(zip_bytes(tmp_path, member("README.txt", b"hello"))),
                       ("project.gns3",)),
        "snapshot-not-a-zip": (Raw(zip_bytes(tmp_path, project, member(
            "snapshots/servers.gns3snapshot", b"not a zip"))), ("servers.gns3snapshot",)),
        "snapshot-project-not-a-project": (Raw(zip_bytes(tmp_path, project, member(
            "snapshots/servers.gns3snapshot", zip_bytes(tmp_path, member(
                "project.gns3", b'{"topology": []}'))))), ("servers.gns3snapshot",)),
        "http-500": (Raw(b'{"message": "disk full"}', 500), ("HTTP 500", "disk full")),
        "cut-short": (Raw(exported_zip("lab", [node("r1")])[:200], length=1 << 20),
                      ("export",)),
    }


CASES = [
    "not-a-zip", "dotdot-member", "absolute-member", "zip-bomb", "project-not-json",
    "project-not-a-project", "no-project", "snapshot-not-a-zip", "snapshot-project-not-a-project",
    "http-500", "cut-short"]


@pytest.mark.parametrize("case", CASES)
def test_a_lying_export_is_refused_and_leaves_nothing(tmp_path: Path, server: FakeGns3,
                                                      archive: Path, case: str) -> None:
    reply, words = hostile_exports(tmp_path)[case]
    server.replies["export"] = reply
    out = tmp_path / "out"
    result = capture(server, archive, out)
    assert_refused(result, server, out, *words)


def test_an_export_that_never_ends_times_out(tmp_path: Path, server: FakeGns3,
                                            archive: Path) -> None:
    """A drip, each byte well within the socket timeout, still ends at the export's deadline."""
    def drip() -> Iterator[bytes]:
        yield exported_zip("lab", [node("r1")])[:100]
        for _ in range(400):
            time.sleep(0.1)
            yield b"\0"

    server.replies["export"] = Stream(drip)
    out = tmp_path / "out"
    begin = time.monotonic()
    result = capture(server, archive, out, "--export-timeout", "3")
    assert time.monotonic() - begin < 20
    assert_refused(result, server, out, "export", "3 s")


def test_an_existing_output_folder_keeps_what_it_held(tmp_path: Path, server: FakeGns3,
                                                      archive: Path) -> None:
    """A refused capture into a folder that already holds files leaves them as they were."""
    out = tmp_path / "out"
    out.mkdir()
    (out / "mine.txt").write_text("keep me")
    server.replies["export"] = Raw(b"not a zip")
    result = capture(server, archive, out)
    assert result.exit_code == 2, result.stderr
    assert [p.name for p in out.iterdir()] == ["mine.txt"]


# -- the snapshot list and the version ---------------------------------------------------------


def snapshot_cases() -> dict[str, list[dict[str, Any]]]:
    base = {"snapshot_id": "5e1f0000-0000-4000-8000-000000000001", "created_at": 1700000000,
            "filename": "servers.gns3snapshot"}
    return {
        "dotdot-name": [dict(base, name="../../x")],
        "slash-name": [dict(base, name="a/b")],
        "absolute-name": [dict(base, name="/etc/passwd")],
        "control-name": [dict(base, name="x\x1b[2J\ny")],
        "date-not-a-number": [dict(base, name="servers", created_at="yesterday")],
        "date-too-far": [dict(base, name="servers", created_at=10 ** 20)],
        "date-negative": [dict(base, name="servers", created_at=-5)],
        "filename-not-text": [dict(base, name="servers", filename=["x"])],
    }


@pytest.mark.parametrize("case", list(snapshot_cases()))
def test_a_lying_snapshot_list_is_refused_and_leaves_nothing(tmp_path: Path, server: FakeGns3,
                                                             archive: Path, case: str) -> None:
    server.replies["snapshots"] = snapshot_cases()[case]
    server.replies["export"] = Raw(zip_bytes(
        tmp_path, member("project.gns3", good_project()),
        member("snapshots/servers.gns3snapshot", snapshot_zip())))
    out = tmp_path / "out"
    result = capture(server, archive, out)
    assert_refused(result, server, out, "snapshot")


@pytest.mark.parametrize("version", ["\x1b[2J; rm -rf /", "not a version", "9" * 200, ""])
def test_a_garbage_version_is_refused_before_the_push(tmp_path: Path, server: FakeGns3,
                                                      archive: Path, version: str) -> None:
    """The version goes into the captured manifest: a server that cannot say which GNS3 it is
    is refused before anything is pushed."""
    server.replies["version"] = {"version": version, "local": True}
    out = tmp_path / "out"
    result = capture(server, archive, out)
    assert_refused(result, server, out, "version")
    assert "import" not in server.routes()


# -- the library raises the typed error -------------------------------------------------------


def test_the_library_raises_a_server_error(tmp_path: Path, server: FakeGns3,
                                           archive: Path) -> None:
    server.replies["export"] = Raw(b"not a zip")
    with pytest.raises(ServerError, match="not a GNS3 project export"):
        capture_archive(archive, server.url, tmp_path / "out", timeout=60)
    assert not (tmp_path / "out").exists()


def test_nodes_that_never_stop_are_named_with_their_server(server: FakeGns3) -> None:
    """A server that keeps saying 'started' after the stop: the wait ends with a ServerError
    naming the server and the nodes (it named the nodes only)."""
    server.replies["nodes"] = [node("r1", status="started"), node("r2", status="suspended")]
    with pytest.raises(ServerError) as caught:
        rest(SnapshotClient(server.url), "p1", wait=1.0)
    assert server.url in caught.value.message and "r1, r2" in caught.value.message
    assert caught.value.hint


def test_an_endless_export_that_fills_the_disk_leaves_nothing(tmp_path: Path, server: FakeGns3,
                                                              archive: Path) -> None:
    """An export without end, written until the disk is full (a 16 MiB file-size limit stands
    in for it: the write fails as on a full disk): exit 2 naming the server, nothing left."""
    def endless() -> Iterator[bytes]:
        zeros = bytes(MIB)
        while True:
            yield zeros

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (16 * MIB, 16 * MIB))

    server.replies["export"] = Stream(endless)
    out = tmp_path / "out"
    run = subprocess.run([sys.executable, "-m", "generator.cli", "capture", str(archive),
                          "--server", server.url, "-o", str(out), "--timeout", "60"],
                         cwd=REPO, capture_output=True, text=True, timeout=120,
                         preexec_fn=limit, check=False)
    assert run.returncode == 2, (run.returncode, run.stderr[-2000:])
    message = run.stderr[run.stderr.index("error: "):]
    assert server.url in message and "hint: " in message and "Traceback" not in run.stderr
    assert not out.exists()
