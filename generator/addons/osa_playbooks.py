"""The OpenStack-Ansible add-on's two playbooks (pure): ``osa-hosts.yml`` (the servers are up
and reach each other over the fabric) and ``osa-deploy.yml`` (OpenStack-Ansible on the
controller; needs internet)."""

from __future__ import annotations

from typing import Any

from generator.addons.osa_config import HEADER, osa_nodes, provider_bridge
from generator.addons.osa_releases import CURRENT
from generator.addons.osa_settings import OSA_NETWORKS, Settings, load_settings
from generator.model import Lab, Node
from generator.render.yamltext import ansible_document

OSA_REPO = "https://opendev.org/openstack/openstack-ansible"
OSA_DIR = "/opt/openstack-ansible"
DEPLOY_BOOK = "playbooks/osa-deploy.yml"
HOSTS_BOOK = "playbooks/osa-hosts.yml"
#: Where the controller's bootstrap appends its console lines (render/bootstrap's STATUS).
STATUS_FILE = "/var/lib/gns3lab/status"
#: The packages OpenStack-Ansible's deploy guide installs on a target host: 21.2.12's for
#: Ubuntu 18.04, and 33.0.1's for Debian (doc/source/deploy-guide/source/targethosts-prepare.rst,
#: less ifenslave-2.6, a transitional name Debian 12 no longer has).
TARGET_PACKAGES = {
    "legacy": ["bridge-utils", "debootstrap", "ifenslave", "lsof", "lvm2", "chrony",
               "openssh-server", "sudo", "tcpdump", "vlan", "python3"],
    "current": ["bridge-utils", "debootstrap", "ifenslave", "lsof", "lvm2", "openssh-server",
                "sudo", "tcpdump", "vlan", "python3"],
}
#: OpenStack-Ansible's three playbooks: files under playbooks/ up to 22, the openstack.osa
#: collection's playbooks in 2026.1 (deploy guide, run-playbooks.rst).
SETUP = {"legacy": ["setup-hosts.yml", "setup-infrastructure.yml", "setup-openstack.yml"],
         "current": ["openstack.osa.setup_hosts", "openstack.osa.setup_infrastructure",
                     "openstack.osa.setup_openstack"]}


def _playbook(plays: list[dict[str, Any]]) -> bytes:
    return ansible_document(HEADER, plays)


def ready_nodes(lab: Lab, s: Settings) -> list[Node]:
    """The servers stage servers-ready checks: every OpenStack host, and every other VM its
    stage names (by node, role or group), such as a server in no OSA group (log1 in 2026.1)."""
    stages = lab.controller.stages if lab.controller else ()
    named = {h for st in stages if HOSTS_BOOK in st.generated for h in st.hosts}
    found = {n.name: n for n in osa_nodes(lab, s)}
    controller = lab.controller.node if lab.controller else None
    found.update({n.name: n for n in lab.vms
                  if named & {n.name, n.role, *n.groups} and n.name != controller})
    return [found[k] for k in sorted(found)]


def fabric_targets(lab: Lab, s: Settings) -> list[str]:
    """Addresses every server must reach: the container gateway, then every server's
    address on each OSA network."""
    out = [str(s.networks["container"].gateway)] if s.networks["container"].gateway else []
    for role in OSA_NETWORKS:
        for node in ready_nodes(lab, s):
            addr = node.address_on(s.networks[role].name)
            if addr is not None:
                out.append(str(addr.ip))
    return list(dict.fromkeys(out))


def render_hosts_playbook(lab: Lab, s: Settings) -> bytes:
    """servers-ready: each OpenStack host is up, configured, and reaches the others."""
    tasks = [
        {"name": "Wait until the server answers over SSH",
         "ansible.builtin.wait_for_connection": {"timeout": 1800}},
        {"name": "Wait until cloud-init has configured the server",
         "ansible.builtin.command": "cloud-init status --wait", "changed_when": False},
        {"name": "Reach the gateway and every OpenStack host on each fabric network",
         "ansible.builtin.command": "ping -c 1 -W 2 {{ item }}",
         "loop": "{{ osa_fabric_targets }}", "register": "osa_ping",
         "until": "osa_ping.rc == 0", "retries": 30, "delay": 10, "changed_when": False},
    ]
    play = {"name": "Servers are ready: bonds, VLANs and bridges carry traffic over the fabric",
            "hosts": ":".join(n.name for n in ready_nodes(lab, s)), "gather_facts": False,
            "vars": {"osa_fabric_targets": fabric_targets(lab, s)}, "tasks": tasks}
    return _playbook([play])


def _deploy_host_tasks(s: Settings) -> list[dict[str, Any]]:
    return [
        {"name": "Install what the deployment host needs",
         "ansible.builtin.apt": {"name": ["build-essential", "git", "chrony", "openssh-server",
                                          "python3-dev", "sudo"], "update_cache": True}},
        {"name": f"Check out OpenStack-Ansible {s.release}",
         "ansible.builtin.git": {"repo": OSA_REPO, "dest": OSA_DIR, "version": s.release}},
        {"name": "Bootstrap OpenStack-Ansible's Ansible (also makes root's SSH key)",
         "ansible.builtin.command": {"cmd": "scripts/bootstrap-ansible.sh", "chdir": OSA_DIR,
                                     "creates": "/usr/local/bin/openstack-ansible"}},
        {"name": "Start /etc/openstack_deploy from the release's skeleton",
         "ansible.builtin.copy": {"src": f"{OSA_DIR}/etc/openstack_deploy/",
                                  "dest": "/etc/openstack_deploy/", "remote_src": True,
                                  "force": False, "mode": "preserve"}},
        {"name": "Install the configuration generated from the blueprint",
         "ansible.builtin.copy": {"src": "{{ playbook_dir }}/../openstack/{{ item }}",
                                  "dest": "/etc/openstack_deploy/{{ item }}", "mode": "0644"},
         "loop": ["openstack_user_config.yml", "user_variables.yml"]},
        {"name": "Generate the service passwords",
         "ansible.builtin.command": {
             "cmd": "/opt/ansible-runtime/bin/python scripts/pw-token-gen.py "
                    "--file /etc/openstack_deploy/user_secrets.yml", "chdir": OSA_DIR},
         "register": "osa_secrets",
         "changed_when": "'Operation Complete' in osa_secrets.stdout"},
        {"name": "Read the deployment host's root public key",
         "ansible.builtin.slurp": {"src": "/root/.ssh/id_rsa.pub"}, "register": "osa_root_key"},
    ]


def _flat_interface_task(bridge: str) -> dict[str, Any]:
    """The flat network's ``eth12``: a veth pair into the provider bridge, as OpenStack-Ansible's
    own AIO makes it (the prod-ceph example's hosts have a NIC of that name; ours do not)."""
    peer = f"{bridge}-veth"[:15]
    return {"name": f"Give the flat provider network its eth12 (a veth pair into {bridge})",
            "ansible.builtin.shell": {
                "cmd": f"set -e\nip link show eth12 >/dev/null 2>&1 && exit 0\n"
                       f"ip link add eth12 type veth peer name {peer}\n"
                       f"ip link set {peer} master {bridge}\n"
                       f"ip link set {peer} up\nip link set eth12 up\necho created\n",
                "executable": "/bin/bash"},
            "register": "osa_eth12", "changed_when": "'created' in osa_eth12.stdout"}


def generation(s: Settings) -> str:
    """``current`` (2026.1 on) or ``legacy`` (OpenStack-Ansible 18-22)."""
    return "current" if s.major >= CURRENT else "legacy"


def deploy_stage(lab: Lab) -> str:
    """The name of the controller stage that runs the deployment (its skip line names it)."""
    stages = lab.controller.stages if lab.controller else ()
    return next((st.name for st in stages if DEPLOY_BOOK in st.generated), "osa-deploy")


def skip_line(lab: Lab) -> str:
    """The console line of a deployment skipped for want of the internet."""
    return f"gns3lab: stage {deploy_stage(lab)} skipped: no route to the internet"


#: The first task of every play of osa-deploy.yml: without the internet, the play ends (and so
#: the deployment: the lab stays ready for a manual one).
OFFLINE_END = {"name": "End here without the internet: the lab is ready for a manual deploy",
               "ansible.builtin.meta": "end_play",
               "when": "not hostvars['localhost'].osa_online | bool"}


def _internet_play(lab: Lab) -> dict[str, Any]:
    """The deployment needs the internet (git, packages, images): without it, say so on the
    console and end the playbook, so the stage still succeeds and the lab is ready for a
    manual deploy once the controller's uplink (the NAT node) reaches out. The probe and the two
    files are play variables (a test points them elsewhere with ``-e``). Every later play
    starts with :data:`OFFLINE_END` (Ansible has no conditional end of the whole playbook)."""
    unreached = "not osa_online | bool"
    return {
        "name": "Deployment host reaches the internet through the NAT node",
        "hosts": "localhost", "connection": "local", "gather_facts": False, "become": True,
        "vars": {"osa_probe_url": OSA_REPO, "osa_skip_line": skip_line(lab),
                 "osa_console": "/dev/console", "osa_status_file": STATUS_FILE},
        "tasks": [
            {"name": "Ask OpenStack-Ansible's git server",
             "ansible.builtin.uri": {"url": "{{ osa_probe_url }}", "method": "HEAD",
                                     "timeout": 15},
             "register": "osa_internet", "failed_when": False},
            {"name": "Remember whether it answered",
             "ansible.builtin.set_fact": {
                 "osa_online": "{{ (osa_internet.status | default(-1) | int) > 0 }}"}},
            {"name": "Say on the console that the deployment is skipped",
             "ansible.builtin.shell": {
                 "cmd": "printf '%s\\n' {{ osa_skip_line | quote }} >>{{ osa_console | quote }}\n"
                        "printf '%s\\n' {{ osa_skip_line | quote }} "
                        ">>{{ osa_status_file | quote }}\n",
                 "executable": "/bin/bash"},
             "when": unreached, "changed_when": False},
            OFFLINE_END,
        ]}


def _target_tasks(s: Settings, vlan_bridge: str | None = None) -> list[dict[str, Any]]:
    flat = [_flat_interface_task(vlan_bridge)] if vlan_bridge else []
    return flat + [
        {"name": "Let the deployment host in as root",
         "ansible.builtin.lineinfile": {
             "path": "/root/.ssh/authorized_keys", "create": True, "mode": "0600",
             "line": "{{ hostvars['localhost'].osa_root_key.content | b64decode | trim }}"}},
        {"name": "Install the packages OpenStack-Ansible expects on its hosts",
         "ansible.builtin.apt": {"name": TARGET_PACKAGES[generation(s)],
                                 "update_cache": True}},
    ]


def render_deploy_playbook(lab: Lab, s: Settings) -> bytes:
    """openstack-ansible: prepare the controller and the hosts, then setup-hosts,
    setup-infrastructure and setup-openstack. Needs internet on the controller."""
    local = {"hosts": "localhost", "connection": "local", "gather_facts": False, "become": True}
    current = generation(s) == "current"
    run = {"name": "Run OpenStack-Ansible's playbooks",
           "ansible.builtin.command": {"cmd": "openstack-ansible {{ item }}",
                                       "chdir": OSA_DIR if current else f"{OSA_DIR}/playbooks"},
           "loop": SETUP[generation(s)], "changed_when": True}
    return _playbook([
        _internet_play(lab),
        {"name": f"Deployment host: OpenStack-Ansible {s.release} ({s.series})", **local,
         "tasks": [OFFLINE_END, *_deploy_host_tasks(s)]},
        {"name": "OpenStack hosts: root access for the deployment host, and base packages",
         "hosts": ":".join(n.name for n in osa_nodes(lab, s)), "gather_facts": False,
         "become": True,
         "tasks": [OFFLINE_END, *_target_tasks(s, provider_bridge(osa_nodes(lab, s)))]},
        {"name": "Deploy OpenStack", **local, "tasks": [OFFLINE_END, run]},
    ])


def deploy_readme(lab: Lab) -> list[str]:
    """The archive README's section on the deployment (Markdown lines): the stage that runs it
    last, its skip line without the internet, what to run then, and the RAM the full deploy
    needs (every VM running; OpenStack-Ansible documents no multi-host minimum, only its
    all-in-one guide's 8 GB minimum and 16 GB recommended, doc/source/user/aio/quickstart.rst)."""
    s = load_settings(lab)
    ram = sum(n.ram for n in lab.vms)
    infra = sorted({n.ram for n in osa_nodes(lab, s)}, reverse=True)[:1]
    playbooks = ", ".join(f"`openstack-ansible {book}`" for book in SETUP[generation(s)])
    return [
        "## OpenStack-Ansible", "",
        f"The last stage, `{deploy_stage(lab)}`, deploys OpenStack-Ansible {s.release} "
        f"({s.series}) from the controller: it needs the internet there (through the NAT "
        "node) for git, packages and container images, and takes hours. Without it the "
        "controller prints", "",
        f"    {skip_line(lab)}", "",
        "and the lab is ready for a manual deploy. Once the controller reaches the internet, "
        "run on it, as root:", "",
        f"    cd /opt/gns3lab/ansible && ansible-playbook -i inventory.yml {DEPLOY_BOOK}", "",
        f"It checks out OpenStack-Ansible in {OSA_DIR}, installs the generated "
        f"configuration in /etc/openstack_deploy and runs {playbooks}.", "",
        f"RAM: the full deploy runs every VM with its configured RAM, {ram} MB "
        f"(about {round(ram / 1024)} GB)"
        + (f"; the largest OpenStack hosts have {infra[0]} MB" if infra else "")
        + ". OpenStack-Ansible documents no per-host minimum for a multi-host deployment; its "
        "all-in-one guide asks 8 GB at least (16 GB recommended) for everything on one host.",
        "",
    ]
