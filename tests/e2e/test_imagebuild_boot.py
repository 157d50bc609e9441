"""Boot the built lab image from its own disk under QEMU (split from
tests/integration/test_imagebuild.py, which builds and checks it without booting)."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from generator.images import build as imagebuild
from generator.images.build import BuiltImage
from tests.integration.test_imagebuild import (
    META_DATA,
    NETWORK_CONFIG,
    USER_DATA,
)
from tests.support.images import boot_vm, make_overlay, make_seed_iso, qemu_argv

pytestmark = [pytest.mark.slow, pytest.mark.boot]


@pytest.mark.boot
def test_boot_from_own_disk(lab_image: BuiltImage, tmp_path: Path) -> None:
    overlay = make_overlay(lab_image.path, tmp_path / "node.qcow2")
    seed = make_seed_iso(tmp_path / "seed.iso", {
        "user-data": USER_DATA,
        "meta-data": META_DATA.format(stamp=int(time.time())),
        "network-config": NETWORK_CONFIG,
    })
    serial = tmp_path / "serial.log"
    before = imagebuild.md5sum(lab_image.path)
    result = boot_vm(qemu_argv(overlay, seed, serial), serial, timeout=480)
    log = result.log
    context = f"after {result.seconds:.0f}s, exit {result.returncode}\n{log[-4000:]}\n" \
              f"{result.stderr[-2000:]}"
    assert result.returncode == 0, f"VM did not power off by itself {context}"
    assert re.search(r"Cloud-init v\. \S+ finished at .*DataSourceNoCloud", log), context
    assert "LABTEST host=imgtest1 seedfile=seed-file ok" in log, context
    assert re.search(r"LABTEST ssh=OpenSSH_9", log), context
    assert re.search(r"LABTEST hostkey=/etc/ssh/ssh_host_ed25519_key.pub sshd=active", log), \
        context
    assert re.search(r"LABTEST ansible=ansible \[core 2\.\d+", log), context
    assert re.search(r"LABTEST link \d+: eth0:", log), context
    assert "LABTEST dnsmasq=active" not in log, context
    assert "LABTEST modules checked" in log and "LABTEST modfail" not in log, context
    assert "LABTEST nat=ok" in log, context
    assert "LABTEST ci-errors=0" in log, context
    assert imagebuild.md5sum(lab_image.path) == before, "the cached image was modified"
    print(f"boot to poweroff: {result.seconds:.0f}s")
