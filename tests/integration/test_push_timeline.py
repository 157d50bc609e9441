"""`push --wait` ends with the lab's timeline and writes it with `--timeline FILE` (issue 24),
against the scripted GNS3 server of tests/support/fake_gns3.py with a real telnet console."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from generator.cli import main
from tests.integration.test_server_safety import write_archive
from tests.support.fake_gns3 import FakeGns3, TelnetConsole, node

pytestmark = pytest.mark.slow

SCRIPT = (b"booting\r\n"
          b"Cloud-init v. 22.4.2 finished at Sun, 06 Dec 2026 20:00:00 +0000. Datasource "
          b"DataSourceNoCloud [seed=/dev/sr0][dsmode=net].  Up 42.50 seconds\r\n"
          b"gns3lab: stage base ok\r\n"
          b"gns3lab: lab ready\r\n")


def test_push_wait_prints_and_writes_the_timeline(tmp_path: Path) -> None:
    archive = write_archive(tmp_path / "lab.gns3project")
    out = tmp_path / "timeline.json"
    with TelnetConsole([SCRIPT]) as console, FakeGns3([node("r1", console.port)]) as server:
        result = CliRunner(mix_stderr=False).invoke(main, [
            "push", str(archive), "--server", server.url, "--wait", "--timeout", "30",
            "--timeline", str(out)])
    assert result.exit_code == 0, (result.stdout, result.stderr)
    assert "lab ready" in result.stdout.splitlines()
    assert f"timeline: {out}" in result.stdout
    doc = json.loads(out.read_text())
    assert doc["ready"] is not None and doc["ready"] >= 0
    assert [s["name"] for s in doc["stages"]] == ["base"]
    assert list(doc["nodes"]) == ["r1"]
    assert doc["nodes"]["r1"]["cloud_init"] is not None
    # The same timeline is printed for the person watching (node and stage rows).
    assert any("r1" in line for line in result.stdout.splitlines() if "timeline" not in line)


def test_a_timeline_file_that_cannot_be_written_is_exit_2(tmp_path: Path) -> None:
    archive = write_archive(tmp_path / "lab.gns3project")
    blocker = tmp_path / "file"
    blocker.write_text("")
    with TelnetConsole([SCRIPT]) as console, FakeGns3([node("r1", console.port)]) as server:
        result = CliRunner(mix_stderr=False).invoke(main, [
            "push", str(archive), "--server", server.url, "--wait", "--timeout", "30",
            "--timeline", str(blocker / "sub.json")])
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert "cannot write the timeline to" in result.stderr
    assert "Traceback" not in result.stderr
