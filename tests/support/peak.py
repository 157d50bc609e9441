"""Peak memory of one command, measured from a fresh parent.

``getrusage(RUSAGE_CHILDREN)`` in the test process reports the largest child the session ever
waited for (a QEMU, a server), and even a command's own ``wait4`` figure counts the forked
copy of the test process it started as. So a small wrapper process runs the command and
reports its child's peak: the command is forked from the wrapper, not from pytest.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

WRAPPER = """\
import json, resource, subprocess, sys
args = json.loads(sys.argv[1])
limit = args["limit"]

def cap():
    if limit:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

with open(args["out"], "wb") as sink:
    proc = subprocess.Popen(args["argv"], cwd=args["cwd"], stdout=sink, stderr=subprocess.STDOUT,
                            preexec_fn=cap)
    rc = proc.wait(timeout=args["timeout"])
print(json.dumps({"rc": rc, "peak_kib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}))
"""


@dataclass(frozen=True)
class Measured:
    returncode: int
    output: str  # stdout and stderr together
    peak_mb: float


def measure(argv: list[str | Path], out: Path, *, cwd: Path | None = None,
            env: dict[str, str] | None = None, limit_bytes: int | None = None,
            timeout: float = 600) -> Measured:
    """Run ``argv`` (its output into ``out``) and return its exit code, output and peak RSS."""
    spec = {"argv": [str(a) for a in argv], "cwd": str(cwd) if cwd else None,
            "out": str(out), "limit": limit_bytes, "timeout": timeout}
    wrapper = subprocess.run([sys.executable, "-c", WRAPPER, json.dumps(spec)], env=env,
                             capture_output=True, text=True, timeout=timeout + 30, check=True)
    result = json.loads(wrapper.stdout.strip().splitlines()[-1])
    return Measured(result["rc"], out.read_text(errors="replace"), result["peak_kib"] / 1024)
