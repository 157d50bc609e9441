"""The e2e boots' timeline record (issue 24): the timeline ``push_archive(wait=True)`` built
(:mod:`generator.server.timeline`), with every push event on the host's clock, written to
``test-artifacts/e2e-<label>-timeline.json`` on every run (``make bench`` reads it)."""

from __future__ import annotations

import json
import os
import time
from typing import Any

from generator.server.consoles import PushEvent
from generator.server.push import PushResult
from generator.server.timeline import render_text, timeline_json
from tests.helpers import REPO

ARTIFACTS = REPO / "test-artifacts"


class Stamped(list):
    """A progress callback that keeps (time.monotonic(), event) for every event, and prints it
    at once (with ``pytest -s``, a boot can be followed while it runs)."""

    def __call__(self, event: PushEvent) -> None:
        self.append((time.monotonic(), event))
        print(f"[{self[-1][0] - self[0][0]:7.1f} s] {event}", flush=True)


def record_timeline(label: str, push: PushResult, events: Stamped, wall: float,
                    load_before: tuple[float, ...]) -> dict[str, Any]:
    """Write the timeline JSON of one boot (the one ``push --wait`` built, with the wall time,
    the load and every event but console lines) and print it."""
    timeline = push.timeline
    assert timeline is not None, "push_archive(wait=True) returned no timeline"
    doc = dict(timeline_json(timeline), label=label, wall_seconds=round(wall, 1),
               load_before=[round(x, 2) for x in load_before],
               load_after=[round(x, 2) for x in os.getloadavg()],
               events=[{"t": round(t - events[0][0], 2), "kind": e.kind, "node": e.node,
                        "message": e.message} for t, e in events if e.kind != "console"])
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / f"e2e-{label}-timeline.json").write_text(
        json.dumps(doc, indent=2, sort_keys=True) + "\n")
    print("\n" + render_text(timeline))
    return doc
