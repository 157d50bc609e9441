"""The archive's ``README.md`` (pure): what a person needs to know about a lab build.

What the lab is, its nodes and their roles, its networks and addresses, the base images with
their checksums and where to get them, the resources it needs, how to import it (GNS3 GUI and
``gns3lab push``), how to log in with the lab key, and what "lab ready" looks like on the
controller's console. Built from the lab model and the manifest facts of the build
(:func:`generator.build.manifest_info`); same input, same text.
"""

from __future__ import annotations

from pathlib import Path

from generator.archive_format import MANIFEST, ImageRecord, Manifest
from generator.model import BaseImage, Lab
from generator.paths import Layout
from generator.render.image_advice import image_advice
from generator.render.stages import managed_nodes, resolve_stages

GIB = 2**30
#: Archive member names the README points to, spelled by the one Layout.
_ARCHIVE = Layout(Path())
_BLUEPRINT = _ARCHIVE.rel_dir(_ARCHIVE.blueprint_dir)
_IMAGES = _ARCHIVE.rel_dir(_ARCHIVE.images_dir)


def _table(head: list[str], rows: list[list[str]]) -> list[str]:
    """A Markdown table (``|`` in cells escaped)."""
    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"

    return [line(head), "|" + "|".join("---" for _ in head) + "|", *map(line, rows), ""]


def _code(*lines: str) -> list[str]:
    return ["```", *lines, "```", ""]


def archive_name(lab: Lab, info: Manifest) -> str:
    """The archive's file name: the manifest's, else ``<lab>[-<version>].gns3project``."""
    if info.archive:
        return info.archive
    return f"{lab.name}-{lab.version}.gns3project" if lab.version else f"{lab.name}.gns3project"


def render_readme(lab: Lab, info: Manifest) -> str:
    """The README of one build of ``lab`` (``info``: the manifest facts of the build)."""
    archive = archive_name(lab, info)
    title = f"# {lab.name}" + (f" {lab.version}" if lab.version else "")
    out = [title, ""]
    if lab.description:
        out += [lab.description, ""]
    out += [f"Built by {info.generator or 'gns3lab'} for GNS3 {lab.gns3} "
            f"(project revision 9, which GNS3 2.2 and 3.x open). The diagram is "
            f"`topology.svg`; the blueprint it was built from is in `{_BLUEPRINT}`, and "
            f"`{MANIFEST}` holds the sha256 of every file.", ""]
    out += _nodes(lab) + _networks(lab) + _images(lab, info) + _resources(lab, info)
    out += _import(lab, archive, info) + _login(lab) + _ready(lab)
    out += [line for plan in lab.addons for line in plan.readme]  # e.g. OpenStack-Ansible's
    return "\n".join(out).rstrip("\n") + "\n"


def _nodes(lab: Lab) -> list[str]:
    rows = []
    for n in lab.nodes:
        image = n.image.filename if n.image else ""
        vm = [f"{n.ram} MB", str(n.cpus), str(len(n.nics))] if n.is_vm else ["", "", ""]
        rows.append([n.name, n.type, n.role, str(n.tier), *vm, image, n.compute or ""])
    wires = [f"{link.a.node}:{link.a.port_name} -- {link.b.node}:{link.b.port_name}"
             for link in lab.links]
    return [f"## Nodes ({len(lab.nodes)})", "",
            *_table(["node", "type", "role", "tier", "RAM", "vCPUs", "NICs", "image",
                     "compute"], rows),
            f"Links ({len(lab.links)}):", "", *_code(*wires)]


def _networks(lab: Lab) -> list[str]:
    nets = [[n.name, str(n.cidr), "" if n.vlan is None else str(n.vlan),
             str(n.gateway or ""), ", ".join(n.dns)] for n in lab.networks]
    addrs = []
    for node in lab.nodes:
        for iface in node.interfaces:
            how = "DHCP (reserved)" if iface.dhcp else "static"
            addrs += [[node.name, iface.name, iface.network or "", str(a), how, iface.mac or ""]
                      for a in iface.addresses]
    out = ["## Networks and addresses", ""]
    if nets:
        out += _table(["network", "CIDR", "VLAN", "gateway", "DNS"], nets)
    if addrs:
        out += _table(["node", "interface", "network", "address", "how", "MAC"], addrs)
    if not nets and not addrs:
        out += ["The blueprint plans no networks or addresses.", ""]
    return out


def _image_source(entry: ImageRecord, image: BaseImage | None) -> str:
    if entry.included:
        return f"in this archive (`{_IMAGES}`)"
    if entry.url:
        return entry.url
    if image is not None and image.recipe is not None:
        return f"build it: `gns3lab images build {image.recipe}`"
    return "not downloadable: ask whoever built the lab"


def _file_cell(name: str, entry: ImageRecord) -> str:
    """The image's file name in the archive, and the one it is published under when the
    archive names it by content (GNS3 keeps a same-named file it already has)."""
    return f"{name} (published as {entry.original})" if entry.original else name


def _images(lab: Lab, info: Manifest) -> list[str]:
    images = info.images
    out = ["## Images needed", ""]
    if not images:
        return out + ["None: the lab has no VMs.", ""]
    known = {n.image.filename: n.image for n in lab.vms if n.image is not None}
    rows = [[_file_cell(name, e), f"{e.appliance} {e.version}".strip(),
             "" if e.size is None else str(e.size), f"md5 {e.md5}"
             + (f", sha256 {e.sha256}" if e.sha256 else ""), _image_source(e, known.get(name))]
            for name, e in sorted(images.items())]
    out += _table(["file", "appliance", "bytes", "checksums", "where to get it"], rows)
    bundled = [name for name, e in images.items() if e.included]
    if bundled:
        out += [f"Those in this archive (`{_IMAGES}`) GNS3 installs on import.", ""]
    if len(bundled) < len(images):
        out += ["Put the others in the GNS3 server's QEMU images folder by these exact names "
                "**before opening the project** (see *Import and start*). Every VM's disk is a "
                "linked clone that names its base image by file name and is only valid on that "
                "exact file: `gns3lab verify ARCHIVE --images-dir DIR` checks a folder against "
                "the checksums above.", ""]
    return out


def _resources(lab: Lab, info: Manifest) -> list[str]:
    totals = info.totals or lab.totals()
    out = ["## Resources", "",
           f"{len(lab.vms)} VMs: {totals['ram_mb']} MB RAM, {totals['vcpus']} vCPUs, "
           f"{totals['disk_bytes'] / GIB:.1f} GiB of disk at most (the overlays start small "
           f"and grow as the guests write).", ""]
    computes = info.computes
    if computes:
        placed = info.placement
        rows = [[name, "" if c.ram_mb is None else str(c.ram_mb),
                 ", ".join(sorted(n for n, where in placed.items() if where == name))]
                for name, c in sorted(computes.items())]
        out += ["The lab spans several GNS3 computes; `gns3lab push` places each node:", "",
                *_table(["compute", "RAM (MB)", "nodes"], rows)]
    return out


def _import(lab: Lab, archive: str, info: Manifest) -> list[str]:
    images = info.images
    advice = image_advice(images, [n for n, e in images.items() if e.included])
    return ["## Import and start", "",
            f"GNS3 GUI: **File > Import portable project**, choose `{archive}`, then "
            "**Start all** (the green triangle). With the GNS3 VM or a remote server, import "
            "it there.", "",
            *[line for para in advice for line in (para, "")],
            *_clouds(lab),
            "Command line (GNS3 2.2, or 3.x with `--user` and `--password`):", "",
            *_code(f"gns3lab push {archive} --server http://127.0.0.1:3080 --start --wait"),
            "`--wait` follows the consoles until the lab reports ready (exit 0), a stage fails "
            "or the timeout runs out (exit 1).", ""]


def _clouds(lab: Lab) -> list[str]:
    """Each cloud node's host interface: the blueprint names it (``ports:``), but the host the
    lab runs on may call its interface otherwise (Windows always does)."""
    out = []
    for node in lab.nodes:
        if node.type != "cloud":
            continue
        names = ", ".join(f"`{p.name}`" for p in node.ports)
        out += [f"`{node.name}` is bound to the host interface {names}, as the blueprint names "
                f"it (`ports:`). If the GNS3 server's host has no such interface (Windows, or "
                f"a Linux host whose interface is `enp3s0`, `wlan0`...), after importing: "
                f"right-click `{node.name}` > **Configure**, add your host's interface in "
                f"**Ethernet interfaces** and remove the missing one, then draw its link "
                f"again to the new port. Or set `ports:` in the blueprint and build again.", ""]
    return out


def _login(lab: Lab) -> list[str]:
    out = ["## Log in", ""]
    managed = managed_nodes(lab)
    if not managed:
        return out + ["Use each node's console in GNS3 (no node has a planned address).", ""]
    key = f"`{lab.ssh_key.name}` from the blueprint" if lab.ssh_key else \
        f"`keys/{lab.name}/id_ed25519` in the build's output folder"
    out += [f"Every node accepts the lab key ({key}) for its default user."]
    ctl = next((m for m in managed if lab.controller and m.node.name == lab.controller.node),
               None)
    rows = [[m.node.name, m.user, m.address, f"ssh -i <key> {m.user}@{m.address}"]
            for m in managed]
    if ctl is not None:
        out[-1] += (f" The controller `{ctl.node.name}` holds the private key as root, so from "
                    f"its console `ssh <user>@<address>` reaches every node; from a machine "
                    f"that reaches the lab network, jump through it: "
                    f"`ssh -i <key> -J {ctl.user}@{ctl.address} <user>@<address>`.")
    return out + ["", *_table(["node", "user", "address", "command"], rows)]


def _ready(lab: Lab) -> list[str]:
    out = ["## What \"lab ready\" looks like", ""]
    if lab.controller is None:
        return out + ["The lab has no controller: it is ready when its nodes have booted.", ""]
    stages = resolve_stages(lab)
    out += [f"At first boot the controller `{lab.controller.node}` serves DHCP and DNS, waits "
            "for SSH on each stage's hosts, runs the stage's playbooks, and prints on its serial "
            "console (stages in this order):", ""]
    rows = [[s.name, ", ".join(s.hosts) or "(none)", ", ".join(s.playbooks), f"{s.timeout} s"]
            for s in stages]
    out += _table(["stage", "hosts", "playbooks", "timeout"], rows)
    checks = [m for m in managed_nodes(lab) if m.node.name in stages[-1].hosts]
    lines = [f"gns3lab: stage {s.name} ok" for s in stages[:-1]]
    lines += [f"gns3lab: check {m.node.name} {m.address} ok" for m in checks]
    lines += [f"gns3lab: stage {stages[-1].name} ok", "gns3lab: lab ready"]
    out += _code(*lines)
    out += ["A stage that fails prints `gns3lab: stage <name> failed` and the bootstrap stops; "
            "its log is `/var/log/gns3lab-bootstrap.log` on the controller.", ""]
    return out
