"""A captured snapshot restores on any server (issue 22, found by the e2e demo's restore).

GNS3 2.2 writes into each snapshot's ``project.gns3`` the absolute path of every node's seed
ISO in the capturing project's folder (``cdrom_image: /…/projects/<id>/project-files/qemu/
<node>/r1-seed.iso``); its export makes the main project file's paths bare, not the
snapshots'. Restored on another server, or once the captured project is deleted, GNS3 answers
"The image … is missing". The re-pack makes those paths bare. A fake GNS3 server on 127.0.0.1
(tests/support/fake_gns3.py) exports such a snapshot, as 2.2.61 did in the e2e run.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from generator.archive_format import parse_manifest
from generator.cli import main
from generator.read.reader import SafeArchive
from generator.read.snapshots import check_snapshot
from tests.integration.test_capture_hostile import lab_archive
from tests.support.fake_gns3 import FakeGns3, Raw, TelnetConsole, exported_zip, node

pytestmark = pytest.mark.slow

READY = b"booting\r\ngns3lab: lab ready\r\n"
NODE = "6a9d1f80-0000-4000-8000-000000000100"
ABSOLUTE = f"/srv/gns3/projects/417dec08/project-files/qemu/{NODE}/r1-seed.iso"


def snapshot_as_22_writes_it() -> bytes:
    """A snapshot zip (stored) whose project file names the seed ISO by absolute path."""
    doc = json.loads(zipfile.ZipFile(io.BytesIO(exported_zip("lab", [node("r1")])))
                     .read("project.gns3"))
    doc["topology"]["nodes"][0].update(node_id=NODE, properties={
        "cdrom_image": ABSOLUTE, "hda_disk_image": "base.qcow2", "ram": 256})
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("project.gns3", json.dumps(doc))
        zf.writestr(f"project-files/qemu/{NODE}/r1-seed.iso", b"seed")
    return out.getvalue()


def test_a_snapshot_names_its_seed_iso_by_bare_name(tmp_path: Path) -> None:
    export = io.BytesIO()
    with zipfile.ZipFile(export, "w") as zf:
        with zipfile.ZipFile(io.BytesIO(exported_zip("lab", [node("r1")]))) as good:
            zf.writestr("project.gns3", good.read("project.gns3"))
        zf.writestr("snapshots/servers.gns3snapshot", snapshot_as_22_writes_it())
    with TelnetConsole([READY]) as console, FakeGns3([node("r1", console.port)]) as server:
        server.replies["snapshots"] = [{"snapshot_id": "5e1f0000-0000-4000-8000-000000000001",
                                        "name": "servers", "created_at": 1700000000,
                                        "filename": "servers.gns3snapshot"}]
        server.replies["export"] = Raw(export.getvalue())
        result = CliRunner(mix_stderr=False).invoke(main, [
            "capture", str(lab_archive(tmp_path / "lab.gns3project")), "--server", server.url,
            "-o", str(tmp_path / "out"), "--timeout", "60"])
    assert result.exit_code == 0, result.stderr
    captured = tmp_path / "out" / "lab-ready.gns3project"
    with SafeArchive(captured) as zf:
        manifest = parse_manifest(json.loads(zf.read("gns3lab/manifest.json")), str(captured))
        assert manifest.capture is not None
        (member, record), = manifest.capture.snapshots.items()
        assert check_snapshot(zf, member, record) == []  # the record is of what is written
        inner = zipfile.ZipFile(io.BytesIO(zf.read(member, 1 << 20)))
    props = json.loads(inner.read("project.gns3"))["topology"]["nodes"][0]["properties"]
    assert props["cdrom_image"] == "r1-seed.iso"
    assert props["hda_disk_image"] == "base.qcow2" and props["ram"] == 256
    assert inner.read(f"project-files/qemu/{NODE}/r1-seed.iso") == b"seed"
