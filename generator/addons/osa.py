"""The OpenStack-Ansible add-on: its deployment configuration, generated from the lab model.

``extra.openstack`` in the blueprint names the release (an OpenStack-Ansible tag such as
``21.2.12`` or a series branch such as ``stable/ussuri``), the two load-balancer VIPs, which
blueprint networks are OSA's ``container``/``tunnel``/``storage`` networks, and which OSA host
groups each blueprint role (or group) fills. Everything else comes from the model:

- ``openstack/openstack_user_config.yml``: cidr_networks, used_ips (gateways, VIPs and every
  static address: no container can take one), provider networks on the bridges the hosts really
  have, and one ``ip:`` entry per host and group (its br-mgmt address); Ceph OSD hosts get their
  data disks as ``devices``;
- ``openstack/user_variables.yml``: the VIPs for keepalived and the Ceph settings the release's
  ceph-ansible expects (``osd_scenario: collocated`` up to Stein, ``devices`` batches after);
- ``playbooks/osa-hosts.yml`` (the servers are up and reach each other over the fabric) and
  ``playbooks/osa-deploy.yml`` (OpenStack-Ansible on the controller; needs internet).

The parts: :mod:`~generator.addons.osa_settings` (the typed settings and their checks),
:mod:`~generator.addons.osa_config` (hosts and the two configuration files) and
:mod:`~generator.addons.osa_playbooks`. This module is the add-on's face for the registry, and
re-exports the names callers use.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from generator.addons.base import Issue, Planned
from generator.addons.osa_config import (
    ceph_variables,
    ip_ranges,
    osa_groups,
    osa_nodes,
    render_config,
    user_config,
    user_variables,
    vlan_range,
)
from generator.addons.osa_playbooks import (
    deploy_readme,
    render_deploy_playbook,
    render_hosts_playbook,
)
from generator.addons.osa_settings import (
    OpenStackSettings,
    Settings,
    load_settings,
    parse_release,
    parse_settings,
)
from generator.errors import OsaError
from generator.model import AddonPlan, Lab

__all__ = ["OpenStackSettings", "OsaError", "Settings", "applies", "ceph_variables", "check",
           "ip_ranges", "load_settings", "osa_groups", "osa_nodes", "parse_release", "plan",
           "render", "user_config", "user_variables", "vlan_range"]


def applies(lab: Lab) -> bool:
    """The add-on applies when resolve planned it: the blueprint has a right ``extra.openstack``
    section."""
    return lab.addon("osa") is not None


def check(lab: Lab) -> list[Issue]:
    """Every problem ``render`` would meet, as (blueprint path, message, fix): what the model
    must give OpenStack-Ansible (resolve's plan checked the settings)."""
    if not applies(lab):
        return []
    try:
        render(lab)
    except OsaError as exc:
        return [(exc.path, exc.message, exc.hint)]
    return []


def plan(lab: Lab, extra: Mapping[str, Any]) -> Planned:
    """Resolve's hook: the settings parsed once from the blueprint's ``extra.openstack``
    (after the fabric's, whose provider VLANs they take from the lab), what the model must give
    OpenStack-Ansible checked by one render, and that render's file names."""
    if "openstack" not in extra:
        return None, []
    settings, issues = parse_settings(lab, extra)
    if settings is None:
        return None, issues
    planned = AddonPlan("osa", settings)
    try:
        planned_lab = replace(lab, addons=(*lab.addons, planned))
        files = render(planned_lab)
        readme = deploy_readme(planned_lab)
    except OsaError as exc:
        return planned, [(exc.path, exc.message, exc.hint)]
    return replace(planned, files=tuple(sorted(files)), readme=tuple(readme)), []


def render(lab: Lab) -> dict[str, bytes]:
    """The OpenStack-Ansible configuration and the two playbooks of the lab's OSA stages."""
    s = load_settings(lab)
    return {**render_config(lab),
            "playbooks/osa-deploy.yml": render_deploy_playbook(lab, s),
            "playbooks/osa-hosts.yml": render_hosts_playbook(lab, s)}
