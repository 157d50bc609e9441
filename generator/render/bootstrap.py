"""The controller's bootstrap tree (pure): Ansible inventory and stages, dnsmasq, NAT, units.

:func:`render_bootstrap` turns the lab model into the files the controller node gets in its
overlay (guest path -> content and mode) and the systemd units to enable. Same lab, same bytes:
everything is sorted and nothing holds a timestamp. The lab's private key is not part of the
tree; :mod:`generator.write.guest` adds it when injecting.

At first boot the controller serves DHCP (one reservation per node MAC, so every node gets its
planned address) and DNS for the lab domain, optionally NATs the lab out of its uplink, and runs
``/opt/gns3lab/bootstrap.sh``: per stage, wait for SSH on the stage's hosts, run its playbooks,
print ``gns3lab: stage <name> ok|failed`` on the console; then stage ``check`` and
``gns3lab: lab ready``.

Stage hosts are written like Ansible patterns: ``all``, a blueprint group, a role or a node name.
They resolve to the *managed* nodes: VMs with an address the controller can reach (their planned
address on the first DHCP network, else on another DHCP network, else their first static one).
"""

from __future__ import annotations

import functools
import ipaddress
import json
import re
import shlex
from dataclasses import dataclass, fields
from pathlib import PurePosixPath
from typing import Any

import jinja2

from generator import addons
from generator.addons.fabric import injected_login
from generator.errors import GeneratorError
from generator.model import Controller, GuestInterface, Lab, Node, StageSpec
from generator.render.yamltext import generated_yaml

ROOT_DIR = "/opt/gns3lab"
ANSIBLE_DIR = f"{ROOT_DIR}/ansible"
SCRIPT = f"{ROOT_DIR}/bootstrap.sh"
STAGES_FILE = f"{ROOT_DIR}/stages.json"
STATE_DIR = "/var/lib/gns3lab"
MARKER = f"{STATE_DIR}/bootstrap.done"
STATUS = f"{STATE_DIR}/status"
LOG = "/var/log/gns3lab-bootstrap.log"
CONF_DIR = "/etc/gns3lab"
DNSMASQ_CONF = f"{CONF_DIR}/dnsmasq.conf"
NAT_RULES = f"{CONF_DIR}/nat.nft"
UNIT_DIR = "/etc/systemd/system"
KEY = "/root/.ssh/id_ed25519"
BOOTSTRAP_UNIT = "gns3lab-bootstrap.service"
DNSMASQ_UNIT = "gns3lab-dnsmasq.service"
NAT_UNIT = "gns3lab-nat.service"
CHECK_STAGE = "check"
CHECK_PLAYBOOK = "playbooks/check.yml"
DEFAULT_STAGE = "main"
RESERVED_GROUPS = frozenset({"all", "ungrouped"})
POLL_SECONDS = 5
LEASE_TIME = "12h"


@dataclass(frozen=True)
class BootstrapTree:
    """Guest path -> (content, mode) for the controller, and the units to enable."""

    files: dict[str, tuple[bytes, int]]
    units: tuple[str, ...]


@dataclass(frozen=True)
class Managed:
    """A node the controller manages: where it answers SSH and as whom."""

    node: Node
    address: str
    user: str


@dataclass(frozen=True)
class Stage:
    name: str
    hosts: tuple[str, ...]
    playbooks: tuple[str, ...]
    timeout: int


def _ctl(lab: Lab) -> Controller:
    assert lab.controller is not None, "the lab has no controller"
    return lab.controller


# --------------------------------------------------------------------------- the managed nodes

def _static_interface(node: Node, network: str) -> GuestInterface | None:
    return next((i for i in node.interfaces
                 if i.network == network and i.addresses and not i.dhcp), None)


def management_address(lab: Lab, node: Node) -> ipaddress.IPv4Interface | None:
    """Where the controller reaches ``node``: its planned address on the first DHCP network,
    else on another DHCP network, else its first static address."""
    for net in lab.controller.dhcp if lab.controller else ():
        addr = node.address_on(net)
        if addr is not None:
            return addr
    return next((a for i in node.interfaces if not i.dhcp for a in i.addresses), None)


def default_user(node: Node) -> str:
    """The node's default (first) cloud-init user, which holds the lab key."""
    if node.cloud_init is None:
        return injected_login(node) or "lab"  # e.g. Cumulus: the key is injected for `cumulus`
    return node.cloud_init.users[0].name if node.cloud_init.users else "lab"


def managed_nodes(lab: Lab) -> list[Managed]:
    """Every VM with a management address, in blueprint order (the controller included)."""
    out = []
    for node in lab.vms:
        addr = management_address(lab, node)
        if addr is not None:
            out.append(Managed(node, str(addr.ip), default_user(node)))
    return out


def resolve_hosts(lab: Lab, patterns: list[str]) -> tuple[str, ...]:
    """Managed node names matching ``all``, groups, roles or node names, in blueprint order."""
    wanted = set(patterns)
    return tuple(m.node.name for m in managed_nodes(lab)
                 if "all" in wanted or m.node.name in wanted or m.node.role in wanted
                 or wanted & set(m.node.groups))


def resolve_stages(lab: Lab) -> tuple[Stage, ...]:
    """The blueprint's stages (or one ``main`` stage running controller.playbooks), resolved,
    then the final ``check`` stage over every managed node."""
    ctl = _ctl(lab)
    specs = list(ctl.stages)
    if not specs and ctl.playbooks:
        specs = [StageSpec(DEFAULT_STAGE, ("all",), ctl.playbooks, (), ctl.timeout)]
    stages = [Stage(name=s.name, hosts=resolve_hosts(lab, list(s.hosts)),
                    playbooks=s.playbooks + s.generated, timeout=s.timeout) for s in specs]
    stages.append(Stage(CHECK_STAGE, resolve_hosts(lab, ["all"]), (CHECK_PLAYBOOK,),
                        ctl.timeout))
    return tuple(stages)


# --------------------------------------------------------------------------- Ansible documents

def _interface_data(iface: GuestInterface) -> dict[str, Any]:
    """A guest interface as plain data (empty and default fields left out, ``dhcp`` kept)."""
    data = {f.name: getattr(iface, f.name) for f in fields(iface) if f.name != "name"}
    data.update(members=list(iface.members), addresses=[str(a) for a in iface.addresses],
                gateway=str(iface.gateway) if iface.gateway else None, dns=list(iface.dns),
                routes=[{"to": t, "via": v} for t, v in iface.routes])
    return {k: v for k, v in data.items() if v not in (None, [], False) or k == "dhcp"}


def _host_vars(lab: Lab, m: Managed) -> dict[str, Any]:
    node = m.node
    out: dict[str, Any] = {
        "ansible_host": m.address, "ansible_user": m.user,
        "ansible_python_interpreter": "/usr/bin/python3",
        "lab_addresses": {i.network: str(i.addresses[0].ip) for i in reversed(node.interfaces)
                          if i.network and i.addresses},
        "lab_macs": {n.name: n.mac for n in node.nics},
        "lab_interfaces": {i.name: _interface_data(i) for i in node.interfaces},
        "lab_role": node.role, "lab_groups": list(node.groups),
    }
    if lab.controller and node.name == _ctl(lab).node:
        out["ansible_connection"] = "local"
    return out


def render_inventory(lab: Lab, managed: list[Managed]) -> bytes:
    """inventory.yml: every managed node with its vars; one group per blueprint group and role."""
    names = {m.node.name for m in managed}
    groups: dict[str, dict[str, Any]] = {}
    for m in managed:
        for group in (*m.node.groups, m.node.role):
            if group and group not in names and group not in RESERVED_GROUPS:
                groups.setdefault(group, {"hosts": {}})["hosts"][m.node.name] = {}
    doc = {"all": {"hosts": {m.node.name: _host_vars(lab, m) for m in managed},
                   "children": groups}}
    return generated_yaml(doc)


def render_group_vars(lab: Lab) -> bytes:
    """group_vars/all.yml: lab-wide data for every playbook."""
    ctl = _ctl(lab)
    controller = lab.node(ctl.node)
    networks = {n.name: {k: v for k, v in {
        "cidr": str(n.cidr), "gateway": str(n.gateway) if n.gateway else None, "vlan": n.vlan,
        "dns": list(n.dns) or None, "domain": n.domain, "dhcp": n.name in ctl.dhcp}.items()
        if v is not None} for n in lab.networks}
    address = management_address(lab, controller)
    doc = {"lab_name": lab.name, "lab_domain": lab.domain, "lab_controller": ctl.node,
           "lab_dns_server": str(address.ip) if address else None, "lab_networks": networks,
           "lab_extra": lab.extra, "lab_uplink": ctl.uplink}
    return generated_yaml({k: v for k, v in doc.items() if v is not None})


# --------------------------------------------------------------------------- dnsmasq

def interface_macs(node: Node, iface: GuestInterface) -> list[str]:
    """The MACs a DHCP client on ``iface`` may use: its NIC's, or its members' / link's."""
    by_name = {i.name: i for i in node.interfaces}
    todo, seen, macs = [iface.name], set(), []
    while todo:
        name = todo.pop(0)
        if name in seen:
            continue
        seen.add(name)
        sub, nic = by_name.get(name), node.nic(name)
        if sub is not None and sub.kind != "ethernet":
            todo += [sub.link or ""] if sub.kind == "vlan" else list(sub.members)
        elif nic is not None:
            macs.append(nic.mac)
    return list(dict.fromkeys(macs))


def reservations(lab: Lab, network: str) -> list[tuple[tuple[str, ...], str, str]]:
    """(MACs, node, address) of every node but the controller with a planned address on
    ``network``, in blueprint order."""
    ctl = lab.controller
    out = []
    for node in lab.vms:
        iface = next((i for i in node.interfaces if i.network == network and i.addresses), None)
        if iface is None or (ctl and node.name == ctl.node):
            continue
        macs = tuple(interface_macs(node, iface))
        if macs:
            out.append((macs, node.name, str(iface.addresses[0].ip)))
    return out


def dhcp_range(lab: Lab, network: str) -> str:
    """The largest run of host addresses no node, gateway or controller plans to use."""
    net = lab.network(network)
    taken = {int(a.ip) for n in lab.vms for i in n.interfaces if i.network == network
             for a in i.addresses}
    taken |= {int(net.gateway)} if net.gateway else set()
    first, last = int(net.cidr.network_address) + 1, int(net.cidr.broadcast_address) - 1
    best, start = (0, 0), first
    for used in sorted(t for t in taken if first <= t <= last) + [last + 1]:
        if used - start > best[1] - best[0]:
            best = (start, used)
        start = used + 1
    mask = net.cidr.netmask
    tag = _tag(network)
    if best[1] <= best[0]:
        return f"set:{tag},{net.cidr.network_address},static,{mask},{LEASE_TIME}"
    lo, hi = ipaddress.IPv4Address(best[0]), ipaddress.IPv4Address(best[1] - 1)
    return f"set:{tag},{lo},{hi},{mask},{LEASE_TIME}"


def _tag(network: str) -> str:
    return "net-" + re.sub(r"[^A-Za-z0-9_-]", "_", network)


def reverse_zones(cidr: ipaddress.IPv4Network) -> list[str]:
    """in-addr.arpa zones covering ``cidr`` (whole octets; a /26 claims its /24)."""
    prefix = min(24, -(-cidr.prefixlen // 8) * 8) if cidr.prefixlen % 8 else cidr.prefixlen
    nets = [cidr.supernet(new_prefix=prefix)] if prefix < cidr.prefixlen else \
        list(cidr.subnets(new_prefix=prefix))
    octets = prefix // 8
    return [".".join(reversed(str(n.network_address).split(".")[:octets])) + ".in-addr.arpa"
            for n in nets]


def host_records(lab: Lab) -> list[str]:
    """host-record lines: ``<node>.<lab domain>,<node>,<management address>``, then
    ``<node>.<network domain>,<address>`` for every address on a network."""
    names: dict[str, str] = {}
    for node in lab.vms:
        addr = management_address(lab, node)
        if addr is not None:
            names.setdefault(f"{node.name}.{lab.domain}", f"{node.name},{addr.ip}")
    for node in lab.vms:
        for iface in node.interfaces:
            if iface.network and iface.addresses:
                fqdn = f"{node.name}.{lab.network(iface.network).domain}"
                names.setdefault(fqdn, str(iface.addresses[0].ip))
    return [f"{fqdn},{rest}" for fqdn, rest in names.items()]


def _dhcp_networks(lab: Lab, controller: Node) -> list[dict[str, Any]]:
    ctl = _ctl(lab)
    out = []
    for name in ctl.dhcp:
        net, own = lab.network(name), _static_interface(controller, name)
        assert own is not None
        ip = str(own.addresses[0].ip)
        router = str(net.gateway) if net.gateway else (ip if ctl.uplink else None)
        out.append({"name": name, "cidr": str(net.cidr), "interface": own.name,
                    "tag": _tag(name), "range": dhcp_range(lab, name), "router": router,
                    "dns": ip, "hosts": [f"{','.join(macs)},{node},{address}"
                                         for macs, node, address in reservations(lab, name)]})
    return out


def render_dnsmasq(lab: Lab) -> bytes:
    """/etc/gns3lab/dnsmasq.conf: DHCP with reservations on controller.dhcp, DNS for the lab."""
    ctl = _ctl(lab)
    controller = lab.node(ctl.node)
    listen = [i.name for i in controller.interfaces
              if i.network and i.addresses and i.name != ctl.uplink]
    domains = [lab.domain] + [n.domain for n in lab.networks
                              if not n.domain.endswith("." + lab.domain) and n.domain != lab.domain]
    zones = list(dict.fromkeys(domains + [z for n in lab.networks for z in reverse_zones(n.cidr)]))
    return _render("dnsmasq.conf.j2", lab=lab.name, controller=ctl.node, conf=DNSMASQ_CONF,
                   upstream=bool(ctl.uplink), interfaces=list(dict.fromkeys(listen)),
                   uplink=ctl.uplink, domain=lab.domain, zones=zones,
                   leases=f"{STATE_DIR}/dnsmasq.leases", records=host_records(lab),
                   networks=_dhcp_networks(lab, controller))


# --------------------------------------------------------------------------- script and units

@functools.cache
def _one_line(value: Any) -> Any:
    """Every value a template writes stays on its line: dnsmasq, nftables, systemd units and
    shell comments have no quoting for a newline, so one would start a new directive. The
    resolver refuses such names; this is the renderer's own guard."""
    if isinstance(value, str) and CONTROL_RE.search(value):
        raise ValueError(f"refusing to render {value!r} into a generated config")
    return value


CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")


def _env() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.PackageLoader("generator", "templates/bootstrap"),
                             undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
                             trim_blocks=True, lstrip_blocks=True, autoescape=False,
                             comment_start_string="{#-#", comment_end_string="#-#}",  # ${#a}
                             finalize=_one_line)
    env.filters["q"] = shlex.quote
    return env


def _render(template: str, **context: Any) -> bytes:
    return _env().get_template(template).render(**context).encode()


def render_script(lab: Lab, stages: tuple[Stage, ...], managed: list[Managed]) -> bytes:
    """bootstrap.sh: the stages unrolled, each waiting for SSH on its hosts (not the controller)."""
    ctl = _ctl(lab)
    by_name = {m.node.name: m for m in managed}
    ctx = [{"name": s.name, "hosts": s.hosts, "playbooks": s.playbooks, "timeout": s.timeout,
            "soft": s.name == CHECK_STAGE,
            "wait": [f"{h} {by_name[h].user} {by_name[h].address}" for h in s.hosts
                     if h != ctl.node]} for s in stages]
    return _render("bootstrap.sh.j2", lab=lab.name, controller=ctl.node, ansible_dir=ANSIBLE_DIR,
                   log=LOG, state_dir=STATE_DIR, status=STATUS, marker=MARKER, script=SCRIPT,
                   key=KEY, poll=POLL_SECONDS, cloud_init_wait=ctl.timeout, stages=ctx)


def render_stages_json(lab: Lab, stages: tuple[Stage, ...]) -> bytes:
    """stages.json: the ordered stages with hosts resolved to node names (for people and tools)."""
    doc = {"lab": lab.name, "controller": _ctl(lab).node,
           "stages": [{"name": s.name, "hosts": list(s.hosts), "playbooks": list(s.playbooks),
                       "timeout": s.timeout} for s in stages]}
    return (json.dumps(doc, indent=2, sort_keys=True) + "\n").encode()


def render_units(lab: Lab) -> dict[str, bytes]:
    """The units by name: dnsmasq and bootstrap always, NAT when the controller has an uplink."""
    names = [DNSMASQ_UNIT] + ([NAT_UNIT] if _ctl(lab).uplink else []) + [BOOTSTRAP_UNIT]
    return {name: _render(f"{name}.j2", lab=lab.name, conf=DNSMASQ_CONF, uplink=_ctl(lab).uplink,
                          rules=NAT_RULES, dnsmasq_unit=DNSMASQ_UNIT, marker=MARKER,
                          script=SCRIPT) for name in names}


def render_nat(lab: Lab) -> bytes:
    """nat.nft: masquerade every lab network out of the uplink."""
    ctl = _ctl(lab)
    uplink_nets = {i.network for i in lab.node(ctl.node).interfaces if i.name == ctl.uplink}
    sources = [str(n.cidr) for n in lab.networks if n.name not in uplink_nets]
    return _render("nat.nft.j2", uplink=ctl.uplink, sources=sources)


# --------------------------------------------------------------------------- the tree

def _ansible_files(lab: Lab, managed: list[Managed]) -> dict[str, tuple[bytes, int]]:
    """Everything under the Ansible folder, by relative path; add-ons may not overwrite."""
    ours = {"ansible.cfg": (_render("ansible.cfg.j2", ansible_dir=ANSIBLE_DIR, key=KEY), 0o644),
            "inventory.yml": (render_inventory(lab, managed), 0o644),
            "group_vars/all.yml": (render_group_vars(lab), 0o644),
            CHECK_PLAYBOOK: (_render("check.yml.j2", lab=lab.name, controller=_ctl(lab).node,
                                     status=STATUS), 0o644)}
    files = {f.path: (f.content, f.mode) for f in _ctl(lab).files}
    clash = sorted(set(ours) & set(files))
    if clash:
        raise GeneratorError(f"blueprint playbook files clash with generated ones: "
                             f"{', '.join(clash)}", hint="rename them (check.yml is reserved)")
    files.update(ours)
    try:
        extra = addons.render_addons(lab)
    except ValueError as exc:
        raise GeneratorError(f"add-ons: {exc}") from exc
    for path, data in extra.items():
        rel = PurePosixPath(path)
        if rel.is_absolute() or ".." in rel.parts or str(rel) in files:
            raise GeneratorError(f"add-on file '{path}' is not a new path under {ANSIBLE_DIR}",
                                 hint="add-ons give new relative paths, e.g. playbooks/x.yml")
        files[str(rel)] = (data, 0o644)
    return files


def render_bootstrap(lab: Lab, public_key: str | None) -> BootstrapTree:
    """The controller's bootstrap tree for a resolved lab (resolution checked every setting).
    The private key is not included: the caller adds it as ``/root/.ssh/id_ed25519``."""
    assert lab.controller is not None, "the lab has no controller"
    managed = managed_nodes(lab)
    stages = resolve_stages(lab)
    files = {f"{ANSIBLE_DIR}/{rel}": v for rel, v in _ansible_files(lab, managed).items()}
    files[SCRIPT] = (render_script(lab, stages, managed), 0o755)
    files[STAGES_FILE] = (render_stages_json(lab, stages), 0o644)
    files[DNSMASQ_CONF] = (render_dnsmasq(lab), 0o644)
    if public_key is not None:  # None: --redact, the controller makes the key at first boot
        files[f"{KEY}.pub"] = (public_key.strip().encode() + b"\n", 0o644)
    units = render_units(lab)
    files.update({f"{UNIT_DIR}/{name}": (data, 0o644) for name, data in units.items()})
    if lab.controller.uplink:
        files[NAT_RULES] = (render_nat(lab), 0o644)
    return BootstrapTree(files=dict(sorted(files.items())), units=tuple(units))
