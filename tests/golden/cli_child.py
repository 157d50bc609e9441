"""``gns3lab ARGS`` in a child process with a memory limit and a timeout, for the error cases
that hang, eat memory or recurse when handled badly (tests/golden/test_errors.py's RISKY).

The child is forked from a server process that has imported the CLI and the modules its
commands import once (multiprocessing's forkserver), not started afresh: a fresh interpreter
spent about 0.6 s of CPU per run importing (and, without a bytecode cache, compiling) the
package, and the risky cases start 38 of them. The forkserver imports nothing of pytest or of
the test run, so each child is still a clean process: its own memory limit (RLIMIT_AS), cwd
and environment, its stdout and stderr into one file in the order they are written, its exit
code that of ``sys.exit(main())``, and an uncaught exception printed with its traceback.
"""

from __future__ import annotations

import io
import multiprocessing
import os
import resource
import sys
from pathlib import Path

#: What the forkserver imports before it forks: the CLI and what ``build``/``validate`` import
#: when they run (importing them early changes nothing: no module reads HOME or the cwd then).
PRELOAD = ["generator.cli", "generator.build", "generator.images.recipe_images",
           "generator.hostcheck", __name__]


def _context() -> multiprocessing.context.ForkServerContext:
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(PRELOAD)
    return ctx


def _main(args: list[str], cwd: str, env: dict[str, str], output: str, memory: int) -> None:
    """In the child: the limit, cwd, environment and output, then ``sys.exit(main())``."""
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    os.chdir(cwd)
    os.environ.clear()
    os.environ.update(env)
    fd = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    # Fresh streams on the file, encoded as the interpreter encodes its own (stdout strict,
    # stderr backslashreplace), written through so both keep their order in the one file.
    sys.stdout = io.TextIOWrapper(io.FileIO(1, "w", closefd=False), encoding=sys.stdout.encoding,
                                  errors=sys.stdout.errors, write_through=True)
    sys.stderr = io.TextIOWrapper(io.FileIO(2, "w", closefd=False), encoding=sys.stderr.encoding,
                                  errors=sys.stderr.errors, write_through=True)
    sys.argv = ["-c", *args]  # what ``python -c CODE ARGS`` gives the CLI
    from generator.cli import main

    sys.exit(main())


def run_child(args: list[str], cwd: Path, env: dict[str, str], output: Path, memory: int,
              timeout: float) -> int | None:
    """Run ``gns3lab ARGS`` in a forked child; its output goes to ``output``. The exit code
    (negative: killed by that signal), or None when it did not end within ``timeout`` seconds
    (it is killed then)."""
    child = _context().Process(target=_main,
                               args=(args, str(cwd), env, str(output), memory), daemon=True)
    child.start()
    child.join(timeout)
    if child.exitcode is None:
        child.kill()
        child.join()
        return None
    return child.exitcode
