"""Real GNS3 2.2.61 and 3.0.6 import, open and start what gns3lab builds.

The blueprint uses QEMU and ``cloud`` nodes only: ``ethernet_switch`` needs dynamips and
``nat`` needs libvirt's virbr0 to open, neither of which exists here. The base image is a small
blank qcow2 made with qemu-img; nothing boots, but GNS3 creates every node, rebases every
overlay on start, and reports what it made of the project.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
import zipfile
from pathlib import Path

import pytest

from generator import tools
from generator.build import BuildOptions, build_lab
from tests.helpers import make_tiny_appliance
from tests.support.gns3client import stop_node

pytestmark = pytest.mark.slow

BLUEPRINT = """\
name: importcheck
networks:
  lan: {cidr: 10.20.0.0/24, gateway: 10.20.0.1}
defaults:
  appliance: Tiny Cloud Guest
  ram: 96
nodes:
  gw:
    nics: 3
    mac: "52:54:00:aa:01:00"
    interfaces:
      eth1: {network: lan, address: 1}
  web[1-2]:
    cpus: 2
    disks: [{size: 1G}]
    interfaces:
      eth0: {network: lan, address: "{num+10}", gateway: true}
  uplink: {type: cloud, ports: [eth0]}
links:
  - uplink:eth0 -- gw:eth0
  - each: [web1, web2]
    links: ["{node}:eth0 -- gw:eth{n}"]
  - web1:eth1 -- web2:eth1
"""


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    root = tmp_path_factory.mktemp("importcheck")
    images = root / "images"
    make_tiny_appliance(images, "Tiny Cloud Guest", "tiny-cloud-import.qcow2")
    (root / "bp").mkdir()
    (root / "bp" / "lab.yaml").write_text(BLUEPRINT)
    return build_lab(root / "bp", BuildOptions(out_dir=root / "dist", images_dirs=(images,))), \
        images


def stored_name(images: Path) -> str:
    """The name the archive bundles the base by: ``<stem>.<sha256[:12]>.<ext>``."""
    digest = hashlib.sha256((images / "tiny-cloud-import.qcow2").read_bytes()).hexdigest()
    return f"tiny-cloud-import.{digest[:12]}.qcow2"


def _by_name(items: list[dict]) -> dict[str, dict]:
    return {item["name"]: item for item in items}


def test_import_open_and_compare(gns3_server, built) -> None:  # type: ignore[no-untyped-def]
    result, images = built
    lab = result.lab
    shutil.copy(images / "tiny-cloud-import.qcow2", gns3_server.images_dir)
    client = gns3_server.client
    project = client.import_project(result.archive, name=f"importcheck-{gns3_server.version}")
    pid = project["project_id"]
    try:
        client.open_project(pid)
        nodes = _by_name(client.nodes(pid))
        assert set(nodes) == {n.name for n in lab.nodes}
        for node in lab.nodes:
            got = nodes[node.name]
            assert got["node_type"] == node.type
            if node.type != "qemu":
                continue
            props = got["properties"]
            assert props["ram"] == node.ram
            assert props["cpus"] == node.cpus
            assert props["adapters"] == node.adapters
            assert props["mac_address"] == node.nics[0].mac
            assert props["hda_disk_image"] == stored_name(images)
            assert props["hda_disk_interface"] == "virtio"
            assert props["adapter_type"] == "virtio-net-pci"
            assert Path(props["cdrom_image"]).name == node.seed_name
            for disk in node.data_disks:
                assert Path(props[f"{disk.slot}_disk_image"]).name == disk.filename
                assert props[f"{disk.slot}_disk_interface"] == disk.interface
            ports = [p["name"] for p in got["ports"]]
            assert ports == [nic.name for nic in node.nics]
        assert nodes["gw"]["properties"]["mac_address"] == "52:54:00:aa:01:00"
        check_links(client.links(pid), nodes, lab)
        check_rebase_on_start(gns3_server, pid, nodes, lab)
    finally:
        client.stop_all(pid)
        client.close_project(pid)
        client.delete_project(pid)


def check_links(links: list[dict], nodes: dict[str, dict], lab) -> None:  # type: ignore[no-untyped-def]
    names = {n["node_id"]: name for name, n in nodes.items()}
    got = {frozenset((names[e["node_id"]], e["adapter_number"], e["port_number"])
                     for e in link["nodes"]) for link in links}
    want = {frozenset({(link.a.node, link.a.adapter, link.a.port),
                       (link.b.node, link.b.adapter, link.b.port)}) for link in lab.links}
    assert got == want


def check_rebase_on_start(server, pid: str, nodes: dict[str, dict], lab) -> None:  # type: ignore[no-untyped-def]
    """Starting a node makes GNS3 rebase our overlay onto its own copy of the base image."""
    node = nodes["web2"]
    folder = server.projects_dir / pid / "project-files" / "qemu" / node["node_id"]
    overlay = folder / "hda_disk.qcow2"
    stored = lab.vms[0].image.filename  # the bundled image's content name
    assert tools.image_info(overlay)["backing-filename"] == stored
    server.client.start_node(pid, node["node_id"])
    deadline = time.monotonic() + 60
    while server.client.node(pid, node["node_id"])["status"] != "started":
        assert time.monotonic() < deadline, "node did not start"
        time.sleep(0.5)
    started = server.client.node(pid, node["node_id"])
    assert "-enable-kvm" not in (started.get("command_line") or "")
    info = tools.image_info(overlay)
    assert info["backing-filename"] == str(server.images_dir / stored)
    stop_node(server.client, pid, node["node_id"])


def test_archive_is_plain_deflate_zip(built) -> None:  # type: ignore[no-untyped-def]
    result, _ = built
    with zipfile.ZipFile(result.archive) as zf:
        assert zf.testzip() is None
        assert json.loads(zf.read("project.gns3"))["revision"] == 9
