"""The real-server harness itself: gns3-server 2.2.61 and 3.0.6, the uBridge stand-in, the
product's REST client and console reader.

A hand-written two-node project (tests/data/minimal-handwritten-rev9.gns3) is imported, opened
and started on each server version. The nodes have no OS: with ``boot_priority: "n"`` their
e1000 iPXE ROM sends DHCP and IPv6 router solicitations, which must cross the link through the
uBridge stand-in in both directions. SeaBIOS is told to mirror its screen to the serial port
(``etc/sercon-port``), so the telnet console has text to read.
"""

from __future__ import annotations

import json
import re
import struct
import time
import uuid
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from generator.errors import ServerError
from generator.server.api import Gns3Client
from generator.server.consoles import ConsoleTail, TelnetFilter, clean_console_line
from generator.write.disks import create_blank_disk
from tests.helpers import DATA
from tests.support.gns3client import start_all, start_capture, stop_capture
from tests.support.gns3server import Gns3Server

pytestmark = pytest.mark.slow

SAMPLE = DATA / "minimal-handwritten-rev9.gns3"
CAPTURE_TIMEOUT = 60.0  # frames from both MACs arrived within ~24 s when measured
CONSOLE_TIMEOUT = 45.0
START_TIMEOUT = 30.0


@dataclass
class StartedLab:
    """A two-node project imported, opened and started on one server."""

    server: Gns3Server
    project_id: str
    nodes: dict[str, dict[str, Any]]  #: by name, as returned right after start
    link: dict[str, Any]
    console: ConsoleTail  #: r1's console, connected right after start so no output is missed


def write_archive(path: Path, project: dict[str, Any]) -> Path:
    """A .gns3project holding only project.gns3."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("project.gns3", json.dumps(project, indent=2))
    return path


def load_project(image: str, **properties: Any) -> dict[str, Any]:
    """The sample project with its nodes on ``image`` and extra QEMU ``properties``."""
    project = json.loads(SAMPLE.read_text())
    for node in project["topology"]["nodes"]:
        node["properties"].update(hda_disk_image=image, **properties)
    return project


def add_base_image(server: Gns3Server) -> str:
    """A fresh, empty base image in the server's image dir (import never replaces one)."""
    name = f"base-{uuid.uuid4().hex[:8]}.qcow2"
    create_blank_disk(server.images_dir / name, 64 * 1024 * 1024)
    return name


def wait_for(what: str, check: Any, timeout: float, interval: float = 0.5) -> Any:
    """Call ``check`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


def pcap_source_macs(path: Path) -> set[str]:
    """Source MAC addresses of the Ethernet frames in a (possibly still growing) pcap file."""
    data = path.read_bytes() if path.exists() else b""
    macs, offset = set(), 24
    while offset + 16 <= len(data):
        caplen = struct.unpack_from("<I", data, offset + 8)[0]
        frame = data[offset + 16:offset + 16 + caplen]
        if len(frame) == caplen and caplen >= 12:
            macs.add(":".join(f"{b:02x}" for b in frame[6:12]))
        offset += 16 + caplen
    return macs


@pytest.fixture(scope="module")
def started_lab(gns3_server: Gns3Server, tmp_path_factory: pytest.TempPathFactory
                ) -> Iterator[StartedLab]:
    """Import, open and start the network-booting two-node lab; stop, close, delete after."""
    client, tmp = gns3_server.client, tmp_path_factory.mktemp("lab")
    sercon = tmp / "sercon-port"
    sercon.write_bytes(struct.pack("<H", 0x3F8))  # SeaBIOS reads it as a little-endian int
    project = load_project(add_base_image(gns3_server), boot_priority="n",
                           options=f"-fw_cfg name=etc/sercon-port,file={sercon}")
    imported = client.import_project(write_archive(tmp / "lab.gns3project", project), "harness")
    pid = imported["project_id"]
    console = None
    try:
        client.open_project(pid)
        start_all(client, pid)
        nodes = {n["name"]: n for n in client.nodes(pid)}
        console = ConsoleTail(_console_host(nodes["r1"]), nodes["r1"]["console"])
        yield StartedLab(gns3_server, pid, nodes, client.links(pid)[0], console)
    finally:
        if console is not None:
            console.close()
        client.stop_all(pid)
        client.close_project(pid)
        client.delete_project(pid)


def _console_host(node: dict[str, Any]) -> str:
    host = node.get("console_host") or "127.0.0.1"
    return "127.0.0.1" if host in ("0.0.0.0", "::") else host


def test_import_and_open_keep_both_nodes_and_the_link(gns3_server: Gns3Server,
                                                      tmp_path: Path) -> None:
    client = gns3_server.client
    project = load_project(add_base_image(gns3_server))
    imported = client.import_project(write_archive(tmp_path / "p.gns3project", project), "shape")
    pid = imported["project_id"]
    assert imported["status"] == "closed"
    assert pid != project["project_id"]
    try:
        assert client.open_project(pid)["status"] == "opened"
        nodes = {n["name"]: n for n in client.nodes(pid)}
        assert sorted(nodes) == ["r1", "r2"]
        assert {n["node_type"] for n in nodes.values()} == {"qemu"}
        assert {n["status"] for n in nodes.values()} == {"stopped"}
        (link,) = client.links(pid)
        ends = {(e["node_id"], e["adapter_number"], e["port_number"]) for e in link["nodes"]}
        assert ends == {(nodes["r1"]["node_id"], 0, 0), (nodes["r2"]["node_id"], 0, 0)}
        client.close_project(pid)
    finally:
        client.delete_project(pid)
    assert pid not in {p["project_id"] for p in client.projects()}


def test_nodes_start_under_tcg(started_lab: StartedLab) -> None:
    client, pid = started_lab.server.client, started_lab.project_id
    for name, node in started_lab.nodes.items():
        current = wait_for(f"{name} to start",
                           lambda nid=node["node_id"]: _started(client.node(pid, nid)),
                           START_TIMEOUT)
        assert "qemu-system-x86_64" in current["command_line"]
        assert "-enable-kvm" not in current["command_line"], current["command_line"]


def _started(node: dict[str, Any]) -> dict[str, Any] | None:
    return node if node["status"] == "started" else None


def test_link_carries_frames_both_ways(started_lab: StartedLab) -> None:
    client, pid, link = started_lab.server.client, started_lab.project_id, started_lab.link
    macs = {name: re.findall(r"mac=([0-9a-f:]{17})", node["command_line"])[0]
            for name, node in started_lab.nodes.items()}
    answer = start_capture(client, pid, link["link_id"])
    try:
        pcap = Path(answer["capture_file_path"])
        seen = wait_for(f"frames from {sorted(macs.values())} in {pcap}",
                        lambda: (s := pcap_source_macs(pcap)) >= set(macs.values()) and s,
                        CAPTURE_TIMEOUT)
        assert set(macs.values()) <= seen
    finally:
        stop_capture(client, pid, link["link_id"])


#: Lines only the node's firmware prints. The banners themselves come first and may be gone
#: before the console is reached (QEMU's telnet serial drops what no client reads), so any of
#: the firmware's later lines counts too.
FIRMWARE_LINES = ("iPXE", "ipxe.org", "SeaBIOS", "Booting from", "No bootable device")


def test_console_tail_reads_firmware_output(started_lab: StartedLab) -> None:
    seen = []
    for line in started_lab.console.lines(timeout=CONSOLE_TIMEOUT):
        seen.append(line)
        if any(mark in line for mark in FIRMWARE_LINES):
            break
    else:
        pytest.fail(f"no SeaBIOS/iPXE output on r1's console within {CONSOLE_TIMEOUT:.0f} s; "
                    f"got {seen[-10:]!r}")
    assert all("\x1b" not in line and "\xff" not in line for line in seen)


def test_http_errors_carry_status_and_server_message(gns3_server: Gns3Server) -> None:
    with pytest.raises(ServerError) as caught:
        gns3_server.client.open_project(str(uuid.uuid4()))
    assert "HTTP 404" in caught.value.message
    assert "/projects/" in caught.value.message


def test_missing_image_fails_open_with_the_server_message(gns3_server: Gns3Server,
                                                          tmp_path: Path) -> None:
    client = gns3_server.client
    project = load_project(f"absent-{uuid.uuid4().hex[:8]}.qcow2")
    pid = client.import_project(write_archive(tmp_path / "p.gns3project", project), "noimg")[
        "project_id"]
    try:
        with pytest.raises(ServerError, match=r"/open: HTTP 409: The image .?absent-.* missing"):
            client.open_project(pid)
    finally:
        client.delete_project(pid)


def test_schema_errors_of_2_2_are_cut_to_the_sentence(gns3_server_22: Gns3Server,
                                                      tmp_path: Path) -> None:
    project = load_project("unused.qcow2")
    del project["version"]
    archive = write_archive(tmp_path / "p.gns3project", project)
    with pytest.raises(ServerError, match=r"HTTP 409: .*'version' is a required property$"):
        gns3_server_22.client.import_project(archive, "noversion")


def test_wrong_password_is_refused_by_3_0(gns3_server_30: Gns3Server) -> None:
    client = Gns3Client(gns3_server_30.url, "admin", "not-the-password")
    assert client.version()["version"].startswith("3.0.")
    with pytest.raises(ServerError, match="HTTP 401") as caught:
        client.projects()
    assert caught.value.hint == "check the user name and password"


def test_unreachable_server_is_a_server_error() -> None:
    with pytest.raises(ServerError, match=r"cannot reach GNS3 server at http://127\.0\.0\.1:9:"):
        Gns3Client("http://127.0.0.1:9", timeout=2).version()


def test_telnet_filter_strips_negotiation_across_chunks() -> None:
    telnet = TelnetFilter()
    assert telnet.feed(b"ab\xff\xfb\x01\xff") == (b"ab", b"\xff\xfe\x01")  # WILL ECHO -> DONT
    assert telnet.feed(b"\xfd\x03cd\xff\xff") == (b"cd\xff", b"\xff\xfc\x03")  # DO SGA -> WONT
    assert telnet.feed(b"\xff\xfa\x1f\x00\x50\xff\xf0ef") == (b"ef", b"")  # subnegotiation


def test_console_lines_are_cleaned_of_escapes_and_spinners() -> None:
    raw = "\x1b[0;1miPXE 1.0\x1b[0m -- \x1b[0;36mhttp\x1b[0m\r"
    assert clean_console_line(raw) == "iPXE 1.0 -- http"
    assert clean_console_line("Press Ctrl-B...\b \b\b \b\b \bnet0: up") == "Press Ctrl-Bnet0: up"
