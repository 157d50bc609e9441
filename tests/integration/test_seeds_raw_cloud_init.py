"""Raw cloud-init data (argv ``bootcmd``/``runcmd`` entries, nested ``user_data``), frozen in
the model and thawed by the seed renderer, gives user-data Debian's cloud-init 22.4 accepts."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from generator.build import load_lab
from generator.render import redact
from generator.render.bootstrap import default_user
from generator.render.seeds import render_seed
from tests.helpers import REPO
from tests.support.cloudinit_check import check_network_config, check_user_data
from tests.unit.test_model_frozen import RAW_CLOUD_INIT

pytestmark = [pytest.mark.slow,  # runs Debian's cloud-init
              pytest.mark.skipif(shutil.which("cloud-init") is None,
                                 reason="Debian's cloud-init is not installed")]

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGxhYmtleWxhYmtleWxhYmtleWxhYmtleWxhYmtleQ lab"


def check_seed(seed: dict[str, bytes], source: str) -> None:
    check_user_data(seed["user-data"].decode(), source=f"{source}/user-data")
    check_network_config(seed["network-config"].decode(), source=f"{source}/network-config")


def test_raw_layers_pass_cloud_init(tmp_path: Path) -> None:
    (tmp_path / "lab.yaml").write_text(RAW_CLOUD_INIT)
    lab = load_lab(tmp_path / "lab.yaml")
    seed = render_seed(lab.nodes[0], lab, KEY)
    assert b"- - sh\n  - -c\n  - echo argv\n" in seed["user-data"]  # an argv, not a tuple tag
    check_seed(seed, "n1")


def test_an_argv_runcmd_merged_with_the_redacted_fetch_passes_cloud_init() -> None:
    """mgmt01 of openstack-ceph-cumulus runs ``[pip3, install, ...]``; ``--redact`` adds the
    key fetch to the same ``runcmd``."""
    lab = load_lab(REPO / "blueprints" / "openstack-ceph-cumulus")
    node = next(n for n in lab.vms if n.name == "mgmt01")
    check_seed(render_seed(node, lab, KEY), "mgmt01")
    redacted = render_seed(node, lab, None, redact.seed_extra(lab, default_user(node)))
    assert b"- - pip3\n" in redacted["user-data"]
    check_seed(redacted, "mgmt01 (redacted)")
