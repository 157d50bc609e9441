"""``extra.openstack``, the OpenStack-Ansible add-on's settings: the strict pydantic model of the
blueprint keys, the checks the types cannot make (a supported release, known networks and host
groups, VIPs on the container network), and :class:`Settings`, the result joined to the model."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from generator.addons.base import Issue, validation_issues
from generator.addons.fabric_settings import load_fabric_settings
from generator.errors import OsaError
from generator.model import Lab, Network
from generator.naming import closest_fix

#: OpenStack-Ansible major version -> (series, Ceph release its ceph-ansible deploys). These are
#: the series that support Ubuntu 18.04 hosts with Ceph.
SERIES = {18: ("rocky", "luminous"), 19: ("stein", "mimic"), 20: ("train", "nautilus"),
          21: ("ussuri", "octopus"), 22: ("victoria", "octopus")}
#: ceph-ansible 3.x (up to Stein) takes ``osd_scenario``; 4.0+ batches ``devices`` with LVM.
LAST_OSD_SCENARIO = 19
OSA_NETWORKS = ("container", "tunnel", "storage")
#: The ``<group>_hosts`` sections OpenStack-Ansible's inventory/env.d defines (21.2.12): a
#: host group outside this list is a typo that would silently place no service.
HOST_GROUPS = frozenset("""
ceph-mds ceph-mon ceph-nfs ceph-osd ceph-rgw compute-infra compute dashboard database dnsaas etcd
event-infra haproxy identity image ironic-compute ironic-infra ironic-inspector ironic-server
key-manager kvm-compute log magnum-infra manila-data manila-infra mano masakari-infra
masakari-monitor memcaching metering-alarm metering-compute metering-infra metrics mistral-infra
mq murano-infra network octavia-infra operator orchestration os-infra oslomsg-rpc
placement-infra policy qemu-compute repo-infra reservation sahara-infra shared-infra
storage-infra storage swift-proxy swift-remote swift trove-infra unbound zun-compute zun-infra
""".split())
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


@dataclass(frozen=True)
class Settings:
    """``extra.openstack``, checked and joined to the model."""

    release: str
    major: int
    series: str
    ceph: str
    internal_vip: ipaddress.IPv4Address
    external_vip: ipaddress.IPv4Address
    networks: dict[str, Network]  # container/tunnel/storage -> the lab's network
    host_groups: dict[str, tuple[str, ...]]  # blueprint role or group -> OSA groups
    provider_vlans: tuple[int, ...]


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
                   hint=f"use one of {known} (Ubuntu 18.04 hosts)", path=(*PREFIX, "release"))


def _check_typed(lab: Lab, t: OpenStackSettings) -> list[Issue]:
    """What the types cannot say: a supported release, known networks and host groups, VIPs
    inside the container network."""
    out: list[Issue] = []
    try:
        parse_release(t.release)
    except OsaError as exc:
        out.append((exc.path, exc.message, exc.hint))
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
            if group not in HOST_GROUPS:
                out.append(((*PREFIX, "host_groups", key, i), f"'{group}' is not an "
                            "OpenStack-Ansible host group", closest_fix(group, HOST_GROUPS)))
    return out


def checked_settings(lab: Lab) -> tuple[Settings | None, list[Issue]]:
    """``extra.openstack`` checked against its type and the model: the settings, or problems."""
    try:
        typed = OpenStackSettings.model_validate(lab.extra.get("openstack"))
    except ValidationError as exc:
        return None, validation_issues(exc, OpenStackSettings, PREFIX)
    issues = _check_typed(lab, typed)
    fabric, fabric_issues = load_fabric_settings(lab)
    if issues or fabric is None:
        return None, issues + fabric_issues
    networks = {role: lab.network(getattr(typed.networks, role)) for role in OSA_NETWORKS}
    return Settings(typed.release, *parse_release(typed.release), typed.internal_vip,
                    typed.external_vip, networks,
                    {k: tuple(v) for k, v in typed.host_groups.items()},
                    fabric.provider_vlans), []


def load_settings(lab: Lab) -> Settings:
    """Check ``extra.openstack`` against its type and the model (OsaError on the first
    problem; :func:`check` reports them all)."""
    settings, issues = checked_settings(lab)
    if settings is None:
        path, message, hint = issues[0]
        raise OsaError(message, hint, path)
    return settings
