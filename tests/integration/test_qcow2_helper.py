"""tests.helpers.write_qcow2 (the unit tests' base images, written without qemu-img) is what
``qemu-img create -f qcow2`` writes, byte for byte, and qemu-img reads it as a sound image."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from generator import tools
from tests.helpers import parse_size, write_qcow2

pytestmark = pytest.mark.slow  # runs qemu-img


@pytest.mark.parametrize("size", ["32M", "64M", "72M", "80M", "2G", "100G"])
def test_write_qcow2_is_what_qemu_img_creates(size: str, tmp_path: Path) -> None:
    ours = write_qcow2(tmp_path / "ours.qcow2", parse_size(size))
    theirs = tmp_path / "theirs.qcow2"
    tools.qemu_img("create", "-q", "-f", "qcow2", theirs, size)
    assert ours.read_bytes() == theirs.read_bytes()
    info = json.loads(tools.qemu_img("info", "--output=json", ours))
    assert (info["format"], info["virtual-size"]) == ("qcow2", parse_size(size))
    tools.qemu_img("check", "-q", ours)
