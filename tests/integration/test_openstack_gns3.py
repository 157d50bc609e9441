"""The reference lab's archive in the real GNS3 2.2.61 and 3.0.6 servers.

Built with ``--no-images`` (the Cumulus VX and Ubuntu images cannot be downloaded here), the
archive is imported into each server, which validates the project and rewrites it under its
own ids. The project the server stored must hold the 15 QEMU nodes of SEED-LAB.md with their
NIC counts and RAM, the NAT and cloud nodes, and the 63 links at the right adapters. (Opening
would need the base images, libvirt's virbr0 for the NAT node and dynamips for switches.)
"""

from __future__ import annotations

import json
import re

import pytest

from generator.build import BuildOptions, BuildResult, build_lab
from generator.errors import ServerError
from tests.unit.test_openstack_blueprint import BLUEPRINT, LINKS, NODES

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> BuildResult:
    return build_lab(BLUEPRINT, BuildOptions(out_dir=tmp_path_factory.mktemp("dist"),
                                             no_images=True))


def adapter_of(port: str) -> int:
    """Adapter number of a port name: Cumulus eth0/swpN and Ubuntu ethN are adapter N."""
    return int(re.search(r"(\d+)$", port).group(1))  # type: ignore[union-attr]


def expected_links() -> set[frozenset[tuple[str, int, int]]]:
    out = set()
    words = LINKS.split()
    for a, b in zip(words[::2], words[1::2], strict=True):
        ends = []
        for end in (a, b):
            node, port = end.split(":")
            if node in ("cloud1", "nat1"):
                ends.append((node, 0, 0))  # built-ins: adapter 0, their first (only) port
            else:
                ends.append((node, adapter_of(port), 0))
        out.add(frozenset(ends))
    return out


def test_reference_lab_imports(gns3_server, built: BuildResult) -> None:  # type: ignore[no-untyped-def]
    client = gns3_server.client
    project = client.import_project(built.archive, name=f"osa-{gns3_server.version}")
    pid = project["project_id"]
    try:
        stored = next((gns3_server.projects_dir / pid).glob("*.gns3"))
        topo = json.loads(stored.read_text())["topology"]
        nodes = {n["name"]: n for n in topo["nodes"]}
        qemu = {name for name, n in nodes.items() if n["node_type"] == "qemu"}
        assert qemu == set(NODES) and len(qemu) == 15
        assert nodes["nat1"]["node_type"] == "nat" and nodes["cloud1"]["node_type"] == "cloud"
        for name, (image, ram, nics, _role) in NODES.items():
            props = nodes[name]["properties"]
            assert (props["hda_disk_image"], props["ram"], props["adapters"]) == \
                (image, ram, nics), name
        names = {n["node_id"]: name for name, n in nodes.items()}
        got = {frozenset((names[e["node_id"]], e["adapter_number"], e["port_number"])
                         for e in link["nodes"]) for link in topo["links"]}
        assert len(topo["links"]) == 63
        assert got == expected_links()
    finally:
        try:
            client.delete_project(pid)
        except ServerError:
            pass  # 2.2 opens a project to delete it, and this one cannot open here (no images)
