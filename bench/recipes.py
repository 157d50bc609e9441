"""Image recipes (issue 19, ``--only recipes``): each built-in recipe built from an empty image
folder (a full mmdebstrap from Debian's mirror: its seconds and the qcow2's bytes), then built
again in that folder (a cache hit: its seconds). One run each: a build takes minutes and its
time is mostly downloads and dpkg, which the median of a few runs would not make truer."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from pathlib import Path

from generator.images.build import build_image
from generator.images.recipe import RECIPES


def measure_recipes(scratch: Path, say: Callable[[str], None],
                    names: list[str] | None = None) -> dict[str, dict]:
    """Build seconds, image bytes and cache-hit seconds per recipe (every built-in by
    default); each build's folder is removed after it is measured."""
    out: dict[str, dict] = {}
    for name in names or sorted(RECIPES):
        folder = scratch / "recipes" / name
        shutil.rmtree(folder, ignore_errors=True)
        say(f"recipes: building {name} from an empty folder")
        start = time.monotonic()
        built = build_image(name, folder)
        seconds = time.monotonic() - start
        start = time.monotonic()
        hit = build_image(name, folder)
        hit_seconds = time.monotonic() - start
        assert hit.cached and hit.path == built.path, "the second build was not a cache hit"
        out[name] = {"build_seconds": round(seconds, 1), "image_bytes": built.size,
                     "virtual_bytes": built.virtual_size, "hit_seconds": round(hit_seconds, 3),
                     "image": built.path.name, "sha256": built.sha256}
        say(f"recipes: {name} built in {seconds:.0f} s, {built.size / 2**20:.0f} MiB; "
            f"cache hit {hit_seconds:.3f} s")
        shutil.rmtree(folder, ignore_errors=True)
    return out


def markdown(recipes: dict[str, dict]) -> str:
    """The recipes table of latest.md."""
    lines = ["", "| recipe | build s (empty cache) | image MiB | cache hit s | image |",
             "|---|---|---|---|---|"]
    lines += [f"| {name} | {r['build_seconds']} | {r['image_bytes'] / 2**20:.1f} | "
              f"{r['hit_seconds']} | {r['image']} |" for name, r in sorted(recipes.items())]
    return "\n".join(lines) + "\n"
