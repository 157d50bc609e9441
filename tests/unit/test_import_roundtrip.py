"""``gns3lab import`` round trip: blueprint -> project.gns3 -> import -> blueprint -> the same
project.gns3 (nodes and their properties, links at the same adapter and port with their
filters, positions, labels, drawings and the scene; ids may differ). Over every bundled
blueprint and the fuzzed blueprints test_fuzz generates (those that are good labs)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from generator.build import load_lab
from generator.errors import GeneratorError
from generator.importing import import_project
from generator.read.schemas import check_project
from generator.render.project import dump_project, render_project
from tests.unit import test_fuzz
from tests.unit.test_fuzz import SEED_DATA, VALUES, fuzz, mutate, paths

sandbox = test_fuzz.sandbox  # the fuzz tests' fixture: copies of the seeds, an empty HOME

#: Labs whose project file says all a blueprint needs; FABRIC: labs with the fabric add-on,
#: which may also need their servers' bonds (only the seeds hold them).
ROUND_TRIP = ["demo", "openstack-ceph-mini", "tests/builtins"]
FABRIC = ["openstack-ceph", "tests/fabric"]


@st.composite
def mutants(draw: st.DrawFn) -> tuple[str, Any]:
    """test_fuzz's mutants, of the labs that round-trip."""
    name = draw(st.sampled_from(ROUND_TRIP))
    data = yaml.safe_load(yaml.safe_dump(SEED_DATA[name]))
    for _ in range(draw(st.integers(1, 3))):
        where = draw(st.sampled_from(paths(data)))
        op = draw(st.sampled_from(["drop", "rename", "replace", "replace", "list", "nest"]))
        data = mutate(data, where, op, draw(VALUES))
    return name, data


def comparable(project: dict[str, Any]) -> dict[str, Any]:
    """The project with ids replaced by node names (ids derive from the lab's name)."""
    topo = project["topology"]
    names = {n["node_id"]: n["name"] for n in topo["nodes"]}
    nodes = [{k: v for k, v in n.items() if k != "node_id"} for n in topo["nodes"]]
    links = [{"filters": lk["filters"], "nodes": [
        {**{k: v for k, v in end.items() if k != "node_id"}, "node": names[end["node_id"]]}
        for end in lk["nodes"]]} for lk in topo["links"]]
    drawings = [{k: v for k, v in d.items() if k != "drawing_id"} for d in topo["drawings"]]
    rest = {k: v for k, v in project.items() if k not in ("topology", "project_id")}
    return {"nodes": nodes, "links": links, "drawings": drawings, **rest}


def round_trip(folder: Path, blueprint: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the first project, the project rebuilt from its import), both comparable."""
    first = render_project(load_lab(blueprint))
    gns3 = folder / "project.gns3"
    gns3.write_bytes(dump_project(first))
    out = folder / "imported"
    import_project(gns3, out)
    again = render_project(load_lab(out))
    return comparable(first), comparable(again)


@pytest.mark.parametrize("name", ROUND_TRIP)
def test_bundled_blueprints_round_trip(sandbox: Path, tmp_path: Path, name: str) -> None:
    path = sandbox / name / "roundtrip.yaml"
    path.write_text(yaml.safe_dump(SEED_DATA[name], sort_keys=False))
    first, again = round_trip(tmp_path, path)
    assert again == first
    assert first["drawings"] and first["nodes"]  # the title and legend became drawings


@pytest.mark.parametrize("name", FABRIC)
def test_fabric_labs_round_trip_or_need_their_bonds(sandbox: Path, tmp_path: Path,
                                                    name: str) -> None:
    """A project file holds no guest interfaces: where the fabric add-on requires the servers'
    bonds (Cumulus switches), the import stops with one clear error per link and writes
    nothing; otherwise the lab round-trips."""
    path = sandbox / name / "roundtrip.yaml"
    path.write_text(yaml.safe_dump(SEED_DATA[name], sort_keys=False))
    try:
        first, again = round_trip(tmp_path, path)
    except GeneratorError as err:
        assert all("is not in a bond" in line for line in err.lines()), err.lines()
        assert [p.name for p in tmp_path.iterdir()] == ["project.gns3"]
        return
    assert again == first


@pytest.mark.timeout(300)
@fuzz(40)
@given(mutants())
def test_fuzzed_blueprints_round_trip(sandbox: Path, tmp_path_factory: pytest.TempPathFactory,
                                      mutant: tuple[str, Any]) -> None:
    """Every mutant that is a good lab round-trips as the bundled ones do."""
    name, data = mutant
    path = sandbox / name / "fuzz-roundtrip.yaml"
    try:
        path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False),
                        encoding="utf-8", errors="surrogatepass")
        load_lab(path)
    except (GeneratorError, yaml.YAMLError, ValueError, OverflowError):
        return  # not a lab: test_fuzz checks those end in one clear error
    first, again = round_trip(tmp_path_factory.mktemp("rt"), path)
    assert again == first


PINNED = """\
name: pinned
version: 2.0.1
nodes:
  r1:
    appliance: Debian
    position: {x: -150, y: 40}
    label: {x: -10, y: 60}
    boot_priority: dn
    options: -cpu host
    console: vnc
    nics: 3
    custom_adapters:
      - {adapter: 1, adapter_type: e1000, mac: "0c:aa:bb:cc:dd:01"}
      - {adapter: 2, mac: "0C:AA:BB:CC:DD:02"}
    disks: [{size: 2G, interface: ide}]
  sw:
    type: ethernet_switch
    vlans: {p1: 10, p2: 20, up: trunk}
  out: {type: nat}
links:
  - {a: "r1:ens4", b: "sw:p1", loss: 1.5, corrupt: 0.5}
  - r1:ens5 -- sw:p2
  - sw:up -- out:nat0
canvas:
  notes: false
  scene: {width: 3000, height: 1600}
  drawings:
    - x: 10
      y: -300
      z: 0
      rotation: 45
      svg: '<svg height="80" width="80"><ellipse cx="40" cy="40" rx="40" ry="40" /></svg>'
"""


def test_every_pinned_setting_round_trips(sandbox: Path, tmp_path: Path) -> None:
    """The blueprint additions an import writes (positions, name labels, boot priority, custom
    adapters, canvas notes, scene and drawings) and the built-ins round-trip exactly."""
    path = tmp_path / "pinned.yaml"
    path.write_text(PINNED)
    first, again = round_trip(tmp_path, path)
    assert again == first
    r1 = next(n for n in first["nodes"] if n["name"] == "r1")
    assert r1["custom_adapters"] == [
        {"adapter_number": 1, "adapter_type": "e1000", "mac_address": "0c:aa:bb:cc:dd:01"},
        {"adapter_number": 2, "mac_address": "0c:aa:bb:cc:dd:02"}]
    assert (r1["x"], r1["y"], r1["label"]["x"], r1["label"]["y"]) == (-150, 40, -10, 60)
    assert r1["properties"]["boot_priority"] == "dn"
    assert (first["scene_width"], first["scene_height"]) == (3000, 1600)
    assert [d["rotation"] for d in first["drawings"]] == [45]
    assert first["name"] == "pinned-2.0.1"


def test_pinned_project_passes_both_servers_schemas(tmp_path: Path) -> None:
    """What the additions render (custom adapters, drawings, boot priority) is what GNS3 2.2.61
    and 3.0.6 accept: their own topology and node schemas (``verify`` checks the same)."""
    path = tmp_path / "pinned.yaml"
    path.write_text(PINNED)
    project = json.loads(dump_project(render_project(load_lab(path))))
    assert check_project(project) == []
