"""Bundling: ``build --include-images`` on one big non-sparse base vs ``cp`` of the same file
on the same disk."""

from __future__ import annotations

import shutil
import statistics
from pathlib import Path

from generator.images.baseimages import digests_of

from .baseimages import make_filled
from .labs import write_bundle_lab
from .procs import Figure, merged, repeat, run_command, run_job


def measure_bundle(scratch: Path, gib: int, runs: int, log: Path) -> dict:
    """cp and the bundling build of a ``gib`` GiB image, ``runs`` times each, alternated; the
    ratio is the median of the pairs' ratios. All removed after."""
    images = scratch / f"bundle-images-{gib}g"
    images.mkdir(parents=True, exist_ok=True)
    image = make_filled(images / f"bench-raw-{gib}g.img", gib << 30)
    digests_of(image)  # warm gns3lab's own digest cache, as any second build finds it
    bp = write_bundle_lab(scratch / "labs", image)
    out = scratch / f"bundle-out-{gib}g"
    copy = images / "copy.img"
    env = {"GNS3LAB_IMAGES": str(images)}

    def clean(_i: int) -> None:
        shutil.rmtree(out, ignore_errors=True)
        copy.unlink(missing_ok=True)

    cps: list[Figure] = []
    builds: list[Figure] = []
    bares: list[Figure] = []  # the same build with --no-include-images: all but the bundling
    flushed: list[tuple[float, float]] = []  # (cp, build) seconds until on disk (sync -f)

    def synced(seconds: float, path: Path) -> float:
        return seconds + run_command(["sync", "-f", path], log).seconds

    try:
        for _ in range(runs):  # alternated: a pair sees the same load and page cache
            run_command(["sync"], log)  # both start with nothing dirty
            cps.append(repeat(1, lambda _i: run_command(["cp", image, copy], log)))
            cp_synced = synced(cps[-1].seconds, copy)
            clean(0)
            run_command(["sync"], log)
            builds.append(repeat(1, lambda _i: run_job(
                "build", ["build", bp, "-o", out, "--include-images"], log, env)))
            flushed.append((cp_synced, synced(builds[-1].seconds, out)))
            clean(0)
            bares.append(repeat(1, lambda _i: run_job(
                "build", ["build", bp, "-o", out, "--no-include-images"], log, env)))
            clean(0)
    finally:
        clean(0)
        shutil.rmtree(images, ignore_errors=True)
    size = gib << 30  # make_filled writes exactly this many bytes
    cp, build = merged(cps), merged(builds)
    paired = statistics.median(c.seconds / b.seconds for c, b in zip(cps, builds, strict=True))
    # The bundling's own share: the build's seconds minus those of the same build without the
    # image (Python start, resolve, overlay, seed, archive of the rest), pair by pair.
    own = [max(b.seconds - n.seconds, 1e-3) for b, n in zip(builds, bares, strict=True)]
    return {"bytes": size, "cp": cp.as_json(), "build": build.as_json(),
            "cp_mb_per_s": round(size / cp.seconds / 1e6, 1),
            "build_mb_per_s": round(size / build.seconds / 1e6, 1),
            "ratio_vs_cp": round(paired, 3),
            "ratio_of_medians": round(cp.seconds / build.seconds, 3),
            # cp returns once the bytes are in the page cache (2 GiB fit under the dirty
            # limit here); this ratio counts both until the data is on disk
            "ratio_vs_cp_flushed": round(statistics.median(c / b for c, b in flushed), 3),
            "build_without_image": merged(bares).as_json(),
            "bundling_own_seconds": round(statistics.median(own), 3),
            # reported beside the target's figure, never instead of it
            "ratio_bundling_own_vs_cp": round(statistics.median(
                c.seconds / o for c, o in zip(cps, own, strict=True)), 3)}
