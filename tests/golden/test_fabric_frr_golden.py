"""Every file the fabric add-on's FRR backend renders, byte for byte, for both open labs: the
full reference lab (blueprints/openstack-ceph) against tests/data/golden/fabric-frr-full/ and
the mini against tests/data/golden/fabric-frr-mini/.

``pytest tests/golden/test_fabric_frr_golden.py --update-golden`` rewrites the folders (stale
files are deleted); review the diff."""

from __future__ import annotations

from pathlib import Path

import pytest

from generator.addons import fabric
from generator.build import load_lab
from generator.model import Lab
from tests.helpers import DATA, REPO
from tests.support.golden import check_golden
from tests.unit.test_fabric_frr import MINI, load_with_tiny_images

FULL = REPO / "blueprints" / "openstack-ceph"


def full_lab() -> Lab:
    """The reference lab: its spines and leaves are the FRR backend's (swmgmt, the OOB switch,
    is a Linux-bridge VM of its own network-config)."""
    lab = load_lab(FULL)
    assert fabric.fabric_settings(lab).frr_roles == ("spine", "leaf")
    return lab


def test_full_lab_frr_rendering_matches_golden(request: pytest.FixtureRequest) -> None:
    check_golden(request, DATA / "golden" / "fabric-frr-full", fabric.render_frr(full_lab()))


def test_mini_lab_frr_rendering_matches_golden(request: pytest.FixtureRequest,
                                               tmp_path: Path) -> None:
    lab = load_with_tiny_images(MINI, tmp_path)
    check_golden(request, DATA / "golden" / "fabric-frr-mini", fabric.render_frr(lab))
