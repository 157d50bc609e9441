"""Where a build's time goes, read from the progress lines in a bench log.

``python -m bench.timeline bench/results/latest.log`` prints, per build: the seconds before the
first launch, each launch (from "starting libguestfs" to the first disk), the mean seconds per
disk by kind (controller, switch, server), and the seconds after the last disk.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path

_LINE = re.compile(r"\[\s*([\d.]+)s\] (.*)")
KINDS = (("mgmt", "controller"), ("sw", "switch"), ("srv", "server"))


@dataclass(frozen=True)
class Timeline:
    """One build: its lab, setup seconds, launch seconds per batch, per-disk means, tail."""

    lab: str
    before: float
    launches: tuple[float, ...]
    per_disk: dict[str, tuple[int, float]]
    after: float
    total: float


def _kind(node: str) -> str:
    return next((kind for prefix, kind in KINDS if node.startswith(prefix)), "other")


def parse_build(lab: str, text: str) -> Timeline | None:
    """The timeline of one build's output, or None if it injected nothing or has not got past
    its injection yet (a build still running, or stopped)."""
    events = [(float(m[1]), m[2]) for m in _LINE.finditer(text)]
    launches, disks, last_launch = [], [], None
    for t, msg in events:
        if msg.startswith("starting libguestfs"):
            last_launch = t
        elif msg.startswith("injecting into ") and last_launch is not None:
            launches.append(t - last_launch)
            last_launch = None
            disks.append((t, msg.split()[2], True))
        elif msg.startswith("injecting into "):
            disks.append((t, msg.split()[2], False))
    end = next((t for t, msg in events if msg.startswith("writing project")), None)
    if not disks or end is None:
        return None
    sums: dict[str, list[float]] = {}
    for i, (t, node, _first) in enumerate(disks):
        nxt = next((d for d in disks[i + 1:]), None)
        if nxt is not None and nxt[2]:
            continue  # the next disk opens a new launch: this one's end is not known
        sums.setdefault(_kind(node), []).append((nxt[0] if nxt else end) - t)
    starts = [t for t, msg in events if msg.startswith("starting libguestfs")]
    return Timeline(lab, starts[0], tuple(round(x, 1) for x in launches),
                    {k: (len(v), round(sum(v) / len(v), 2)) for k, v in sums.items()},
                    round(events[-1][0] - end, 1), events[-1][0])


def parse_log(path: Path) -> list[Timeline]:
    """Every injecting build in a bench log (blocks start with ``$ `` and the command)."""
    out = []
    for block in path.read_text(errors="replace").split("\n$ "):
        lab = re.search(r"/labs/(bench\d+)", block.split("\n", 1)[0])
        if lab and (timeline := parse_build(lab[1], block)):
            out.append(timeline)
    return out


def main(argv: list[str]) -> int:
    for t in parse_log(Path(argv[0])):
        disks = ", ".join(f"{k} {n}x {s:.2f}s" for k, (n, s) in sorted(t.per_disk.items()))
        print(f"{t.lab}: setup {t.before:.1f}s, launches {list(t.launches)}, per disk: {disks}, "
              f"archive {t.after:.1f}s, total {t.total:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
