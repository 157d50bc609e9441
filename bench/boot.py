"""Time to lab ready against the guests' own boot (issue 24): the bundled demo and mini labs,
booted for real in gns3-server 2.2.61 (TCG) by their end-to-end tests.

Each run is one ``pytest`` of the lab's e2e boot test, which asserts everything it asserts in
``make test`` (every stage ok, every check line, ``lab ready``) and writes the push's timeline
(:mod:`generator.server.timeline`) to ``test-artifacts/e2e-<label>-timeline.json``. The figure is
lab ready / the slowest guest's cloud-init finish, both from the first node's start: 1.0 means
the lab is ready the moment its last guest is; what is above it is the orchestration's own time,
reported by part (each stage's share of the window after the guests were up). A run whose test
fails is recorded with its error and left out of the medians.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
ARTIFACTS = REPO / "test-artifacts"

#: name -> (e2e test id, timeline label)
LABS = {
    "demo": ("tests/e2e/test_demo.py::test_demo_lab_builds_itself", "demo"),
    "mini": ("tests/e2e/test_openstack_mini_boot.py::test_mini_lab_builds_itself",
             "openstack-mini"),
}
TIMEOUT = 2400  # seconds per boot test (its own limit is 1800 s of waiting)


def boot_once(lab: str, log: Path) -> dict[str, Any]:
    """One boot of ``lab`` through its e2e test: the timeline, the test's wall time and result."""
    test, label = LABS[lab]
    record = ARTIFACTS / f"e2e-{label}-timeline.json"
    record.unlink(missing_ok=True)
    load = os.getloadavg()
    start = time.monotonic()
    with log.open("a") as out:
        out.write(f"\n== boot {lab}: pytest {test}\n")
        out.flush()
        proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-s", "-p",
                               "no:cacheprovider", test], cwd=REPO, stdout=out,
                              stderr=subprocess.STDOUT, timeout=TIMEOUT, check=False)
    run: dict[str, Any] = {"test_seconds": round(time.monotonic() - start, 1),
                           "passed": proc.returncode == 0,
                           "load_before": [round(x, 2) for x in load],
                           "load_after": [round(x, 2) for x in os.getloadavg()]}
    if record.exists():
        run["timeline"] = json.loads(record.read_text())
    return run


def summarize(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians over the runs that passed and have a ratio: the ratio, lab ready, the slowest
    guest, and the orchestration seconds after the guests, by part."""
    good = [r["timeline"] for r in runs
            if r["passed"] and r.get("timeline", {}).get("ratio_ready_vs_guests")]
    if not good:
        return {"runs": len(runs), "passed": 0}
    parts: dict[str, list[float]] = {}
    for t in good:
        for name, seconds in t["after_guests"]["parts"].items():
            parts.setdefault(name, []).append(seconds)
    return {
        "runs": len(runs), "passed": len(good),
        "ratio": round(statistics.median(t["ratio_ready_vs_guests"] for t in good), 3),
        "ratios": [t["ratio_ready_vs_guests"] for t in good],
        "ready_seconds": [t["ready"] for t in good],
        "guests_seconds": [t["guests_ready"] for t in good],
        "after_guests_seconds": [t["after_guests"]["seconds"] for t in good],
        "after_guests_parts_median": {k: round(statistics.median(v), 1)
                                      for k, v in parts.items()},
        "test_seconds": [r["test_seconds"] for r in runs],
        "load": [r["load_before"][0] for r in runs],
    }


def recorded(path: Path) -> tuple[str, dict[str, Any]]:
    """A timeline an e2e boot already wrote (``--boot-records``), as a sample of its lab: it is
    the same measurement, made by ``make test`` instead of here, and marked as such."""
    timeline = json.loads(path.read_text())
    lab = next(name for name, (_, label) in LABS.items() if label == timeline["label"])
    return lab, {"source": str(path), "passed": timeline.get("ready") is not None,
                 "test_seconds": timeline.get("wall_seconds"),
                 "load_before": timeline.get("load_before", [0.0]),
                 "load_after": timeline.get("load_after", [0.0]), "timeline": timeline}


def measure_boots(labs: list[str], runs: int, log: Path, say: Any = print,
                  records: tuple[Path, ...] = ()) -> dict[str, dict[str, Any]]:
    """``runs`` boots of each lab, alternated (demo, mini, demo, mini...) so that each lab sees
    the machine's load over the same stretch of time; ``records`` adds timelines recorded by
    earlier e2e boots of the same code."""
    samples: dict[str, list[dict[str, Any]]] = {lab: [] for lab in labs}
    for path in records:
        lab, run = recorded(path)
        samples.setdefault(lab, []).append(run)
        say(f"boot: {lab}, recorded run {path.name}: ratio "
            f"{run['timeline'].get('ratio_ready_vs_guests')}")
    for i in range(runs):
        for lab in labs:
            say(f"boot: {lab}, run {i + 1} of {runs} (6-10 minutes of TCG guests)")
            run = boot_once(lab, log)
            samples[lab].append(run)
            t = run.get("timeline", {})
            say(f"  {'passed' if run['passed'] else 'FAILED'} in {run['test_seconds']:.0f} s: "
                f"lab ready {t.get('ready')} s, slowest guest {t.get('guests_ready')} s, "
                f"ratio {t.get('ratio_ready_vs_guests')}, load {run['load_before'][0]}")
    return {lab: {"summary": summarize(s), "samples": s} for lab, s in samples.items()}
