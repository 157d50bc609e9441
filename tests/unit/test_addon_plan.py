"""The add-ons' resolve-time hook: ``plan`` parses each add-on's settings once, onto the model
(``Lab.addons``), and names the files its render writes; everything after resolve reads them."""

from __future__ import annotations

from dataclasses import replace

import pytest

from generator import addons
from generator.addons.fabric_settings import FabricSettings
from generator.addons.osa_settings import OpenStackSettings
from generator.build import load_lab
from generator.model import Lab
from generator.render.bootstrap import render_bootstrap
from tests.unit.test_openstack_blueprint import BLUEPRINT

PUB = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGdvbGRlbmdvbGRlbmdvbGRlbmdvbGRlbmdvbGRlbmdv plan"


@pytest.fixture(scope="module")
def lab() -> Lab:
    return load_lab(BLUEPRINT)


def test_resolve_puts_each_addons_settings_and_files_on_the_model(lab: Lab) -> None:
    plans = {p.name: p for p in lab.addons}
    assert set(plans) == {"fabric", "osa"}
    assert isinstance(plans["osa"].settings.release, str)
    assert plans["fabric"].settings.provider_vlans
    assert set(plans["fabric"].files) | set(plans["osa"].files) == set(addons.render_addons(lab))
    generated = {b for s in lab.controller.stages for b in s.generated} if lab.controller else set()
    assert generated <= set(plans["fabric"].files) | set(plans["osa"].files)


def test_nothing_after_resolve_parses_the_settings_again(lab: Lab, monkeypatch) -> None:
    def refuse(*_args, **_kwargs):
        raise AssertionError("settings parsed again after resolve")

    monkeypatch.setattr(OpenStackSettings, "model_validate", refuse)
    monkeypatch.setattr(FabricSettings, "model_validate", refuse)
    assert addons.render_addons(lab)
    assert render_bootstrap(lab, PUB).files


def test_a_lab_whose_extra_changed_is_parsed_again(lab: Lab) -> None:
    """A plan answers only for the ``extra`` it was made from (tests vary a resolved lab)."""
    changed = replace(lab, extra={**lab.extra, "provider_vlans": "3001-3002"})
    vlans = addons.fabric.load_fabric_settings(changed)[0]
    assert vlans is not None and vlans.provider_vlans == (3001, 3002)
