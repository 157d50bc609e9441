"""Where each node of a pushed lab runs, and how to make GNS3 put it there.

GNS3's import forgets placement: on Linux without a GNS3 VM it deals the nodes out round-robin
over every compute the controller has, in the controller's order, and moves each node's files
(its overlay, seed ISO, data disks) to the compute it dealt it to (``import_project.py`` in 2.2
and 3.x; see docs/computes.md). A node moved afterwards would lose its files, so the deal itself
is arranged: the nodes are put in an order, padded with empty filler nodes, such that the
round-robin gives every node the compute the blueprint names. After the import, the fillers are
taken out of the imported project file again (before it is opened) and the deal is checked.

Pure functions; :mod:`generator.server.push` does the talking to the server.
"""

from __future__ import annotations

import json
import uuid
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from generator.archive_format import Manifest
from generator.errors import ServerError
from generator.paths import PROJECT_FILE
from generator.read.reader import SafeArchive

LOCAL = "local"
FILLER_PREFIX = "gns3lab-slot-"
#: uuid5 namespace of filler node ids (deterministic for one arrangement)
_FILLER_NS = uuid.UUID("0b6f3c1e-7d0a-4b8e-9a55-3f1c2d4e5a60")


@dataclass(frozen=True)
class Placement:
    """Each node's compute id on the controller, and the order the import cycles through."""

    cycle: tuple[str, ...]  #: the controller's compute ids, as its import deals them out
    nodes: Mapping[str, str]  #: node name -> compute id

    @property
    def arranged(self) -> bool:
        """True when the import must be arranged: the controller has more than one compute."""
        return len(self.cycle) > 1

    def computes(self) -> list[str]:
        """The compute ids the lab uses, sorted."""
        return sorted(set(self.nodes.values()))


@dataclass(frozen=True)
class CrossLink:
    """A link whose ends sit on two computes; GNS3 tunnels it over UDP between them."""

    link_id: str
    ends: tuple[str, str]  #: node names
    computes: tuple[str, str]

    def __str__(self) -> str:
        return (f"{self.ends[0]} ({self.computes[0]}) -- {self.ends[1]} ({self.computes[1]}), "
                "a UDP tunnel between the computes")


def plan_placement(project: dict[str, Any], manifest: Manifest,
                   server_computes: Sequence[dict[str, Any]]) -> Placement:
    """Map the manifest's ``placement`` (node -> blueprint compute) through its ``computes``
    (name -> {server}) onto the controller's computes; unplaced nodes stay on ``local``."""
    known = {c["compute_id"]: c for c in server_computes}
    by_name = {c.get("name"): c["compute_id"] for c in server_computes}
    placement = manifest.placement
    targets: dict[str, str] = {}
    for name in sorted(set(placement.values())):
        declared = manifest.computes.get(name)
        server = declared.server if declared and declared.server else name
        cid = server if server in known or server == LOCAL else by_name.get(server)
        if cid is None:
            listed = ", ".join(f"{c['compute_id']} ({c.get('name')})" for c in server_computes)
            raise ServerError(f"the lab places nodes on compute '{name}' (server name "
                              f"'{server}'), but the GNS3 controller has no such compute; it "
                              f"has: {listed or 'only its local compute'}",
                              hint="register the compute in GNS3 (Edit > Preferences > Server / "
                                   "POST /computes), or set computes.<name>.server in the "
                                   "blueprint to its name or id")
        if cid != LOCAL and cid in known and known[cid].get("connected") is False:
            raise ServerError(f"compute '{cid}' (for the lab's compute '{name}') is registered "
                              "but not connected to the controller",
                              hint="start gns3server on that host and check its address")
        targets[name] = cid
    nodes = {n["name"]: targets.get(placement.get(n["name"], ""), LOCAL)
             for n in project["topology"]["nodes"]}
    cycle = tuple(c["compute_id"] for c in server_computes)
    return Placement(cycle=cycle or (LOCAL,), nodes=nodes)


def arrange_for_import(project: dict[str, Any], placement: Placement) -> dict[str, Any]:
    """The project with its nodes reordered, and fillers between them, so that GNS3's
    round-robin over ``placement.cycle`` deals each node onto its compute."""
    waiting = {cid: [n for n in project["topology"]["nodes"]
                     if placement.nodes[n["name"]] == cid] for cid in placement.cycle}
    stray = set(placement.nodes.values()) - set(placement.cycle)
    if stray:
        raise ServerError(f"compute(s) {', '.join(sorted(stray))} are not in the controller's "
                          "list of computes")
    ordered: list[dict[str, Any]] = []
    slot = 0
    while any(waiting.values()):
        cid = placement.cycle[slot % len(placement.cycle)]
        if waiting[cid]:
            ordered.append(waiting[cid].pop(0))
        else:
            ordered.append(_filler(slot, cid))
        slot += 1
    topology = dict(project["topology"], nodes=ordered)
    return dict(project, topology=topology)


def _filler(slot: int, compute_id: str) -> dict[str, Any]:
    """An empty node that only takes a turn of the round-robin; it has no files and is removed
    before the project is opened."""
    return {"node_id": str(uuid.uuid5(_FILLER_NS, f"{slot}")), "name": f"{FILLER_PREFIX}{slot}",
            "node_type": "vpcs", "compute_id": compute_id, "console": None,
            "console_type": "none", "properties": {}, "x": 0, "y": 0, "z": 1}


def settle_imported(topology_file: dict[str, Any], placement: Placement) -> dict[str, Any]:
    """The imported project file without its fillers; raises ServerError if GNS3 dealt a node
    onto another compute than planned (e.g. it sent every QEMU node to a GNS3 VM)."""
    nodes = topology_file["topology"]["nodes"]
    wrong = [f"{n['name']} went to '{n['compute_id']}', not '{placement.nodes[n['name']]}'"
             for n in nodes if n["name"] in placement.nodes
             and n["compute_id"] != placement.nodes[n["name"]]]
    if wrong:
        raise ServerError("GNS3 did not place the nodes as planned: " + "; ".join(wrong),
                          hint="the controller's import deals nodes out differently here "
                               "(a GNS3 VM takes every QEMU node); see docs/computes.md")
    kept = [n for n in nodes if not str(n["name"]).startswith(FILLER_PREFIX)]
    return dict(topology_file, topology=dict(topology_file["topology"], nodes=kept))


def repack(archive: Path, project: dict[str, Any], target: Path) -> Path:
    """A copy of ``archive`` with another ``project.gns3``; every other member is copied as it
    is, stored (the copy is a temporary upload, not worth compressing). Read through the safe
    reader, streamed: a member is copied as the size its header declares, never more."""
    with SafeArchive(archive) as src, zipfile.ZipFile(target, "w", allowZip64=True) as dst:
        dst.writestr(PROJECT_FILE, json.dumps(project, indent=4, sort_keys=True))
        for info in src.infos.values():
            if info.filename == PROJECT_FILE:
                continue
            copy = zipfile.ZipInfo(info.filename, date_time=info.date_time)
            copy.external_attr, copy.compress_type = info.external_attr, zipfile.ZIP_STORED
            copy.file_size = info.file_size
            with dst.open(copy, "w") as fout:
                for chunk in src.chunks(info.filename):
                    fout.write(chunk)
    return target


def cross_links(nodes: Sequence[dict[str, Any]], links: Sequence[dict[str, Any]]
                ) -> list[CrossLink]:
    """The links of an opened project whose two ends run on different computes."""
    by_id = {n["node_id"]: n for n in nodes}
    out = []
    for link in links:
        ends = [by_id.get(e["node_id"]) for e in link.get("nodes", [])]
        if len(ends) != 2 or None in ends:
            continue
        a, b = ends
        assert a is not None and b is not None
        where = (a.get("compute_id") or LOCAL, b.get("compute_id") or LOCAL)
        if where[0] != where[1]:
            out.append(CrossLink(link["link_id"], (a["name"], b["name"]), where))
    return sorted(out, key=lambda c: c.ends)
