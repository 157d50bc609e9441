"""``gns3lab push``: import, open, start and wait, against real GNS3 servers (2.2 and 3.0).

The console-following part is first exercised against fake telnet consoles served by the test
(telnet negotiation, marker lines, a dropped connection, silence). Then the real servers: a
tiny hand-written archive is pushed through the CLI; an archive whose base image is missing
must fail with exit code 2 and name the image; and ``--wait`` on a node without an OS (it
network-boots, with SeaBIOS mirrored to the serial port) must time out with exit code 1 and a
console transcript holding the firmware's output, which proves the console following is real.
"""

from __future__ import annotations

import json
import re
import socket
import struct
import threading
import time
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from generator.cli import main
from generator.server.push import (
    CheckResult,
    PushEvent,
    PushResult,
    parse_console_line,
)
from generator.write.disks import create_blank_disk
from tests.support.gns3client import follow_consoles
from tests.support.gns3server import Gns3Server

pytestmark = pytest.mark.slow

IAC_NEGOTIATION = bytes([255, 253, 1, 255, 251, 3])  # IAC DO ECHO, IAC WILL SUPPRESS-GO-AHEAD
#: What SeaBIOS and iPXE print. Output from before the console connected is lost (QEMU drops
#: it), so the banners themselves may be missed; the boot attempts that follow are not.
FIRMWARE = re.compile(r"SeaBIOS|iPXE|ipxe\.org|Booting from|No bootable device")
CLOUD_INIT = b"Cloud-init v. 22.4.2 finished at Thu, 01 Jan 2026 00:00:00 +0000. Up 9.99 seconds"


# -- fake consoles -----------------------------------------------------------------------------


class FakeConsole:
    """A loopback TCP server that plays one script per accepted connection, like a node's
    telnet console. A script is a list of byte strings (sent with a short pause between
    them). With ``close_after`` the server hangs up after each script but the last; the last
    connection stays open."""

    def __init__(self, *scripts: list[bytes], close_after: bool = False, port: int = 0) -> None:
        self.scripts, self.close_after = list(scripts), close_after
        self.received = bytearray()
        self._listener = socket.create_server(("127.0.0.1", port))
        self._listener.settimeout(0.2)
        self.port = self._listener.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            with conn:
                script = self.scripts.pop(0) if self.scripts else []
                for chunk in script:
                    conn.sendall(chunk)
                    time.sleep(0.05)
                if script and self.close_after and self.scripts:
                    continue
                self._idle(conn)

    def _idle(self, conn: socket.socket) -> None:
        """Keep the connection open, collecting what the client sends (telnet replies)."""
        conn.settimeout(0.2)
        while not self._stop.is_set():
            try:
                data = conn.recv(1024)
            except TimeoutError:
                continue
            except OSError:
                return
            if not data:
                return
            self.received += data

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._listener.close()


@pytest.fixture
def consoles() -> Iterator[list[FakeConsole]]:
    """Collects the fake consoles a test makes, and closes them afterwards."""
    made: list[FakeConsole] = []
    yield made
    for console in made:
        console.close()


def lines(*texts: str | bytes) -> list[bytes]:
    return [t if isinstance(t, bytes) else t.encode() for t in texts]


def endpoint(console: FakeConsole) -> tuple[str, int]:
    return ("127.0.0.1", console.port)


def console_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("console-")]


def test_console_lines_are_recognised() -> None:
    stage = parse_console_line("ctrl", "[   42.1] gns3lab: stage routing ok")
    assert stage == PushEvent("stage", "stage routing ok", "ctrl", True, ("routing",))
    failed = parse_console_line("ctrl", "gns3lab: stage dns failed\r")
    assert failed is not None and failed.ok is False and failed.args == ("dns",)
    check = parse_console_line("ctrl", "gns3lab: check r2 10.0.12.2 failed")
    assert check == PushEvent("check", "check r2 10.0.12.2 failed", "ctrl", False,
                              ("r2", "10.0.12.2"))
    assert parse_console_line("ctrl", "gns3lab: lab ready").kind == "ready"  # type: ignore
    assert parse_console_line("r1", CLOUD_INIT.decode()).kind == "cloud-init"  # type: ignore
    for ordinary in ("+ echo 'gns3lab: stage x ok'", "gns3lab: stage x okay", "iPXE 1.21",
                     "Cloud-init v. 22.4.2 running 'modules:final' at Thu"):
        assert parse_console_line("ctrl", ordinary) is None, ordinary


def test_follow_until_lab_ready(consoles: list[FakeConsole]) -> None:
    ctrl = FakeConsole([IAC_NEGOTIATION, b"Debian GNU/Linux 12 ctrl ttyS0\r\n",
                        CLOUD_INIT + b"\r\n",
                        *lines("gns3lab: stage base ok\r\n", "gns3lab: check r1 10.0.0.1 ok\r\n",
                               "gns3lab: check r1 10.0.0.9 failed\r\n",
                               "gns3lab: stage routing ok\r\n", "gns3lab: lab ready\r\n")])
    r1 = FakeConsole([IAC_NEGOTIATION, b"\x1b[2Jboot\r\n", CLOUD_INIT + b"\n"])
    consoles += [ctrl, r1]
    events: list[PushEvent] = []
    begin = time.monotonic()
    outcome = follow_consoles({"ctrl": endpoint(ctrl), "r1": endpoint(r1)}, 30, events.append)
    assert time.monotonic() - begin < 10
    assert outcome.ready and outcome.failure is None
    assert outcome.stages == [("base", True), ("routing", True)]
    assert outcome.checks == [CheckResult("r1", "10.0.0.1", True),
                              CheckResult("r1", "10.0.0.9", False)]
    assert "ctrl: stage routing ok" in [str(e) for e in events]
    assert events[-1].kind == "ready"
    assert "gns3lab: lab ready" in outcome.transcripts["ctrl"]
    assert "Debian GNU/Linux 12" in outcome.transcripts["ctrl"]
    assert all("\xff" not in t and "\x1b" not in t for t in outcome.transcripts.values())
    assert bytes([255, 252, 1]) in ctrl.received  # DO ECHO was refused with WONT ECHO
    assert console_threads() == []


def test_a_failed_stage_ends_the_wait(consoles: list[FakeConsole]) -> None:
    ctrl = FakeConsole(lines("gns3lab: stage base ok\n", "gns3lab: stage dns failed\n",
                             "gns3lab: stage routing ok\n"))
    consoles.append(ctrl)
    begin = time.monotonic()
    outcome = follow_consoles({"ctrl": endpoint(ctrl)}, 60)
    assert time.monotonic() - begin < 10
    assert not outcome.ready
    assert outcome.stages[:2] == [("base", True), ("dns", False)]
    assert outcome.failure == "stage dns failed (reported by ctrl)"


def test_a_dropped_console_is_reconnected(consoles: list[FakeConsole]) -> None:
    ctrl = FakeConsole(lines("gns3lab: stage base ok\n"),
                       lines("gns3lab: stage routing ok\n", "gns3lab: lab ready\n"),
                       close_after=True)
    consoles.append(ctrl)
    events: list[PushEvent] = []
    outcome = follow_consoles({"ctrl": endpoint(ctrl)}, 30, events.append)
    assert outcome.ready
    assert outcome.stages == [("base", True), ("routing", True)]
    messages = [str(e) for e in events if e.kind == "console"]
    assert "ctrl: console closed, reconnecting" in messages
    assert any(m.startswith("ctrl: console reconnected") for m in messages)


def test_a_console_that_is_not_up_yet_is_retried(consoles: list[FakeConsole]) -> None:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]
    late: list[FakeConsole] = []
    opener = threading.Timer(
        1.5, lambda: late.append(FakeConsole(lines("gns3lab: lab ready\n"), port=port)))
    opener.start()
    try:
        outcome = follow_consoles({"ctrl": ("127.0.0.1", port)}, 30)
    finally:
        opener.join()
        consoles += late
    assert outcome.ready


def test_silence_ends_in_a_timeout(consoles: list[FakeConsole]) -> None:
    quiet = FakeConsole(lines("Booting from Hard Disk...\r\n", "waiting"))
    consoles.append(quiet)
    begin = time.monotonic()
    outcome = follow_consoles({"r1": endpoint(quiet)}, 1.5)
    assert 1.5 <= time.monotonic() - begin < 8
    assert not outcome.ready
    assert outcome.failure == "no 'gns3lab: lab ready' within 1.5 s"
    assert "Booting from Hard Disk..." in outcome.transcripts["r1"]
    assert console_threads() == []


def test_cli_summary_and_exit_codes(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The command's own part, with the push itself replaced: summary lines and exit codes."""
    import generator.server.push

    def fake_push(archive: Path, server_url: str, **kwargs: Any) -> PushResult:
        kwargs["progress"](PushEvent("stage", "stage dns failed", "ctrl", False, ("dns",)))
        ready = kwargs["name"] == "good"
        return PushResult(project_id="p1", name=kwargs["name"], nodes=[], started=True,
                          waited=True, ready=ready, stages=[("base", True), ("dns", ready)],
                          checks=[CheckResult("r1", "10.0.0.1", True),
                                  CheckResult("r2", "10.0.0.2", False)],
                          failure=None if ready else "stage dns failed (reported by ctrl)",
                          transcripts={"ctrl": "one\ntwo\ngns3lab: stage dns failed\n"})

    monkeypatch.setattr(generator.server.push, "push_archive", fake_push)
    archive = tmp_path / "lab.gns3project"
    archive.write_bytes(b"")
    runner = CliRunner(mix_stderr=False)
    args = ["push", str(archive), "--server", "http://gns3:3080", "--wait", "--console-log",
            str(tmp_path / "logs")]
    good = runner.invoke(main, [*args, "--name", "good"])
    assert good.exit_code == 0, good.stderr
    assert "ctrl: stage dns failed" in good.stderr  # progress, with the node's name
    assert good.stdout.splitlines()[1:] == [
        "stages: base ok, dns ok", "checks: 1/2 ok; r2 10.0.0.2 failed", "lab ready"]
    bad = runner.invoke(main, [*args, "--name", "bad"])
    assert bad.exit_code == 1
    assert "lab not ready: stage dns failed (reported by ctrl)" in bad.stderr
    assert "  | gns3lab: stage dns failed" in bad.stderr
    assert (tmp_path / "logs" / "ctrl.log").read_text().startswith("one\ntwo\n")


# -- real servers ------------------------------------------------------------------------------


def project_file(name: str, image: str, nodes: tuple[str, ...] = ("r1", "r2"),
                 **properties: Any) -> dict[str, Any]:
    """A minimal revision-9 project.gns3 (both versions accept it): QEMU nodes on ``image``,
    the first two linked."""
    ids = {node: str(uuid.uuid4()) for node in nodes}
    qemu = [{"node_id": ids[node], "name": node, "node_type": "qemu", "compute_id": "local",
             "properties": {"qemu_path": "qemu-system-x86_64", "hda_disk_image": image,
                            "hda_disk_interface": "virtio", "linked_clone": True, "ram": 64,
                            "adapters": 1, **properties}} for node in nodes]
    links = [{"link_id": str(uuid.uuid4()),
              "nodes": [{"node_id": ids[node], "adapter_number": 0, "port_number": 0}
                        for node in nodes[:2]]}] if len(nodes) > 1 else []
    return {"project_id": str(uuid.uuid4()), "type": "topology", "revision": 9,
            "version": "2.2.61", "name": name,
            "topology": {"computes": [], "drawings": [], "nodes": qemu, "links": links}}


def write_archive(path: Path, project: dict[str, Any]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("project.gns3", json.dumps(project, indent=2))
    return path


def add_base_image(server: Gns3Server) -> str:
    name = f"push-{uuid.uuid4().hex[:8]}.qcow2"
    create_blank_disk(server.images_dir / name, 64 * 1024 * 1024)
    return name


def push(server: Gns3Server, archive: Path, *args: str) -> Result:
    """Run ``gns3lab push ARCHIVE --server URL [credentials] ARGS``."""
    creds = ["--user", server.client.username, "--password", server.client.password or ""] \
        if server.client.username else []
    runner = CliRunner(mix_stderr=False)
    return runner.invoke(main, ["push", str(archive), "--server", server.url, *creds, *args],
                         catch_exceptions=False)


def projects_named(server: Gns3Server, prefix: str) -> dict[str, str]:
    """name -> project id for the server's projects whose name starts with ``prefix``."""
    return {p["name"]: p["project_id"] for p in server.client.projects()
            if p["name"].startswith(prefix)}


def remove_projects(server: Gns3Server, prefix: str) -> None:
    client = server.client
    for pid in projects_named(server, prefix).values():
        if client.request("GET", f"/projects/{pid}")["status"] == "opened":
            client.stop_all(pid)
            client.close_project(pid)
        client.delete_project(pid)


@pytest.fixture
def lab_name(gns3_server: Gns3Server) -> Iterator[str]:
    """A unique project name; every project starting with it is deleted afterwards."""
    name = f"push-{uuid.uuid4().hex[:6]}"
    yield name
    remove_projects(gns3_server, name)


def test_push_imports_and_opens(gns3_server: Gns3Server, lab_name: str, tmp_path: Path) -> None:
    archive = write_archive(tmp_path / "lab.gns3project",
                            project_file(lab_name, add_base_image(gns3_server)))
    first = push(gns3_server, archive)
    assert first.exit_code == 0, first.stderr
    (pid,) = projects_named(gns3_server, lab_name).values()
    assert f"project '{lab_name}' ({pid})" in first.stdout
    assert f"opened '{lab_name}': 2 nodes, 1 links" in first.stderr
    nodes = gns3_server.client.nodes(pid)
    assert sorted(n["name"] for n in nodes) == ["r1", "r2"]
    assert {n["status"] for n in nodes} == {"stopped"}

    second = push(gns3_server, archive, "--name", lab_name)  # the name is taken now
    assert second.exit_code == 0, second.stderr
    assert f"imported as '{lab_name}-1' ('{lab_name}' is taken)" in second.stderr
    assert f"project '{lab_name}-1'" in second.stdout
    assert set(projects_named(gns3_server, lab_name)) == {lab_name, f"{lab_name}-1"}


def test_push_names_a_missing_base_image(gns3_server: Gns3Server, lab_name: str,
                                         tmp_path: Path) -> None:
    image = f"absent-{uuid.uuid4().hex[:8]}.qcow2"
    archive = write_archive(tmp_path / "lab.gns3project", project_file(lab_name, image))
    result = push(gns3_server, archive, "--start")
    assert result.exit_code == 2
    assert f"\nerror: GNS3 could not open the imported project '{lab_name}': " in result.stderr
    assert f"image {image!r} is missing" in result.stderr or \
        f"image {image} is missing" in result.stderr
    assert f"hint: put {image} into the GNS3 server's QEMU images folder" in result.stderr
    assert projects_named(gns3_server, lab_name) == {}  # the half-pushed project is gone


def test_push_needs_credentials_on_3_0(gns3_server_30: Gns3Server, tmp_path: Path) -> None:
    archive = write_archive(tmp_path / "lab.gns3project", project_file("nocreds", "x.qcow2"))
    result = CliRunner(mix_stderr=False).invoke(
        main, ["push", str(archive), "--server", gns3_server_30.url])
    assert result.exit_code == 2
    assert "requires a user name and password" in result.stderr


def test_push_wait_follows_real_consoles_until_timeout(gns3_server: Gns3Server, lab_name: str,
                                                       tmp_path: Path) -> None:
    sercon = tmp_path / "sercon-port"
    sercon.write_bytes(struct.pack("<H", 0x3F8))  # SeaBIOS mirrors its screen to COM1
    project = project_file(lab_name, add_base_image(gns3_server), ("r1",), boot_priority="n",
                           options=f"-fw_cfg name=etc/sercon-port,file={sercon}")
    archive = write_archive(tmp_path / "lab.gns3project", project)
    logs = tmp_path / "consoles"
    begin = time.monotonic()
    result = push(gns3_server, archive, "--wait", "--timeout", "20", "--console-log", str(logs))
    assert result.exit_code == 1, result.stderr
    assert 20 <= time.monotonic() - begin < 60
    assert "r1: started" in result.stderr
    assert "r1: console connected" in result.stderr
    assert "lab not ready: no 'gns3lab: lab ready' within 20 s" in result.stderr
    assert "stages: none seen" in result.stdout
    transcript = (logs / "r1.log").read_text()
    assert FIRMWARE.search(transcript), transcript[-2000:]
    assert "\x1b" not in transcript and "\xff" not in transcript
    (pid,) = projects_named(gns3_server, lab_name).values()
    assert {n["status"] for n in gns3_server.client.nodes(pid)} == {"started"}


def test_wait_fails_fast_when_every_console_goes_quiet() -> None:
    """A guest that stops printing ends the wait after ``stall`` seconds, not the timeout
    (a real TCP console on 127.0.0.1 that prints two lines, then nothing)."""
    import socket
    import threading
    import time

    from generator.server.consoles import ConsoleWatch

    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    done = threading.Event()

    def serve() -> None:
        conn, _ = server.accept()
        conn.sendall(b"Booting the kernel\r\nsystemd[1]: Started foo\r\n")
        done.wait(30)
        conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    start = time.monotonic()
    with ConsoleWatch({"vm1": ("127.0.0.1", port)}) as watch:
        outcome = watch.wait(timeout=120, stall=3)
    done.set()
    server.close()
    assert time.monotonic() - start < 30
    assert outcome.failure is not None and "stopped progressing" in outcome.failure
    assert "Started foo" in outcome.transcripts["vm1"]
