"""Resolution step: the controller and its stages, then the checks that need the whole lab
(DHCP networks, uplink, stage hosts, add-on settings and add-on playbooks).

Everything ``build`` would refuse about the controller is found here, so ``validate`` reports
it with its file and line. The blueprint files the bootstrap copies (playbooks and what sits
beside them) are read here too, once they are checked, into ``Controller.files``: the
renderers only read the model.
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path, PurePosixPath

from generator import addons
from generator import model as m
from generator.blueprint.confine import confined, walk
from generator.errors import Refused
from generator.naming import closest_fix
from generator.resolve.stages import CHECK_STAGE
from generator.resolve.state import ResolverBase

#: Folders beside ``lab.yaml`` the bootstrap copies with a playbook that sits there.
PLAYBOOK_DIRS = ("roles", "templates", "files", "vars", "tasks", "handlers", "group_vars",
                 "host_vars", "library", "filter_plugins", "module_utils")
#: A stage's ``generated:`` playbooks: written by add-ons under the controller's Ansible folder.
GENERATED_RE = re.compile(r"^playbooks/[A-Za-z0-9][A-Za-z0-9_.-]*\.ya?ml$")


class ControllerSteps(ResolverBase):
    """Controller resolution; mixed into :class:`generator.resolve.lab.Resolver`."""

    def resolve_controller(self) -> m.Controller | None:
        spec = self.bp.controller
        if spec is None:
            return None
        path = ("controller",)
        draft = self.drafts.get(spec.node)
        if draft is None:
            self.problem(path + ("node",), f"controller node '{spec.node}' does not exist",
                         closest_fix(spec.node, self.drafts))
        elif draft.spec.type != "qemu":
            self.problem(path + ("node",), f"controller '{spec.node}' must be a VM",
                         "name a QEMU node")
        playbooks = tuple(self.blueprint_file(path + ("playbooks", i), pb)
                          for i, pb in enumerate(spec.playbooks))
        known_hosts: set[str] = {"all"} | set(self.bp.groups) | set(self.drafts) | {
            str(d.settings["role"]) for d in self.drafts.values() if d.settings.get("role")}
        stages: list[m.Stage] = []  # their playbooks as the blueprint names them, until below
        seen: set[str] = set()
        for i, stage in enumerate(spec.stages):
            spath = path + ("stages", i)
            if stage.name == CHECK_STAGE or stage.name in seen:
                self.problem(spath + ("name",), f"stage name '{stage.name}' is taken",
                             f"'{CHECK_STAGE}' is the final check; give each stage its own name")
            seen.add(stage.name)
            hosts = _listed(stage.hosts)
            for h in hosts:
                if h not in known_hosts:
                    self.problem(spath + ("hosts",),
                                 f"stage '{stage.name}' names unknown group '{h}'",
                                 closest_fix(h, known_hosts))
            books = _listed(stage.playbooks)
            for j, pb in enumerate(books):
                self.blueprint_file(spath + ("playbooks", j), pb)
            generated = _listed(stage.generated)
            for j, book in enumerate(generated):
                if not GENERATED_RE.match(book):
                    self.problem(spath + ("generated", j), f"generated playbook '{book}' is not "
                                 "playbooks/<name>.yml", "name an add-on's playbook, e.g. "
                                 "generated: [playbooks/fabric.yml]")
            stages.append(m.Stage(name=stage.name, patterns=hosts, playbooks=books,
                                  generated=generated, timeout=stage.timeout or spec.timeout))
        folder = self.src.folder
        own = [str(p.relative_to(folder)) for p in playbooks]
        written = own + [pb for s in stages for pb in s.playbooks]
        files = () if self.problems else read_playbook_files(folder, written)  # checked first
        return m.Controller(
            node=spec.node, uplink=spec.uplink, dhcp=tuple(spec.dhcp),
            playbooks=tuple(playbook_dest(folder, p) or p for p in own),
            stages=tuple(replace(s, playbooks=tuple(playbook_dest(folder, p) or p
                                                    for p in s.playbooks) + s.generated)
                         for s in stages),
            timeout=spec.timeout, files=files)

    def blueprint_file(self, path: tuple, written: str) -> Path:
        """A playbook the blueprint names, confined to its folder (a problem otherwise), and
        the folders the bootstrap copies with it (its own, or the Ansible folders beside
        lab.yaml), checked entry by entry: no links out, no FIFOs or devices."""
        try:
            file = confined(self.src.folder, written, "file")
            near = [file.parent] if file.parent != self.src.folder else [
                self.src.folder / d for d in PLAYBOOK_DIRS if (self.src.folder / d).is_dir()]
            for folder in near:
                walk(folder, str(folder.relative_to(self.src.folder)), skip_hidden=True)
            return file
        except Refused as exc:
            self.problem(path, exc.message, exc.fix)
            return self.src.folder / "missing"

    # -- checks on the resolved lab ------------------------------------------------------------
    def check_lab(self, lab: m.Lab) -> m.Lab:
        """What needs the whole model: the controller's networks, uplink and stage hosts, the
        add-ons' plans (their settings parsed once onto the model, their checks, the files they
        will write) and the playbooks stages expect add-ons to write. The lab with the plans.
        The add-ons parse their settings from the blueprint's ``extra:`` here, and only here."""
        if lab.controller is not None:
            self.check_controller(lab, lab.controller)
        lab, issues = addons.plan_addons(lab, self.bp.extra)
        for path, message, fix in issues:
            self.problem(path, message, fix)
        if lab.controller is not None and not self.problems:
            planned = {path for plan in lab.addons for path in plan.files}
            for i, stage in enumerate(lab.controller.stages):
                for j, book in enumerate(stage.generated):
                    if book not in planned:
                        self.problem(("controller", "stages", i, "generated", j),
                                     f"no add-on renders '{book}'", "enable the add-on (its "
                                     "settings under extra:) or drop the name")
        return lab

    def check_controller(self, lab: m.Lab, ctl: m.Controller) -> None:
        path = ("controller",)
        node = next((n for n in lab.vms if n.name == ctl.node), None)
        if node is None:
            return  # reported by resolve_controller
        known = {n.name for n in lab.networks}
        for i, net in enumerate(ctl.dhcp):
            if net not in known:
                self.problem(path + ("dhcp", i), f"unknown network '{net}'",
                             closest_fix(net, known))
            elif not any(i.network == net and i.addresses and not i.dhcp
                         for i in node.interfaces):
                self.problem(path + ("dhcp", i), f"controller '{node.name}' serves DHCP on "
                             f"'{net}' but has no static address there", f"give an interface "
                             f"of '{node.name}' 'network: {net}' and a fixed address (not dhcp)")
        names = {i.name for i in node.interfaces} | {n.name for n in node.nics}
        if ctl.uplink and ctl.uplink not in names:
            self.problem(path + ("uplink",), f"uplink '{ctl.uplink}' is not an interface of "
                         f"'{node.name}'", "name one of its NICs or interfaces, e.g. eth1")
        for i, stage in enumerate(ctl.stages):
            if not stage.hosts:
                self.problem(path + ("stages", i, "hosts"), f"stage '{stage.name}' names no "
                             "node the controller can reach", "name groups, roles or nodes "
                             "that have an address")


def playbook_dest(folder: Path, written: str | Path) -> str | None:
    """``playbooks/...`` path (relative to the Ansible folder) of a blueprint file, or None
    when it is outside ``folder``."""
    path = Path(written)
    path = path if path.is_absolute() else folder / path
    try:
        rel = PurePosixPath(path.resolve().relative_to(folder.resolve()))
    except ValueError:
        return None
    return str(rel if rel.parts[:1] == ("playbooks",) else PurePosixPath("playbooks", rel))


def read_playbook_files(folder: Path, written: list[str]) -> tuple[m.AnsibleFile, ...]:
    """The blueprint's playbooks and what sits beside them (a playbook's own folder, or the
    Ansible folders beside ``lab.yaml``), read, by path under the Ansible folder."""
    root = folder.resolve()
    sources: set[Path] = set()
    for pb in written:
        path = (root / pb).resolve()
        if playbook_dest(folder, path) is None or not path.is_file():
            continue
        sources.add(path)
        near = [path.parent] if path.parent != root else \
            [root / d for d in PLAYBOOK_DIRS if (root / d).is_dir()]
        sources.update(f for d in near for f in d.rglob("*") if _wanted(f, root))
    return tuple(m.AnsibleFile(playbook_dest(folder, f) or "", f.read_bytes(),
                               0o755 if f.stat().st_mode & 0o111 else 0o644)
                 for f in sorted(sources))


def _wanted(path: Path, folder: Path) -> bool:
    parts = path.relative_to(folder).parts
    return path.is_file() and not any(p.startswith(".") or p == "__pycache__" for p in parts) \
        and path.name not in ("lab.yaml", "lab.yml")


def _listed(value: list[str] | str) -> tuple[str, ...]:
    return (value,) if isinstance(value, str) else tuple(value)
