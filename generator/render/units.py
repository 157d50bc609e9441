"""The controller's first-boot run (pure): ``bootstrap.sh`` with the stages unrolled,
``stages.json`` for people and tools, and the systemd units that start dnsmasq, NAT and the
bootstrap."""

from __future__ import annotations

import json

from generator.model import Lab
from generator.render import guest_paths as gp
from generator.render.stages import CHECK_STAGE, Managed, Stage, controller_of
from generator.render.templating import render_template

#: Seconds between two probes of a host that does not answer yet: a guest's sshd is seen
#: within about a second of listening.
POLL_SECONDS = 1
#: Seconds between two SSH logins to a host whose port is open but that refuses the lab key
#: (yet): a handshake costs both sides seconds of CPU under emulation.
LOGIN_POLL_SECONDS = 5
#: Seconds between two looks at the probes' marks (local files: costs nothing).
WAIT_POLL = "0.2"
#: Where the SSH master connections live: Ansible's control_path_dir (ansible.cfg.j2), so the
#: masters the probes open are the ones every playbook uses.
CONTROL_DIR = "/root/.ansible/cp"
#: How long an idle master connection stays: longer than any stage, so no playbook pays a
#: handshake again (the bootstrap unit's processes all end with the bootstrap).
CONTROL_PERSIST = "30m"
UP_DIR = f"{gp.STATE_DIR}/up"


def _entry(m: Managed, local: bool = False) -> str:
    """``NAME USER ADDRESS`` as the script reads it (user ``-``: the controller itself)."""
    return f"{m.node.name} {'-' if local else m.user} {m.address}"


def render_script(lab: Lab, stages: tuple[Stage, ...], managed: list[Managed]) -> bytes:
    """bootstrap.sh: a probe per managed host (not the controller) started at once, then the
    stages unrolled, each waiting for its hosts' probes; the check stage runs in the script."""
    ctl = controller_of(lab)
    by_name = {m.node.name: m for m in managed}
    ctx = [{"name": s.name, "hosts": s.hosts, "playbooks": s.playbooks, "timeout": s.timeout,
            "soft": s.name == CHECK_STAGE,
            "wait": [_entry(by_name[h]) for h in s.hosts if h != ctl.node],
            "check": [_entry(by_name[h], h == ctl.node) for h in s.hosts]} for s in stages]
    probes = [_entry(m) for m in managed if m.node.name != ctl.node]
    return render_template("bootstrap.sh.j2", lab=lab.name, controller=ctl.node,
                           ansible_dir=gp.ANSIBLE_DIR, log=gp.LOG, state_dir=gp.STATE_DIR,
                           status=gp.STATUS, marker=gp.MARKER, script=gp.SCRIPT, key=gp.KEY,
                           up_dir=UP_DIR, control_dir=CONTROL_DIR, persist=CONTROL_PERSIST,
                           poll=POLL_SECONDS, login_poll=LOGIN_POLL_SECONDS,
                           wait_poll=WAIT_POLL,
                           cloud_init_wait=ctl.timeout, stages=ctx, probes=probes)


def render_stages_json(lab: Lab, stages: tuple[Stage, ...]) -> bytes:
    """stages.json: the ordered stages with hosts resolved to node names (for people and tools)."""
    doc = {"lab": lab.name, "controller": controller_of(lab).node,
           "stages": [{"name": s.name, "hosts": list(s.hosts), "playbooks": list(s.playbooks),
                       "timeout": s.timeout} for s in stages]}
    return (json.dumps(doc, indent=2, sort_keys=True) + "\n").encode()


def render_units(lab: Lab) -> dict[str, bytes]:
    """The units by name: dnsmasq and bootstrap always, NAT when the controller has an uplink."""
    uplink = controller_of(lab).uplink
    names = [gp.DNSMASQ_UNIT] + ([gp.NAT_UNIT] if uplink else []) + [gp.BOOTSTRAP_UNIT]
    return {name: render_template(f"{name}.j2", lab=lab.name, conf=gp.DNSMASQ_CONF,
                                  uplink=uplink, rules=gp.NAT_RULES,
                                  dnsmasq_unit=gp.DNSMASQ_UNIT, marker=gp.MARKER,
                                  script=gp.SCRIPT) for name in names}
