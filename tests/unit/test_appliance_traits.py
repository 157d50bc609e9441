"""Appliance traits are facts of the appliance, carried by the model: how a node first boots
(``cloud-init`` seed or ``injected`` files) and which login the lab key goes to, decided when
the ``.gns3a`` is loaded (blueprint/appliances.py), never by matching the appliance's name."""

from __future__ import annotations

import json
from pathlib import Path

from generator.blueprint.appliances import REPO_APPLIANCES, load_appliance, load_catalogue
from generator.build import load_lab
from generator.render.logins import default_user, injected_login, is_cumulus

CUMULUS = json.loads((REPO_APPLIANCES / "cumulus-vx.gns3a").read_text())


def write_appliance(folder: Path, stem: str, **changes: object) -> Path:
    """The repo's Cumulus VX appliance with ``changes``, as ``folder/appliances/<stem>.gns3a``."""
    (folder / "appliances").mkdir(parents=True, exist_ok=True)
    path = folder / "appliances" / f"{stem}.gns3a"
    path.write_text(json.dumps({**CUMULUS, **changes}))
    return path


def test_catalogue_appliances_carry_their_first_boot_and_login() -> None:
    catalogue = load_catalogue([REPO_APPLIANCES])
    cumulus, ubuntu = catalogue.find("Cumulus VX"), catalogue.find("Ubuntu Cloud Guest")
    assert (cumulus.first_boot, cumulus.login, cumulus.system) == (
        "injected", "cumulus", "cumulus-linux")
    assert (ubuntu.first_boot, ubuntu.login, ubuntu.system) == ("cloud-init", None, None)


def test_the_trait_follows_the_vendor_not_the_name(tmp_path: Path) -> None:
    renamed = load_appliance(write_appliance(tmp_path, "leaf", name="Leaf OS",
                                             product_name="Leaf OS"))
    assert (renamed.first_boot, renamed.login) == ("injected", "cumulus")
    lookalike = load_appliance(write_appliance(tmp_path, "fake", name="Cumulus lookalike",
                                               vendor_name="Someone else"))
    assert (lookalike.first_boot, lookalike.login, lookalike.system) == ("none", None, None)
    odd = load_appliance(write_appliance(tmp_path, "odd", vendor_name=["Cumulus Network"]))
    assert odd.first_boot == "none"  # a vendor that is no string is no known vendor


def test_nodes_read_the_login_from_the_model(tmp_path: Path) -> None:
    folder = tmp_path / "bp"
    write_appliance(folder, "leaf", name="Leaf OS", product_name="Leaf OS")
    write_appliance(folder, "fake", name="Cumulus lookalike", vendor_name="Someone else")
    (folder / "lab.yaml").write_text(
        "name: traits\nnodes:\n  sw: {appliance: Leaf OS, version: 5.4.0}\n"
        "  other: {appliance: Cumulus lookalike, version: 5.4.0}\n"
        "  seeded: {appliance: Leaf OS, version: 5.4.0, seed: true}\n")
    lab = load_lab(folder)
    sw, other, seeded = lab.node("sw"), lab.node("other"), lab.node("seeded")
    assert sw.image is not None and sw.image.first_boot == "injected"
    assert (sw.injected_login, injected_login(sw), default_user(sw), is_cumulus(sw)) == (
        "cumulus", "cumulus", "cumulus", True)
    assert (other.injected_login, default_user(other), is_cumulus(other)) == (None, "lab", False)
    assert seeded.cloud_init is not None and seeded.injected_login is None
