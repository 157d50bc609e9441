"""Seed ISOs read by other programs than ours (isoinfo, blkid); the rest of the ISO tests are in
tests/unit/test_iso.py and need no external program."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from generator.write.iso import write_seed_iso
from tests.unit.test_iso import (
    FILES,
)

pytestmark = pytest.mark.slow


def test_independent_reader_sees_cidata(tmp_path: Path) -> None:
    iso = tmp_path / "seed.iso"
    write_seed_iso(iso, FILES)
    if shutil.which("isoinfo"):
        out = subprocess.run(["isoinfo", "-d", "-i", str(iso)], capture_output=True, text=True,
                             check=True).stdout
        assert "Volume id: cidata" in out
        assert "Rock Ridge" in out and "Joliet" in out
    blkid = shutil.which("blkid") or ("/usr/sbin/blkid" if os.path.exists("/usr/sbin/blkid")
                                      else None)
    if blkid is None and not shutil.which("isoinfo"):
        pytest.skip("neither isoinfo nor blkid is installed")
    if blkid:
        out = subprocess.run([blkid, "-p", "-o", "export", str(iso)], capture_output=True,
                             text=True, check=True).stdout
        fields = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
        assert fields["LABEL"] == "cidata"
        assert fields["TYPE"] == "iso9660"
        assert "Joliet" in fields.get("VERSION", "")
