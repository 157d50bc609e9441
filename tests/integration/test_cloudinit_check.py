"""Seed documents checked with Debian's cloud-init 22.4 (schema CLI, v2 parser, ENI renderer)."""

from __future__ import annotations

import shutil
import textwrap

import pytest

from generator.errors import GeneratorError, ToolError
from tests.support.cloudinit_check import SeedError, check_network_config, check_user_data

pytestmark = [pytest.mark.slow,  # runs Debian's cloud-init
              pytest.mark.skipif(shutil.which("cloud-init") is None,
                                 reason="Debian's cloud-init is not installed")]

SRC = "labs/demo/r1/user-data"
NET_SRC = "labs/demo/r1/network-config"

VALID_USER_DATA = """\
#cloud-config
hostname: r1
write_files:
  - path: /etc/lab/hello.txt
    content: "hello\\n"
runcmd:
  - [sh, -c, "echo ok > /dev/console"]
users:
  - name: lab
    shell: /bin/bash
    sudo: "ALL=(ALL) NOPASSWD:ALL"
power_state: {mode: poweroff, delay: now}
"""

LAB_NETWORK = """\
version: 2
ethernets:
  eth0:
    dhcp4: true
  eth1:
    match: {macaddress: "0c:aa:bb:00:00:01"}
    set-name: eth1
  eth3:
    match: {macaddress: "0c:aa:bb:00:00:03"}
    set-name: eth3
bonds:
  bond0:
    interfaces: [eth1, eth3]
    parameters:
      mode: 802.3ad
      lacp-rate: fast
      mii-monitor-interval: 100
      transmit-hash-policy: layer3+4
vlans:
  bond0.10:
    id: 10
    link: bond0
bridges:
  br-mgmt:
    interfaces: [bond0.10]
    parameters: {stp: false}
    addresses: [10.10.0.5/24]
    gateway4: 10.10.0.1
    routes:
      - {to: 192.168.50.0/24, via: 10.10.0.254}
    nameservers:
      addresses: [10.10.0.53]
      search: [lab.example]
"""


def _net(extra: str) -> str:
    return textwrap.dedent(extra)


# ---------------------------------------------------------------- user-data


def test_valid_user_data_passes() -> None:
    check_user_data(VALID_USER_DATA, source=SRC)


@pytest.mark.parametrize("doc, needle", [
    ("#cloud-config\nruncmd: 5\n", "runcmd: 5 is not of type 'array'"),
    ("#cloud-config\nusers: 5\n", "users: 5 is not of type"),
    ("runcmd: [ls]\n", "needs to begin with"),
    ("#cloud-config\nruncmd: [ls\n", "is not valid yaml"),
])
def test_invalid_user_data_names_source_and_problem(doc: str, needle: str) -> None:
    with pytest.raises(SeedError) as info:
        check_user_data(doc, source=SRC)
    message = str(info.value)
    assert SRC in message
    assert needle in message
    assert "/tmp/" not in message  # the temp file is reported as the source
    assert isinstance(info.value, GeneratorError)


def test_deprecated_user_data_fails_unless_allowed() -> None:
    doc = "#cloud-config\nusers:\n  - name: lab\n    sudo: true\n"
    with pytest.raises(SeedError, match="deprecated"):
        check_user_data(doc, source=SRC)
    check_user_data(doc, source=SRC, allow_deprecated=True)


def test_missing_cloud_init_is_a_tool_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(ToolError, match="cloud-init"):
        check_user_data(VALID_USER_DATA, source=SRC)


# ---------------------------------------------------------------- network-config


def test_lab_network_parses_and_renders_eni() -> None:
    summary = check_network_config(LAB_NETWORK, source=NET_SRC)
    ifaces = summary["interfaces"]
    assert sorted(ifaces) == ["bond0", "bond0.10", "br-mgmt", "eth0", "eth1", "eth3"]
    assert {n: i["type"] for n, i in ifaces.items()} == {
        "bond0": "bond", "bond0.10": "vlan", "br-mgmt": "bridge",
        "eth0": "physical", "eth1": "physical", "eth3": "physical"}

    eni = summary["eni"]
    assert "bond-mode 802.3ad" in eni
    assert "vlan-raw-device bond0" in eni
    assert "bridge_ports bond0.10" in eni

    assert ifaces["eth0"]["dhcp4"] and ifaces["eth0"]["auto"]
    bond = ifaces["bond0"]["parameters"]
    assert bond == {"bond-lacp-rate": "fast", "bond-miimon": "100", "bond-mode": "802.3ad",
                    "bond-slaves": "none", "bond-xmit-hash-policy": "layer3+4"}
    for member in ("eth1", "eth3"):
        assert ifaces[member]["auto"]
        assert ifaces[member]["parameters"]["bond-master"] == "bond0"
    assert ifaces["bond0.10"]["parameters"] == {"vlan-raw-device": "bond0", "vlan_id": "10"}
    br = ifaces["br-mgmt"]
    assert br["addresses"] == ["10.10.0.5/24"]
    assert br["gateway4"] == "10.10.0.1"
    assert br["routes"] == [{"to": "192.168.50.0/24", "via": "10.10.0.254"}]
    assert br["parameters"]["bridge_ports"] == "bond0.10"
    assert br["parameters"]["bridge_stp"] == "off"
    assert summary["dns"] == {"nameservers": ["10.10.0.53"], "search": ["lab.example"]}
    assert 'ATTR{address}=="0c:aa:bb:00:00:01", NAME="eth1"' in summary["udev_rules"]


def test_network_wrapper_is_accepted_like_cloud_init() -> None:
    wrapped = "network:\n" + textwrap.indent(LAB_NETWORK, "  ")
    assert check_network_config(wrapped, source=NET_SRC)["eni"] == \
        check_network_config(LAB_NETWORK, source=NET_SRC)["eni"]


BROKEN = {
    "version 3": ("version: 3\nethernets: {eth0: {dhcp4: true}}\n", "version: must be 2"),
    "vlan link missing": (
        "version: 2\nvlans: {eth9.10: {id: 10, link: eth9, addresses: [10.0.0.1/24]}}\n",
        "vlans.eth9.10.link: 'eth9' is not defined"),
    "vlan badly named": (
        "version: 2\nethernets: {eth0: {}}\n"
        "vlans: {vlan10: {id: 10, link: eth0, addresses: [10.0.0.1/24]}}\n",
        "must be named eth0.10"),
    "vlan id string": (
        "version: 2\nethernets: {eth0: {}}\n"
        "vlans: {eth0.10: {id: ten, link: eth0, addresses: [10.0.0.1/24]}}\n",
        "vlans.eth0.10.id: must be an integer"),
    "vlan never up": (
        "version: 2\nethernets: {eth0: {}}\nvlans: {eth0.10: {id: 10, link: eth0}}\n",
        "never created"),
    "bond param unknown to 22.4": (
        "version: 2\nethernets: {eth1: {}}\n"
        "bonds: {bond0: {interfaces: [eth1], parameters: {xmit_hash_policy: layer2}}}\n",
        "parameters.xmit_hash_policy: not supported"),
    "bond member undefined": (
        "version: 2\nbonds: {bond0: {interfaces: [eth1], parameters: {mode: 802.3ad}}}\n",
        "'eth1' is not defined"),
    "bond member with address": (
        "version: 2\nethernets: {eth1: {addresses: [10.0.0.1/24]}}\n"
        "bonds: {bond0: {interfaces: [eth1]}}\n", "must not have addresses"),
    "bond mode": (
        "version: 2\nethernets: {eth1: {}}\n"
        "bonds: {bond0: {interfaces: [eth1], parameters: {mode: lacp}}}\n", "'lacp' is not"),
    "zero dropped": (
        "version: 2\nethernets: {eth1: {}}\n"
        "bridges: {br0: {interfaces: [eth1], parameters: {forward-delay: 0}}}\n",
        "dropped by the ENI renderer"),
    "bridge path-cost": (
        "version: 2\nethernets: {eth1: {}}\n"
        "bridges: {br0: {interfaces: [eth1], parameters: {path-cost: {eth1: 5}}}}\n",
        "path-cost: not supported"),
    "empty bridge": (
        "version: 2\nbridges: {br0: {interfaces: [], addresses: [10.0.0.1/24]}}\n",
        "must be a non-empty list"),
    "ignored key": ("version: 2\nethernets: {eth0: {dhcp4: true, optional: true}}\n",
                    "keys optional are ignored"),
    "upper-case mac": (
        "version: 2\nethernets: {eth1: {match: {macaddress: '0C:AA:BB:00:00:01'}, "
        "set-name: eth1}}\n", "lower-case MAC"),
    "set-name differs": (
        "version: 2\nethernets: {nic1: {match: {macaddress: '0c:aa:bb:00:00:01'}, "
        "set-name: eth1}}\n", "must be 'nic1'"),
    "address without prefix": ("version: 2\nethernets: {eth0: {addresses: [10.0.0.1]}}\n",
                               "needs a /prefix"),
    "bad address (cloud-init)": ("version: 2\nethernets: {eth0: {addresses: [300.1.1.1/24]}}\n",
                                 "not an ip/prefix"),
    "route to default": (
        "version: 2\nethernets: {eth0: {addresses: [10.0.0.1/24], "
        "routes: [{to: default, via: 10.0.0.2}]}}\n", "to: default"),
    "unknown section (cloud-init)": ("version: 2\nethernet: {eth0: {dhcp4: true}}\n",
                                     "unknown top-level key"),
    "device not a mapping": ("version: 2\nethernets: {eth0: }\n", "must be a mapping"),
    "not yaml": ("version: 2\nethernets: {eth0: [\n", "not valid YAML"),
    "not a mapping": ("- version: 2\n", "must be a mapping"),
}


@pytest.mark.parametrize("doc, needle", list(BROKEN.values()), ids=list(BROKEN))
def test_broken_network_config_is_rejected(doc: str, needle: str) -> None:
    with pytest.raises(SeedError) as info:
        check_network_config(doc, source=NET_SRC)
    assert NET_SRC in str(info.value)
    assert needle in str(info.value)


def test_stp_must_be_boolean() -> None:
    doc = ("version: 2\nethernets: {eth1: {}}\n"
           "bridges: {br0: {interfaces: [eth1], parameters: {stp: maybe}}}\n")
    with pytest.raises(SeedError, match=r"stp: 'maybe' must be true or false"):
        check_network_config(doc, source=NET_SRC)


def test_cloud_init_parser_errors_are_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.support import cloudinit_check

    monkeypatch.setattr(cloudinit_check, "_structure_problems", lambda cfg: [])
    doc = "version: 2\nethernets: {eth0: {addresses: [300.1.1.1/24]}}\n"
    with pytest.raises(SeedError, match="cloud-init 22.4 rejects it: ValueError"):
        check_network_config(doc, source=NET_SRC)


def test_ipv6_static_and_bridge_over_bond() -> None:
    doc = _net("""\
        version: 2
        ethernets:
          eth1: {}
          eth2: {}
        bonds:
          bond0:
            interfaces: [eth1, eth2]
            parameters: {mode: active-backup, primary: eth1, mii-monitor-interval: 100}
        bridges:
          br0:
            interfaces: [bond0]
            dhcp4: true
            parameters: {stp: true, forward-delay: 4}
        vlans:
          br0.20:
            id: 20
            link: br0
            addresses: ["2001:db8::5/64"]
            gateway6: "2001:db8::1"
        """)
    summary = check_network_config(doc, source=NET_SRC)
    ifaces = summary["interfaces"]
    assert ifaces["br0"]["parameters"]["bridge_ports"] == "bond0"
    assert ifaces["br0"]["parameters"]["bridge_fd"] == "4"
    assert ifaces["br0"]["parameters"]["bridge_stp"] == "on"
    assert ifaces["br0.20"]["addresses"] == ["2001:db8::5/64"]
    assert ifaces["br0.20"]["gateway6"] == "2001:db8::1"
    assert ifaces["br0.20"]["auto"]
    assert ifaces["bond0"]["parameters"]["bond-primary"] == "eth1"


def test_host_nics_do_not_leak_into_the_parse(monkeypatch: pytest.MonkeyPatch) -> None:
    from cloudinit.net import network_state

    def boom(*args: object, **kwargs: object) -> dict:
        raise AssertionError("looked at the build host's NICs")

    monkeypatch.setattr(network_state, "get_interfaces_by_mac", boom)
    monkeypatch.setattr(network_state, "find_interface_name_from_mac", boom)
    summary = check_network_config(LAB_NETWORK, source=NET_SRC)
    assert summary["interfaces"]["eth1"]["mac_address"] == "0c:aa:bb:00:00:01"
    assert network_state.get_interfaces_by_mac is boom  # restored afterwards
