"""The measured process: runs one job in-process and writes its own peak RSS to a JSON file.

``python -m bench.child OUT.json build ARGS...`` runs the ``gns3lab`` CLI with ARGS;
``python -m bench.child OUT.json floor DISK...`` runs the floor (:mod:`bench.floor`).
``rss_mb`` is this process alone (the tool, from VmHWM); RUSAGE_CHILDREN is the largest process
it waited for (the libguestfs appliance's qemu, qemu-img), reported apart so the tool's own
memory is not hidden behind the appliance's.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path


def _peaks() -> dict[str, float]:
    """VmHWM, not RUSAGE_SELF: Linux counts into ru_maxrss the RSS the forked parent had when
    this process exec'ed (the bench runner's own, here), VmHWM is this process's memory alone.
    RUSAGE_CHILDREN has the same floor: this process's RSS when it spawned the child."""
    hwm_kb = next(int(ln.split()[1]) for ln in Path("/proc/self/status").read_text()
                  .splitlines() if ln.startswith("VmHWM:"))
    return {"rss_mb": hwm_kb / 1024,
            "children_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}


def main(argv: list[str]) -> int:
    out, job, args = Path(argv[0]), argv[1], argv[2:]
    start = time.monotonic()
    code = 0
    if job == "build":
        from generator.cli import main as cli

        try:
            result = cli.main(args, prog_name="gns3lab", standalone_mode=False)
            code = result if isinstance(result, int) else 0
        except SystemExit as exc:
            code = int(exc.code or 0)
    elif job == "floor":
        from bench.floor import run_floor

        run_floor([Path(a) for a in args])
    else:
        raise SystemExit(f"unknown job {job}")
    out.write_text(json.dumps(dict(_peaks(), seconds=time.monotonic() - start, code=code)))
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
