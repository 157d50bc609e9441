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
from generator.render.seeds import render_seed
from tests.golden.test_render_golden import BLUEPRINTS, REPO, images  # noqa: F401 (fixture)

MUTABLE = (dict, list, set, bytearray)


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


#: Raw cloud-init data in two layers (group, then node): argv commands, nested ``user_data``
#: mappings and lists, a raw key over a generated one. No bundled blueprint has ``user_data``.
RAW_CLOUD_INIT = """\
name: rawci
groups:
  g:
    cloud_init:
      bootcmd: [echo first, [sh, -c, echo argv]]
      user_data:
        zeta: {b: [1, {c: x}], a: true}
        apt: {preserve_sources_list: true}
        hostname: ignored-by-the-node
nodes:
  n1:
    appliance: Ubuntu Cloud Guest
    group: g
    cloud_init:
      runcmd: [[touch, /tmp/x], echo done]
      user_data:
        apt: {conf: "x"}
        hostname: raw-wins
        power_state: {mode: reboot, delay: now}
"""

#: The user-data these layers gave when the model held them as plain lists and dicts: raw keys
#: merged last in sorted order, nested mappings in written order, argv entries as lists.
RAW_USER_DATA = """\
#cloud-config
hostname: raw-wins
fqdn: n1.lab.internal
prefer_fqdn_over_hostname: false
manage_etc_hosts: true
users:
- name: lab
  shell: /bin/bash
  lock_passwd: true
  sudo: ALL=(ALL) NOPASSWD:ALL
ssh_pwauth: false
bootcmd:
- echo first
- - sh
  - -c
  - echo argv
runcmd:
- - touch
  - /tmp/x
- echo done
apt:
  conf: x
power_state:
  mode: reboot
  delay: now
zeta:
  b:
  - 1
  - c: x
  a: true
"""


def test_raw_cloud_init_is_frozen_and_renders_as_written(tmp_path: Path) -> None:
    """``bootcmd``/``runcmd``/``user_data`` are frozen at resolve and thawed by the seed
    renderer: the model holds no list or dict, and the user-data bytes are unchanged."""
    (tmp_path / "lab.yaml").write_text(RAW_CLOUD_INIT)
    lab = load_lab(tmp_path / "lab.yaml")
    assert list(mutable_values(lab, "lab", set())) == []
    node = lab.nodes[0]
    hash(node.cloud_init)
    assert render_seed(node, lab, None)["user-data"].decode() == RAW_USER_DATA
