"""The reference lab built WITH injection, and every bundled blueprint's bootstrap linted.

The Cumulus VX and Ubuntu 18.04 images cannot be downloaded here, so the build runs on stand-in
bases made in the test (tests/support/standin_images.py: small qcow2 disks with an ext4 root and
the accounts injection needs), registered through the copied blueprint's own ``appliances/``
folder, which overrides the two appliances' checksums and sizes. ``build_lab`` injects all six
nodes that get files (mgmt01 and the five switches) in ONE libguestfs launch; then all 15 overlays
are read back out of the archive without a launch (tests/support/ext4_readback.py: debugfs on
each overlay's flattened copy, after e2fsck -fn finds it clean).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import pytest

from generator.build import BuildOptions, BuildResult, build_lab, load_lab
from generator.paths import Layout
from generator.render.bootstrap import render_bootstrap
from generator.write.guest import write_tree
from tests.helpers import REPO, make_tiny_appliance
from tests.support.ext4_readback import read_back_offline
from tests.support.readback import GuestStat, launches
from tests.support.standin_images import (
    STANDIN_HOSTNAME,
    Standin,
    make_standin,
    override_appliances,
)
from tests.unit.test_openstack_blueprint import BLUEPRINT, CUMULUS, UBUNTU

pytestmark = pytest.mark.slow  # ansible-lint, qemu-img and libguestfs

PUB = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGxhYmxhYmxhYmxhYmxhYmxhYmxhYmxhYmxhYmxhYmxh gns3lab@t"
ANSIBLE = "opt/gns3lab/ansible"
WANTS = "/etc/systemd/system/multi-user.target.wants"
SWITCHES = ("leaf01", "leaf02", "spine01", "spine02", "swmgmt")
SERVERS = ("compute1", "compute2", "infra1", "infra2", "infra3", "log1", "osd1", "osd2", "osd3")
CUMULUS_FILES = {  # guest path -> (mode, source in the blueprint or content)
    "/usr/local/sbin/gns3lab-firstboot": (0o755, BLUEPRINT / "files" / "cumulus-firstboot.sh"),
    "/etc/systemd/system/gns3lab-firstboot.service":
        (0o644, BLUEPRINT / "files" / "gns3lab-firstboot.service"),
    "/etc/sudoers.d/10-gns3lab": (0o440, b"cumulus ALL=(ALL) NOPASSWD:ALL\n"),
}
BUNDLED = ("demo", "openstack-ceph", "openstack-ceph-cumulus", "openstack-ceph-mini")


# --------------------------------------------------------------------------- lint


@pytest.fixture(scope="module")
def bundled_roots(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The bootstrap tree of every bundled blueprint, written out as a guest root."""
    images = tmp_path_factory.mktemp("lint-images")
    make_tiny_appliance(images, "gns3lab Debian 12", "gns3lab-debian-12-test.qcow2")
    roots = {}
    for name in BUNDLED:
        root = tmp_path_factory.mktemp(f"guest-{name}")
        write_tree(render_bootstrap(load_lab(REPO / "blueprints" / name, (images,)), PUB), root)
        roots[name] = root
    return roots


@pytest.mark.parametrize("name", BUNDLED)
def test_bootstrap_tree_passes_ansible_lint_production(bundled_roots: dict[str, Path],
                                                       name: str) -> None:
    """ansible-lint --profile production, on the whole Ansible folder (playbooks, inventory,
    group_vars, host_vars, the generated OSA files)."""
    folder = bundled_roots[name] / ANSIBLE
    books = sorted(p.name for p in (folder / "playbooks").glob("*.yml"))
    assert "check.yml" in books
    proc = subprocess.run(["ansible-lint", "--profile", "production", "--offline", "--nocolor",
                           "-p"], cwd=folder, capture_output=True, text=True, timeout=600,
                          check=False)
    assert proc.returncode == 0, f"{name}: {proc.stdout}{proc.stderr}"
    assert "Failed" not in proc.stderr and not proc.stdout.strip(), proc.stdout


# --------------------------------------------------------------------------- the injected build


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Stand-in bases, the blueprint copied with overriding appliances, one injected build, and
    the 15 overlays read back (debugfs, no launch)."""
    tmp = tmp_path_factory.mktemp("osa-injected")
    images = tmp / "images"
    images.mkdir()
    bases = {CUMULUS: make_standin(images, Standin(CUMULUS, "cumulus")),
             UBUNTU: make_standin(images, Standin(UBUNTU, "ubuntu"))}
    folder = tmp / "openstack-ceph-cumulus"
    shutil.copytree(BLUEPRINT, folder)
    overridden = override_appliances(folder / "appliances", bases)
    messages: list[str] = []
    result = build_lab(folder, BuildOptions(out_dir=tmp / "dist", images_dirs=(images,)),
                       messages.append)
    build_launches = launches(messages)
    overlays = _extract_overlays(result, tmp / "overlays")
    tree = render_bootstrap(result.lab, result.key_path.with_name("id_ed25519.pub").read_text())
    requests = {overlays[name]: _paths(name, result, tree) for name in overlays}
    stats = read_back_offline(requests)
    return {"result": result, "launches": build_launches, "tree": tree, "overridden": overridden,
            "stats": {name: stats[path] for name, path in overlays.items()},
            "public": result.key_path.with_name("id_ed25519.pub").read_text().strip()}


def _extract_overlays(result: BuildResult, out: Path) -> dict[str, Path]:
    """Every VM's overlay out of the archive, beside links to the bases it names bare (by the
    archive's names: a bundled base is named by its content)."""
    out.mkdir()
    for image in {n.image.filename: n.image for n in result.lab.vms if n.image}.values():
        assert image.path is not None
        (out / image.filename).symlink_to(image.path)
    layout = Layout(Path("."))
    overlays = {}
    with zipfile.ZipFile(result.archive) as zf:
        for node in result.lab.vms:
            overlays[node.name] = out / f"{node.name}.qcow2"
            overlays[node.name].write_bytes(zf.read(layout.rel(layout.overlay(node))))
    return overlays


def _paths(name: str, result: BuildResult, tree: Any) -> list[str]:
    common = ["/etc/hostname", "/etc/hosts", "/opt/gns3lab", "/home/cumulus/.ssh/authorized_keys",
              "/home/ubuntu/.ssh", f"{WANTS}/gns3lab-firstboot.service", *CUMULUS_FILES]
    if name == "mgmt01":
        return [*common, *tree.files, "/root/.ssh", "/root/.ssh/id_ed25519",
                *(f"{WANTS}/{unit}" for unit in tree.units)]
    return common


@pytest.mark.slow
def test_the_standins_override_the_two_appliances(built: dict[str, Any]) -> None:
    names = sorted(json.loads(p.read_text())["name"] for p in built["overridden"])
    assert names == ["Cumulus VX", "Ubuntu Cloud Guest"]
    lab = built["result"].lab
    assert {n.image.filename for n in lab.vms if n.image} == {CUMULUS, UBUNTU}
    assert len(lab.vms) == 15 and len(lab.links) == 63


@pytest.mark.slow
def test_one_launch_injects_the_controller_and_every_switch(built: dict[str, Any]) -> None:
    assert built["launches"] == 1
    assert set(built["result"].injected) == {"mgmt01", *SWITCHES}


@pytest.mark.slow
def test_every_overlay_was_read_back(built: dict[str, Any]) -> None:
    assert set(built["stats"]) == {"mgmt01", *SWITCHES, *SERVERS}


@pytest.mark.slow
@pytest.mark.parametrize("switch", SWITCHES)
def test_cumulus_hostname_key_and_first_boot_unit(built: dict[str, Any], switch: str) -> None:
    stats: dict[str, GuestStat] = built["stats"][switch]
    assert stats["/etc/hostname"].content == f"{switch}\n".encode()
    assert f"127.0.1.1\t{switch}" in (stats["/etc/hosts"].content or b"").decode()
    keys = stats["/home/cumulus/.ssh/authorized_keys"]
    assert (keys.mode, keys.owner, keys.group) == (0o600, "cumulus", "cumulus")
    assert (keys.content or b"").decode().splitlines() == [built["public"]]
    for path, (mode, source) in CUMULUS_FILES.items():
        st = stats[path]
        expected = source.read_bytes() if isinstance(source, Path) else source
        assert (st.kind, st.mode, st.owner, st.content) == ("file", mode, "root", expected), path
    link = stats[f"{WANTS}/gns3lab-firstboot.service"]
    assert (link.kind, link.target) == ("symlink",
                                        "/etc/systemd/system/gns3lab-firstboot.service")
    assert "/opt/gns3lab" not in stats  # the bootstrap tree goes to the controller only


@pytest.mark.slow
def test_controller_holds_the_bootstrap_tree_and_the_key(built: dict[str, Any]) -> None:
    stats: dict[str, GuestStat] = built["stats"]["mgmt01"]
    tree = built["tree"]
    assert f"/{ANSIBLE}/openstack/openstack_user_config.yml" in tree.files
    for path, (data, mode) in tree.files.items():
        st = stats[path]
        assert (st.kind, st.mode, st.owner, st.content) == ("file", mode, "root", data), path
    key = stats["/root/.ssh/id_ed25519"]
    assert (key.kind, key.mode, key.owner) == ("file", 0o600, "root")
    assert key.content == built["result"].key_path.read_bytes()
    assert stats["/root/.ssh"].mode == 0o700
    for unit in tree.units:
        assert stats[f"{WANTS}/{unit}"].target == f"/etc/systemd/system/{unit}"
    assert stats["/etc/hostname"].content == f"{STANDIN_HOSTNAME}\n".encode()  # cloud-init's job
    assert not any(p in stats for p in CUMULUS_FILES)


@pytest.mark.slow
@pytest.mark.parametrize("server", SERVERS)
def test_servers_are_left_to_cloud_init(built: dict[str, Any], server: str) -> None:
    """Ubuntu servers get everything from their seed: their overlays are the base's content."""
    stats: dict[str, GuestStat] = built["stats"][server]
    assert stats["/etc/hostname"].content == f"{STANDIN_HOSTNAME}\n".encode()
    assert "/opt/gns3lab" not in stats and "/home/ubuntu/.ssh" not in stats
    assert not any(p in stats for p in CUMULUS_FILES)


@pytest.mark.slow
def test_inspect_lists_the_key_inside_the_controllers_overlay(built: dict[str, Any]) -> None:
    """The only private key is inside mgmt01's overlay: inspect finds it there by scanning (and
    the manifest declares it), and in no plain member."""
    from generator.read.inspect import inspect_archive

    result: BuildResult = built["result"]
    secrets = inspect_archive(result.archive)["secrets"]
    mgmt = result.lab.node("mgmt01")
    inside = [s for s in secrets if "a private key inside this disk overlay" in s]
    assert inside == [f"found: project-files/qemu/{mgmt.node_id}/hda_disk.qcow2: a private key "
                      "inside this disk overlay"]
    assert "declared: mgmt01 overlay: the lab's private key /root/.ssh/id_ed25519 (mode 0600)" \
        in secrets
    assert not [s for s in secrets if "plain member" in s]
