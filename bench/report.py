"""The results as a rich table on the terminal and as a Markdown table for bench/README.md."""

from __future__ import annotations

from typing import Any

#: (key, what it is, target, passes(value)) in the order they are shown.
TARGETS: tuple[tuple[str, str, str, Any], ...] = (
    ("ratio_build_vs_floor", "15-VM build / bare launch+mount (1)", "<= 1.3",
     lambda v: v <= 1.3),
    ("ratio_naive_vs_build", "naive pipeline / 15-VM build (1)", ">= 10", lambda v: v >= 10),
    ("ratio_200_vs_15", "200-VM build / 15-VM build (2)", "<= 2", lambda v: v <= 2),
    ("peak_rss_mb_200", "peak RSS of the 200-VM build, MB (2)", "< 300", lambda v: v < 300),
    ("ratio_bundle_vs_cp", "bundling throughput / cp, worst size (3)", ">= 0.9",
     lambda v: v >= 0.9),
    ("peak_rss_mb_bundle", "peak RSS of bundling, MB, worst size (3)", "< 200",
     lambda v: v < 200),
    ("bytes_per_vm_vs_floor", "archive bytes per VM / floor (4)", "report", lambda v: True),
    ("ratio_ready_vs_guests_demo", "demo: lab ready / slowest guest's cloud-init (5)", "<= 1.25",
     lambda v: v <= 1.25),
    ("ratio_ready_vs_guests_mini", "mini: lab ready / slowest guest's cloud-init (5)", "<= 1.25",
     lambda v: v <= 1.25),
)


def verdicts(results: dict) -> dict[str, bool | None]:
    """Each target key: met, missed, or None when it was not measured."""
    out: dict[str, bool | None] = {}
    for key, _what, _target, ok in TARGETS:
        value = results.get(key)
        out[key] = None if value is None else bool(ok(value))
    return out


def rows(results: dict) -> list[tuple[str, str, str, str]]:
    """(figure, value, target, verdict) rows."""
    marks = verdicts(results)
    out = []
    for key, what, target, _ok in TARGETS:
        value = results.get(key)
        shown = "not run" if value is None else f"{value:g}"
        if key in results.get("lower_bounds", ()):
            shown = f">= {shown} (stopped)"
        verdict = {None: "-", True: "met", False: "MISSED"}[marks[key]]
        out.append((f"{key}: {what}", shown, target, verdict))
    return out


def print_table(results: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"gns3lab bench ({results['mode']})")
    for column in ("figure", "value", "target", ""):
        table.add_column(column)
    for figure, value, target, verdict in rows(results):
        style = "red" if verdict == "MISSED" else None
        table.add_row(figure, value, target, verdict, style=style)
    console = Console()
    console.print(table)
    raw = results["seconds"]
    console.print("seconds: " + ", ".join(f"{k} {v:g}" for k, v in raw.items()))


def markdown(results: dict) -> str:
    lines = ["| figure | value | target | |", "|---|---|---|---|"]
    lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows(results)]
    text = "\n".join(lines) + "\n"
    if results.get("recipes"):
        from bench.recipes import markdown as recipes_markdown

        text += recipes_markdown(results["recipes"])
    return text
