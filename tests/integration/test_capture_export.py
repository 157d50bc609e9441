"""Issue 22 without booting: a pushed tiny lab (nodes stopped) is snapshotted and captured
through GNS3's own export in real gns3-server 2.2.61 and 3.0.6; the captured archive passes
verify, carries its snapshot in the form every supported GNS3 loads, imports with the snapshot
listed, and tampering inside a snapshot is caught."""

from __future__ import annotations

import json
import uuid
import zipfile
from pathlib import Path

import pytest

from generator.archive_format import MANIFEST, CaptureRecord, parse_manifest
from generator.read.snapshots import PORTABLE
from generator.read.verify import verify_archive
from generator.server.capture import archive_project
from generator.server.push import push_archive
from generator.server.snapshots import SnapshotClient
from tests.integration.test_push_images import BLUEPRINT, credentials, remove, tiny_lab
from tests.support.gns3server import Gns3Server

pytestmark = pytest.mark.slow

SOURCES: dict[Path, Path] = {}  #: captured archive -> the built archive it came from


def _capture(server: Gns3Server, tmp_path: Path) -> tuple[Path, Path, Path]:
    name = f"cap-{uuid.uuid4().hex[:6]}"
    built, image = tiny_lab(tmp_path, BLUEPRINT.format(name=name))
    push = push_archive(built.archive, server.url, name=name, upload_from=[image.parent],
                        **credentials(server))
    client = SnapshotClient(server.url, **credentials(server))
    client.take_snapshot(push.project_id, "first")
    record = CaptureRecord(captured_at="2026-12-06T00:00:00Z", source_archive=built.archive.name,
                           source_sha256="0" * 64,
                           gns3_version=str(server.client.version()["version"]))
    captured, _ = archive_project(client, push.project_id, built.archive, tmp_path / "out",
                                  record)
    remove(server, name)
    return captured, image, built.archive


@pytest.fixture(scope="module", params=["2.2", "3.0"])
def captured(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
             ) -> tuple[Path, Path, Gns3Server]:
    server = request.getfixturevalue(f"gns3_server_{request.param.replace('.', '')}")
    archive, image, built = _capture(server, tmp_path_factory.mktemp("capture"))
    SOURCES[archive] = built
    return archive, image, server


def test_captured_archive_is_named_and_passes_verify(captured) -> None:  # type: ignore[no-untyped-def]
    archive, image, server = captured
    assert archive.name.endswith("-ready.gns3project")
    report = verify_archive(archive, [image.parent])
    assert report.ok, [p.render() for p in report.problems]
    assert report.checked["snapshots"] == 1
    with zipfile.ZipFile(archive) as zf:
        manifest = parse_manifest(json.loads(zf.read(MANIFEST)))
        names = zf.namelist()
    assert manifest.capture is not None
    assert manifest.capture.gns3_version.startswith(server.version + ".")
    (member, snap), = manifest.capture.snapshots.items()
    assert snap.name == "first" and PORTABLE.match(member.split("/", 1)[1]), member
    assert "project.gns3" in snap.files
    assert not [n for n in names if n.endswith((".gns3snapshot", "snapshots.conf"))]


def test_captured_archive_imports_with_its_snapshot(captured) -> None:  # type: ignore[no-untyped-def]
    archive, _, server = captured
    name = f"reimport-{uuid.uuid4().hex[:6]}"
    client = SnapshotClient(server.url, **credentials(server))
    try:
        project = client.import_project(archive, name)
        client.open_project(project["project_id"])
        assert [s["name"] for s in client.snapshots(project["project_id"])] == ["first"]
    finally:
        remove(server, name)


def test_tampering_inside_a_snapshot_is_caught(captured, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    archive, image, _ = captured
    tampered = tmp_path / archive.name
    with zipfile.ZipFile(archive) as src, zipfile.ZipFile(tampered, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename.startswith("snapshots/"):
                inner = tmp_path / "inner.zip"
                inner.write_bytes(data)
                changed = tmp_path / "changed.zip"
                with zipfile.ZipFile(inner) as zi, zipfile.ZipFile(changed, "w") as zo:
                    for item in zi.infolist():
                        body = zi.read(item)
                        if item.filename == "project.gns3":
                            body = body.replace(b'"auto_start": false', b'"auto_start": true')
                        zo.writestr(item, body)
                data = changed.read_bytes()
            dst.writestr(info, data)
    report = verify_archive(tampered, [image.parent])
    inside = [p for p in report.problems if p.check == "snapshots"]
    assert [p.message.split(":")[0] for p in inside] == ["project.gns3"], report.problems


def test_inspect_lists_the_capture_and_its_snapshots(captured) -> None:  # type: ignore[no-untyped-def]
    from click.testing import CliRunner

    from generator.cli import main
    from generator.read.inspect import inspect_archive

    archive, _, server = captured
    info = inspect_archive(archive)["capture"]
    assert info["gns3_version"] == str(server.client.version()["version"])
    (snap,) = info["snapshots"]
    assert snap["name"] == "first" and snap["members"] >= 2 and snap["bytes"] > 0
    out = CliRunner().invoke(main, ["inspect", str(archive)])
    assert out.exit_code == 0, out.output
    assert "snapshots (1):" in out.output and f"{snap['member']}" in out.output


def test_diff_shows_the_snapshots_a_capture_adds(captured) -> None:  # type: ignore[no-untyped-def]
    from generator.read.diff import diff_labs

    archive, _, _ = captured
    result = diff_labs(SOURCES[archive], archive)
    assert result.sections["snapshots"].added == ("first",)
    assert not result.sections["nodes"] and not result.sections["links"]
    assert diff_labs(archive, archive).equal
