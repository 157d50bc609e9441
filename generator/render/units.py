"""The controller's first-boot run (pure): ``bootstrap.sh`` with the stages unrolled,
``stages.json`` for people and tools, and the systemd units that start dnsmasq, NAT and the
bootstrap."""

from __future__ import annotations

import json

from generator.model import Lab
from generator.render import guest_paths as gp
from generator.render.stages import CHECK_STAGE, Managed, Stage, controller_of
from generator.render.templating import render_template

POLL_SECONDS = 5


def render_script(lab: Lab, stages: tuple[Stage, ...], managed: list[Managed]) -> bytes:
    """bootstrap.sh: the stages unrolled, each waiting for SSH on its hosts (not the controller)."""
    ctl = controller_of(lab)
    by_name = {m.node.name: m for m in managed}
    ctx = [{"name": s.name, "hosts": s.hosts, "playbooks": s.playbooks, "timeout": s.timeout,
            "soft": s.name == CHECK_STAGE,
            "wait": [f"{h} {by_name[h].user} {by_name[h].address}" for h in s.hosts
                     if h != ctl.node]} for s in stages]
    return render_template("bootstrap.sh.j2", lab=lab.name, controller=ctl.node,
                           ansible_dir=gp.ANSIBLE_DIR, log=gp.LOG, state_dir=gp.STATE_DIR,
                           status=gp.STATUS, marker=gp.MARKER, script=gp.SCRIPT, key=gp.KEY,
                           poll=POLL_SECONDS, cloud_init_wait=ctl.timeout, stages=ctx)


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
