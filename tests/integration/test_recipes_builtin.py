"""Issue 19's built-in recipes ``frr`` and ``debian-12-netplan``: what their images hold, read
back from the built qcow2 files (read-only, without a libguestfs launch: debugfs on a
flattened copy, after e2fsck -fn finds the root clean, tests/support/ext4_readback.py; the images
are the session's ``recipe_images``, built once and cached). They boot in the mini lab
(tests/e2e/test_openstack_mini_boot.py)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from generator.images.recipe import get_recipe
from tests.support.ext4_readback import read_back_offline
from tests.support.readback import GuestStat

pytestmark = [pytest.mark.slow]

FRR_FILES = ("/etc/frr/daemons", "/etc/modprobe.d/gns3lab-frr.conf",
             "/etc/sysctl.d/60-gns3lab-recipe.conf", "/etc/modules-load.d/gns3lab-recipe.conf",
             "/etc/systemd/system/multi-user.target.wants/frr.service",
             "/etc/systemd/system/multi-user.target.wants/lldpd.service",
             "/usr/bin/vtysh", "/usr/lib/frr/bgpd", "/usr/lib/frr/bfdd", "/usr/lib/frr/zebra",
             "/usr/lib/frr/frr-reload.py", "/usr/sbin/lldpd", "/usr/sbin/bridge", "/vmlinuz")
NETPLAN_FILES = ("/etc/cloud/cloud.cfg.d/91-gns3lab-netplan.cfg", "/usr/sbin/netplan",
                 "/etc/systemd/system/multi-user.target.wants/systemd-networkd.service",
                 "/etc/systemd/system/multi-user.target.wants/networking.service",
                 "/etc/network/interfaces")
#: The modules a VXLAN/EVPN fabric with EVPN multihoming needs, and what vxlan depends on.
FABRIC_MODULES = ("vxlan", "bridge", "bonding", "8021q", "vrf", "dummy", "sch_ingress",
                  "cls_flower", "act_gact", "act_mirred", "udp_tunnel", "ip6_udp_tunnel")


@pytest.fixture(scope="module")
def contents(recipe_images) -> dict[str, dict[str, GuestStat]]:  # type: ignore[no-untyped-def]
    """The files above and the frr kernel's modules.dep, read back in one go (every
    modules.dep in the image, by pattern: the kernel version is the image's)."""
    frr, netplan = recipe_images["frr"].path, recipe_images["debian-12-netplan"].path
    read = read_back_offline({frr: (*FRR_FILES, "/usr/lib/modules/*/modules.dep"),
                              netplan: NETPLAN_FILES})
    kernel = read[frr]["/vmlinuz"].target or ""
    version = kernel.rsplit("/vmlinuz-", 1)[-1]
    dep = f"/usr/lib/modules/{version}/modules.dep"
    return {"frr": {**read[frr], "modules.dep": read[frr][dep]},
            "debian-12-netplan": read[netplan]}


def _text(stat: GuestStat) -> str:
    assert stat.content is not None, f"{stat.path} is not a file"
    return stat.content.decode()


def test_frr_daemons_enabled_and_owned_by_frr(contents: dict[str, Any]) -> None:
    daemons = contents["frr"]["/etc/frr/daemons"]
    enabled = {line.split("=")[0] for line in _text(daemons).splitlines()
               if line.endswith("=yes") and not line.startswith("#")}
    assert enabled == {"bgpd", "bfdd", "vtysh_enable"}  # zebra and staticd always run
    assert (daemons.owner, daemons.group, daemons.mode) == ("frr", "frr", 0o640)
    for path in ("/usr/bin/vtysh", "/usr/lib/frr/bgpd", "/usr/lib/frr/bfdd",
                 "/usr/lib/frr/zebra", "/usr/lib/frr/frr-reload.py", "/usr/sbin/lldpd",
                 "/usr/sbin/bridge"):
        assert contents["frr"][path].kind == "file", path


def test_frr_services_sysctl_and_modules_at_boot(contents: dict[str, Any]) -> None:
    frr = contents["frr"]
    assert frr["/etc/systemd/system/multi-user.target.wants/frr.service"].kind == "symlink"
    assert frr["/etc/systemd/system/multi-user.target.wants/lldpd.service"].kind == "symlink"
    sysctl = dict(line.split(" = ") for line in
                  _text(frr["/etc/sysctl.d/60-gns3lab-recipe.conf"]).splitlines()
                  if line and not line.startswith("#"))
    assert sysctl["net.ipv4.ip_forward"] == "1"
    assert sysctl["net.ipv6.conf.all.forwarding"] == "1"
    loaded = _text(frr["/etc/modules-load.d/gns3lab-recipe.conf"]).split()
    assert set(FABRIC_MODULES[:10]) <= set(loaded)
    options = _text(frr["/etc/modprobe.d/gns3lab-frr.conf"])
    assert "options bonding max_bonds=0" in options
    assert "options dummy numdummies=0" in options


def test_frr_kernel_keeps_the_fabric_modules(contents: dict[str, Any]) -> None:
    """prune-modules.sh deletes most of the kernel's modules; the recipe's (and their
    dependencies) survive it and are known to modprobe (modules.dep)."""
    deps = _text(contents["frr"]["modules.dep"])
    present = {line.split(":")[0].rsplit("/", 1)[-1].split(".ko")[0].replace("-", "_")
               for line in deps.splitlines()}
    assert set(FABRIC_MODULES) <= present, sorted(set(FABRIC_MODULES) - present)


def test_netplan_image_renders_through_netplan(contents: dict[str, Any]) -> None:
    netplan = contents["debian-12-netplan"]
    cfg = _text(netplan["/etc/cloud/cloud.cfg.d/91-gns3lab-netplan.cfg"])
    assert "renderers: [netplan]" in cfg
    assert netplan["/usr/sbin/netplan"].kind in ("file", "symlink")
    wants = "/etc/systemd/system/multi-user.target.wants/"
    assert netplan[wants + "systemd-networkd.service"].kind == "symlink"
    assert wants + "networking.service" not in netplan  # ifupdown is not used
    # ifupdown's file is there (debian-12's packages), but holds nothing but the loopback
    assert "iface eth" not in _text(netplan["/etc/network/interfaces"])


@pytest.mark.parametrize("name", ["frr", "debian-12-netplan"])
def test_appliance_defaults(recipe_images, name: str) -> None:  # type: ignore[no-untyped-def]
    recipe = get_recipe(name)
    appliance = json.loads(recipe_images[name].appliance_path.read_text())
    assert appliance["name"] == recipe.appliance_name
    assert appliance["qemu"]["ram"] == 384
    assert appliance["qemu"]["adapters"] == (8 if name == "frr" else 1)
    assert appliance["images"][0]["filename"] == recipe_images[name].path.name
