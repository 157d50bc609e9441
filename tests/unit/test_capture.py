"""Issue 22's pure parts: the captured archive's name, the portable snapshot member name, the
qcow2 backing file made bare in place, and the manifest's capture record round trip."""

from __future__ import annotations

import json

import pytest

from generator.archive_format import (
    CaptureRecord,
    CaptureStage,
    Manifest,
    ManifestError,
    SnapshotRecord,
    parse_manifest,
    render_manifest,
)
from generator.read.snapshots import PORTABLE, is_snapshot, portable_member
from generator.server.capture import captured_name
from generator.server.capture_pack import patch_backing


def test_captured_archive_name_has_lab_version_and_ready() -> None:
    assert captured_name(Manifest(lab="demo", version="1.2"), "x") == \
        "demo-1.2-ready.gns3project"
    assert captured_name(Manifest(), "lab") == "lab-ready.gns3project"


def test_portable_member_is_the_form_every_gns3_loads() -> None:
    member = portable_member("servers", 1_796_515_200)  # 2026-12-06 00:00:00 UTC
    assert member == "snapshots/servers_061226_000000.gns3project"
    match = PORTABLE.match(member.split("/", 1)[1])
    assert match and match["name"] == "servers"
    # GNS3 takes the name as everything before the last two underscores
    assert portable_member("stage_one", 0).split("/")[1].rsplit("_", 2)[0] == "stage_one"
    assert is_snapshot("snapshots/a.gns3snapshot") and not is_snapshot("project.gns3")


def _head(name: bytes) -> bytearray:
    head = bytearray(512)
    head[:4], head[4:8] = b"QFI\xfb", (3).to_bytes(4, "big")
    head[8:16], head[16:20] = (100).to_bytes(8, "big"), len(name).to_bytes(4, "big")
    head[100:100 + len(name)] = name
    return head


def test_backing_file_is_made_bare_in_place() -> None:
    patched = patch_backing(bytes(_head(b"/srv/gns3/images/QEMU/base.qcow2")))
    assert patched[16:20] == len(b"base.qcow2").to_bytes(4, "big")
    assert patched[100:110] == b"base.qcow2" and len(patched) == 512


@pytest.mark.parametrize("head", [bytes(_head(b"base.qcow2")), b"not a qcow2 at all"])
def test_a_bare_name_or_no_qcow2_is_left_alone(head: bytes) -> None:
    assert patch_backing(head) == head


def test_capture_record_round_trips_and_built_manifests_keep_their_bytes() -> None:
    assert b'"capture"' not in render_manifest(Manifest(lab="demo"))
    record = CaptureRecord(gns3_version="2.2.61", stages=(CaptureStage(name="a", ok=True,
                                                                       seconds=3.5),),
                           snapshots={"snapshots/a_010170_000000.gns3project":
                                      SnapshotRecord(name="a", stage="a")})
    manifest = Manifest(lab="demo", capture=record)
    assert parse_manifest(json.loads(render_manifest(manifest))) == manifest


def test_a_capture_record_of_the_wrong_shape_is_refused() -> None:
    with pytest.raises(ManifestError, match="capture.stages"):
        parse_manifest({"capture": {"stages": "fast"}})


def test_cli_capture_of_a_missing_archive_is_bad_input(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from click.testing import CliRunner

    from generator.cli import main

    out = CliRunner().invoke(main, ["capture", str(tmp_path / "none.gns3project"),
                                    "--server", "http://127.0.0.1:9"])
    assert out.exit_code == 2, out.output
    assert out.output.startswith("error: ") and "none.gns3project" in out.output
