"""What a GNS3 server answers, checked before anything reads it.

A server may be old, broken or lying, so nothing about its answers is assumed: a body is read
up to :data:`MAX_REPLY_BYTES`, parsed only when its count of JSON values is bounded (a few
megabytes of ``[{},{},...]`` would otherwise take gigabytes), and each answer push reads is
checked against a small shape (:data:`COMPUTE`, :data:`NODE`, ...): lists capped at
:data:`MAX_ITEMS`, the keys push reads present with the right types, ids safe to put in a URL
path. A wrong answer raises :class:`BadReply`; :mod:`.api` turns it into a ServerError naming
the request. Pure functions, no I/O.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any

#: Largest answer body read (a 1000-node lab's node list is a few megabytes).
MAX_REPLY_BYTES = 16 << 20
#: Most JSON values (counted by their separators) parsed from one body or archive document.
MAX_JSON_VALUES = 1_000_000
#: Most items in one listed answer (computes, images, projects, nodes, links).
MAX_ITEMS = 10_000
#: Longest string field taken from an answer (names, statuses, checksums, paths).
MAX_TEXT = 1000
#: Ids go into URL paths: no slash, no dot-only segment, nothing to escape.
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
#: A bearer token goes into a header: base64url pieces, nothing that could end the line.
_TOKEN = re.compile(r"[A-Za-z0-9._~+/=-]{1,8192}")


class BadReply(ValueError):
    """An answer (or a document) of a shape push cannot read; the message says what is off."""


def load_json(raw: bytes) -> Any:
    """``raw`` parsed as JSON within bounds. Raises :class:`BadReply` for too many values or
    too deep a nesting, ``ValueError`` for text that is not JSON."""
    values = sum(raw.count(sep) for sep in (b",", b":", b"[", b"{"))
    if values > MAX_JSON_VALUES:
        raise BadReply(f"more than {MAX_JSON_VALUES} JSON values")
    try:
        return json.loads(raw)
    except RecursionError:
        raise BadReply("JSON nested too deep") from None


# -- field kinds -------------------------------------------------------------------------------

Kind = Callable[[Any], bool]


def _text(value: Any) -> bool:
    return isinstance(value, str) and len(value) <= MAX_TEXT


def _ident(value: Any) -> bool:
    return isinstance(value, str) and _ID.fullmatch(value) is not None


def _token(value: Any) -> bool:
    return isinstance(value, str) and _TOKEN.fullmatch(value) is not None


def _port(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 65535


def _size(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _flag(value: Any) -> bool:
    return isinstance(value, bool)


_KIND_NAMES: dict[Kind, str] = {
    _text: f"a string of at most {MAX_TEXT} characters",
    _ident: "an id (letters, digits, '.', '_', ':', '-')", _token: "a bearer token",
    _port: "a port number", _size: "a size in bytes", _flag: "true or false"}

#: A shape: key -> (kind, required). An optional key may be missing or null.
Shape = Mapping[str, tuple[Kind, bool]]

VERSION: Shape = {"version": (_text, False)}
TOKEN: Shape = {"access_token": (_token, True)}
COMPUTE: Shape = {"compute_id": (_ident, True), "name": (_text, False),
                  "connected": (_flag, False)}
IMAGE: Shape = {"filename": (_text, True), "md5sum": (_text, False),
                "filesize": (_size, False), "path": (_text, False)}
PROJECT: Shape = {"project_id": (_ident, True), "name": (_text, False),
                  "status": (_text, False)}
LISTED_PROJECT: Shape = {**PROJECT, "name": (_text, True)}
NODE: Shape = {"name": (_text, True), "node_id": (_ident, True), "node_type": (_text, True),
               "status": (_text, False), "console_type": (_text, False),
               "console_host": (_text, False), "console": (_port, False),
               "compute_id": (_ident, False)}
LINK: Shape = {"link_id": (_ident, True)}
LINK_END: Shape = {"node_id": (_ident, True)}
STARTED: Shape = {"status": (_text, False)}


# -- checks ------------------------------------------------------------------------------------


def check_item(item: Any, shape: Shape, where: str = "the answer") -> dict[str, Any]:
    """``item`` if it is a mapping with ``shape``'s keys of the right kinds."""
    if not isinstance(item, dict):
        raise BadReply(f"{where} is {_kind_of(item)}, not a mapping")
    for key, (kind, required) in shape.items():
        value = item.get(key)
        if value is None and not required:
            continue
        if value is None:
            raise BadReply(f"{where} has no '{key}'")
        if not kind(value):
            raise BadReply(f"{where}: '{key}' is {_kind_of(value)}, not {_KIND_NAMES[kind]}")
    return item


def check_list(body: Any, shape: Shape, what: str) -> list[dict[str, Any]]:
    """``body`` if it is a list of at most :data:`MAX_ITEMS` items of ``shape``."""
    if not isinstance(body, list):
        raise BadReply(f"the list of {what} is {_kind_of(body)}, not a list")
    if len(body) > MAX_ITEMS:
        raise BadReply(f"{len(body)} {what}, more than {MAX_ITEMS}")
    return [check_item(item, shape, f"{what} item {i}") for i, item in enumerate(body)]


def check_links(body: Any) -> list[dict[str, Any]]:
    """A project's links: each with an id and a list of ends that name their node."""
    links = check_list(body, LINK, "links")
    for i, link in enumerate(links):
        ends = link.get("nodes") or []
        if not isinstance(ends, list) or len(ends) > 16:
            raise BadReply(f"links item {i}: 'nodes' is not a list of link ends")
        for end in ends:
            check_item(end, LINK_END, f"links item {i} end")
    return links


def _kind_of(value: Any) -> str:
    """How a value is described in a message (never the value itself: it may be huge)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return f"a string of {len(value)} characters"
    if isinstance(value, list):
        return f"a list of {len(value)} items"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__
