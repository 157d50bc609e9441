"""The fabric add-on's management port is the model's adapter 0, by the name resolution gave it.

The port name format is the resolver's input; the fabric must not derive names from it again:
``swp{port1}`` without a first port name makes adapter 0 ``swp1`` (GNS3's numbering), and a
node whose format fields say something else than its NICs still has the NICs' names."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from generator.addons.fabric import fabric_data
from generator.blueprint.appliances import REPO_APPLIANCES
from generator.build import load_lab
from generator.model import Lab

BLUEPRINT = """\
name: mgmt-port
domain: lab.internal
defaults: {appliance: Cumulus VX bare}
networks:
  oob: {cidr: 192.168.50.0/24}
nodes:
  leaf[1-2]:
    role: leaf
    interfaces:
      swp1: {network: oob, address: "{num+10}"}
  oobsw:
    role: oob
    interfaces:
      swp1: {network: oob, address: 2}
links:
  - "leaf1:swp1 -- oobsw:swp2"
  - "leaf2:swp1 -- oobsw:swp3"
  - "leaf1:swp2 -- leaf2:swp2"
  - "leaf1:swp3 -- leaf2:swp3"
"""


def bare_cumulus_lab(tmp_path: Path) -> Lab:
    """A CLAG pair and an OOB switch from a Cumulus appliance without a first port name."""
    folder = tmp_path / "bp"
    (folder / "appliances").mkdir(parents=True)
    appliance = json.loads((REPO_APPLIANCES / "cumulus-vx.gns3a").read_text())
    del appliance["first_port_name"]
    appliance.update(name="Cumulus VX bare", product_name="Cumulus VX bare",
                     appliance_id="1f0b5a57-3c1e-4d1b-9d6e-2b7f1b6c9a10")
    (folder / "appliances" / "cumulus-bare.gns3a").write_text(json.dumps(appliance))
    (folder / "lab.yaml").write_text(BLUEPRINT)
    return load_lab(folder)


def test_adapter_zero_of_swp_port1_is_swp1_and_not_fabric(tmp_path: Path) -> None:
    lab = bare_cumulus_lab(tmp_path)
    assert [n.name for n in lab.node("leaf1").nics][:3] == ["swp1", "swp2", "swp3"]
    switches = fabric_data(lab)["switches"]
    assert switches["leaf1"]["mgmt_address"] == "192.168.50.11"
    assert switches["leaf1"]["peerlink"]["members"] == ["swp2", "swp3"]
    assert switches["leaf1"]["peerlink"]["backup_ip"] == "192.168.50.12"
    assert switches["oobsw"]["mode"] == "access"
    assert switches["oobsw"]["bridge_ports"] == ["swp2", "swp3"]  # its own swp1 is management


def test_the_fabric_reads_the_resolved_port_names(tmp_path: Path) -> None:
    """Format fields that disagree with the NICs change nothing: the NICs are the model."""
    lab = bare_cumulus_lab(tmp_path)
    stale = replace(lab, nodes=tuple(replace(n, port_name_format="Ethernet{0}",
                                             first_port_name=None) for n in lab.nodes))
    assert fabric_data(stale) == fabric_data(lab)
