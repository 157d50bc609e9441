"""``gns3lab import`` against real archives and real GNS3 servers (2.2.61 and 3.0.6).

- A real build (qemu-img overlays, data disks, seed ISOs) -> import of its archive (images
  matched by md5 from the archive, seeds read with pycdlib) -> build: the same project.gns3.
- The rebuilt archive imports and opens in both servers, with the same nodes and links.
- A project written by each real server through its REST API (QEMU and cloud nodes, links with
  a filter, text and shape drawings), its ``.gns3`` read back with ``GET .../files``: imported,
  built, and the archive imports and opens in both servers with the same nodes and links;
  the server's own portable export of that project (``GET .../export``) imports to the same
  blueprint.
"""

from __future__ import annotations

import json
import shutil
import uuid
import zipfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from generator.build import BuildOptions, build_lab
from generator.importing import import_project
from generator.server.snapshots import SnapshotClient
from tests.helpers import REPO, make_tiny_appliance
from tests.integration.test_push_images import credentials
from tests.support.gns3server import Gns3Server
from tests.support.images import images_dir
from tests.unit.test_import_roundtrip import comparable

#: The bundled labs and the test labs (their images: the recipe builds cached for the suite).
LABS = ["blueprints/demo", "blueprints/openstack-ceph", "blueprints/openstack-ceph-mini",
        "tests/data/blueprints/builtins", "tests/data/blueprints/fabric"]

pytestmark = pytest.mark.slow

IMAGE = "tiny-import-rt.qcow2"
APPLIANCE = "Tiny Import Guest"
BLUEPRINT = f"""\
name: importrt
networks:
  lan: {{cidr: 10.30.0.0/24, gateway: 10.30.0.1}}
defaults:
  appliance: {APPLIANCE}
  ram: 96
nodes:
  gw:
    nics: 3
    mac: "52:54:00:aa:02:00"
    boot_priority: cd
    options: -nographic
    interfaces:
      eth1: {{network: lan, address: 1}}
  web[1-2]:
    cpus: 2
    seed: true
    cloud_init:
      packages: [curl]
      runcmd: ["echo hello"]
    disks: [{{size: 1G}}]
    interfaces:
      eth0: {{network: lan, address: "{{num+10}}", gateway: true}}
  uplink: {{type: cloud, ports: [eth0]}}
links:
  - uplink:eth0 -- gw:eth0
  - {{a: "web1:eth0", b: "gw:eth1", delay: 20, jitter: 5, loss: 2}}
  - web2:eth0 -- gw:eth2
  - web1:eth1 -- web2:eth1
canvas:
  drawings:
    - {{x: -300, y: -200, z: 2, svg: '<svg height="40" width="200"><text>lab</text></svg>'}}
"""


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("import-images")
    make_tiny_appliance(folder, APPLIANCE, IMAGE)
    return folder


def project_of(archive: Path) -> dict[str, Any]:
    with zipfile.ZipFile(archive) as zf:
        return json.loads(zf.read("project.gns3"))


def build(folder: Path, out: Path, images: Path) -> Path:
    return build_lab(folder, BuildOptions(out_dir=out, images_dirs=(images,))).archive


@pytest.fixture(scope="module")
def round_trip(tmp_path_factory: pytest.TempPathFactory, images: Path
               ) -> tuple[Path, Path, Any]:
    root = tmp_path_factory.mktemp("import-rt")
    (root / "bp").mkdir()
    (root / "bp" / "lab.yaml").write_text(BLUEPRINT)
    first = build(root / "bp", root / "dist1", images)
    result = import_project(first, root / "imported", images_dirs=(images,))
    again = build(root / "imported", root / "dist2", images)
    return first, again, result


def test_archive_round_trip(round_trip: tuple[Path, Path, Any]) -> None:
    """Same nodes, properties (disks, seeds, MACs, boot order, options), links (adapter, port,
    filters), positions, labels, drawings and scene."""
    first, again, result = round_trip
    assert comparable(project_of(again)) == comparable(project_of(first))
    assert any(f"appliance '{APPLIANCE}' 1 (md5)" in line for line in result.did)


def test_archive_seeds_become_cloud_init(round_trip: tuple[Path, Path, Any]) -> None:
    """The seed's user-data keys the blueprint has map, and its network-config to interfaces
    (the document is kept in notes/ too)."""
    _, _, result = round_trip
    lab = yaml.safe_load((result.folder / "lab.yaml").read_text())
    web1 = lab["nodes"]["web1"]
    assert web1["seed"] is True
    assert web1["cloud_init"]["packages"] == ["curl"]
    assert "echo hello" in web1["cloud_init"]["runcmd"]
    assert lab["nodes"]["gw"]["seed"] is False
    assert web1["interfaces"]["eth0"]["address"] == "10.30.0.11/24"
    assert (result.folder / "notes" / "web1-network-config.yaml").is_file()


@pytest.mark.parametrize("lab", LABS)
def test_bundled_archive_round_trip(lab: str, lab_image: Any, recipe_images: Any,
                                    tmp_path: Path) -> None:
    """Every bundled lab (and the test labs: the Cumulus fabric too, whose servers' bonds come
    back from their seeds' network-config), built with --no-images: build -> import of the
    archive -> build gives the same project.gns3."""
    cache = (images_dir(),)
    first = build_lab(REPO / lab, BuildOptions(out_dir=tmp_path / "d1", images_dirs=cache,
                                               no_images=True)).archive
    imported = import_project(first, tmp_path / "imported", images_dirs=cache)
    again = build_lab(imported.folder, BuildOptions(out_dir=tmp_path / "d2", images_dirs=cache,
                                                    no_images=True)).archive
    assert comparable(project_of(again)) == comparable(project_of(first))


def _by_name(items: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {item["name"]: item for item in items}


def open_and_list(server: Gns3Server, archive: Path, images: Path
                  ) -> tuple[dict[str, str], set[frozenset[tuple[str, int, int]]]]:
    """Import ``archive`` into ``server``, open it; its nodes (name -> type) and links."""
    shutil.copy(images / IMAGE, server.images_dir)
    client = server.client
    project = client.import_project(archive, name=f"imp-{uuid.uuid4().hex[:8]}")
    pid = project["project_id"]
    try:
        client.open_project(pid)
        nodes = _by_name(client.nodes(pid))
        names = {n["node_id"]: name for name, n in nodes.items()}
        links = {frozenset((names[e["node_id"]], e["adapter_number"], e["port_number"])
                           for e in link["nodes"]) for link in client.links(pid)}
        return {name: n["node_type"] for name, n in nodes.items()}, links
    finally:
        client.close_project(pid)
        client.delete_project(pid)


def project_nodes_links(project: dict[str, Any]
                        ) -> tuple[dict[str, str], set[frozenset[tuple[str, int, int]]]]:
    topo = project["topology"]
    names = {n["node_id"]: n["name"] for n in topo["nodes"]}
    links = {frozenset((names[e["node_id"]], e["adapter_number"], e["port_number"])
                       for e in link["nodes"]) for link in topo["links"]}
    return {n["name"]: n["node_type"] for n in topo["nodes"]}, links


def test_rebuilt_archive_opens_in_both_servers(round_trip: tuple[Path, Path, Any],
                                               gns3_server_22: Gns3Server,
                                               gns3_server_30: Gns3Server,
                                               images: Path) -> None:
    first, again, _ = round_trip
    want = project_nodes_links(project_of(first))
    for server in (gns3_server_22, gns3_server_30):
        assert open_and_list(server, again, images) == want, server.version


SVG_TEXT = '<svg height="30" width="120"><text font-size="12">core</text></svg>'
SVG_RECT = ('<svg height="100" width="200"><rect fill="#ffffff" height="100" stroke="#000000" '
            'width="200" /></svg>')


def make_api_project(server: Gns3Server, images: Path) -> tuple[str, dict[str, Any]]:
    """A project made the way a user's GUI makes one: REST calls for nodes, links and
    drawings. Its id and its project file as the server wrote it."""
    shutil.copy(images / IMAGE, server.images_dir)
    client = server.client
    name = f"api-{uuid.uuid4().hex[:8]}"
    pid = client.request("POST", "/projects", {"name": name})["project_id"]
    made = {}
    for i, (node, kind, props) in enumerate([
            ("R1", "qemu", {"hda_disk_image": IMAGE, "ram": 128, "cpus": 2, "adapters": 3,
                            "boot_priority": "cd", "platform": "x86_64"}),
            ("R2", "qemu", {"hda_disk_image": IMAGE, "ram": 96, "adapters": 2,
                            "platform": "x86_64"}),
            ("Cloud1", "cloud", {"ports_mapping": [{"interface": "eth0", "name": "eth0",
                                                    "port_number": 0, "type": "ethernet"}]})]):
        body = {"name": node, "node_type": kind, "compute_id": "local", "properties": props,
                "x": -200 + 200 * i, "y": 50 * i}
        made[node] = client.request("POST", f"/projects/{pid}/nodes", body)["node_id"]
    for a, pa, b, pb, filters in [("R1", 0, "R2", 0, {"delay": [15, 3]}),
                                  ("R1", 2, "R2", 1, {}), ("Cloud1", 0, "R1", 1, {})]:
        ends = [{"node_id": made[a], "adapter_number": pa if a != "Cloud1" else 0,
                 "port_number": 0 if a != "Cloud1" else pa},
                {"node_id": made[b], "adapter_number": pb, "port_number": 0}]
        link = client.request("POST", f"/projects/{pid}/links", {"nodes": ends})
        if filters:
            client.request("PUT", f"/projects/{pid}/links/{link['link_id']}",
                           {"filters": filters})
    for svg, x in ((SVG_TEXT, -400), (SVG_RECT, 300)):
        client.request("POST", f"/projects/{pid}/drawings", {"svg": svg, "x": x, "y": -150,
                                                              "z": 1})
    project = client.read_project_file(pid, f"{name}.gns3")
    if isinstance(project, str | bytes):
        project = json.loads(project)
    return pid, project


@pytest.mark.parametrize("maker", ["2.2", "3.0"])
def test_api_made_project_imports_and_opens(maker: str, gns3_server_22: Gns3Server,
                                            gns3_server_30: Gns3Server, images: Path,
                                            tmp_path: Path) -> None:
    servers = {"2.2": gns3_server_22, "3.0": gns3_server_30}
    pid, project = make_api_project(servers[maker], images)
    try:
        source = tmp_path / "api.gns3"
        source.write_text(json.dumps(project))
        result = import_project(source, tmp_path / "bp", images_dirs=(images,))
        lab = yaml.safe_load((result.folder / "lab.yaml").read_text())
        assert lab["nodes"]["r1"]["boot_priority"] == "cd"
        assert len(lab["canvas"]["drawings"]) == 2
        archive = build(result.folder, tmp_path / "dist", images)
        # GNS3's own portable export of the same project imports to the same blueprint
        exported = SnapshotClient(servers[maker].url, **credentials(servers[maker])).export_to(
            pid, tmp_path / "exported.gns3project", snapshots=False)
        from_export = import_project(exported, tmp_path / "bp-export", images_dirs=(images,))
        assert yaml.safe_load((from_export.folder / "lab.yaml").read_text()) == lab
    finally:
        servers[maker].client.close_project(pid)
        servers[maker].client.delete_project(pid)
    nodes, links = project_nodes_links(project)
    want = ({n.lower(): t for n, t in nodes.items()},
            {frozenset((n.lower(), a, p) for n, a, p in link) for link in links})
    rebuilt = project_of(archive)
    assert {d["svg"] for d in rebuilt["topology"]["drawings"]} == {SVG_TEXT, SVG_RECT}
    for server in servers.values():
        assert open_and_list(server, archive, images) == want, server.version
