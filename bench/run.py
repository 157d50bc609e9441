"""Benchmarks: build speed and memory, as ratios against a baseline measured in the same run.

Baseline: the unavoidable work of a build (one ``qemu-img create`` per VM disk) done directly.
Target: a ``--no-images`` build of the biggest bundled blueprint costs at most 3x that baseline,
and its peak RSS stays under 200 MB. Run: ``make bench`` (or ``.venv/bin/python bench/run.py``).
"""

from __future__ import annotations

import resource
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from generator import tools  # noqa: E402
from generator.build import BuildOptions, build_lab, load_lab  # noqa: E402

TARGET_RATIO = 3.0
TARGET_RSS_MB = 200


def pick_blueprint() -> Path:
    for name in ("openstack-ceph", "demo"):
        if (REPO / "blueprints" / name / "lab.yaml").is_file():
            return REPO / "blueprints" / name
    return REPO / "tests" / "data" / "blueprints" / "fabric"


def baseline(blueprint: Path, tmp: Path) -> float:
    lab = load_lab(blueprint)
    start = time.perf_counter()
    for node in lab.vms:
        assert node.image is not None
        tools.create_overlay(tmp / f"{node.name}.qcow2", node.image.filename, "qcow2",
                             size=node.image.virtual_size)
        for disk in node.data_disks:
            tools.create_blank_disk(tmp / f"{node.name}-{disk.slot}.qcow2", disk.size)
    return time.perf_counter() - start


def measure(blueprint: Path, tmp: Path) -> float:
    start = time.perf_counter()
    build_lab(blueprint, BuildOptions(out_dir=tmp, no_images=True))
    return time.perf_counter() - start


def main() -> int:
    blueprint = pick_blueprint()
    with tempfile.TemporaryDirectory() as a, tempfile.TemporaryDirectory() as b:
        base = min(baseline(blueprint, Path(a) / str(i)) if (Path(a) / str(i)).mkdir() is None
                   else 0 for i in range(3))
        build = min(measure(blueprint, Path(b) / str(i)) for i in range(3))
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    ratio = build / base
    print(f"blueprint: {blueprint.name}")
    print(f"baseline (qemu-img only): {base:.3f} s")
    print(f"build --no-images:        {build:.3f} s  ratio {ratio:.2f} (target <= {TARGET_RATIO})")
    print(f"peak RSS: {rss_mb:.0f} MB (target <= {TARGET_RSS_MB})")
    ok = ratio <= TARGET_RATIO and rss_mb <= TARGET_RSS_MB
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
