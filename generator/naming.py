"""Naming rules of the resolved lab: derived ids and MACs, GNS3 port names, name ranges,
link and address templates. Pure functions."""

from __future__ import annotations

import difflib
import hashlib
import re
import uuid
from collections.abc import Iterable

from generator.errors import NameRangeError

NAMESPACE = uuid.UUID("5b1f6f0e-8f0a-4d5c-9a57-6c2b1a3d9e10")
RANGE_RE = re.compile(r"^(?P<prefix>[a-z0-9-]*)\[(?P<lo>\d+)-(?P<hi>\d+)\](?P<suffix>[a-z0-9-]*)$")
TEMPLATE_RE = re.compile(r"\{(node|i|n|num)([+-]\d+)?\}")


def closest(word: str, choices: list[str] | set[str]) -> str:
    """A 'did you mean' hint naming the closest choice, or the known ones."""
    known = sorted(str(c) for c in choices)
    match = difflib.get_close_matches(word, known, n=1)
    if match:
        return f"did you mean '{match[0]}'?"
    listed = ", ".join(known[:12]) + (", ..." if len(known) > 12 else "")
    return f"known: {listed}" if known else "none are defined"


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


#: Most names one ``[lo-hi]`` range may stand for; the lab's own node limit is checked apart.
MAX_RANGE = 1000
#: Longest bound of a range: a node name is a hostname label (63 characters). A range of one
#: with long bounds (``n[99999999-99999999]``) is a valid single name, and it is expanded.
MAX_BOUND_DIGITS = 63


def expand_name(name: str) -> list[str]:
    """``infra[1-3]`` -> infra1, infra2, infra3; ``n[01-03]`` -> n01, n02, n03.

    Zero-padded bounds keep their width (as in ``seq -w`` and shell ``{01..03}``), because
    ``n01`` is what someone writing ``n[01-03]`` names their nodes. Bounds must then have the
    same width (``n[1-03]`` is ambiguous). The size is checked before any name is made, so
    ``n[1-10000000000]`` costs nothing. Raises :class:`NameRangeError` (a ValueError).
    """
    match = RANGE_RE.match(name)
    if not match:
        return [name]
    lo_text, hi_text = match["lo"], match["hi"]
    if max(len(lo_text), len(hi_text)) > MAX_BOUND_DIGITS:  # before int() of 5000 digits
        raise _long_bounds(name, match)
    lo, hi = int(lo_text), int(hi_text)
    if hi < lo:
        raise NameRangeError(f"range '{name}' is empty ({lo} is above {hi})",
                             f"write the lower bound first, e.g. "
                             f"{match['prefix']}[{hi}-{lo}]{match['suffix']}")
    if hi - lo + 1 > MAX_RANGE:
        raise NameRangeError(f"range '{name}' has {hi - lo + 1} names, more than {MAX_RANGE}",
                             f"split it; a range may name at most {MAX_RANGE} nodes")
    padded = any(len(b) > 1 and b.startswith("0") for b in (lo_text, hi_text))
    if padded and len(lo_text) != len(hi_text):
        raise NameRangeError(f"range '{name}' is zero-padded with bounds of different width",
                             f"pad both bounds to one width, e.g. "
                             f"{match['prefix']}[{lo:0{len(hi_text)}d}-{hi_text}]"
                             f"{match['suffix']}")
    width = len(lo_text) if padded else 0
    return [f"{match['prefix']}{i:0{width}d}{match['suffix']}" for i in range(lo, hi + 1)]


def _long_bounds(name: str, match: re.Match[str]) -> NameRangeError:
    """Bounds too long for a node name: too many names when their lengths differ by more than
    MAX_RANGE's (hi - lo > 9999 * 10**len(lo)), else a name that cannot be a hostname."""
    lo_digits, hi_digits = len(match["lo"].lstrip("0")), len(match["hi"].lstrip("0"))
    if hi_digits - lo_digits > len(str(MAX_RANGE)):
        return NameRangeError(f"range '{name}' has more than {MAX_RANGE} names",
                              f"split it; a range may name at most {MAX_RANGE} nodes")
    digits = max(len(match["lo"]), len(match["hi"]))
    return NameRangeError(f"range '{name}' has a bound of {digits} digits; a node name is at "
                          f"most {MAX_BOUND_DIGITS} characters", "use shorter numbers")


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


def runs(numbers: Iterable[int]) -> list[tuple[int, int]]:
    """Consecutive runs, in the order given: ``[10, 20, 21, 22, 7]`` -> ``[(10, 10), (20, 22),
    (7, 7)]`` (sort first for ranges; VLAN lists, ports and ``used_ips`` all compress so)."""
    out: list[tuple[int, int]] = []
    for n in numbers:
        if out and n == out[-1][1] + 1:
            out[-1] = (out[-1][0], n)
        else:
            out.append((n, n))
    return out


def closest_fix(word: str, choices: Iterable[str]) -> str:
    """A 'did you mean' hint for ``word`` among ``choices``."""
    return closest(word, {str(c) for c in choices})

