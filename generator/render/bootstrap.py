"""The controller's bootstrap tree (pure): Ansible inventory and stages, dnsmasq, NAT, units.

:func:`render_bootstrap` turns the lab model into the files the controller node gets in its
overlay (guest path -> content and mode) and the systemd units to enable. Same lab, same bytes:
everything is sorted and nothing holds a timestamp. The lab's private key is not part of the
tree; :mod:`generator.write.guest` adds it when injecting. The blueprint's own playbook files
come from the model (``Controller.files``, read at resolution): nothing here reads the disk.

At first boot the controller serves DHCP (one reservation per node MAC, so every node gets its
planned address) and DNS for the lab domain, optionally NATs the lab out of its uplink, and runs
``/opt/gns3lab/bootstrap.sh``: it probes every managed host's SSH in parallel from the start
(each host's master connection then serves every playbook); per stage, it waits for the stage's
hosts, runs its playbooks and prints ``gns3lab: stage <name> ok|failed`` on the console; then
stage ``check`` (one round trip per node, no Ansible) and ``gns3lab: lab ready``.

The parts: :mod:`~generator.render.stages` (managed nodes, stage hosts),
:mod:`~generator.render.ansible` (inventory, group_vars), :mod:`~generator.render.dnsmasq`
(DHCP, DNS, NAT), :mod:`~generator.render.units` (script, stages.json, units), and the add-ons'
files (:mod:`generator.addons`). The names other modules use are re-exported here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath

from generator import addons
from generator.errors import GeneratorError
from generator.model import Lab
from generator.render.ansible import render_group_vars, render_inventory
from generator.render.dnsmasq import dhcp_range, render_dnsmasq, render_nat, reverse_zones
from generator.render.guest_paths import (
    ANSIBLE_DIR,
    DNSMASQ_CONF,
    KEY,
    NAT_RULES,
    SCRIPT,
    STAGES_FILE,
    STATUS,
    UNIT_DIR,
)
from generator.render.logins import default_user
from generator.render.stages import (
    CHECK_PLAYBOOK,
    CHECK_STAGE,
    Managed,
    Stage,
    controller_of,
    managed_nodes,
    management_address,
    resolve_hosts,
    resolve_stages,
)
from generator.render.templating import render_template
from generator.render.units import (
    CONTROL_DIR,
    CONTROL_PERSIST,
    render_script,
    render_stages_json,
    render_units,
)

__all__ = ["CHECK_STAGE", "KEY", "STAGES_FILE", "UNIT_DIR", "BootstrapTree", "Managed", "Stage",
           "addons", "default_user", "dhcp_range", "managed_nodes", "management_address",
           "render_bootstrap", "render_dnsmasq", "render_nat", "resolve_hosts", "resolve_stages",
           "reverse_zones"]


@dataclass(frozen=True)
class BootstrapTree:
    """Guest path -> (content, mode) for the controller, and the units to enable."""

    files: dict[str, tuple[bytes, int]]
    units: tuple[str, ...]


def _ansible_files(lab: Lab, managed: list[Managed]) -> dict[str, tuple[bytes, int]]:
    """Everything under the Ansible folder, by relative path; add-ons may not overwrite."""
    ctl = controller_of(lab)
    cfg = render_template("ansible.cfg.j2", ansible_dir=ANSIBLE_DIR, key=KEY,
                          control_dir=CONTROL_DIR, persist=CONTROL_PERSIST)
    ours = {"ansible.cfg": (cfg, 0o644),
            "inventory.yml": (render_inventory(lab, managed), 0o644),
            "group_vars/all.yml": (render_group_vars(lab), 0o644),
            CHECK_PLAYBOOK: (render_template("check.yml.j2", lab=lab.name, controller=ctl.node,
                                             status=STATUS), 0o644)}
    files = {f.path: (f.content, f.mode) for f in ctl.files}
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
