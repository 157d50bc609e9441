"""Shared pytest set-up. Expensive fixtures (one guestfs launch, one GNS3 server per version,
one cached test image) are session-scoped and live in tests/support/."""

from __future__ import annotations

import os

# libguestfs only works here with the direct backend under TCG. Tests (not the library) set it.
os.environ.setdefault("LIBGUESTFS_BACKEND", "direct")
os.environ.setdefault("LIBGUESTFS_BACKEND_SETTINGS", "force_tcg")

pytest_plugins = ["tests.support.gns3server", "tests.support.images"]


def pytest_addoption(parser):  # type: ignore[no-untyped-def]
    parser.addoption("--update-golden", action="store_true",
                     help="rewrite tests/data/golden and tests/data/errors expectations; "
                          "review the diff before committing")
