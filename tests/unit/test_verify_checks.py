"""The pure checks of gns3lab verify: server schemas on the golden projects, qcow2 backing names
from the header, seed ISO checks. Split from tests/integration/test_verify.py, which verifies
built archives."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from generator.qcow2 import backing_name as parse_qcow2_backing
from generator.read.schemas import check_project
from generator.read.verify import check_seed_iso
from generator.write.iso import seed_iso_bytes
from tests.helpers import DATA


@pytest.mark.parametrize("golden", sorted((DATA / "golden").glob("*/project.gns3")),
                         ids=lambda p: p.parent.name)
def test_golden_projects_pass_the_schemas(golden: Path) -> None:
    assert check_project(json.loads(golden.read_text())) == []


def test_schema_problems_name_server_and_place() -> None:
    doc = json.loads((DATA / "golden" / "fabric" / "project.gns3").read_text())
    qemu = next(n for n in doc["topology"]["nodes"] if n["node_type"] == "qemu")
    qemu["properties"]["adapter_type"] = "bogus-nic"
    problems = check_project(doc)
    name = qemu["name"]
    assert f"GNS3 3.0.6 refuses node '{name}' as sent to the compute at adapter_type: " \
           "'bogus-nic' is not one of ['e1000'" in "\n".join(problems)
    del doc["topology"]
    assert "GNS3 2.2.61 refuses the top level: 'topology' is a required property" in \
        check_project(doc)


def qcow2_header(backing: bytes, version: int = 3) -> bytes:
    head = bytearray(512)
    head[0:4] = b"QFI\xfb"
    head[4:8] = version.to_bytes(4, "big")
    if backing:
        head[8:16] = (200).to_bytes(8, "big")
        head[16:20] = len(backing).to_bytes(4, "big")
        head[200:200 + len(backing)] = backing
    return bytes(head)


def test_qcow2_backing_name_from_the_header() -> None:
    assert parse_qcow2_backing(qcow2_header(b"base.qcow2")) == "base.qcow2"
    assert parse_qcow2_backing(qcow2_header(b"/abs/base.qcow2", 2)) == "/abs/base.qcow2"
    assert parse_qcow2_backing(qcow2_header(b"")) is None
    with pytest.raises(ValueError, match="not a qcow2 image"):
        parse_qcow2_backing(b"\x00" * 512)
    with pytest.raises(ValueError, match="qcow2 version 7"):
        parse_qcow2_backing(qcow2_header(b"x", 7))
    with pytest.raises(ValueError, match="outside the header"):
        parse_qcow2_backing(qcow2_header(b"base.qcow2")[:205])


def test_seed_iso_checks() -> None:
    good = {"user-data": b"#cloud-config\nhostname: a\n",
            "meta-data": b"instance-id: a-1\nlocal-hostname: a\n"}
    assert check_seed_iso(seed_iso_bytes(good)) == []
    assert check_seed_iso(seed_iso_bytes(good, label="CDROM")) == [
        "volume label is 'CDROM', not 'cidata': NoCloud ignores it"]
    assert check_seed_iso(seed_iso_bytes(dict(good, **{"user-data": b"#!/bin/sh\necho\n"}))) \
        == ["user-data does not start with '#cloud-config'"]
    assert check_seed_iso(seed_iso_bytes(dict(good, **{"user-data": b"#cloud-config\n- a\n"}))) \
        == ["user-data is not a #cloud-config YAML mapping"]
    assert check_seed_iso(seed_iso_bytes(dict(good, **{"meta-data": b"local-hostname: a\n"}))) \
        == ["meta-data has no instance-id"]
    assert check_seed_iso(b"not an iso" * 100) == ["not a readable ISO 9660 image"]
