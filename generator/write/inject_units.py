"""What ``systemctl enable`` does, without systemd: find the unit, read its [Install] section,
and name the symlinks to make in each <target>.wants/ (or .requires/)."""

from __future__ import annotations

import re
from collections.abc import Callable

from generator.errors import InjectionError

#: Where ``systemctl enable`` looks for unit files, in its order of precedence.
UNIT_DIRS = ("/etc/systemd/system", "/lib/systemd/system", "/usr/lib/systemd/system")
UNIT = re.compile(r"^[A-Za-z0-9:_.@\\-]+\.[a-z]+$")

Fail = Callable[[str, str], InjectionError]


def install_targets(text: str) -> list[tuple[str, str]]:
    """(``wants``/``requires``, target) pairs from a unit's [Install] section."""
    section, out = "", []
    for line in (ln.strip() for ln in text.splitlines()):
        if line.startswith("["):
            section = line
        elif section == "[Install]" and "=" in line and line[0] not in "#;":
            key, _, value = line.partition("=")
            suffix = {"WantedBy": "wants", "RequiredBy": "requires"}.get(key.strip())
            out += [(suffix, target) for target in value.split()] if suffix else []
    return out


def enable_links(fail: Fail, unit: str, unit_text: Callable[[str], str | None]
                 ) -> list[tuple[str, str]]:
    """(link, unit file it points at) for enabling ``unit``; ``unit_text(path)`` gives the text
    of a unit file as the guest will have it (injected or already there), or None."""
    template = re.sub(r"@[^@]+(\.[a-z]+)$", r"@\1", unit)
    found, text = None, None
    for path in (f"{d}/{n}" for d in UNIT_DIRS for n in dict.fromkeys((unit, template))):
        text = unit_text(path)
        if text is not None:
            found = path
            break
    if found is None or text is None:
        raise fail(f"cannot enable {unit}: no unit file in {', '.join(UNIT_DIRS)}",
                   "inject the unit file too (files=), or install it in the base image")
    targets = install_targets(text)
    if not targets:
        raise fail(f"cannot enable {unit}: {found} has no [Install] WantedBy=/RequiredBy=",
                   "add an [Install] section, e.g. WantedBy=multi-user.target")
    return [(f"/etc/systemd/system/{target}.{suffix}/{unit}", found)
            for suffix, target in targets]
