"""The controller's bootstrap tree injected by ``build_lab`` into a real overlay (libguestfs).

One appliance launch (about 20 s under TCG): the build's single injection (controller and
another node together). The small base image takes none (its filesystem is made on the host,
tests/support/standin_images.py), nor does reading both overlays back (debugfs on each overlay's
flattened copy, after e2fsck -fn finds it clean: tests/support/ext4_readback.py).
"""

from __future__ import annotations

import hashlib
import os
import zipfile
from pathlib import Path

import pytest

from generator import tools
from generator.build import BuildOptions, build_lab, load_lab
from generator.paths import Layout
from generator.render.bootstrap import render_bootstrap
from tests.helpers import make_tiny_appliance
from tests.support.ext4_readback import read_back_offline
from tests.support.readback import launches
from tests.support.standin_images import to_qcow2, write_fs

pytestmark = pytest.mark.slow

APPLIANCE = "gns3lab Debian 12"
BASE = "gns3lab-debian-12-inject.qcow2"
PASSWD = ("root:x:0:0:root:/root:/bin/bash\n"
          "lab:x:1000:1000:Lab user:/home/lab:/bin/bash\n")
GROUP = "root:x:0:\nlab:x:1000:\n"
BLUEPRINT = """\
name: inject
defaults: {appliance: gns3lab Debian 12}
networks:
  lab: {cidr: 10.30.0.0/24}
nodes:
  ctl:
    interfaces:
      eth0: {network: lab, address: 1}
  srv:
    interfaces:
      eth0: {network: lab, dhcp: true, address: 11}
    inject:
      - {path: /etc/gns3lab-srv, content: "srv\\n", mode: "0640"}
links:
  - "ctl:eth0 -- srv:eth0"
controller:
  node: ctl
  dhcp: [lab]
  stages:
    - {name: srv, hosts: srv, playbooks: [playbooks/srv.yml]}
"""
PLAYBOOK = ("- name: srv\n  hosts: srv\n  gather_facts: false\n  tasks:\n"
            "    - ansible.builtin.ping:\n")
WANTS = "/etc/systemd/system/multi-user.target.wants"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="session")
def images_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small base qcow2 (whole-disk ext4 with accounts and a unit folder), made on the host
    (``mke2fs -d``, no launch), and its .gns3a with the real md5 and size."""
    folder = tmp_path_factory.mktemp("inject-images")
    root = tmp_path_factory.mktemp("inject-base-tree")
    for d in ("etc/systemd/system", "lib/systemd/system", "root", "home/lab", "var/log"):
        (root / d).mkdir(parents=True, exist_ok=True)
    for path, text in (("etc/passwd", PASSWD), ("etc/group", GROUP),
                       ("etc/hosts", "127.0.0.1\tlocalhost\n")):
        (root / path).write_text(text)
    for path in (root, *root.rglob("*")):  # a guest's modes, whatever the host's umask
        path.chmod(0o755 if path.is_dir() else 0o644)
    (root / "root").chmod(0o700)
    os.chown(root / "home/lab", 1000, 1000)
    raw = folder / "base.raw"
    write_fs(raw, root, 64 << 20)
    to_qcow2(raw, folder / BASE)
    raw.unlink()
    make_tiny_appliance(folder, APPLIANCE, BASE)
    return folder


@pytest.fixture(scope="session")
def built(images_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    """build_lab on the blueprint (one injection launch), the overlays pulled out of the archive
    next to a link to the base image, and both overlays read back (no launch)."""
    folder = tmp_path_factory.mktemp("inject-bp")
    (folder / "lab.yaml").write_text(BLUEPRINT)
    (folder / "playbooks").mkdir()
    (folder / "playbooks/srv.yml").write_text(PLAYBOOK)
    base_sha = _sha256(images_dir / BASE)
    messages: list[str] = []
    result = build_lab(folder, BuildOptions(out_dir=folder / "dist", images_dirs=(images_dir,)),
                       messages.append)
    build_launches = launches(messages)
    lab = load_lab(folder, (images_dir,))
    layout = Layout(Path("."))
    out = folder / "overlays"
    out.mkdir()
    stored = f"{Path(BASE).stem}.{base_sha[:12]}.qcow2"  # bundled: named by content
    (out / stored).symlink_to(images_dir / BASE)
    overlays = {}
    with zipfile.ZipFile(result.archive) as zf:
        staged = {n: zf.read(n) for n in zf.namelist() if n.startswith("gns3lab/bootstrap/")}
        for node in lab.vms:
            overlays[node.name] = out / f"{node.name}.qcow2"
            overlays[node.name].write_bytes(zf.read(layout.rel(layout.overlay(node))))
    backing = {name: tools.image_info(path)["backing-filename"] for name, path in overlays.items()}
    tree = render_bootstrap(lab, result.key_path.with_name("id_ed25519.pub").read_text())
    paths = [*tree.files, "/root/.ssh", "/root/.ssh/id_ed25519",
             f"{WANTS}/gns3lab-bootstrap.service", f"{WANTS}/gns3lab-dnsmasq.service"]
    stats = read_back_offline({overlays["ctl"]: paths, overlays["srv"]: ["/etc/gns3lab-srv",
                                                                         "/opt/gns3lab"]})
    return {"result": result, "tree": tree, "staged": staged, "base_sha": base_sha,
            "launches": build_launches, "backing": backing, "ctl": stats[overlays["ctl"]],
            "srv": stats[overlays["srv"]], "base": images_dir / BASE, "stored": stored}


def test_one_launch_injects_the_controller_and_the_other_nodes(built) -> None:
    assert built["launches"] == 1
    assert built["result"].injected == ("ctl", "srv")
    srv = built["srv"]["/etc/gns3lab-srv"]
    assert (srv.content, srv.mode, srv.owner) == (b"srv\n", 0o640, "root")
    assert "/opt/gns3lab" not in built["srv"]  # the tree goes to the controller only


def test_controller_overlay_holds_the_bootstrap_tree(built) -> None:
    stats = built["ctl"]
    for path, (data, mode) in built["tree"].files.items():
        st = stats[path]
        assert (st.kind, st.mode, st.owner, st.group) == ("file", mode, "root", "root"), path
        assert st.content == data, path
        assert built["staged"][f"gns3lab/bootstrap{path}"] == data, path
    assert stats["/opt/gns3lab/bootstrap.sh"].mode == 0o755


def test_controller_has_the_private_key(built) -> None:
    key = built["ctl"]["/root/.ssh/id_ed25519"]
    assert (key.kind, key.mode, key.owner) == ("file", 0o600, "root")
    assert key.content == built["result"].key_path.read_bytes()
    assert built["ctl"]["/root/.ssh"].mode == 0o700
    assert not any(name.endswith("/id_ed25519") for name in built["staged"])


def test_units_are_enabled(built) -> None:
    for unit in ("gns3lab-bootstrap.service", "gns3lab-dnsmasq.service"):
        link = built["ctl"][f"{WANTS}/{unit}"]
        assert link.kind == "symlink" and link.target == f"/etc/systemd/system/{unit}"


def test_base_image_is_unchanged_and_overlays_name_it_bare(built) -> None:
    assert _sha256(built["base"]) == built["base_sha"]
    stored = built["stored"]  # what GNS3 rebases onto its folder: the archive's content name
    assert built["backing"] == {"ctl": stored, "srv": stored}
