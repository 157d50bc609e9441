"""Pydantic's validation errors -> Problems a person can act on: a line, a message, a fix.

One value that fails every member of a union yields one error per member; only the telling one
is kept. Union member names are dropped from paths, unknown keys get a 'did you mean' hint from
the keys allowed there, and a pattern mismatch says what the pattern means.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError

from generator.blueprint import schema
from generator.blueprint.schema import (
    DOMAIN_RE,
    IFACE_RE,
    LINE_RE,
    MODE_RE,
    NAME_RE,
    POOL_RE,
    STAGE_RE,
    USER_RE,
    VERSION_RE,
    WORD_RE,
    Blueprint,
)
from generator.blueprint.source import Source, closest
from generator.errors import Problem


def validation_problems(source: Source, exc: ValidationError,
                        root: type[BaseModel] = Blueprint) -> list[Problem]:
    """Every problem of a failed validation of a ``root`` record (a blueprint, or an image
    recipe), once each, by line."""
    problems: dict[str, Problem] = {}
    errors = [dict(e) for e in exc.errors()]
    # A value that fails every member of a union gets one error per member; keep the
    # telling one (a bound, a pattern) over "should be 'auto'" or "should be a string".
    telling = {_place(e) for e in errors if e["type"] not in VAGUE}
    for err in errors:
        if err["type"] in VAGUE and _place(err) in telling:
            continue
        p = _problem_from(source, err, root)
        problems.setdefault(p.render(), p)
    return sorted(problems.values(), key=lambda p: p.line or 0)


VAGUE = {"literal_error", "string_type", "int_type", "bool_type", "list_type", "dict_type",
         "model_type", "model_attributes_type", "float_type"}


def _place(err: dict[str, Any]) -> tuple:
    """An error's location without pydantic's union member names."""
    loc = err["loc"]
    return tuple(p for i, p in enumerate(loc)
                 if not (_is_union_tag(p) and (i == 0 or loc[i - 1] not in FREE_KEYS)))


def _problem_from(source: Source, err: dict[str, Any], root: type[BaseModel] = Blueprint
                  ) -> Problem:
    """Turn one pydantic error into a Problem with a line and a fix."""
    loc = _place(err)
    kind, msg = err["type"], err["msg"]
    if "[key]" in loc and kind == "string_type":
        key = loc[loc.index("[key]") - 1]
        return source.problem(loc[:loc.index("[key]") - 1], f"name {key!r} is not text",
                              f"quote it: '{key}'")
    if kind == "extra_forbidden":
        key = loc[-1]
        allowed = _allowed_keys(loc[:-1], root)
        fix = f"remove it; {closest(str(key), allowed)}" if allowed else "remove it"
        return source.problem(loc, f"unknown key '{key}'", fix)
    if kind == "missing":
        return source.problem(loc, f"missing required key '{loc[-1]}'", f"add '{loc[-1]}:'")
    if kind == "string_pattern_mismatch" and loc == ("name",):
        return source.problem(loc, "lab name must be a lowercase hostname ([a-z0-9-])",
                              "e.g. name: my-lab")
    if kind == "string_pattern_mismatch":
        what, how = PATTERN_HELP.get(err.get("ctx", {}).get("pattern", ""),
                                     ("has a character or form not allowed here", None))
        loc = tuple(p for p in loc if p != "[key]")
        return source.problem(loc, f"{_shown(err.get('input'))} {what}", how)
    bounds = {"greater_than_equal": ("ge", "at least"), "less_than_equal": ("le", "at most"),
              "greater_than": ("gt", "more than"), "less_than": ("lt", "less than")}
    if kind in bounds:
        key, words = bounds[kind]
        limit = err["ctx"][key]
        return source.problem(loc, f"{_shown(err.get('input'))} is out of range",
                              f"use a number {words} {limit}")
    if kind == "too_long":
        limit = err["ctx"].get("max_length")
        count = _count(err)
        return source.problem(loc, f"{count} entries, more than the {limit} allowed"
                              if count is not None else f"more entries than the {limit} "
                              "allowed", f"use at most {limit}")
    if kind == "string_too_long":
        return source.problem(loc, f"text of {len(str(err.get('input', '')))} characters is "
                              "too long", f"keep it under {err['ctx']['max_length']} characters")
    loc = tuple(p for p in loc if p != "[key]" and not str(p).startswith("constrained-"))
    return source.problem(loc, msg[0].lower() + msg[1:], TYPE_FIXES.get(kind))


#: How to fix a value of the wrong type, by pydantic error kind.
TYPE_FIXES = {
    "int_type": "write a whole number", "int_parsing": "write a whole number",
    "float_type": "write a number", "bool_type": "write true or false",
    "string_type": "write text (quote it if YAML reads it as something else)",
    "list_type": "write a list, e.g. [a, b]", "dict_type": "write a mapping, e.g. {key: value}",
    "model_type": "write a mapping of the keys this place takes",
    "model_attributes_type": "write a mapping of the keys this place takes",
    "literal_error": "use one of the values listed", "union_tag_invalid": "check the form",
    "value_error": "fix the value", "int_from_float": "write a whole number",
}


def _count(err: Any) -> int | None:
    """How many entries a too-long value has: pydantic leaves ``actual_length`` out for a
    mapping (it stops counting at the limit), so count the input itself."""
    actual = err.get("ctx", {}).get("actual_length")
    if actual is None and hasattr(err.get("input"), "__len__"):
        actual = len(err["input"])
    return actual


def _shown(value: Any) -> str:
    """A value for a message: quoted, control characters escaped, cut when long."""
    text = repr(str(value))[1:-1]
    return f"'{text[:60]}{'...' if len(text) > 60 else ''}'"


#: What a pattern means, for messages: (what is wrong, how to fix it).
PATTERN_HELP = {
    NAME_RE: ("is not a hostname", "use lowercase letters, digits and '-' (RFC 1123)"),
    DOMAIN_RE: ("is not a DNS domain", "use dot-separated lowercase labels, e.g. lab.example"),
    IFACE_RE: ("is not an interface name", "use 1-15 of A-Z a-z 0-9 _ . -"),
    WORD_RE: ("is not a plain name", "use lowercase letters, digits, '_' and '-'"),
    USER_RE: ("is not a user name", "use lowercase letters, digits, '_' and '-' (32 at most)"),
    STAGE_RE: ("is not one word", "use letters, digits, '-', '_' or '.'"),
    VERSION_RE: ("is not a version", "use letters, digits and . _ + - (e.g. 1.4.0)"),
    LINE_RE: ("spans several lines", "write it on one line"),
    MODE_RE: ("is not an octal file mode", "write it quoted, e.g. '0644' or '0755'"),
    POOL_RE: ("is not a range of host numbers", "write first-last, e.g. 100-199"),
}


def _is_union_tag(part: Any) -> bool:
    """Pydantic puts union member names (``str``, ``LinkSpec``…) into error locations."""
    if not isinstance(part, str):
        return False
    model = vars(schema).get(part)  # a record of the schema, not a user's key such as 'Web1'
    return (isinstance(model, type) and issubclass(model, BaseModel)) or part in UNION_TAGS \
        or part.startswith(("literal[", "list[", "dict[", "constrained-", "function-"))


UNION_TAGS = {"str", "int", "float", "bool", "text", "spec", "each"}
#: Mappings whose keys are the user's names (a node called "each" is not a union tag).
FREE_KEYS = {"nodes", "groups", "networks", "interfaces", "vlans", "extra"}


def _allowed_keys(loc: tuple, root: type[BaseModel] = Blueprint) -> set[str]:
    """The keys allowed at a location (as written: a field's alias), for 'did you mean'
    hints."""
    annotation: Any = root
    for part in loc:
        annotation = _step(annotation, part)
        if annotation is None:
            return set()
    model = _pick(annotation, lambda a: isinstance(a, type) and issubclass(a, BaseModel))
    return {f.alias or name for name, f in model.model_fields.items()} if model is not None \
        else set()


def _pick(annotation: Any, test: Any) -> Any:
    """The first member of a (possibly union) annotation that passes ``test``."""
    if test(annotation):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        if getattr(arg, "__origin__", None) is None and test(arg):
            return arg
        if test(arg):
            return arg
    return None


def _step(annotation: Any, part: Any) -> Any:
    """The annotation one path part below ``annotation``."""
    if isinstance(part, int):
        seq = _pick(annotation, lambda a: getattr(a, "__origin__", None) is list)
        return seq.__args__[0] if seq is not None else None
    model = _pick(annotation, lambda a: isinstance(a, type) and issubclass(a, BaseModel))
    if model is not None and part in model.model_fields:
        return model.model_fields[part].annotation
    mapping = _pick(annotation, lambda a: getattr(a, "__origin__", None) is dict)
    return mapping.__args__[1] if mapping is not None else None
