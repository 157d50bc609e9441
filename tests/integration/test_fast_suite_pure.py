"""``make test-fast`` (tests/unit and tests/golden) needs no external program: run it in a child
pytest whose PATH holds only the Python interpreter and in which ``import guestfs`` and
``import cloudinit`` fail, as on a machine without qemu-utils, libguestfs, cloud-init, openssh,
ansible, graphviz, chromium or openssl. Every test must pass there; none may be skipped (a test
that skips when a program is missing belongs in tests/integration)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import REPO

pytestmark = pytest.mark.slow  # runs the whole fast suite once more

#: What a machine without the lab's tools lacks; none of these may be reachable in the child.
HIDDEN = ("qemu-img", "qemu-system-x86_64", "virt-customize", "virt-cat", "guestfish",
          "cloud-init", "cloud-localds", "ssh-keygen", "ssh", "ansible", "ansible-playbook",
          "ansible-lint", "ansible-inventory", "dot", "chromium", "openssl", "mmdebstrap",
          "dnsmasq", "systemd-analyze", "isoinfo", "blkid", "bash", "sh", "git")
#: Python modules the same machine lacks (python3-guestfs, cloud-init's own package).
BLOCKED_MODULES = ("guestfs", "cloudinit")


def bare_environment(root: Path) -> dict[str, str]:
    """A PATH holding only ``python``/``python3`` (links to this interpreter) and a PYTHONPATH
    that shadows :data:`BLOCKED_MODULES` with packages whose import raises ImportError."""
    bin_dir, blockers = root / "bin", root / "blocked"
    bin_dir.mkdir()
    for name in ("python", "python3"):
        (bin_dir / name).symlink_to(sys.executable)
    for module in BLOCKED_MODULES:
        (blockers / module).mkdir(parents=True)
        (blockers / module / "__init__.py").write_text(
            f"raise ImportError('{module} is hidden: the fast suite must not need it')\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "COV_"))}
    env["PATH"] = str(bin_dir)
    env["PYTHONPATH"] = str(blockers)
    return env


def test_bare_environment_hides_the_tools(tmp_path: Path) -> None:
    env = bare_environment(tmp_path)
    assert [p for p in HIDDEN if shutil.which(p, path=env["PATH"])] == []
    for module in BLOCKED_MODULES:
        proc = subprocess.run([sys.executable, "-c", f"import {module}"], env=env, cwd=REPO,
                              capture_output=True, text=True, timeout=60)
        assert proc.returncode == 1 and "ImportError" in proc.stderr, proc.stderr


@pytest.mark.timeout(1800)
def test_fast_suite_passes_without_any_tool(tmp_path: Path) -> None:
    env = bare_environment(tmp_path)
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-rfEs", "-p",
                           "no:cacheprovider", "tests/unit", "tests/golden"],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=1700)
    tail = "\n".join(proc.stdout.splitlines()[-60:]) + proc.stderr[-2000:]
    assert proc.returncode == 0, tail
    summary = proc.stdout.strip().splitlines()[-1]
    assert re.search(r"\d+ passed", summary), tail
    assert "skipped" not in summary and "xfail" not in summary, tail
