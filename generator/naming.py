"""Naming rules of the resolved lab: derived ids and MACs, GNS3 port names, name ranges,
link and address templates. Pure functions."""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Iterable

from .blueprint import closest

NAMESPACE = uuid.UUID("5b1f6f0e-8f0a-4d5c-9a57-6c2b1a3d9e10")
RANGE_RE = re.compile(r"^(?P<prefix>[a-z0-9-]*)\[(?P<lo>\d+)-(?P<hi>\d+)\](?P<suffix>[a-z0-9-]*)$")
TEMPLATE_RE = re.compile(r"\{(node|i|n|num)([+-]\d+)?\}")


def derive_id(lab: str, *parts: str) -> str:
    """A stable UUID for a lab object: the same blueprint always gives the same ids."""
    return str(uuid.uuid5(NAMESPACE, "/".join((lab, *parts))))


def derive_mac(lab: str, node: str, attempt: int = 0) -> str:
    """A locally administered unicast base MAC for a node (adapter N is base + N)."""
    digest = hashlib.sha256(f"{lab}/{node}/{attempt}".encode()).digest()
    return "52:54:" + ":".join(f"{b:02x}" for b in digest[:3]) + ":00"


def mac_add(mac: str, n: int) -> str:
    value = int(mac.replace(":", ""), 16) + n
    raw = f"{value:012x}"[-12:]
    return ":".join(raw[i:i + 2] for i in range(0, 12, 2))


def port_name(fmt: str, first: str | None, adapter: int, segment_size: int = 0) -> str:
    """GNS3's name for a QEMU adapter (``{0}``, ``{portN}``, ``{segmentN}``, ``{adapter}``)."""
    if adapter == 0 and first:
        return first
    number = adapter - 1 if first else adapter  # the first port does not use up a number
    segment, port = (divmod(number, segment_size) if segment_size else (0, number))
    values = {f"port{k}": port + k for k in range(9)}
    values.update({f"segment{k}": segment + k for k in range(9)})
    return fmt.format(port, segment, adapter=adapter, **values)


def expand_name(name: str) -> list[str]:
    """``infra[1-3]`` -> infra1, infra2, infra3."""
    match = RANGE_RE.match(name)
    if not match:
        return [name]
    lo, hi = int(match["lo"]), int(match["hi"])
    return [f"{match['prefix']}{i}{match['suffix']}" for i in range(lo, hi + 1)]


def fill_template(text: str, node: str, index: int) -> str:
    """Fill ``{node}``, ``{i}``, ``{n}``, ``{num}`` (with ``+K``/``-K``) for one member."""
    num_match = re.search(r"(\d+)$", node)
    numbers = {"i": index, "n": index + 1,
               "num": int(num_match.group(1)) if num_match else index + 1}

    def repl(match: re.Match[str]) -> str:
        name, offset = match.group(1), match.group(2)
        if name == "node":
            if offset:
                raise ValueError("cannot add to {node}")
            return node
        return str(numbers[name] + int(offset or 0))

    return TEMPLATE_RE.sub(repl, text)


def closest_fix(word: str, choices: Iterable[str]) -> str:
    """A 'did you mean' hint for ``word`` among ``choices``."""
    return closest(word, {str(c) for c in choices})

