"""Every file both add-ons render for the reference lab, byte for byte, against
tests/data/golden/openstack-ceph-addons/ (split from tests/unit/test_fabric.py).

``pytest tests/golden/test_fabric_golden.py --update-golden`` rewrites the folder (stale files
are deleted); review the diff."""

from __future__ import annotations

import pytest

from generator.model import Lab
from tests.helpers import DATA
from tests.support.golden import check_golden
from tests.unit import test_fabric as fabric_unit

# The fixture of tests/unit/test_fabric.py, shared under the name pytest finds it by.
lab = fabric_unit.lab

GOLDEN = DATA / "golden" / "openstack-ceph-addons"


def test_addon_output_matches_golden(lab: Lab, request: pytest.FixtureRequest) -> None:
    """Every file both add-ons render for the reference lab, byte for byte (review the diff
    after ``--update-golden``)."""
    from generator.addons import render_addons

    check_golden(request, GOLDEN, render_addons(lab))
