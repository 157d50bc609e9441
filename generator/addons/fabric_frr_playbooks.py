"""The FRR fabric's playbooks (pure): one that verifies the files each switch's seed installed,
and installs them again where they differ (stage ``fabric``), and one that proves the fabric
works, one console line per fact (the check stage):

- ``bgp``: every BGP session of every routing switch is Established (``show bgp summary json``),
  and the BFD session of each live uplink is up (``show bfd peers json``);
- ``lacp``: every server bond on the leaves has an LACP partner on each member, the system MAC
  of its Ethernet segment, and all members in one aggregator;
- ``reach``: every server reaches every other one (and the controller) on every lab network the
  fabric carries, each ping bound to the interface holding that network's address;
- ``evpn``: every leaf holds EVPN routes of type 1 and 4 (multihoming: Ethernet segments and
  their designated forwarders) and 2 and 3 (MACs, flooding lists).

Each line starts ``gns3lab-fabric:`` and goes to the controller's console; the check may run
again later (after a leaf is stopped) with ``-e fabric_round=<name>``, which every line names.
"""

from __future__ import annotations

from typing import Any

from generator.addons.fabric_frr_render import (
    CHECK_PLAYBOOK,
    FRR_CONF,
    HEADER,
    PLAYBOOK,
    SCRIPT,
    UNIT,
    UNIT_NAME,
    UNIT_TEXT,
    file_sums,
)
from generator.model import Lab
from generator.render.yamltext import ansible_document

RETRIES = 60  # x DELAY s: BGP, EVPN and LACP settle within a minute or two under TCG
DELAY = 5
SEED_WAIT = 600  # seconds the switch's first boot may still take to run its seed's runcmd
#: Seconds vtysh may take to show FRR's running configuration. Under a loaded TCG host FRR can
#: come up from the seed's restart without its configuration (watchfrr restarting daemons while
#: ``vtysh -b`` applies frr.conf: bgpd had no ``router bgp`` in a CI boot), so a switch whose
#: bgpd runs without its BGP instance is installed again (FRR restarted) like a stale one.
VTYSH_WAIT = 30
#: What the fabric task prints last: whether the switch already held its fabric or got it now.
VERIFIED, INSTALLED = "GNS3LAB_FABRIC=verified", "GNS3LAB_FABRIC=installed"

# The seed wrote the files and started both units at first boot (fabric_frr_render's
# docstring): wait for its runcmd, then compare the files, the units and bgpd's running BGP
# instance; only a switch that differs is installed again, as before (files rewritten, both
# units enabled and restarted).
_INSTALL = f"""set -e
timeout {SEED_WAIT} cloud-init status --wait >/dev/null 2>&1 || true
stale=0
sha256sum --check --status <<'GNS3LAB_EOF' || stale=1
{{{{ fabric_sums[inventory_hostname] }}}}GNS3LAB_EOF
for unit in {UNIT_NAME}{{% if fabric_frr_conf %}} frr.service{{% endif %}}; do
  systemctl is-enabled --quiet "$unit" && systemctl is-active --quiet "$unit" || stale=1
done
{{% if fabric_frr_conf %}}
timeout {VTYSH_WAIT} vtysh -c 'show running-config' 2>/dev/null | grep -q '^router bgp ' || stale=1
{{% endif %}}
if [ "$stale" = 0 ]; then echo {VERIFIED}; exit 0; fi
cat >{SCRIPT} <<'GNS3LAB_EOF'
{{{{ fabric_script }}}}GNS3LAB_EOF
chmod 0755 {SCRIPT}
cat >{UNIT} <<'GNS3LAB_EOF'
{UNIT_TEXT}GNS3LAB_EOF
systemctl daemon-reload
systemctl enable --quiet {UNIT_NAME}
systemctl restart {UNIT_NAME}
{{% if fabric_frr_conf %}}
cat >{FRR_CONF} <<'GNS3LAB_EOF'
{{{{ fabric_frr_conf }}}}GNS3LAB_EOF
chown frr:frr {FRR_CONF}
chmod 0640 {FRR_CONF}
systemctl enable --quiet frr.service
systemctl restart frr.service
{{% endif %}}
echo {INSTALLED}
"""

#: Every check line starts so: the round (``boot`` unless ``-e fabric_round=...``), then the fact.
LINE = "gns3lab-fabric: {{ fabric_round | default('boot') }} "
_CONSOLE = "printf '%s\\n' {{ line | quote }} >>/dev/console"


def _report(line: str, **more: str) -> dict[str, Any]:
    """A task that writes one line to the controller's console (``more``: vars it uses)."""
    return {"name": "Report on the controller's console", "ansible.builtin.raw": _CONSOLE,
            "vars": {"line": line, **more}, "delegate_to": "{{ lab_controller }}",
            "become": False, "changed_when": False}


def install_playbook(switches: dict[str, Any]) -> bytes:
    """One play over the FRR switches, one round trip each: the fabric their seeds installed
    verified (``fabric_sums``: the digests of the rendered files), or installed again. The
    console line says which: ``verified`` or ``installed``."""
    sums = {name: file_sums(name, switch) for name, switch in sorted(switches.items())}
    done = f"'{INSTALLED}' in fabric_install.stdout"
    play = {"name": "FRR fabric: each switch's Linux side and frr.conf, from its seed, verified",
            "hosts": ":".join(sorted(switches)), "gather_facts": False, "become": True,
            "vars": {"fabric_sums": sums},
            "tasks": [
                {"name": "Verify the fabric script, its unit and frr.conf; install them again "
                 "if they differ",
                 "ansible.builtin.raw": _INSTALL, "register": "fabric_install",
                 "changed_when": done},
                _report(f"gns3lab-fabric: {{{{ 'installed' if {done} else 'verified' }}}} "
                        "{{ inventory_hostname }} "
                        "({{ fabric.kind }}, AS {{ fabric.asn | default('-') }})")]}
    return ansible_document(HEADER, [play])


#: The switches a round expects to be down (``-e '{"fabric_down": ["leaf01"]}'``): they are
#: skipped, and so are their sessions and bond members.
DOWN = "(fabric_down | default([]))"
LIVE = f"inventory_hostname not in {DOWN}"


def _live(tasks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The tasks, run only on the hosts that are not down in this round."""
    return [{**task, "when": LIVE} for task in tasks]


def _bgp_play(routers: list[str]) -> dict[str, Any]:
    peers = "(bgp.stdout | from_json).ipv4Unicast.peers | default({})"
    up = f"{peers} | dict2items | selectattr('value.state', 'eq', 'Established') | list"
    bfd_up = "bfd.stdout | from_json | selectattr('status', 'eq', 'up') | list"
    return {
        "name": "Check - every BGP session of every switch is established",
        "hosts": ":".join(routers), "gather_facts": False, "become": True,
        "vars": {"fabric_live_uplinks": "{{ fabric.uplinks | dict2items "
                 "| map(attribute='value') | map('split', ':') | map('first') "
                 f"| reject('in', {DOWN}) | list | length }}}}"},
        "tasks": _live([
            {"name": "Wait until every session to a live switch is Established",
             "ansible.builtin.raw": "vtysh -c 'show bgp summary json'", "register": "bgp",
             "until": "bgp.rc == 0 and bgp.stdout.strip().startswith('{') and "
                      f"({up} | length) == fabric_live_uplinks | int",
             "retries": RETRIES, "delay": DELAY, "changed_when": False},
            # BFD is what makes a lost uplink fail over in about 3 s instead of BGP's hold time
            {"name": "Wait until the BFD session of every live uplink is up",
             "ansible.builtin.raw": "vtysh -c 'show bfd peers json'", "register": "bfd",
             "until": "bfd.rc == 0 and bfd.stdout.strip().startswith('[') and "
                      f"({bfd_up} | length) == fabric_live_uplinks | int",
             "retries": RETRIES, "delay": DELAY, "changed_when": False},
            _report(LINE + "bgp {{ inventory_hostname }} "
                    f"{{{{ {up} | length }}}}/{{{{ fabric_live_uplinks }}}} sessions Established "
                    f"({{{{ {up} | map(attribute='key') | join(',') }}}}), bfd "
                    f"{{{{ {bfd_up} | length }}}}/{{{{ fabric_live_uplinks }}}} up")])}


def _evpn_play(leaves: list[str], multihomed: bool) -> dict[str, Any]:
    types = ["1", "2", "3", "4"] if multihomed else ["2", "3"]
    # No backslashes: Ansible doubles them inside a templated string, so [[] and []] match
    # the brackets of a route key such as "[2]:[0]:[48]:[...]".
    count = "evpn.stdout | regex_findall('\"[[]' ~ item ~ '[]]:') | length"
    return {
        "name": "Check - every leaf holds EVPN routes of every type",
        "hosts": ":".join(leaves), "gather_facts": False, "become": True,
        "vars": {"evpn_types": types},
        "tasks": _live([
            {"name": "Wait until routes of every type are there",
             "ansible.builtin.raw": "vtysh -c 'show bgp l2vpn evpn route json'",
             "register": "evpn",
             "until": "evpn.rc == 0 and evpn_types | reject('in', evpn.stdout "
                      "| regex_findall('\"[[]([0-9])[]]:') | unique) | list | length == 0",
             "retries": RETRIES, "delay": DELAY, "changed_when": False},
            _report(LINE + "evpn {{ inventory_hostname }} "
                    "{% for item in evpn_types %}type-{{ item }} "
                    f"{{{{ {count} }}}}{{{{ ', ' if not loop.last }}}}{{% endfor %}}")])}


#: Per member of a bond, "<member> <partner system MAC>", and "ports <n>" of its active
#: aggregator, from /proc/net/bonding/<bond>.
_LACP_STATE = ("awk '/^Slave Interface:/ {s = $3} /details partner lacp pdu:/ {p = 1} "
               "p && /system mac address:/ {print s, $4; p = 0} "
               "/^Active Aggregator Info:/ {a = 1} a && /Number of ports:/ {print \"ports\", $4; "
               "a = 0}' /proc/net/bonding/{{ item.key }}")


def _lacp_play(bonds: dict[str, dict[str, Any]]) -> dict[str, Any]:
    live = (f"item.value.members | dict2items | rejectattr('value', 'in', {DOWN}) "
            "| map(attribute='key') | list")
    expected = (f"{live} | map('regex_replace', '$', ' ' ~ item.value.mac) | list + "
                f"['ports ' ~ ({live} | length)]")
    return {
        "name": "Check - every server bond has an LACP partner on each member",
        "hosts": ":".join(sorted(bonds)), "gather_facts": False, "become": True,
        "vars": {"fabric_bonds": bonds},
        "tasks": _live([
            {"name": "Wait until each member has its Ethernet segment's partner, all in one "
             "aggregator",
             "ansible.builtin.raw": _LACP_STATE, "register": "lacp",
             "loop": "{{ fabric_bonds[inventory_hostname] | dict2items }}",
             "until": f"lacp.rc == 0 and ({expected}) | difference(lacp.stdout_lines) "
                      "| length == 0",
             "retries": RETRIES, "delay": DELAY, "changed_when": False},
            {"name": "Report on the controller's console",
             "ansible.builtin.raw": _CONSOLE,
             "loop": "{{ fabric_bonds[inventory_hostname] | dict2items }}",
             "vars": {"line": LINE + "lacp {{ inventory_hostname }} {{ item.key }} partner "
                      f"{{{{ item.value.mac }}}} on {{{{ {live} | join(',') }}}}, one aggregator"},
             "delegate_to": "{{ lab_controller }}", "become": False, "changed_when": False}])}


_PING = """failed=0
pids=""
{% for target in fabric_pings[inventory_hostname] %}
(for i in $(seq 30); do ping -c 1 -W 1 -I {{ target[0] }} {{ target[1] }} >/dev/null && exit 0; \
sleep 0.3; done
 echo "no answer: ping -I {{ target[0] }} {{ target[1] }}"; exit 1) &
pids="$pids $!"
{% endfor %}
for pid in $pids; do wait "$pid" || failed=1; done
exit "$failed"
"""


def _reach_play(pings: dict[str, list[list[str]]]) -> dict[str, Any]:
    return {
        "name": "Check - every server reaches every other one on every fabric network",
        "hosts": ":".join(sorted(pings)), "gather_facts": False, "become": True,
        "vars": {"fabric_pings": pings},
        "tasks": _live([
            {"name": "Ping every target bound to its interface, in parallel",
             "ansible.builtin.raw": _PING, "changed_when": False},
            _report(LINE + "reach {{ inventory_hostname }} "
                    "{% for t in fabric_pings[inventory_hostname] %}{{ t[0] }}>{{ t[1] }}"
                    "{{ ' ' if not loop.last }}{% endfor %}")])}


WATCH_DIR = "/run/gns3lab-watch"
MAX_OUTAGE = 10  # seconds a server may lose a target while a leaf fails
_WATCH_START = f"""set -e
mkdir -p {WATCH_DIR}
find {WATCH_DIR} -mindepth 1 -delete
date +%s.%N >{WATCH_DIR}/start
{{% for t in fabric_pings[inventory_hostname] %}}
out={WATCH_DIR}/{{{{ t[0] }}}}@{{{{ t[1] }}}}
setsid nohup ping -D -n -i 0.2 -W 1 -w {{{{ fabric_watch }}}} -I {{{{ t[0] }}}} {{{{ t[1] }}}} \
>"$out" 2>&1 </dev/null &
{{% endfor %}}
"""
#: One "<interface> <target> <seconds>" line per watched target: the longest time without an
#: answer, between the watch's start, the answers (``ping -D`` stamps them ``[<epoch>]``) and
#: the watch's end.
_WATCH_GAPS = f"""start=$(cat {WATCH_DIR}/start)
for f in {WATCH_DIR}/*@*; do
  name=$(basename "$f")
  printf '%s %s ' "${{name%@*}}" "${{name#*@}}"
  awk -v t0="$start" -v w={{{{ fabric_watch }}}} '
    BEGIN {{last = t0}}
    /bytes from/ {{t = substr($1, 2, length($1) - 2); g = t - last; if (g > m) m = g; last = t}}
    END {{g = t0 + w - last; if (g > m) m = g; printf "%.1f\\n", m}}' "$f"
done
"""


def _watch_plays(pings: dict[str, list[list[str]]]) -> list[dict[str, Any]]:
    """With ``-e fabric_watch=<s>``: every server pings every target every 0.2 s for that long
    (the test stops a leaf once the console says so), then the longest gap per target must
    stay under :data:`MAX_OUTAGE` seconds."""
    hosts = ":".join(sorted(pings))
    when = f"fabric_watch is defined and {LIVE}"
    first = "fabric_watch is defined and inventory_hostname == ansible_play_hosts[0]"
    gaps = "watch.stdout_lines | map('split') | selectattr('2', 'defined') | list"
    outage_expr = "(gaps | map(attribute='2') | map('float') | max)"
    outage = f"{{{{ {outage_expr} }}}}"
    return [
        {"name": "Watch - every server pings every target while a leaf fails",
         "hosts": hosts, "gather_facts": False, "become": True, "vars": {"fabric_pings": pings},
         "tasks": [{"name": "Start the pings", "ansible.builtin.raw": _WATCH_START,
                    "when": when, "changed_when": False},
                   {**_report(LINE + "watch started on {{ ansible_play_hosts | join(',') }}"),
                    "when": first}]},
        {"name": "Watch - the longest outage per target", "hosts": hosts,
         "gather_facts": False, "become": True,
         "tasks": [{"name": "Wait for the end of the watch",
                    "ansible.builtin.pause": {"seconds": "{{ fabric_watch | int + 2 }}"},
                    "when": first},
                   {"name": "Read the gaps", "ansible.builtin.raw": _WATCH_GAPS,
                    "register": "watch", "when": when, "changed_when": False},
                   {**_report(LINE + "outage {{ inventory_hostname }} max {{ outage }} s "
                              "({% for g in gaps %}{{ g[0] }}>{{ g[1] }} {{ g[2] }}"
                              "{{ ', ' if not loop.last }}{% endfor %})",
                              gaps=f"{{{{ {gaps} }}}}", outage=outage), "when": when},
                   {"name": f"No target was lost for {MAX_OUTAGE} s or more",
                    "ansible.builtin.assert": {"that": f"{outage_expr} < {MAX_OUTAGE}",
                                               "quiet": True},
                    "vars": {"gaps": f"{{{{ {gaps} }}}}"}, "when": when}]},
    ]


def ping_targets(lab: Lab, hosts: list[str], vlans: list[int]) -> dict[str, list[list[str]]]:
    """host -> [interface, address] for every other host's address on each fabric network
    (one with a VLAN the fabric carries) the host has an address on."""
    fabric_nets = {n.name for n in lab.networks if n.vlan in vlans}
    where: dict[str, dict[str, tuple[str, str]]] = {}
    for name in hosts:
        for iface in lab.node(name).interfaces:
            if iface.network in fabric_nets and iface.addresses and not iface.dhcp:
                where.setdefault(iface.network, {})[name] = (iface.name,
                                                             str(iface.addresses[0].ip))
    out: dict[str, list[list[str]]] = {}
    for net in sorted(where):
        for name, (source, _) in sorted(where[net].items()):
            out.setdefault(name, []).extend([source, address] for other, (_, address)
                                            in sorted(where[net].items()) if other != name)
    return dict(sorted(out.items()))


def segment_bonds(lab: Lab, switches: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """server -> {bond: its segment's system MAC and {member: the leaf it reaches}}, for every
    bond that is an Ethernet segment."""
    out: dict[str, dict[str, Any]] = {}
    for leaf, switch in sorted(switches.items()):
        for spec in switch.get("bonds", {}).values():
            if not spec["es_sys_mac"]:
                continue
            server, bond = spec["remote"].split(":")
            entry = out.setdefault(server, {}).setdefault(bond, {"mac": spec["es_sys_mac"],
                                                                 "members": {}})
            for local, remote in lab.links_of(leaf):
                if local.port_name in spec["members"] and remote.node == server:
                    entry["members"][remote.port_name] = leaf
    return {server: {bond: {"mac": b["mac"], "members": dict(sorted(b["members"].items()))}
                     for bond, b in sorted(by_bond.items())}
            for server, by_bond in sorted(out.items())}


def check_playbook(lab: Lab, data: dict[str, Any]) -> bytes:
    """The plays that prove the fabric: BGP, LACP partners, reachability, then EVPN routes
    (after the pings: a leaf has MAC routes, type 2, only for hosts that sent something)."""
    switches = data["switches"]
    routers = sorted(n for n, s in switches.items() if s["kind"] != "access")
    leaves = sorted(n for n, s in switches.items() if s["kind"] == "leaf")
    bonds = segment_bonds(lab, switches)
    pings = ping_targets(lab, sorted(bonds), data["vlans"])
    plays = _watch_plays(pings) if pings else []
    plays.append(_bgp_play(routers))
    if bonds:
        plays.append(_lacp_play(dict(sorted(bonds.items()))))
    if pings:
        plays.append(_reach_play(pings))
    if leaves:
        plays.append(_evpn_play(leaves, multihomed=bool(bonds)))
    return ansible_document(HEADER, plays)


def frr_playbooks(lab: Lab, data: dict[str, Any]) -> dict[str, bytes]:
    """The install playbook and the check playbook, by path."""
    return {PLAYBOOK: install_playbook(data["switches"]),
            CHECK_PLAYBOOK: check_playbook(lab, data)}
