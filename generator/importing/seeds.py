"""A node's NoCloud seed ISO (its CD-ROM, in the archive or beside the ``.gns3``) -> the node's
``cloud_init:`` and ``interfaces:``. The user-data keys the blueprint has (packages, bootcmd,
runcmd) map and every other one is kept verbatim under ``user_data:``; the network-config
(version 2) maps to interfaces (addresses with their prefix, DHCP, gateway, DNS, MTU, routes,
bonds, VLANs, bridges) and is kept verbatim in ``notes/`` too; what does not map is told."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from generator.blueprint import schema as bp
from generator.errors import GeneratorError
from generator.importing.source import MAX_SEED, ProjectSource
from generator.read.bounded import parse_yaml
from generator.write.iso import read_seed_iso

#: Keys gns3lab writes itself into every seed (hostname, the lab user and key): a rebuild
#: writes them again, so they are not kept.
OWN_KEYS = frozenset({"hostname", "fqdn", "preserve_hostname", "manage_etc_hosts", "users",
                      "ssh_pwauth", "chpasswd", "disable_root", "ssh_authorized_keys"})
MAPPED = ("packages", "bootcmd", "runcmd")


@dataclass
class Seed:
    spec: dict[str, Any] = field(default_factory=dict)
    files: dict[str, bytes] = field(default_factory=dict)
    lost: list[str] = field(default_factory=list)


class SeedReader:
    def __init__(self, source: ProjectSource) -> None:
        self.source = source

    def read(self, node_id: str, cdrom: str, name: str, ports: tuple[str, ...] = ()
             ) -> Seed | None:
        """The node's seed when its CD-ROM is a NoCloud seed (label ``cidata``), else None.
        A seed named like gns3lab's (``<node>-seed.iso``) whose file is not here is still a
        seed: the rebuild writes it again."""
        member = self.source.node_file(node_id, "qemu", cdrom)
        if member is None:
            return Seed() if cdrom.endswith("-seed.iso") else None
        try:
            with self.source.as_file(member, MAX_SEED) as path:
                contents = read_seed_iso(path)
        except GeneratorError as exc:
            return Seed(lost=[f"seed {cdrom[:60]} cannot be read ({exc.message[:120]}); "
                              "a new one is written"])
        if contents.label.lower() != "cidata":
            return None
        seed = Seed()
        user = contents.files.get("user-data", b"")
        try:
            data = parse_yaml(user) if user.strip() else {}
        except (ValueError, UnicodeDecodeError) as exc:
            seed.lost.append(f"its user-data is not YAML ({str(exc)[:80]}): not carried over")
            data = {}
        if isinstance(data, dict):
            seed.spec.update(self.cloud_init(data, seed))
        network = contents.files.get("network-config")
        if network and network.strip():
            self.network(network, name, ports, seed)
        return seed

    def network(self, text: bytes, name: str, ports: tuple[str, ...], seed: Seed) -> None:
        """network-config (version 2) -> ``interfaces:``; the document is kept verbatim in
        ``notes/`` too, and what does not map is told."""
        kept = f"notes/{name}-network-config.yaml"
        seed.files[kept] = text
        try:
            data = parse_yaml(text)
        except (ValueError, UnicodeDecodeError):
            data = None
        if not isinstance(data, dict) or data.get("version") != 2:
            seed.lost.append(f"its network-config is not version 2: kept verbatim in {kept}")
            return
        interfaces, lost = map_network(data, ports)
        if interfaces:
            seed.spec["interfaces"] = interfaces
        seed.lost += [f"{line} (the whole document is in {kept})" for line in lost]

    def cloud_init(self, data: dict[str, Any], seed: Seed) -> dict[str, Any]:
        out: dict[str, Any] = {}
        raw: dict[str, Any] = {}
        for key, value in data.items():
            if not isinstance(key, str) or key in OWN_KEYS:
                continue
            if key in MAPPED and isinstance(value, list) and all(
                    isinstance(v, str | list) for v in value):
                out[key] = value
            else:
                raw[key] = value
        if raw:
            out["user_data"] = raw
            seed.lost.append(f"user-data keys kept verbatim (user_data:): {', '.join(sorted(raw))}")
        return {"cloud_init": out} if out else {}


def map_network(data: dict[str, Any], ports: tuple[str, ...]
                ) -> tuple[dict[str, Any], list[str]]:
    """netplan-style network-config -> the blueprint's interfaces (address with its prefix,
    DHCP, gateway, DNS, MTU, routes, bonds, VLANs, bridges) and what did not map."""
    out: dict[str, Any] = {}
    lost: list[str] = []
    for section in ("ethernets", "bonds", "vlans", "bridges"):
        entries = data.get(section) or {}
        if not isinstance(entries, dict):
            lost.append(f"network-config {section} is not a mapping")
            continue
        for iface, conf in entries.items():
            if not isinstance(conf, dict) or not isinstance(iface, str):
                continue
            if section == "ethernets" and iface not in ports:
                lost.append(f"network-config interface {iface[:20]!r} is no port of the node")
                continue
            spec = _common(conf, lost, iface)
            spec.update(_kind(section, conf))
            try:
                bp.Interface.model_validate(spec)
            except ValidationError as exc:
                lost.append(f"network-config interface {iface[:20]!r} does not map "
                            f"({exc.errors()[0]['msg'][:60]})")
                continue
            out[iface] = spec
    return out, lost


def _common(conf: dict[str, Any], lost: list[str], iface: str) -> dict[str, Any]:
    spec: dict[str, Any] = {}
    if conf.get("dhcp4") is True:
        spec["dhcp"] = True
    addresses = conf.get("addresses") or []
    if isinstance(addresses, list) and addresses:
        spec["address"] = str(addresses[0])
        if len(addresses) > 1:
            lost.append(f"{iface}: only its first address is kept")
    if isinstance(conf.get("gateway4"), str):
        spec["gateway"] = conf["gateway4"]
    dns = (conf.get("nameservers") or {}).get("addresses") if isinstance(
        conf.get("nameservers"), dict) else None
    if isinstance(dns, list) and dns:
        spec["dns"] = [str(x) for x in dns]
    if isinstance(conf.get("mtu"), int):
        spec["mtu"] = conf["mtu"]
    routes = [r for r in conf.get("routes") or [] if isinstance(r, dict)]
    if routes:
        spec["routes"] = [{"to": str(r.get("to")), "via": str(r.get("via"))} for r in routes]
    return spec


def _kind(section: str, conf: dict[str, Any]) -> dict[str, Any]:
    params = conf.get("parameters") if isinstance(conf.get("parameters"), dict) else {}
    assert isinstance(params, dict)
    if section == "bonds":
        bond = {"interfaces": conf.get("interfaces") or []}
        for key, name in (("mode", "mode"), ("lacp-rate", "lacp_rate"),
                          ("transmit-hash-policy", "hash_policy"),
                          ("mii-monitor-interval", "mii_monitor")):
            if key in params:
                bond[name] = params[key]
        return {"bond": bond}
    if section == "vlans":
        return {"vlan": {"id": conf.get("id"), "link": conf.get("link")}}
    if section == "bridges":
        return {"bridge": {"interfaces": conf.get("interfaces") or [],
                           "stp": bool(params.get("stp", False))}}
    return {}
