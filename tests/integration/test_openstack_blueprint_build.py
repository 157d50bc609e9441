"""The reference OpenStack lab built and inspected (qemu-img, ssh-keygen) and its first-boot
script checked by the shell. Split from tests/unit/test_openstack_blueprint.py."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from generator import cli, hostcheck, tools
from tests.helpers import REPO
from tests.unit.test_openstack_blueprint import (
    BLUEPRINT,
)

pytestmark = pytest.mark.slow


def test_first_boot_script_is_valid_shell() -> None:
    tools.run(["sh", "-n", BLUEPRINT / "files" / "cumulus-firstboot.sh"])


def test_build_and_inspect_commands(tmp_path: Path) -> None:
    def gns3lab(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "generator.cli", *args], cwd=REPO,
                              capture_output=True, text=True, timeout=600, check=False)

    built = gns3lab("build", str(BLUEPRINT), "--no-images", "-o", str(tmp_path))
    assert built.returncode == 0, built.stderr
    assert "17 nodes, 63 links" in built.stdout
    assert "lab totals: 54272 MB RAM, 15 vCPUs" in built.stdout
    archive = tmp_path / "openstack-ceph-cumulus.gns3project"
    shown = gns3lab("inspect", str(archive))
    assert shown.returncode == 0, shown.stderr
    assert "lab totals: 54272 MB RAM, 15 vCPUs" in shown.stdout
    assert re.search(r"leaf01\s+qemu\s+ram=1024MB cpus=1 nics=48", shown.stdout)


@pytest.mark.parametrize("host, warned", [
    ({"ram_mb": 16384, "cpus": 4, "disk_bytes": 50 << 30}, ["RAM", "vCPUs", "GiB"]),
    ({"ram_mb": 262144, "cpus": 64, "disk_bytes": 4 << 40}, []),
])
def test_build_and_inspect_warn_past_the_host(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              host: dict[str, int], warned: list[str]) -> None:
    monkeypatch.setattr(hostcheck, "host_resources", lambda *a: dict(host))
    try:
        runner = CliRunner(mix_stderr=False)  # click < 8.2 mixes stderr in by default
    except TypeError:
        runner = CliRunner()
    built = runner.invoke(cli.main, ["build", str(BLUEPRINT), "--no-images", "-o", str(tmp_path)])
    assert built.exit_code == 0, built.stderr
    archive = tmp_path / "openstack-ceph-cumulus.gns3project"
    shown = runner.invoke(cli.main, ["inspect", str(archive)])
    assert shown.exit_code == 0, shown.stderr
    for result in (built, shown):
        warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
        assert len(warnings) == len(warned)
        for word, line in zip(warned, warnings, strict=True):
            assert word in line
    assert "want 54272 MB RAM; this host has 16384 MB" in built.stderr or not warned
