"""Run one measured job in a child process: wall time, the tool's peak RSS, the load."""

from __future__ import annotations

import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Sample:
    """One run: seconds of wall time, peak RSS of the measured process and of its largest
    child (MB), and the 1-minute load average before and after."""

    seconds: float
    rss_mb: float
    children_rss_mb: float
    load_before: float
    load_after: float


class JobFailed(RuntimeError):
    """A measured command exited non-zero (the message has its output's tail)."""


class JobTimeout(JobFailed):
    """A measured command ran past its time limit and was stopped: how long, its peak RSS
    then, and the last progress line it printed."""

    def __init__(self, seconds: float, rss_mb: float, phase: str) -> None:
        super().__init__(f"stopped after {seconds:.0f} s at: {phase}")
        self.seconds, self.rss_mb, self.phase = round(seconds, 1), round(rss_mb, 1), phase


def _load() -> float:
    return round(os.getloadavg()[0], 2)


def run_job(job: str, args: Sequence[str | Path], log: Path,
            env: dict[str, str] | None = None, timeout: float | None = None) -> Sample:
    """``python -m bench.child`` running ``job``; its output goes to ``log``."""
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as tmp:
        peaks_file = Path(tmp.name)
    argv = [sys.executable, "-m", "bench.child", str(peaks_file), job, *map(str, args)]
    return _timed(argv, log, env, peaks_file, timeout)


def run_command(argv: Sequence[str | Path], log: Path, env: dict[str, str] | None = None
                ) -> Sample:
    """Any command (cp, the naive pipeline's shell script); its RSS is not measured."""
    return _timed([str(a) for a in argv], log, env, None)


def _hwm_mb(pid: int) -> float:
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return float("nan")
    return next((int(ln.split()[1]) / 1024 for ln in text.splitlines()
                 if ln.startswith("VmHWM:")), float("nan"))


def _wait(proc: subprocess.Popen, start: float, timeout: float | None, log: Path) -> int:
    """The child's wait status; past ``timeout`` it gets SIGTERM and JobTimeout is raised."""
    while True:
        pid, status, _usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            return status
        elapsed = time.monotonic() - start
        if timeout is not None and elapsed > timeout:
            rss = _hwm_mb(proc.pid)
            proc.terminate()
            os.wait4(proc.pid, 0)
            phase = [ln for ln in log.read_text(errors="replace").splitlines()
                     if ln.startswith("[")][-1:]
            raise JobTimeout(elapsed, rss, phase[0] if phase else "")
        time.sleep(0.2)


def _timed(argv: list[str], log: Path, env: dict[str, str] | None,
           peaks_file: Path | None, timeout: float | None = None) -> Sample:
    subprocess.run(["sync"], check=False)  # start each run with no dirty pages of the last one
    before = _load()
    full_env = dict(os.environ, PYTHONPATH=str(REPO), **(env or {}))
    with log.open("ab") as out:
        out.write(f"$ {' '.join(argv)}\n".encode())
        out.flush()
        start = time.monotonic()
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=full_env,
                                cwd=REPO)
        status = _wait(proc, start, timeout, log)
        seconds = time.monotonic() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        tail = log.read_text(errors="replace").splitlines()[-15:]
        raise JobFailed(f"exit {proc.returncode}: {' '.join(argv)}\n" + "\n".join(tail))
    if peaks_file is not None:
        peaks = json.loads(peaks_file.read_text())
        peaks_file.unlink()
        rss, children = peaks["rss_mb"], peaks["children_rss_mb"]
        if peaks["code"]:
            raise JobFailed(f"exit {peaks['code']}: {' '.join(argv)} (see {log})")
    else:  # wait4's ru_maxrss would include this runner's RSS at exec time: not reported
        rss = children = float("nan")
    return Sample(round(seconds, 3), round(rss, 1), round(children, 1), before, _load())


@dataclass(frozen=True)
class Figure:
    """The median of several samples, with every sample kept."""

    seconds: float
    rss_mb: float
    children_rss_mb: float
    runs: int
    samples: tuple[Sample, ...]

    def as_json(self) -> dict:
        def num(v: float) -> float | None:
            return None if math.isnan(v) else v

        return {"seconds": self.seconds, "rss_mb": num(self.rss_mb),
                "children_rss_mb": num(self.children_rss_mb), "runs": self.runs,
                "samples": [{k: num(v) for k, v in asdict(s).items()} for s in self.samples]}


def repeat(runs: int, once: Callable[[int], Sample],
           between: Callable[[int], None] | None = None) -> Figure:
    """``once(i)`` ``runs`` times (``between(i)`` after each, e.g. to delete its output)."""
    samples = []
    for i in range(runs):
        samples.append(once(i))
        if between:
            between(i)
    return Figure(statistics.median(s.seconds for s in samples),
                  statistics.median(s.rss_mb for s in samples),
                  statistics.median(s.children_rss_mb for s in samples), runs, tuple(samples))


def merged(figures: Sequence[Figure]) -> Figure:
    """One figure of the samples of several (runs measured apart, e.g. alternated)."""
    samples = tuple(s for f in figures for s in f.samples)
    return Figure(statistics.median(s.seconds for s in samples),
                  statistics.median(s.rss_mb for s in samples),
                  statistics.median(s.children_rss_mb for s in samples), len(samples), samples)
