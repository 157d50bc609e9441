"""The one YAML writer (generator.render.yamltext) and the one range helper (naming.runs)."""

from __future__ import annotations

import ipaddress

import yaml

from generator.addons.fabric import compress_vlans, port_ranges
from generator.addons.osa import ip_ranges, vlan_range
from generator.naming import runs
from generator.render import yamltext
from generator.render.yamltext import ansible_document, dump_ansible_yaml, dump_yaml


def test_plain_yaml_keeps_order_long_lines_and_no_aliases() -> None:
    shared = {"a": 1}
    long = "x" * 300
    text = dump_yaml({"z": shared, "a": shared, "long": long, "list": [1, 2]})
    assert text == f"z:\n  a: 1\na:\n  a: 1\nlong: {long}\nlist:\n- 1\n- 2\n"
    assert yaml.safe_load(text)["long"] == long


def test_ansible_yaml_indents_lists_flows_short_ones_and_blocks_scripts() -> None:
    data = {"b": [10, 20], "a": [{"name": "x"}], "script": "set -e\necho hi\n",
            "many": [f"item{i:03d}" for i in range(20)]}
    text = dump_ansible_yaml(data)
    assert text.startswith("b: [10, 20]\na:\n  - name: x\nscript: |\n  set -e\n  echo hi\n")
    assert "many:\n  - item000\n" in text  # too long for one line
    assert yaml.safe_load(text) == data
    assert dump_ansible_yaml(data, sort_keys=True).startswith("a:\n")


def test_documents_carry_their_headers() -> None:
    assert yamltext.generated_yaml({"b": 1, "a": 2}) == \
        b"# gns3lab: generated from the blueprint.\na: 2\nb: 1\n"
    assert ansible_document("# h\n", [{"name": "p"}]) == b"---\n# h\n- name: p\n"


def test_runs_in_the_order_given() -> None:
    assert runs([]) == []
    assert runs([10, 20, 21, 22, 7, 8]) == [(10, 10), (20, 22), (7, 8)]
    assert runs([3, 3]) == [(3, 3), (3, 3)]  # callers dedupe


def test_every_range_writer_compresses_alike() -> None:
    assert compress_vlans([103, 10, 20, 101, 102, 20]) == "10,20,101-103"
    assert vlan_range((101, 102, 110, 200)) == "101:102,110:110,200:200"
    ips = {ipaddress.IPv4Address(f"10.0.0.{i}") for i in (1, 2, 3, 9, 255)}
    ips.add(ipaddress.IPv4Address("10.0.1.0"))  # runs cross an octet
    assert ip_ranges(ips) == ["10.0.0.1,10.0.0.3", "10.0.0.9", "10.0.0.255,10.0.1.0"]
    assert port_ranges(["swp7", "swp2", "swp1", "swp3", "peerlink", "eth1"]) == \
        "peerlink,eth1,swp1-3,swp7"
    assert port_ranges(["swp", "swp0", "swp1"]) == "swp,swp0-1"  # a bare name is not a number
