"""The resolved model is frozen all the way down: no field of any record holds a mutable
container (dict, list, set), so no stage after resolve can edit what resolve decided, and the
raw blueprint (``extra:``) is not carried as such; each add-on's settings are a typed record.

Every bundled blueprint is resolved (pure: the stand-in debian-12 of the render goldens)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from generator.build import load_lab
from generator.model import FrozenMap, Lab
from tests.golden.test_render_golden import BLUEPRINTS, REPO, images  # noqa: F401 (fixture)

MUTABLE = (dict, list, set, bytearray)
#: Raw cloud-init values the blueprint passes through to the seed as written (a ``runcmd``
#: entry may be an argv list, ``user_data`` any YAML): render/seeds.py merges them as plain
#: data. Left for a later change (freeze here, thaw in the seed renderer); nothing else may.
RAW_PASSTHROUGH = frozenset({".cloud_init.bootcmd", ".cloud_init.runcmd", ".cloud_init.user_data"})


def mutable_values(value: Any, path: str, seen: set[int]) -> Iterator[str]:
    """The paths of every mutable container reachable from ``value`` through record fields,
    tuples and frozen mappings."""
    if isinstance(value, MUTABLE):
        yield f"{path}: {type(value).__name__}"
        return
    if id(value) in seen or isinstance(value, (str, bytes, int, float, Path)) or value is None:
        return
    seen.add(id(value))
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        for f in dataclasses.fields(value):
            if any(f"{path}.{f.name}".endswith(raw) for raw in RAW_PASSTHROUGH):
                continue
            yield from mutable_values(getattr(value, f.name), f"{path}.{f.name}", seen)
    elif isinstance(value, BaseModel):
        for name in type(value).model_fields:
            yield from mutable_values(getattr(value, name), f"{path}.{name}", seen)
    elif isinstance(value, tuple):
        for i, item in enumerate(value):
            yield from mutable_values(item, f"{path}[{i}]", seen)
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from mutable_values(item, f"{path}[{key!r}]", seen)


def test_the_lab_has_no_raw_extra_field() -> None:
    """``Lab.extra`` (the blueprint's dict) is gone: add-ons read their plan's record."""
    assert "extra" not in {f.name for f in dataclasses.fields(Lab)}


@pytest.mark.parametrize("blueprint", BLUEPRINTS)
def test_the_model_holds_no_mutable_container(blueprint: str, images: Path) -> None:  # noqa: F811
    lab = load_lab(REPO / "blueprints" / blueprint, (images,))
    assert list(mutable_values(lab, "lab", set())) == []
    hash(lab.extra_vars)  # frozen all the way down, so hashable
    hash(lab.addons)


def test_frozen_map_freezes_and_thaws_json_like_data() -> None:
    data = {"a": [1, {"b": ["c"]}], "d": {"e": None}, "f": "g"}
    frozen = FrozenMap.of(data)
    assert frozen.thaw() == data and list(frozen) == ["a", "d", "f"]
    assert frozen["a"] == (1, FrozenMap.of({"b": ["c"]}))
    assert not any(mutable_values(frozen, "x", set()))
    with pytest.raises(TypeError):
        frozen["a"] = 1  # type: ignore[index]
