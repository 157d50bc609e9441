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


def test_planning_again_replaces_the_plans(lab: Lab) -> None:
    """Only ``plan`` reads the blueprint's ``extra:``: a lab planned again from other settings
    (as tests vary a resolved lab) carries only the new plans, and every reader follows them."""
    changed, issues = addons.plan_addons(lab, {**lab.extra_vars.thaw(),
                                               "provider_vlans": "3001-3002"})
    assert issues == [] and [p.name for p in changed.addons] == ["fabric", "osa"]
    assert addons.fabric.fabric_settings(changed).provider_vlans == (3001, 3002)
    assert addons.osa.load_settings(changed).provider_vlans == (3001, 3002)
    assert changed.extra_vars == lab.extra_vars  # the user's own data is not the add-ons'


def test_a_lab_resolve_did_not_plan_is_not_rendered(lab: Lab) -> None:
    """No plan (resolve refused the settings): the add-ons do not apply, and a renderer called
    anyway is a bug (ValueError, exit 70), never a guess at settings."""
    bare = replace(lab, addons=())
    assert not any(addon.applies(bare) for addon in addons.ADDONS)
    assert addons.render_addons(bare) == {} and addons.check_addons(bare) == []
    with pytest.raises(ValueError, match="no OpenStack-Ansible plan"):
        addons.osa.render(bare)
