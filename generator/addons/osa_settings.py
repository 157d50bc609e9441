"""``extra.openstack``, the OpenStack-Ansible add-on's settings: the strict pydantic model of the
blueprint keys, the checks the types cannot make (a supported release, known networks and host
groups, VIPs on the container network), and :class:`Settings`, the result joined to the model."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from generator.addons.base import Issue, validation_issues
from generator.addons.fabric_settings import load_fabric_settings
from generator.addons.osa_releases import SERIES, host_groups_of, plugin_problem
from generator.errors import OsaError
from generator.model import FrozenMap, Lab
from generator.naming import closest_fix

OSA_NETWORKS = ("container", "tunnel", "storage")
PREFIX = ("extra", "openstack")


_STRICT = ConfigDict(strict=True, frozen=True, extra="forbid")
Address = Annotated[ipaddress.IPv4Address, Field(strict=False)]  # YAML gives a string


class OsaNetworks(BaseModel):
    """``extra.openstack.networks``: which blueprint networks are OpenStack-Ansible's."""

    model_config = _STRICT
    container: str = Field("mgmt", description="OSA's container (management) network: "
                           "br-mgmt, every host's `ip:`, the VIPs")
    tunnel: str = Field("vxlan", description="OSA's tunnel network: br-vxlan (VXLAN)")
    storage: str = Field("storage", description="OSA's storage network: br-storage (Ceph)")


class OpenStackSettings(BaseModel):
    """``extra.openstack``: the OpenStack-Ansible add-on's settings."""

    model_config = _STRICT
    release: str = Field(description="OpenStack-Ansible tag (e.g. 21.2.12) or series branch "
                         "(stable/ussuri, ussuri-eol)")
    internal_vip: Address = Field(description="internal load-balancer VIP, on the container "
                                  "network")
    external_vip: Address = Field(description="external load-balancer VIP, on the container "
                                  "network")
    networks: OsaNetworks = Field(default_factory=OsaNetworks,
                                  description="blueprint network of each OSA network")
    host_groups: dict[str, list[str]] = Field(
        description="blueprint role or group -> OSA host groups (each becomes "
        "`<group>_hosts`)")
    network_plugin: Literal["ml2.lxb", "ml2.ovs", "ml2.ovn"] | None = Field(
        None, description="Neutron's ML2 plugin (OSA's neutron_plugin_type); default: the "
        "release's own (ml2.lxb up to 22, ml2.ovn in 2026.1)")


@dataclass(frozen=True)
class Settings:
    """``extra.openstack``, checked and joined to the model: the frozen record the add-on's
    plan carries on the model."""

    release: str
    major: int
    series: str
    ceph: str
    internal_vip: ipaddress.IPv4Address
    external_vip: ipaddress.IPv4Address
    networks: FrozenMap  # container/tunnel/storage -> the lab's Network
    host_groups: FrozenMap  # blueprint role or group -> OSA groups (a tuple of names)
    provider_vlans: tuple[int, ...]
    network_plugin: str | None = None  # as written; None: the release's default


def parse_release(release: str) -> tuple[int, str, str]:
    """``21.2.12`` / ``stable/ussuri`` / ``ussuri-eol`` -> (21, 'ussuri', 'octopus')."""
    match = re.match(r"^(\d+)\.\d+\.\d+$", release)
    if match and int(match.group(1)) in SERIES:
        major = int(match.group(1))
        return major, *SERIES[major]
    name = re.sub(r"^(stable|unmaintained)/|-eol$|-em$", "", release)
    for major, (series, ceph) in SERIES.items():
        if name == series:
            return major, series, ceph
    known = ", ".join(f"{m}.x.y or stable/{s}" for m, (s, _) in SERIES.items())
    raise OsaError(f"'{release}' is not an OpenStack-Ansible release this lab supports",
                   hint=f"use one of {known}", path=(*PREFIX, "release"))


def _check_typed(lab: Lab, t: OpenStackSettings) -> list[Issue]:
    """What the types cannot say: a supported release, known networks and host groups, VIPs
    inside the container network."""
    out: list[Issue] = []
    major = 0
    try:
        major = parse_release(t.release)[0]
    except OsaError as exc:
        out.append((exc.path, exc.message, exc.hint))
    plugin = plugin_problem(major, t.network_plugin) if major else None
    if plugin:
        out.append(((*PREFIX, "network_plugin"), plugin, "e.g. network_plugin: ml2.ovs"))
    known_groups = host_groups_of(major)
    known = {n.name for n in lab.networks}
    for role in OSA_NETWORKS:
        name = getattr(t.networks, role)
        if name not in known:
            out.append(((*PREFIX, "networks", role), f"no network '{name}' in the lab",
                        closest_fix(name, known)))
    container = next((n for n in lab.networks if n.name == t.networks.container), None)
    for key in ("internal_vip", "external_vip"):
        ip = getattr(t, key)
        if container is not None and ip not in container.cidr:
            out.append(((*PREFIX, key), f"{ip} is outside the container network "
                        f"{container.cidr}", f"pick a free address in {container.cidr}"))
    if t.internal_vip == t.external_vip:
        out.append(((*PREFIX, "external_vip"), "the external VIP is the internal VIP",
                    "give the two VIPs different addresses"))
    if not t.host_groups:
        out.append(((*PREFIX, "host_groups"), "no role is mapped to an OpenStack-Ansible host "
                    "group", "map roles to OSA groups, e.g. compute: [compute]"))
    for key, groups in t.host_groups.items():
        for i, group in enumerate(groups):
            if group not in known_groups:
                out.append(((*PREFIX, "host_groups", key, i), f"'{group}' is not an "
                            "OpenStack-Ansible host group", closest_fix(group, known_groups)))
    return out


def parse_settings(lab: Lab, extra: Mapping[str, Any]) -> tuple[Settings | None, list[Issue]]:
    """The blueprint's ``extra.openstack`` checked against its type and the model, joined to
    the fabric's planned provider VLANs: the settings, or problems (resolve's plan calls this,
    once). Without a fabric plan (its settings were wrong: the fabric reports them) there are
    no settings, and only this add-on's own problems."""
    try:
        typed = OpenStackSettings.model_validate(extra.get("openstack"))
    except ValidationError as exc:
        return None, validation_issues(exc, OpenStackSettings, PREFIX)
    issues = _check_typed(lab, typed)
    fabric = load_fabric_settings(lab)
    if issues or fabric is None:
        return None, issues
    networks = {role: lab.network(getattr(typed.networks, role)) for role in OSA_NETWORKS}
    return Settings(typed.release, *parse_release(typed.release), typed.internal_vip,
                    typed.external_vip, FrozenMap.of(networks),
                    FrozenMap.of({k: tuple(v) for k, v in typed.host_groups.items()}),
                    fabric.provider_vlans, typed.network_plugin), []


def load_settings(lab: Lab) -> Settings:
    """The settings resolve parsed once and put on the model (``Lab.addons``); ValueError for
    a lab it did not plan (a caller that renders a lab resolve refused is a bug)."""
    planned = lab.addon("osa")
    if planned is None:
        raise ValueError(f"lab '{lab.name}' has no OpenStack-Ansible plan: resolve it first")
    settings: Settings = planned.settings
    return settings
