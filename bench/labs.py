"""Blueprints for the benchmarks, generated into a scratch folder.

:func:`write_lab` makes a lab shaped like the reference lab (``blueprints/openstack-ceph``): one
controller, a third of the VMs Cumulus-style switches (no cloud-init: hostname, the lab key for
``cumulus`` and a first-boot unit are injected), the rest cloud servers with seeds and an
injected file each. Every disk is injected. 15 VMs gives the reference lab's 1 + 5 + 9.
:func:`write_bundle_lab` makes a one-VM lab on a big raw image, for ``--include-images``.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from .baseimages import SERVER, SWITCH, md5_of

REPO = Path(__file__).resolve().parent.parent
FIRSTBOOT = REPO / "blueprints" / "openstack-ceph" / "files"
SWITCH_APPLIANCE = "Bench Cumulus VX"  # "cumulus" in the name: the login is injected
SERVER_APPLIANCE = "Bench Cloud Guest"  # "cloud" in the name: a NoCloud seed
RAW_APPLIANCE = "Bench Raw"


def write_appliance(folder: Path, name: str, image: Path, *, port_name_format: str = "eth{0}",
                    first_port_name: str | None = None) -> Path:
    """A .gns3a naming ``image`` with its real md5 and size."""
    folder.mkdir(parents=True, exist_ok=True)
    data = {
        "appliance_id": "00000000-0000-4000-8000-" + md5_of(image)[:12], "name": name,
        "category": "guest", "description": "gns3lab benchmark image", "vendor_name": "bench",
        "vendor_url": "https://example.org", "product_name": name, "registry_version": 4,
        "status": "experimental", "maintainer": "gns3lab bench",
        "maintainer_email": "bench@example.org", "port_name_format": port_name_format,
        "qemu": {"adapter_type": "virtio-net-pci", "adapters": 1, "ram": 256,
                 "hda_disk_interface": "virtio", "arch": "x86_64", "console_type": "telnet",
                 "kvm": "allow"},
        "images": [{"filename": image.name, "version": "1", "md5sum": md5_of(image),
                    "filesize": image.stat().st_size}],
        "versions": [{"name": "1", "images": {"hda_disk_image": image.name}}],
    }
    if first_port_name:
        data["first_port_name"] = first_port_name
    path = folder / f"{image.stem}.gns3a"
    path.write_text(json.dumps(data, indent=2))
    return path


def split(vms: int) -> tuple[int, int]:
    """(switches, servers) for a lab of ``vms`` VMs with one controller: 15 -> (5, 9)."""
    switches = max(1, round((vms - 1) * 5 / 14))
    return switches, vms - 1 - switches


def render_lab(vms: int) -> str:
    """The blueprint text of a ``vms``-VM lab (written out as YAML flow, no templating)."""
    switches, servers = split(vms)
    lines = [
        f"name: bench{vms}",
        f"description: gns3lab benchmark lab, {vms} VMs, every disk injected",
        "domain: bench.lab",
        "ssh_key: keys/id_ed25519",
        "defaults: {appliance: " + SERVER_APPLIANCE + ", version: '1', ram: 256, cpus: 1}",
        "groups:",
        "  switches:",
        f"    appliance: {SWITCH_APPLIANCE}",
        "    role: leaf",
        "    nics: auto",
        "    inject:",
        "      - {path: /usr/local/sbin/gns3lab-firstboot, source: files/cumulus-firstboot.sh,"
        " mode: '0755'}",
        "      - {path: /etc/systemd/system/gns3lab-firstboot.service,"
        " source: files/gns3lab-firstboot.service, enable: true}",
        "      - {path: /etc/sudoers.d/10-gns3lab, content: \"cumulus ALL=(ALL) NOPASSWD:ALL\\n\","
        " mode: '0440'}",
        "  servers:",
        "    role: server",
        "    nics: 2",
        "    interfaces:",
        "      eth0: {network: oob, dhcp: true, address: '{num+1000}'}",
        "    inject:",
        "      - {path: /etc/motd, content: \"gns3lab benchmark server\\n\", mode: '0644'}",
        "      - {path: /etc/dhcp/dhclient.conf, content: \"timeout 300;\\n\", mode: '0644'}",
        "networks:",
        "  oob: {cidr: 10.0.0.0/16, gateway: 10.0.0.1, dns: [10.0.0.1]}",
        "nodes:",
        "  mgmt01:",
        "    role: controller",
        "    nics: 2",
        "    interfaces:",
        "      eth0: {network: oob, address: 1}",
        f"  sw[1-{switches}]: {{group: switches}}",
        f"  srv[1-{servers}]: {{group: servers}}",
        "links:",
        "  - 'mgmt01:eth0 -- sw1:eth0'",
    ]
    for i in range(1, servers + 1):
        sw, port = (i - 1) % switches + 1, (i - 1) // switches + 1
        lines.append(f"  - 'srv{i}:eth0 -- sw{sw}:swp{port}'")
    lines += [
        "controller:",
        "  node: mgmt01",
        "  dhcp: [oob]",
        "  stages:",
        "    - {name: servers, hosts: [servers], playbooks: [playbooks/site.yml]}",
    ]
    return "\n".join(lines) + "\n"


PLAYBOOK = """- hosts: all
  gather_facts: false
  tasks:
    - name: the lab answers
      ansible.builtin.ping:
"""


def write_lab(folder: Path, vms: int, images: Path) -> Path:
    """``folder/bench<vms>/``: lab.yaml, files/, playbooks/, appliances/ and a fixed lab key
    (so every run builds the same archive)."""
    bp = folder / f"bench{vms}"
    shutil.rmtree(bp, ignore_errors=True)
    (bp / "files").mkdir(parents=True)
    (bp / "playbooks").mkdir()
    for name in ("cumulus-firstboot.sh", "gns3lab-firstboot.service"):
        shutil.copy(FIRSTBOOT / name, bp / "files" / name)
    (bp / "playbooks" / "site.yml").write_text(PLAYBOOK)
    (bp / "lab.yaml").write_text(render_lab(vms))
    write_appliance(bp / "appliances", SWITCH_APPLIANCE, images / SWITCH.filename,
                    port_name_format="swp{port1}", first_port_name="eth0")
    write_appliance(bp / "appliances", SERVER_APPLIANCE, images / SERVER.filename)
    write_key(bp / "keys")
    return bp


def write_key(folder: Path) -> None:
    """The fixed lab key of every bench lab (made once with ssh-keygen)."""
    import subprocess

    folder.mkdir(parents=True, exist_ok=True)
    key = folder / "id_ed25519"
    if not key.exists():
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "bench",
                        "-f", str(key)], check=True)


def write_bundle_lab(folder: Path, image: Path) -> Path:
    """A one-VM lab on ``image`` (raw, no cloud-init, nothing injected): only bundling costs."""
    bp = folder / f"bundle-{image.stem}"
    shutil.rmtree(bp, ignore_errors=True)
    bp.mkdir(parents=True)
    write_appliance(bp / "appliances", RAW_APPLIANCE, image)
    (bp / "lab.yaml").write_text(
        f"name: bundle{image.stat().st_size >> 30}g\n"
        "description: gns3lab benchmark, one VM on a big base image\n"
        "domain: bench.lab\nssh_key: keys/id_ed25519\n"
        f"nodes:\n  vm1: {{appliance: {RAW_APPLIANCE}, version: '1', ram: 256}}\n")
    write_key(bp / "keys")
    return bp
