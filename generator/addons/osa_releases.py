"""What differs between the OpenStack-Ansible releases the add-on writes for (pure data): the
series and their Ceph, the host group names of each, and the spelling of the configuration.

Two generations: OSA 18-22 (2018-2020; Ubuntu 18.04 hosts, linuxbridge, ``haproxy_hosts``,
dashed group names, the ``container`` network) and OSA 33, the 2026.1 series (Debian 12/13 and
Ubuntu 24.04/26.04 hosts, Open vSwitch or OVN, ``load_balancer_hosts``, underscores, the
``management`` network), as its ``etc/openstack_deploy/*.prod-ceph.example`` and
``inventory/env.d`` have them at tag 33.0.1 (tests/data/osa-2026.1/SOURCES.md).
"""

from __future__ import annotations

from dataclasses import dataclass

#: OpenStack-Ansible major version -> (series, Ceph release its ceph-ansible deploys).
SERIES = {18: ("rocky", "luminous"), 19: ("stein", "mimic"), 20: ("train", "nautilus"),
          21: ("ussuri", "octopus"), 22: ("victoria", "octopus"), 33: ("2026.1", "tentacle")}
#: The first major of the current generation (2026.1).
CURRENT = 33
#: ceph-ansible 3.x (up to Stein) takes ``osd_scenario``; 4.0+ batches ``devices`` with LVM.
LAST_OSD_SCENARIO = 19

#: The ``<group>_hosts`` sections OpenStack-Ansible's inventory/env.d defines (21.2.12): a
#: host group outside this list is a typo that would silently place no service.
LEGACY_GROUPS = frozenset("""
ceph-mds ceph-mon ceph-nfs ceph-osd ceph-rgw compute-infra compute dashboard database dnsaas etcd
event-infra haproxy identity image ironic-compute ironic-infra ironic-inspector ironic-server
key-manager kvm-compute log magnum-infra manila-data manila-infra mano masakari-infra
masakari-monitor memcaching metering-alarm metering-compute metering-infra metrics mistral-infra
mq murano-infra network octavia-infra operator orchestration os-infra oslomsg-rpc
placement-infra policy qemu-compute repo-infra reservation sahara-infra shared-infra
storage-infra storage swift-proxy swift-remote swift trove-infra unbound zun-compute zun-infra
""".split())
#: The same for 2026.1 (33.0.1's inventory/env.d physical_skel). No ``log``: the rsyslog host
#: left OSA, and with it ``log_hosts`` left the prod-ceph example (2022).
CURRENT_GROUPS = frozenset("""
backup_infra backup_runner ceph_mds ceph_mon ceph_nfs ceph_osd ceph_rgw cluster_api compute
compute_infra coordination dashboard database dnsaas haproxy identity image ironic_compute
ironic_infra ironic_inspector key_manager kvm_compute load_balancer magnum_infra manila_data
manila_infra mano masakari_infra masakari_monitor memcaching metering_alarm metering_compute
metering_infra metrics mistral_infra mq network network_agent network_gateway network_infra
network_northd octavia_infra operator orchestration os_infra placement_infra qemu_compute
rating registration repo_infra reservation shared_infra skyline_dashboard storage storage_infra
swift swift_proxy swift_remote trove_infra unbound zun_compute zun_infra
""".split())

#: Neutron's ML2 plugins (``neutron_plugin_type``) -> the agent group the provider networks
#: bind to. ml2.lxb is the old generation's only choice (linuxbridge left OSA in 2025).
PLUGIN_AGENTS = {"ml2.lxb": "neutron_linuxbridge_agent",
                 "ml2.ovs": "neutron_openvswitch_agent",
                 "ml2.ovn": "neutron_ovn_controller"}


@dataclass(frozen=True)
class Dialect:
    """How one generation spells openstack_user_config.yml and user_variables.yml."""

    management_queue: str  # cidr_networks key and br-mgmt's ip_from_q
    management_flag: str  # the provider network key that marks the hosts' own address
    osd_group: str  # the Ceph OSD group, whose hosts list their data disks
    storage_binds: tuple[str, ...]
    flat_name: str  # net_name of the flat and the VLAN provider networks
    vlan_name: str
    ceph_public: str  # "container" or "storage": the network of the Ceph mons and clients
    cinder_backend: str  # the cinder_backends key of the RBD backend
    default_plugin: str  # OSA's own neutron_plugin_type default
    plugins: tuple[str, ...]  # the plugins the generation has


LEGACY = Dialect("container", "is_container_address", "ceph-osd",
                 ("glance_api", "cinder_api", "cinder_volume", "manila_share", "nova_compute",
                  "ceph-osd"), "flat", "vlan", "container", "RBD", "ml2.lxb", ("ml2.lxb",))
#: 2026.1: the example binds storage to ceph_mon too, names physnet1/physnet2 and puts Ceph's
#: public network on the storage network; ML2/OVN became the default in 26.0.0.
GAZPACHO = Dialect("management", "is_management_address", "ceph_osd",
                   ("glance_api", "cinder_api", "cinder_volume", "manila_share", "nova_compute",
                    "ceph_mon", "ceph_osd"), "physnet1", "physnet2", "storage", "rbd_volumes",
                   "ml2.ovn", ("ml2.ovs", "ml2.ovn"))


def dialect_of(major: int) -> Dialect:
    """The spelling of OpenStack-Ansible ``major``'s configuration."""
    return GAZPACHO if major >= CURRENT else LEGACY


def host_groups_of(major: int) -> frozenset[str]:
    """The host group names (without ``_hosts``) OpenStack-Ansible ``major`` defines."""
    return CURRENT_GROUPS if major >= CURRENT else LEGACY_GROUPS


def plugin_problem(major: int, plugin: str | None) -> str | None:
    """Why ``plugin`` cannot be ``major``'s network plugin, or None when it can."""
    allowed = dialect_of(major).plugins
    if plugin is None or plugin in allowed:
        return None
    return (f"OpenStack-Ansible {major} has no network plugin '{plugin}' (it has "
            f"{', '.join(allowed)})")
