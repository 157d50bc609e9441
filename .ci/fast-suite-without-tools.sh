#!/bin/sh
# CI job: `make test-fast` (tests/unit, tests/golden) must pass on a machine without qemu-img,
# libguestfs, cloud-init or any other program the lab uses. This runs that suite in a child
# pytest whose PATH holds only python, with `import guestfs` and `import cloudinit` failing
# (tests/integration/test_fast_suite_pure.py), and fails on any failed or skipped test.
set -eu
cd "$(dirname "$0")/.."
exec "${PYTHON:-.venv/bin/python}" -m pytest -q -p no:cacheprovider \
    tests/integration/test_fast_suite_pure.py
