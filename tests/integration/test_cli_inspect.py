"""gns3lab inspect on a built archive (the build runs qemu-img and ssh-keygen). Split from
tests/unit/test_cli.py."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from tests.unit.test_cli import (
    FABRIC,
    invoke,
)

pytestmark = pytest.mark.slow


def test_inspect_describes_archive(tmp_path: Path) -> None:
    code, out = invoke("build", str(FABRIC), "-o", str(tmp_path), "--no-images")
    assert code == 0, out
    assert "lab totals: 4096 MB RAM, 4 vCPUs" in out
    code, out = invoke("inspect", str(tmp_path / "fabric.gns3project"))
    assert code == 0, out
    assert "server1:eth2 -- leaf2:swp1" in out
    assert "images needed: cumulus-linux-4.3.0-vx-amd64-qemu.qcow2, " \
           "ubuntu-22.04-server-cloudimg-amd64.img" in out
    assert "manifest: every member matches its sha256" in out
    # The archive's README and inspect say the same about the missing images (issue 23).
    assert "This archive does not hold these base images: " \
           "`cumulus-linux-4.3.0-vx-amd64-qemu.qcow2`, " \
           "`ubuntu-22.04-server-cloudimg-amd64.img`" in out
    assert "**GNS3 2.2** imports the archive, but the project will not open" in out
    code, out = invoke("inspect", str(tmp_path / "fabric.gns3project"), "--json")
    assert code == 0, out
    advice = json.loads(out)["image_advice"]
    readme = zipfile.ZipFile(tmp_path / "fabric.gns3project").read("README.md").decode()
    assert advice and all(paragraph in readme for paragraph in advice)
