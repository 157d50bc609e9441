"""The naive pipeline a user would script for the same lab, as one shell script.

Per node: ``qemu-img create`` (an overlay on the base), ``cloud-localds`` (the seed ISO of a
cloud node) and ``virt-customize`` (one libguestfs launch per injected node: hostname, key,
files, unit links); then ``zip -r`` of the lot. Its inputs (seed documents, the controller's
bootstrap tree, the injected files) are taken from an archive gns3lab built for the same
blueprint, so both pipelines write the same content.
"""

from __future__ import annotations

import json
import shlex
import zipfile
from dataclasses import dataclass
from pathlib import Path

from generator.write.iso import read_seed_iso

from .baseimages import SERVER, SWITCH


@dataclass(frozen=True)
class NaiveNode:
    """What the script does for one node: its base, its seed files, its virt-customize flags."""

    name: str
    base: Path
    seed: dict[str, Path]
    customize: tuple[str, ...]


def _seed_files(zf: zipfile.ZipFile, member: str, folder: Path) -> dict[str, Path]:
    iso = folder / "seed.iso"
    iso.write_bytes(zf.read(member))
    files = {}
    for name, data in read_seed_iso(iso).files.items():
        (folder / name).write_bytes(data)
        files[name] = folder / name
    iso.unlink()
    return files


def _tree_flags(tree: Path) -> list[str]:
    """--mkdir and --upload for every file of the bootstrap tree (guest paths from the root)."""
    flags: list[str] = []
    dirs = sorted({"/" + str(p.parent.relative_to(tree)) for p in tree.rglob("*") if p.is_file()})
    for d in dirs:
        flags += ["--mkdir", d]
    for p in sorted(tree.rglob("*")):
        if p.is_file():
            flags += ["--upload", f"{p}:/{p.relative_to(tree)}"]
    return flags


def plan(archive: Path, blueprint: Path, images: Path, work: Path) -> list[NaiveNode]:
    """The per-node steps, with their inputs extracted from ``archive`` into ``work``."""
    key = blueprint / "keys" / "id_ed25519"
    files = blueprint / "files"
    nodes: list[NaiveNode] = []
    with zipfile.ZipFile(archive) as zf:
        project = json.loads(zf.read("project.gns3"))
        tree = work / "bootstrap"
        for member in zf.namelist():
            if member.startswith("gns3lab/bootstrap/") and not member.endswith("/"):
                target = tree / member.removeprefix("gns3lab/bootstrap/")
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(zf.read(member))
        for node in sorted(project["topology"]["nodes"], key=lambda n: n["name"]):
            if node["node_type"] != "qemu":
                continue
            name, folder = node["name"], work / node["name"]
            folder.mkdir(parents=True, exist_ok=True)
            isos = [m for m in zf.namelist()
                    if m.startswith(f"project-files/qemu/{node['node_id']}/")
                    and m.endswith(".iso")]
            seed = _seed_files(zf, isos[0], folder) if isos else {}
            if name.startswith("sw"):
                flags = ["--hostname", name, "--ssh-inject", f"cumulus:file:{key}.pub",
                         "--mkdir", "/usr/local/sbin",
                         "--upload", f"{files}/cumulus-firstboot.sh:/usr/local/sbin/"
                         "gns3lab-firstboot", "--chmod", "0755:/usr/local/sbin/gns3lab-firstboot",
                         "--upload", f"{files}/gns3lab-firstboot.service:/etc/systemd/system/",
                         "--link", "/etc/systemd/system/gns3lab-firstboot.service:/etc/systemd/"
                         "system/multi-user.target.wants/gns3lab-firstboot.service",
                         "--mkdir", "/etc/sudoers.d",
                         "--write", "/etc/sudoers.d/10-gns3lab:cumulus ALL=(ALL) NOPASSWD:ALL",
                         "--chmod", "0440:/etc/sudoers.d/10-gns3lab"]
                base = images / SWITCH.filename
            elif name.startswith("srv"):
                flags = ["--write", "/etc/motd:gns3lab benchmark server",
                         "--mkdir", "/etc/dhcp", "--write", "/etc/dhcp/dhclient.conf:timeout 300;"]
                base = images / SERVER.filename
            else:  # the controller: its bootstrap tree and the lab's private key
                flags = [*_tree_flags(tree), "--mkdir", "/root/.ssh",
                         "--upload", f"{key}:/root/.ssh/id_ed25519",
                         "--chmod", "0600:/root/.ssh/id_ed25519"]
                base = images / SERVER.filename
            nodes.append(NaiveNode(name, base, seed, tuple(flags)))
    return nodes


def render_script(nodes: list[NaiveNode], out: Path) -> str:
    """The bash script: per node qemu-img, cloud-localds, virt-customize; then zip -r."""
    q = shlex.quote
    lines = ["set -euo pipefail", f"mkdir -p {q(str(out))}", f"cd {q(str(out))}"]
    for n in nodes:
        lines.append(f"qemu-img create -q -f qcow2 -F qcow2 -b {q(str(n.base))} {n.name}.qcow2")
        if n.seed:
            net = (f" --network-config={q(str(n.seed['network-config']))}"
                   if "network-config" in n.seed else "")
            lines.append(f"cloud-localds{net} {n.name}-seed.iso {q(str(n.seed['user-data']))} "
                         f"{q(str(n.seed['meta-data']))}")
        lines.append(f"virt-customize -q --no-network -a {n.name}.qcow2 "
                     + " ".join(q(f) for f in n.customize))
    lines.append("zip -q -r ../naive.zip .")
    return "\n".join(lines) + "\n"
