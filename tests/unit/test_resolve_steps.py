"""Each resolution step (generator.resolve.*), called on its own on a small blueprint: node
drafting, appliances/ports/adapters/MACs, guest setup, freezing, compute placement, and the
shared working state (fast, pure: blueprints in tmp_path, the repo's appliances)."""

from __future__ import annotations

from pathlib import Path

import pytest

from generator import model as m
from generator.blueprint.appliances import REPO_APPLIANCES, Catalogue, load_catalogue
from generator.blueprint.load import load_blueprint
from generator.blueprint.schema import Blueprint
from generator.blueprint.source import Source
from generator.build import load_lab
from generator.errors import BlueprintError
from generator.resolve.adapters import MAX_ADAPTERS, AdapterSteps, port_format_problem
from generator.resolve.computes import ComputeSteps
from generator.resolve.freeze import FreezeSteps
from generator.resolve.guest_setup import GuestSetupSteps
from generator.resolve.lab import Resolver
from generator.resolve.nodes import NodeSteps
from generator.resolve.state import ResolverBase

CUMULUS = "defaults: {appliance: Cumulus VX, version: 5.4.0}\n"


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return load_catalogue([REPO_APPLIANCES], strict=1)


def loaded(tmp_path: Path, text: str) -> tuple[Blueprint, Source]:
    (tmp_path / "lab.yaml").write_text(text)
    return load_blueprint(tmp_path)


def messages(step: ResolverBase) -> list[str]:
    return [p.message for p in step.problems]


# -- state ------------------------------------------------------------------------------------
def test_state_collects_each_problem_once_and_gates(tmp_path: Path, catalogue: Catalogue) -> None:
    step = ResolverBase(*loaded(tmp_path, "name: s\nnodes:\n  a: {}\n"), catalogue)
    assert step.expand(("nodes", "a"), "web[1-3]") == ["web1", "web2", "web3"]
    assert step.problems == []
    step.gate()  # nothing wrong yet: no raise
    assert step.expand(("nodes", "a"), "web[3-1]") == []
    step.problem(("nodes", "a"), "twice", "once")
    step.problem(("nodes", "a"), "twice", "once")
    assert messages(step)[-1] == "twice" and messages(step).count("twice") == 1
    assert all(p.line == 3 for p in step.problems)
    with pytest.raises(BlueprintError) as info:
        step.gate()
    assert info.value.problems == step.problems


# -- nodes ------------------------------------------------------------------------------------
def test_nodes_expand_ranges_and_layer_settings(tmp_path: Path, catalogue: Catalogue) -> None:
    text = (CUMULUS + "name: n\n"
            "groups:\n  leaf: {ram: 1024, cpus: 2}\n"
            "nodes:\n"
            "  leaf[1-3]: {group: leaf, cpus: 4}\n"
            "  spine1: {}\n")
    step = NodeSteps(*loaded(tmp_path, text), catalogue)
    step.check_names()
    step.draft_nodes()
    assert step.problems == []
    assert list(step.drafts) == ["leaf1", "leaf2", "leaf3", "spine1"]
    leaf2 = step.drafts["leaf2"]
    assert (leaf2.groups, leaf2.index, leaf2.path) == (("leaf",), 1, ("nodes", "leaf[1-3]"))
    assert step.drafts["spine1"].index == 0  # counted per first group ("" for none)
    # Each key remembers the layer it came from: 0 defaults, 1 the group, 2 the node.
    assert leaf2.settings["_written"] == {"appliance": 0, "version": 0, "ram": 1, "cpus": 2}
    assert (leaf2.settings["ram"], leaf2.settings["cpus"]) == (1024, 4)
    assert step.setting(leaf2, "cpus", 8, 1) == 4        # node over appliance
    assert step.setting(leaf2, "ram", 2048, 512) == 1024  # group over appliance
    assert step.setting(leaf2, "version", "x", None) == "x"  # appliance over defaults


def test_nodes_report_bad_names_duplicates_and_groups(tmp_path: Path,
                                                      catalogue: Catalogue) -> None:
    text = ("name: n\ngroups:\n  Bad_Group: {}\n"
            "nodes:\n  a[1-2]: {group: nope}\n  a2: {}\n")
    step = NodeSteps(*loaded(tmp_path, text), catalogue)
    step.check_names()
    step.draft_nodes()
    assert messages(step) == ["group name 'Bad_Group' is not [a-z0-9-]", "unknown group 'nope'",
                              "duplicate node 'a2'"]
    assert [p.line for p in step.problems] == [3, 5, 6]
    assert list(step.drafts) == ["a1", "a2"]


# -- adapters ---------------------------------------------------------------------------------
def test_port_format_problem() -> None:
    assert port_format_problem("swp{port1}") is None
    assert port_format_problem("eth{0}") is None
    assert port_format_problem("eth{name}") == "names an unknown field '{name}'"
    assert port_format_problem("eth{0:>3}") == "may not carry a format spec or conversion"
    assert port_format_problem("eth{") is not None
    assert port_format_problem("e" * 33 + "{0}") == "is longer than 32 characters"


def test_adapters_name_ports_count_nics_and_derive_macs(tmp_path: Path,
                                                        catalogue: Catalogue) -> None:
    text = (CUMULUS + "name: a\n"
            "nodes:\n"
            "  r1: {nics: 2}\n"
            "  r2: {nics: auto, interfaces: {swp4: {}}}\n"
            "  r3: {mac: '01:00:00:00:00:00'}\n"
            "  r4: {appliance: No Such Thing}\n")
    blueprint, source = loaded(tmp_path, text)

    class Steps(NodeSteps, AdapterSteps):
        pass

    step = Steps(blueprint, source, catalogue)
    step.draft_nodes()
    step.pick_appliances()
    assert messages(step) == ["unknown appliance 'No Such Thing'"]
    r1 = step.drafts["r1"]
    assert r1.appliance is not None and r1.appliance.name == "Cumulus VX"
    assert [r1.adapter_names[i] for i in range(3)] == ["eth0", "swp1", "swp2"]
    assert r1.port_names["swp2"] == 2 and len(r1.adapter_names) == MAX_ADAPTERS
    r1.used[(4, 0)] = "a link"  # as resolve_links marks swp4
    step.problems.clear()
    step.count_adapters()
    assert messages(step) == ["node 'r1' has 2 NICs but its links and interfaces use swp4 "
                              "(NIC 5)"]
    assert step.drafts["r2"].adapters == 5  # auto: up to swp4, named by an interface
    assert step.drafts["r3"].adapters == 1
    step.problems.clear()
    step.assign_macs()
    assert messages(step) == ["MAC 01:00:00:00:00:00 is a multicast address"]
    first, again = step.drafts["r1"].base_mac, step.drafts["r2"].base_mac
    assert first and again and first != again
    step2 = Steps(blueprint, source, catalogue)
    step2.draft_nodes()
    step2.pick_appliances()
    step2.drafts["r1"].used[(4, 0)] = "a link"
    step2.count_adapters()
    step2.assign_macs()
    assert step2.drafts["r1"].base_mac == first  # derived from lab and node name only


# -- guest setup ------------------------------------------------------------------------------
def test_guest_setup_layers_cloud_init_and_checks_injects(tmp_path: Path,
                                                          catalogue: Catalogue) -> None:
    text = ("name: g\n"
            "defaults:\n"
            "  cloud_init: {ssh_keys: [ssh-ed25519 AAAA k1], packages: [vim, curl]}\n"
            "nodes:\n"
            "  vm1:\n"
            "    cloud_init:\n"
            "      packages: [vim, htop]\n"
            "      users: [{name: ops, password: pw, password_hash: '$6$abcdefgh$xyz'}]\n"
            "    inject:\n"
            "      - {path: /etc/../shadow, content: x}\n"
            "      - {path: /etc/motd, content: hi, source: motd}\n"
            "      - {path: /etc/x.conf, content: y, enable: true}\n"
            "      - {path: /etc/ok, source: ../outside}\n"
            "  vm2: {}\n")

    class Steps(NodeSteps, GuestSetupSteps):
        pass

    (tmp_path / "motd").write_text("hello\n")
    step = Steps(*loaded(tmp_path, text), catalogue)
    step.draft_nodes()
    spec = step.cloud_init(step.drafts["vm1"])
    assert spec.packages == ("vim", "curl", "htop")  # defaults first, once each
    (ops,) = spec.users
    assert ops.name == "ops" and ops.ssh_keys == ("ssh-ed25519 AAAA k1",)
    assert ops.password_hash is not None and ops.password_hash.startswith("$6$")
    assert ops.password_hash != "$6$abcdefgh$xyz"  # the password wins, hashed
    assert messages(step) == ["user 'ops' gives both password and password_hash"]
    default = step.cloud_init(step.drafts["vm2"])
    assert [u.name for u in default.users] == ["lab"]
    step.problems.clear()
    injects = step.injects(step.drafts["vm1"])
    assert [i.path for i in injects] == ["/etc/../shadow", "/etc/motd", "/etc/x.conf", "/etc/ok"]
    assert injects[0].content == b"x" and injects[0].mode == 0o644  # the default: no mode given
    found = messages(step)
    assert "guest path '/etc/../shadow' must stay inside the guest root" in found
    assert "inject of /etc/motd gives content and source" in found
    assert "'/etc/x.conf' is not a systemd unit file to enable" in found
    assert "'../outside' leaves the blueprint folder ('..')" in found
    assert len(found) == 4
    assert injects[1].source == tmp_path / "motd"
    assert {p.path for p in step.problems} >= {"nodes.vm1.inject[0].path",
                                               "nodes.vm1.inject[3].source"}


# -- freeze -----------------------------------------------------------------------------------
def drafted(tmp_path: Path, text: str, catalogue: Catalogue) -> Resolver:
    """A resolver run up to (not including) freezing, as Resolver.run does."""
    resolver = Resolver(*loaded(tmp_path, text), catalogue)
    resolver.draft_nodes()
    resolver.pick_appliances()
    resolver.resolve_links()
    resolver.count_adapters()
    resolver.assign_macs()
    resolver.gate()
    return resolver


def test_freeze_sizes_and_disks(tmp_path: Path, catalogue: Catalogue) -> None:
    step = FreezeSteps(*loaded(tmp_path, "name: f\nnodes:\n  a: {}\n"), catalogue)
    assert step.size(("disk",), "20G") == 20 << 30
    assert step.size(("disk",), 1 << 20) == 1 << 20
    assert step.size(("disk",), "1K") is None
    assert step.size(("disk",), "lots") is None
    assert messages(step) == ["disk size 1K is out of range",
                              "not a size: 'lots' (write e.g. 512M, 20G)"]


def test_freeze_makes_model_nodes(tmp_path: Path, catalogue: Catalogue) -> None:
    text = (CUMULUS + "name: f\n"
            "nodes:\n"
            "  r1: {ram: 2048, disk: 8G, disks: [{size: 1G}, {size: 2G}, {size: 3G}]}\n"
            "  sw: {type: ethernet_switch}\n"
            "links: [r1:swp1 -- sw:Ethernet0]\n")
    resolver = drafted(tmp_path, text, catalogue)
    nodes = {n.name: n for n in resolver.freeze_nodes(resolver.resolve_networks())}
    r1, sw = nodes["r1"], nodes["sw"]
    assert isinstance(r1, m.Node) and r1.type == "qemu"
    assert r1.ram == 2048 and r1.disk_size == 8 << 30 and r1.adapters == 2
    assert r1.image is not None and r1.image.appliance == "Cumulus VX"
    assert [n.name for n in r1.nics] == ["eth0", "swp1"]
    assert [(d.slot, d.size) for d in r1.data_disks] == [("hdb", 1 << 30), ("hdc", 2 << 30),
                                                         ("hdd", 3 << 30)]
    assert sw.type == "ethernet_switch" and sw.role == "switch" and sw.console_type == "none"
    assert [p.name for p in sw.ports][:2] == ["Ethernet0", "Ethernet1"]
    assert resolver.problems == []


# -- computes ---------------------------------------------------------------------------------
def test_computes_spread_by_ram_and_check_the_budget(tmp_path: Path,
                                                     catalogue: Catalogue) -> None:
    text = (CUMULUS + "name: c\n"
            "computes: {one: {ram_mb: 3000}, two: {ram_mb: 2500}}\n"
            "placement: spread\n"
            "nodes:\n"
            "  big: {ram: 2000}\n"
            "  mid: {ram: 1500}\n"
            "  small: {ram: 1000}\n"
            "  pinned: {ram: 1000, compute: two}\n")
    resolver = drafted(tmp_path, text, catalogue)
    nodes = resolver.freeze_nodes(resolver.resolve_networks())
    placed = {n.name: n.compute for n in ComputeSteps.place_computes(resolver, nodes)}
    # two has 1500 left after the pinned VM: big -> one (3000), mid -> two (1500 vs 1000),
    # small -> one (1000 vs 0).
    assert placed == {"big": "one", "mid": "two", "small": "one", "pinned": "two"}
    assert resolver.problems == []
    over = (CUMULUS + "name: c\ncomputes: {one: {ram_mb: 1000}}\n"
            "nodes:\n  a: {ram: 2000, compute: one}\n  b: {compute: three}\n")
    resolver = drafted(tmp_path, over, catalogue)
    resolver.place_computes(resolver.freeze_nodes(resolver.resolve_networks()))
    assert messages(resolver) == ["unknown compute 'three'",
                                  "compute 'one' gets 2000 MB of VMs but has 1000 MB"]


# -- the sequence -----------------------------------------------------------------------------
def test_the_resolver_is_the_steps_in_order(tmp_path: Path, catalogue: Catalogue) -> None:
    for step in (NodeSteps, AdapterSteps, FreezeSteps, GuestSetupSteps, ComputeSteps):
        assert issubclass(Resolver, step)
    text = CUMULUS + "name: seq\nnodes:\n  r[1-2]: {}\nlinks: [r1:swp1 -- r2:swp1]\n"
    lab = Resolver(*loaded(tmp_path, text), catalogue).run()
    assert lab == load_lab(tmp_path / "lab.yaml")
    assert [n.name for n in lab.nodes] == ["r1", "r2"] and len(lab.links) == 1
