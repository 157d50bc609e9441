"""Shared pytest set-up. Expensive fixtures (one guestfs launch, one GNS3 server per version,
one cached test image) are session-scoped and live in tests/support/.

Levels: tests/unit and tests/golden run no external program (``make test-fast``;
tests/integration/test_fast_suite_pure.py runs them with every tool hidden), tests/integration
runs real qemu-img, libguestfs, cloud-init, ansible, dot and gns3-server (marked ``slow``), and
tests/e2e boots VMs (marked ``slow`` and ``boot``)."""

from __future__ import annotations

import os

# libguestfs only works here with the direct backend under TCG. Tests (not the library) set it.
os.environ.setdefault("LIBGUESTFS_BACKEND", "direct")
os.environ.setdefault("LIBGUESTFS_BACKEND_SETTINGS", "force_tcg")

pytest_plugins = ["tests.support.gns3server", "tests.support.images"]


def pytest_addoption(parser):  # type: ignore[no-untyped-def]
    parser.addoption("--update-golden", action="store_true",
                     help="rewrite the golden files (tests/data/golden, tests/errors) and delete "
                          "those no case writes; review the diff before committing")
