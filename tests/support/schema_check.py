"""Validate a project file with a real GNS3 server's own schemas (run by that server's python).

Usage: ``<server venv>/bin/python schema_check.py < project.gns3``. Prints ``ok`` or one
problem per line and exits 1. For 2.2: the topology JSON schema (draft 4,
additionalProperties false everywhere) and each node's properties against the compute's create
schema, as the controller sends them on open. For 3.0: the pydantic Topology model and the
compute create models.
"""

from __future__ import annotations

import json
import sys

import gns3server


def node_payload(node: dict) -> dict:
    """What the controller sends to the compute to create the node (the parts we write)."""
    payload = {k: v for k, v in node.get("properties", {}).items()
               if v is not None and v != {}}
    payload["name"] = node["name"]
    payload["node_id"] = node["node_id"]
    if node["node_type"] == "qemu" and node.get("console_type"):
        payload["console_type"] = node["console_type"]
    return payload


def check_22(project: dict) -> list[str]:
    import jsonschema
    from gns3server.schemas import cloud, ethernet_switch, qemu, topology

    problems = [f"topology: {e.message}" for e in
                jsonschema.Draft4Validator(topology.TOPOLOGY_SCHEMA).iter_errors(project)]
    schemas = {"qemu": qemu.QEMU_CREATE_SCHEMA, "cloud": cloud.CLOUD_CREATE_SCHEMA,
               "ethernet_switch": ethernet_switch.ETHERNET_SWITCH_CREATE_SCHEMA}
    for node in project["topology"]["nodes"]:
        schema = schemas.get(node["node_type"])
        if schema is not None:
            problems += [f"{node['name']}: {e.message}" for e in
                         jsonschema.Draft4Validator(schema).iter_errors(node_payload(node))]
    return problems


def check_30(project: dict) -> list[str]:
    from gns3server.schemas.compute import cloud_nodes, ethernet_switch_nodes, nat_nodes, qemu_nodes
    from gns3server.schemas.controller.topology import Topology
    from pydantic import ValidationError

    problems = []
    models = {"qemu": qemu_nodes.QemuCreate, "cloud": cloud_nodes.CloudCreate,
              "nat": nat_nodes.NATCreate,
              "ethernet_switch": ethernet_switch_nodes.EthernetSwitchCreate}
    try:
        Topology.model_validate(project)
    except ValidationError as exc:
        problems.append(f"topology: {exc}")
    for node in project["topology"]["nodes"]:
        try:
            models[node["node_type"]].model_validate(node_payload(node))
        except ValidationError as exc:
            problems.append(f"{node['name']}: {exc}")
    return problems


def main() -> int:
    project = json.load(sys.stdin)
    major = gns3server.__version__.split(".")[0]
    problems = check_22(project) if major == "2" else check_30(project)
    print("\n".join(problems) or "ok")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
