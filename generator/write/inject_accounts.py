"""Guest accounts for injection: owners by name, the hostname in /etc/hosts, SSH keys.

Everything here works on text already read from the guest (one read per file); nothing talks
to the appliance.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from generator.errors import InjectionError

Fail = Callable[[str, str], InjectionError]


@dataclass(frozen=True)
class Accounts:
    users: dict[str, tuple[int, int, str]]  # name -> uid, gid, home
    groups: dict[str, int]

    @classmethod
    def parse(cls, passwd: str | None, group: str | None) -> Accounts:
        """The accounts of the guest's /etc/passwd and /etc/group texts (None: no file)."""
        def rows(text: str | None) -> list[list[str]]:
            return [ln.split(":") for ln in (text or "").splitlines() if ln.count(":") > 1]
        users = {r[0]: (int(r[2]), int(r[3]), r[5]) for r in rows(passwd)
                 if len(r) >= 6 and r[2].isdigit() and r[3].isdigit()}
        return cls(users, {r[0]: int(r[2]) for r in rows(group) if r[2].isdigit()})

    def ident(self, fail: Fail, value: str | int, group: bool) -> int:
        """Numeric id of an owner or group given by name or number."""
        if isinstance(value, int) or value.isdigit():
            return int(value)
        table = self.groups if group else {n: u[0] for n, u in self.users.items()}
        if value not in table:
            kind, db = ("group", "/etc/group") if group else ("user", "/etc/passwd")
            raise fail(f"unknown {kind} {value!r}: not in the guest's {db}",
                       f"add the {kind} to the base image, or give a numeric id")
        return table[value]

    def name(self, ident: int, group: bool) -> str | None:
        """Name of a numeric id, or None."""
        table = self.groups if group else {n: u[0] for n, u in self.users.items()}
        return next((n for n, i in table.items() if i == ident), None)

    def login(self, fail: Fail, user: str) -> tuple[int, int, str]:
        """uid, gid and home of a user that gets an SSH key."""
        if user not in self.users:
            raise fail(f"cannot add an SSH key for user {user!r}: not in the guest's "
                       "/etc/passwd", "create the user in the base image, or use an existing one")
        uid, gid, home = self.users[user]
        return uid, gid, home.rstrip("/") or "/"


def hosts_with(hosts: str | None, name: str) -> str:
    """/etc/hosts with its (first) 127.0.1.1 line naming ``name`` (and its short name)."""
    hosts = hosts or "127.0.0.1\tlocalhost\n"
    short = name.split(".")[0]
    entry = f"127.0.1.1\t{name}" + (f"\t{short}" if short != name else "")
    lines: list[str] = []
    for line in hosts.splitlines():
        if line.split()[:1] != ["127.0.1.1"]:
            lines.append(line)
        elif entry not in lines:
            lines.append(entry)
    if entry not in lines:
        lines.insert(min(1, len(lines)), entry)
    return "\n".join(lines) + "\n"


def keys_with(old: str | None, keys: Sequence[str]) -> str:
    """An authorized_keys text with each of ``keys`` once (appended in order if missing)."""
    text = old or ""
    for key in keys:
        if key.strip() not in (ln.strip() for ln in text.splitlines()):
            sep = "\n" if text and not text.endswith("\n") else ""
            text = f"{text}{sep}{key.strip()}\n"
    return text
