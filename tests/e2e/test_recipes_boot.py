"""Issue 19's boots of the built-in recipes, in one small lab pushed to a real gns3-server 2.2.61:
``tests/data/blueprints/recipes-boot`` (two ``frr`` routers, one ``debian-12-netplan`` host whose
bond's partner is r1, as a leaf is a host's).

- ``frr``: the fabric's kernel modules are loaded, bgpd and bfdd run, the eBGP session between
  r1 and r2 is Established (read from ``vtysh -c 'show bgp summary json'``), its BFD session is
  up and the peer's loopback is a BGP route;
- ``debian-12-netplan``: cloud-init rendered bonds, VLANs and bridges through netplan,
  ``networkctl`` shows every link configured, its 802.3ad bond has r1's bond as LACP partner,
  and its br0 (on VLAN 10 of the bond) reaches r1's br0.

The lab's controller r1 runs stage ``recipes`` (playbooks/recipes.yml), which prints one
``gns3lab-recipes:`` line per node on r1's console; this test reads them from the push's
transcript. A failed stage ends the wait at once; the consoles are kept in test-artifacts/.
"""

from __future__ import annotations

import os
import re
import time

import pytest

from generator.build import BuildOptions, build_lab
from generator.server.push import push_archive
from tests.e2e.timing import Stamped, record_timeline
from tests.helpers import REPO, judging_pushed_lab, link_image
from tests.support.images import images_dir

pytestmark = [pytest.mark.slow, pytest.mark.boot]

BLUEPRINT = REPO / "tests" / "data" / "blueprints" / "recipes-boot"
# seconds; three TCG guests on two idle cores boot in 2-4 minutes and the Ansible stage adds
# about one, but a loaded host (other boots, image builds) can make that many times longer.
WAIT = 1500
STALL = 300  # seconds without a console line: the guests stopped progressing, fail now
PLANNED = {"r1": "192.168.60.1", "r2": "192.168.60.2", "h1": "192.168.60.11"}


def test_recipes_boot(recipe_images, gns3_server_22,  # type: ignore[no-untyped-def]
                      tmp_path_factory: pytest.TempPathFactory) -> None:
    started = time.monotonic()
    result = build_lab(BLUEPRINT, BuildOptions(out_dir=tmp_path_factory.mktemp("dist"),
                                               images_dirs=(images_dir(),),
                                               include_images=False), print)
    built = time.monotonic()
    by_node = {n.name: n.image.filename for n in result.lab.vms}
    assert by_node == {"r1": recipe_images["frr"].path.name,
                       "r2": recipe_images["frr"].path.name,
                       "h1": recipe_images["debian-12-netplan"].path.name}
    for image in recipe_images.values():
        link_image(image.path, gns3_server_22.images_dir)
    events = Stamped()
    load = os.getloadavg()
    push = push_archive(result.archive, gns3_server_22.url, start=True, wait=True, stall=STALL,
                        timeout=WAIT, progress=events)
    done = time.monotonic()
    record_timeline("recipes", push, events, done - built, load)
    lines = [ln.strip() for ln in push.transcripts.get("r1", "").splitlines()
             if "gns3lab" in ln]
    print(f"\nbuild {built - started:.0f} s, push and wait {done - built:.0f} s")
    print("\n".join(f"  {ln}" for ln in lines if ln.startswith("gns3lab-recipes:")))
    with judging_pushed_lab(gns3_server_22, push, "e2e-recipes"):
        assert push.ready, f"lab not ready: {push.failure}"
        assert push.stages == [("recipes", True), ("check", True)]
        assert {c.node: (c.address, c.ok) for c in push.checks} == {
            name: (address, True) for name, address in PLANNED.items()}
        for router, peer, loopback in (("r1", "10.0.12.2", "10.255.0.2/32"),
                                       ("r2", "10.0.12.1", "10.255.0.1/32")):
            assert f"gns3lab-recipes: bgp {router} modules vxlan,bridge,bonding,8021q,vrf " \
                   f"loaded; peer {peer} Established, bfd up, {loopback} via bgp" in lines
        line = next(ln for ln in lines if ln.startswith("gns3lab-recipes: netplan h1 "))
        assert re.fullmatch(
            r"gns3lab-recipes: netplan h1 networkd configured eth0,eth1,eth2,bond0,bond0\.10,br0; "
            r"bond0 802\.3ad (eth1\+eth2|eth2\+eth1) LACP partner (?!00:00:00:00:00:00)"
            r"[0-9a-f:]{17}; "
            r"br0 on bond0\.10 reaches 10\.20\.0\.1", line), line
        assert not [ln for ln in lines if "FAILED" in ln]
        assert "gns3lab: lab ready" in lines
        assert done - started < WAIT
