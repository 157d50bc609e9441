"""Benchmarks, as ratios against baselines measured in the same run (``make bench``).

1. A 15-VM lab shaped like the reference lab, every disk injected, against (a) the floor (one
   bare libguestfs launch with the same disks, each mounted) and (b) the naive pipeline
   (qemu-img + cloud-localds + virt-customize per node, then zip -r).
2. Growth: 15, 50, 100 and 200 VMs, all injected: time and the tool's peak RSS.
3. Bundling (--include-images) of 2 and 8 GiB non-sparse images against cp.
4. Archive bytes per VM against the floor (overlay header + injected bytes + seed ISO).
5. Boots (``--only boot``): the demo and the mini lab booted by their e2e tests in gns3-server
   2.2.61, lab ready against the slowest guest's cloud-init finish (bench/boot.py).
Each figure is a median of ``--runs`` runs unless its ``runs`` in the JSON says fewer (the
naive pipeline and the large growth labs: see bench/README.md). ``--quick`` is a reduced run.
libguestfs takes LIBGUESTFS_BACKEND/_SETTINGS from the environment (default: direct, force_tcg).
Writes bench/results/latest.json and latest.md; exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench import machine, report  # noqa: E402
from bench.baseimages import SERVER, SWITCH, make_base  # noqa: E402
from bench.boot import measure_boots  # noqa: E402
from bench.bundle import measure_bundle  # noqa: E402
from bench.injection import (  # noqa: E402
    archive_sizes,
    injected_bytes,
    measure_build,
    measure_floor,
    measure_naive,
)
from bench.procs import JobFailed, JobTimeout, merged  # noqa: E402
from bench.recipes import measure_recipes  # noqa: E402
from generator.errors import GeneratorError  # noqa: E402
from generator.images.baseimages import digests_of  # noqa: E402

RESULTS = REPO / "bench" / "results"


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true",
                   help="1 run each (boots too), growth to 50 VMs, 2 GiB bundling, no naive "
                        "pipeline")
    p.add_argument("--runs", type=int, default=3, help="runs per figure (median)")
    p.add_argument("--naive-runs", type=int, default=1,
                   help="runs of the naive pipeline (30-45 s per node under TCG)")
    p.add_argument("--growth", default="15,50,100,200", help="lab sizes for growth")
    p.add_argument("--growth-runs", type=int, default=1,
                   help="runs per growth size above 15 (15 reuses figure 1's build)")
    p.add_argument("--build-timeout", type=float, default=900,
                   help="stop a growth build after this many seconds (recorded as timed out)")
    p.add_argument("--bundle-gib", default="2,8", help="image sizes for bundling, GiB")
    p.add_argument("--boot-runs", type=int, default=2,
                   help="boots of each lab for the boot part (6-10 minutes each)")
    p.add_argument("--boot-labs", default="demo,mini", help="labs the boot part boots")
    p.add_argument("--boot-records", type=Path, nargs="*", default=[],
                   help="timeline JSONs of earlier e2e boots of the same code, counted as runs")
    p.add_argument("--recipes", default="",
                   help="recipes the recipes part builds (comma-separated; default: every "
                        "built-in)")
    p.add_argument("--only", default="build,naive,growth,bundle,boot,recipes",
                   help="comma-separated parts to run")
    p.add_argument("--scratch", type=Path, default=Path("/var/tmp/gns3lab-bench"),
                   help="scratch folder (about 26 GB at the peak with 8 GiB bundling)")
    p.add_argument("--keep", action="store_true", help="keep the scratch folder")
    p.add_argument("--output", type=Path, default=RESULTS / "latest.json")
    p.add_argument("--merge", action="store_true",
                   help="update OUTPUT with the parts run now (each part notes when it ran)")
    args = p.parse_args(argv)
    if args.quick:
        args.runs, args.naive_runs, args.growth_runs = 1, 0, 1
        args.growth, args.bundle_gib = "15,50", "2"
        args.boot_runs = 1
    return args


def say(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


def part_build(args: argparse.Namespace, images: Path, log: Path, res: dict) -> None:
    """Floor and build runs alternate, so a pair sees the same load (the machine is shared);
    the ratio is the median of the pairs' ratios."""
    scratch = args.scratch
    archive = scratch / "bench15.gns3project"
    floors, builds = [], []
    for i in range(args.runs):
        say(f"floor: 15 disks, run {i + 1} of {args.runs}")
        floors.append(measure_floor(scratch, 15, 1, images, log))
        say(f"  {floors[-1].seconds:.1f} s")
        say(f"build: 15-VM lab, run {i + 1} of {args.runs}")
        builds.append(measure_build(scratch, 15, 1, images, log, keep=archive))
        say(f"  {builds[-1].seconds:.1f} s")
    floor, build = merged(floors), merged(builds)
    res["figures"]["floor_15"], res["figures"]["build_15"] = floor.as_json(), build.as_json()
    res["seconds"].update(floor_15=floor.seconds, build_15=build.seconds)
    res["ratio_build_vs_floor"] = round(statistics.median(
        b.seconds / f.seconds for f, b in zip(floors, builds, strict=True)), 3)
    res["ratio_build_vs_floor_of_medians"] = round(build.seconds / floor.seconds, 3)
    sizes = archive_sizes(archive, 15, images, scratch,
                          injected_bytes(archive, scratch / "labs" / "bench15"))
    res["sizes"] = sizes
    res["bytes"].update(archive_15=sizes["archive_bytes"], bytes_per_vm=sizes["bytes_per_vm"],
                        floor_bytes_per_vm=sizes["floor_bytes_per_vm"])
    res["bytes_per_vm_vs_floor"] = sizes["ratio"]
    res["_build15"] = build


def part_naive(args: argparse.Namespace, images: Path, log: Path, res: dict,
               archive: Path) -> None:
    say(f"naive pipeline: 15 nodes, {args.naive_runs} run(s) (one launch per node)")
    naive, zip_bytes, seed_bytes = measure_naive(args.scratch, archive, args.naive_runs,
                                                 images, log)
    say(f"  median {naive.seconds:.1f} s")
    res["figures"]["naive_15"] = naive.as_json()
    res["seconds"]["naive_15"] = naive.seconds
    res["bytes"].update(naive_zip_15=zip_bytes, naive_seed_iso_15=seed_bytes)
    res["ratio_naive_vs_build"] = round(naive.seconds / res["seconds"]["build_15"], 3)


def part_growth(args: argparse.Namespace, images: Path, log: Path, res: dict) -> None:
    """Each size is recorded as soon as it is measured; a build past --build-timeout is
    stopped and recorded with ``timed_out`` (its seconds are then a lower bound)."""
    growth: dict[str, dict] = res.setdefault("growth", {})
    for vms in (int(v) for v in args.growth.split(",")):
        if vms == 15 and "_build15" in res:
            growth["15"] = res["_build15"].as_json()
        else:
            runs = args.runs if vms == 15 else args.growth_runs
            say(f"growth: {vms}-VM lab, {runs} run(s), at most {args.build_timeout:.0f} s each")
            try:
                fig = measure_build(args.scratch, vms, runs, images, log,
                                    timeout=args.build_timeout)
            except JobTimeout as exc:
                say(f"  {exc}")
                growth[str(vms)] = {"seconds": exc.seconds, "rss_mb": exc.rss_mb, "runs": 1,
                                    "timed_out": True, "stopped_at": exc.phase}
            else:
                say(f"  median {fig.seconds:.1f} s, peak RSS {fig.rss_mb:.0f} MB")
                growth[str(vms)] = fig.as_json()
        own = vms == 15 and "_build15" not in res  # not figure 1's build: keep both apart
        res["seconds"][f"growth_{vms}" if own else f"build_{vms}"] = growth[str(vms)]["seconds"]
        if "200" in growth and "15" in growth:
            res["ratio_200_vs_15"] = round(growth["200"]["seconds"] / growth["15"]["seconds"], 3)
            res["peak_rss_mb_200"] = growth["200"]["rss_mb"]
            if growth["200"].get("timed_out"):  # stopped: both are at least this
                res["lower_bounds"] = ["ratio_200_vs_15", "peak_rss_mb_200"]
    biggest = max(int(v) for v in growth)
    if biggest > 15:
        say(f"floor: {biggest} disks, 1 run (what the launch alone costs at that size)")
        floor = measure_floor(args.scratch, biggest, 1, images, log)
        res["figures"][f"floor_{biggest}"] = floor.as_json()
        res["seconds"][f"floor_{biggest}"] = floor.seconds


def part_bundle(args: argparse.Namespace, log: Path, res: dict) -> None:
    bundles = {}
    for gib in (int(g) for g in args.bundle_gib.split(",")):
        say(f"bundling: {gib} GiB image vs cp, {args.runs} run(s) each")
        bundles[f"{gib}g"] = b = measure_bundle(args.scratch, gib, args.runs, log)
        say(f"  cp {b['cp']['seconds']:.1f} s, build {b['build']['seconds']:.1f} s, "
            f"ratio {b['ratio_vs_cp']}, peak RSS {b['build']['rss_mb']:.0f} MB")
        res["seconds"].update({f"cp_{gib}g": b["cp"]["seconds"],
                               f"bundle_{gib}g": b["build"]["seconds"]})
        res["bytes"][f"image_{gib}g"] = b["bytes"]
    res["bundling"] = bundles
    res["ratio_bundle_vs_cp"] = min(b["ratio_vs_cp"] for b in bundles.values())
    res["peak_rss_mb_bundle"] = max(b["build"]["rss_mb"] for b in bundles.values())


def part_boot(args: argparse.Namespace, log: Path, res: dict) -> None:
    """Lab ready / the slowest guest's cloud-init finish, per lab (median of the runs)."""
    boots = measure_boots(args.boot_labs.split(","), args.boot_runs, log, say,
                          tuple(args.boot_records))
    res["boots"] = boots
    for lab, data in boots.items():
        summary = data["summary"]
        if "ratio" in summary:
            res[f"ratio_ready_vs_guests_{lab}"] = summary["ratio"]
            res["seconds"][f"lab_ready_{lab}"] = statistics.median(summary["ready_seconds"])
            res["seconds"][f"guests_ready_{lab}"] = statistics.median(summary["guests_seconds"])
        if summary["passed"] < summary["runs"]:
            res.setdefault("errors", {})[f"boot_{lab}"] = (
                f"{summary['runs'] - summary['passed']} of {summary['runs']} boots failed "
                "(see latest.log)")


def part_recipes(args: argparse.Namespace, res: dict) -> None:
    """Each built-in recipe from an empty folder, then its cache hit (bench/recipes.py)."""
    try:
        res["recipes"] = measure_recipes(args.scratch, say,
                                         [n for n in args.recipes.split(",") if n] or None)
    except GeneratorError as exc:  # a recipe that does not build: said, the others still ran
        res.setdefault("errors", {})["recipes"] = " ".join(exc.lines())
        return
    for name, r in res["recipes"].items():
        res["seconds"][f"recipe_build_{name}"] = r["build_seconds"]
        res["seconds"][f"recipe_hit_{name}"] = r["hit_seconds"]
        res["bytes"][f"recipe_image_{name}"] = r["image_bytes"]


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    parts = set(args.only.split(","))
    args.scratch.mkdir(parents=True, exist_ok=True)
    images = args.scratch / "images"
    images.mkdir(exist_ok=True)
    log = args.scratch / "bench.log"
    say(f"scratch {args.scratch}, log {log}")
    # Like the test suite (tests/conftest.py): a build falls back to TCG by itself where KVM
    # cannot run guests, after a 30 s stall that would count in every build measured here.
    # Set LIBGUESTFS_BACKEND_SETTINGS= (empty) to measure with KVM on a host where it works.
    os.environ.setdefault("LIBGUESTFS_BACKEND", "direct")
    os.environ.setdefault("LIBGUESTFS_BACKEND_SETTINGS", "force_tcg")
    res: dict = {"mode": "quick" if args.quick else "full", "machine": machine.describe(),
                 "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "figures": {},
                 "seconds": {}, "bytes": {}}
    if args.merge and args.output.exists():
        earlier = json.loads(args.output.read_text())
        earlier.setdefault("reruns", []).append({"parts": sorted(parts), "started":
                                                 res["started"], "machine": res["machine"]})
        errors = {k: v for k, v in earlier.pop("errors", {}).items() if k not in parts}
        if errors:
            earlier["errors"] = errors
        res = dict(earlier, figures=earlier.get("figures", {}), seconds=earlier["seconds"],
                   bytes=earlier["bytes"])
    start = time.monotonic()

    def save() -> None:
        res["wall_seconds"] = round(time.monotonic() - start, 1)
        res["load_at_end"] = [round(x, 2) for x in os.getloadavg()]
        res["verdicts"] = report.verdicts(res)
        args.output.parent.mkdir(parents=True, exist_ok=True)
        public = {k: v for k, v in res.items() if not k.startswith("_")}
        args.output.write_text(json.dumps(public, indent=2, sort_keys=True) + "\n")
        args.output.with_suffix(".md").write_text(report.markdown(res))

    def attempt(name: str, part: Callable[[], object]) -> None:
        """One part; a failed command is recorded and the other parts still run."""
        try:
            part()
        except JobFailed as exc:
            say(f"{name} failed: {exc}")
            res.setdefault("errors", {})[name] = str(exc)
        save()

    archive = args.scratch / "bench15.gns3project"
    try:
        if parts & {"build", "naive", "growth"}:
            for spec in (SWITCH, SERVER):
                digests_of(make_base(images, spec))  # warm the tool's digest cache once
            res["bytes"]["base_image"] = (images / SERVER.filename).stat().st_size
        if parts & {"build", "naive"}:
            attempt("build", lambda: part_build(args, images, log, res))
        if "growth" in parts:
            attempt("growth", lambda: part_growth(args, images, log, res))
        if "bundle" in parts:
            attempt("bundle", lambda: part_bundle(args, log, res))
        if "naive" in parts and args.naive_runs > 0 and archive.exists():
            attempt("naive", lambda: part_naive(args, images, log, res, archive))
        if "boot" in parts and (args.boot_runs > 0 or args.boot_records):
            attempt("boot", lambda: part_boot(args, log, res))
        if "recipes" in parts:
            attempt("recipes", lambda: part_recipes(args, res))
    finally:
        if log.exists():  # per-node progress of every build, for reading where time goes
            kept = args.output.with_suffix(".log")
            if args.merge and kept.exists():  # a rerun of some parts: keep the full run's log
                with kept.open("a") as out:
                    out.write(f"\n== rerun {res['started']}: {sorted(parts)}\n")
                    out.write(log.read_text(errors="replace"))
            else:
                shutil.copy(log, kept)
        if not args.keep:
            shutil.rmtree(args.scratch, ignore_errors=True)
    save()
    report.print_table(res)
    say(f"wrote {args.output} ({res['wall_seconds']:.0f} s)")
    return 1 if any(v is False for v in res["verdicts"].values()) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
