"""Typed exceptions. Library code raises these; only the CLI turns them into messages."""

from __future__ import annotations

import signal
from collections.abc import Sequence
from typing import Any


def format_path(path: tuple) -> str:
    """``('links', 3, 'b')`` -> ``links[3].b``: how every message names a place in a file."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


class GeneratorError(Exception):
    """Base of every error gns3lab reports to a user (exit code 2, no traceback)."""

    #: gns3lab's own exit status for this error (not ``exit_code``: a :class:`ToolError` uses
    #: that name for the exit code of the program that failed).
    status = 2

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def lines(self) -> list[str]:
        """The message lines the CLI prints."""
        out = [self.message]
        if self.hint:
            out.append(f"hint: {self.hint}")
        return out


class BlueprintError(GeneratorError):
    """One or more problems in a blueprint, each with file, line and path."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(p.render() for p in problems))

    def lines(self) -> list[str]:
        return [p.render() for p in self.problems]


class Problem:
    """One blueprint problem: where it is, what is wrong, how to fix it."""

    def __init__(self, file: str, line: int | None, path: str, message: str,
                 fix: str | None = None) -> None:
        self.file, self.line, self.path, self.message, self.fix = file, line, path, message, fix

    def render(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        text = f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"
        if self.fix:
            text += f" (fix: {self.fix})"
        return text

    def __repr__(self) -> str:  # pragma: no cover - debugging aid
        return f"Problem({self.render()!r})"


class ToolError(GeneratorError):
    """An external program is missing or failed.

    A failure carries its record as fields, so no caller parses the message: ``argv`` (the
    command as run, strings), ``exit_code`` (the program's; negative: killed by that signal;
    None: it never ran to an end: missing, timed out) and ``stderr_tail`` (the last lines of
    its stderr, or of its stdout when stderr was empty). The message stays for people.
    """

    def __init__(self, message: str, hint: str | None = None, *, argv: Sequence[object] = (),
                 exit_code: int | None = None, stderr_tail: str = "") -> None:
        super().__init__(message, hint)
        self.argv = tuple(str(a) for a in argv)
        self.exit_code = exit_code
        self.stderr_tail = stderr_tail


class ImageError(GeneratorError):
    """A base image is missing, or does not match its appliance."""


class InjectionError(GeneratorError):
    """Writing files into a guest disk failed."""


class ArchiveError(GeneratorError):
    """An archive could not be written or read."""


class ServerError(GeneratorError):
    """A GNS3 server refused a request or could not be reached."""


class SeedError(GeneratorError):
    """A NoCloud seed (ISO or one of its documents) could not be written, read or validated."""


class AddonError(GeneratorError):
    """An add-on cannot serve the lab; ``path`` is where in the blueprint (e.g.
    ``("extra", "openstack", "release")``)."""

    default_path: tuple[Any, ...] = ("extra",)

    def __init__(self, message: str, hint: str | None = None,
                 path: tuple[Any, ...] | None = None) -> None:
        super().__init__(message, hint)
        self.path = self.default_path if path is None else path

    def lines(self) -> list[str]:
        return [f"{format_path(self.path)}: {self.message}",
                *([f"hint: {self.hint}"] if self.hint else [])]


class FabricError(AddonError):
    """The lab's switches are wired in a way the fabric add-on cannot configure."""

    default_path = ("links",)


class OsaError(AddonError):
    """``extra.openstack`` or the lab does not fit an OpenStack-Ansible deployment."""

    default_path = ("extra", "openstack")


class Refused(ValueError):
    """A value a blueprint gives cannot be used (a path, a name range); ``fix`` says what to do
    instead. Resolve turns it into a :class:`Problem` at the blueprint's line."""

    def __init__(self, message: str, fix: str) -> None:
        super().__init__(message)
        self.message, self.fix = message, fix


class LoaderLimit(Exception):
    """A limit of the blueprint loader (depth, aliases, string length, key type), found at a
    line and path; the loader turns it into a :class:`Problem`."""

    def __init__(self, line: int | None, path: tuple[Any, ...], message: str, fix: str) -> None:
        super().__init__(message)
        self.line, self.path, self.message, self.fix = line, path, message, fix


class NameRangeError(Refused):
    """A ``name[lo-hi]`` range that cannot be expanded."""


class Interrupted(BaseException):
    """The build was interrupted by a signal (never swallowed by ``except Exception``)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum

    @property
    def exit_code(self) -> int:
        return 128 + self.signum
