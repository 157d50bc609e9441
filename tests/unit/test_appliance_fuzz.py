"""Fuzz over ``.gns3a`` files (issue 17): any appliance file ends in success or one clear error.

Seeds: the bundled ``appliances/*.gns3a``, the hand-written registry-v8 one, and a generated
one shaped like those ``gns3lab images build`` writes. Mutants: values replaced by wrong types,
huge or infinite numbers, strings with control characters, nested lists; keys dropped or
renamed; whole files replaced by deep nesting or random JSON text. Each goes into a small
blueprint (once in its ``appliances/`` folder, named by the appliance's name; once named by
path) and through ``gns3lab validate`` in-process: exit 0 or 2, never 70, never a traceback. When
validate passes, the project file build would write renders too (so validate catches
everything build would trip on).

Bounded for ``make test`` (``derandomize``: the same examples every run; ``max_examples``).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from generator.blueprint.appliances import REPO_APPLIANCES
from generator.build import load_lab
from generator.cli import main
from generator.errors import GeneratorError
from generator.render.project import dump_project, render_project
from tests.helpers import DATA
from tests.unit.test_fuzz import NASTY_TEXT, VALUES, fuzz, mutate, paths

GENERATED = {  # the shape generator/images/build.py writes
    "appliance_id": "6b0c1f52-3a43-4d5e-9c1e-0a6a3c9e2b11", "name": "gns3lab Fuzz Guest",
    "category": "guest", "description": "fuzz", "vendor_name": "gns3lab",
    "vendor_url": "https://example.org", "product_name": "Fuzz", "registry_version": 4,
    "status": "experimental", "maintainer": "gns3lab", "maintainer_email": "x@example.org",
    "usage": "Login root.\n", "symbol": "linux_guest.svg", "port_name_format": "eth{0}",
    "qemu": {"adapter_type": "virtio-net-pci", "adapters": 1, "ram": 512,
             "hda_disk_interface": "virtio", "arch": "x86_64", "console_type": "telnet",
             "boot_priority": "c", "kvm": "allow"},
    "images": [{"filename": "fuzz.qcow2", "version": "12-abc", "md5sum": "0" * 32,
                "filesize": 1 << 20}],
    "versions": [{"name": "12-abc", "images": {"hda_disk_image": "fuzz.qcow2"}}],
}
SEEDS = {p.stem: json.loads(p.read_text()) for p in
         [*sorted(REPO_APPLIANCES.glob("*.gns3a")), DATA / "appliances-v8/test-router.gns3a"]}
SEEDS["generated"] = GENERATED
GNS3_NUMBERS = st.sampled_from([0, -1, 1, 255, 256, 275, 276, 1 << 20, (1 << 20) + 1, 10**30,
                                float("inf"), float("nan"), 1e30, 2.5, True])
HOSTILE = VALUES | GNS3_NUMBERS | st.sampled_from(
    ["telnet\x1b[2J", "eth{0}\n", "{0:>99999}", "{port9}", "lots", "spice+agent", "x" * 5000,
     "../x.qcow2", "/etc/shadow", "file:///etc/shadow", "a\x00b", "\u202e", [], {}, ["x"]])


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A blueprint folder per run, and an empty HOME (no ~/GNS3 of this machine)."""
    root = tmp_path_factory.mktemp("appfuzz")
    (root / "home").mkdir()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HOME", str(root / "home"))
        mp.delenv("GNS3LAB_IMAGES", raising=False)
        yield root


@st.composite
def mutants(draw: st.DrawFn) -> tuple[str, str]:
    """(the name the blueprint uses, the .gns3a text)."""
    seed = draw(st.sampled_from(sorted(SEEDS)))
    data = json.loads(json.dumps(SEEDS[seed]))
    name = data["name"]
    kind = draw(st.sampled_from(["mutate"] * 8 + ["deep", "text"]))
    if kind == "deep":
        depth = draw(st.sampled_from([20, 33, 500, 5000]))
        return name, json.dumps(data)[:-1] + ', "x": ' + "[" * depth + "]" * depth + "}"
    if kind == "text":
        return name, draw(st.text(max_size=60) | st.sampled_from(["[1,2]", "null", "5", '""']))
    for _ in range(draw(st.integers(1, 3))):
        where = draw(st.sampled_from(paths(data)))
        op = draw(st.sampled_from(["drop", "rename", "replace", "replace", "replace", "list",
                                   "nest"]))
        value = draw(HOSTILE if op == "replace" else NASTY_TEXT)
        data = mutate(data, where, op, value)
    text = json.dumps(data, allow_nan=True)
    return name, text


def write_lab(root: Path, name: str, text: str, by_path: bool) -> Path:
    """A blueprint using the appliance: from its appliances/ folder by name, or by path."""
    folder = root / "bp"
    shutil.rmtree(folder, ignore_errors=True)
    (folder / "appliances").mkdir(parents=True)
    target = folder / ("evil.gns3a" if by_path else "appliances/evil.gns3a")
    target.write_text(text, encoding="utf-8", errors="surrogatepass")
    ref = "evil.gns3a" if by_path else name
    (folder / "lab.yaml").write_text(
        f"name: fuzz\nnodes:\n  vm1: {{appliance: {json.dumps(ref)}}}\n")
    return folder


def check(folder: Path) -> None:
    """validate: exit 0 or 2 with no traceback; when it passes, build's project renders."""
    result = CliRunner().invoke(main, ["validate", str(folder)])
    assert result.exit_code in (0, 2), (result.output, result.exc_info)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert "Traceback" not in result.output and "internal error" not in result.output
    if result.exit_code == 0:
        dump_project(render_project(load_lab(folder)))


@pytest.mark.parametrize("seed", sorted(SEEDS))
@pytest.mark.parametrize("by_path", [False, True])
def test_seed_appliances_validate(sandbox: Path, seed: str, by_path: bool) -> None:
    """The unmutated seeds work, so mutants start from something that validates."""
    folder = write_lab(sandbox, SEEDS[seed]["name"], json.dumps(SEEDS[seed]), by_path)
    result = CliRunner().invoke(main, ["validate", str(folder)])
    assert result.exit_code == 0, result.output


@pytest.mark.timeout(120)
@fuzz(300)
@given(mutants(), st.booleans())
def test_mutated_appliances(sandbox: Path, mutant: tuple[str, str], by_path: bool) -> None:
    name, text = mutant
    check(write_lab(sandbox, name, text, by_path))


@pytest.mark.parametrize(("key", "value"), [
    ("ram", "lots"), ("cpus", "many"), ("ram", 1e30), ("ram", -5), ("cpus", -1),
    ("console_type", "telnet\x1b[2J"), ("adapter_type", "virtio-net-pci;rm"),
    ("hda_disk_interface", "usb"), ("options", "-m 1\n-evil"), ("adapters", 276)])
def test_values_gns3_refuses_never_reach_an_archive(sandbox: Path, key: str, value: Any) -> None:
    """issue 17 finding 12: these were written into archives GNS3 refuses (or exit 70)."""
    data = json.loads(json.dumps(GENERATED))
    data["qemu"][key] = value
    folder = write_lab(sandbox, data["name"], json.dumps(data), False)
    result = CliRunner().invoke(main, ["validate", str(folder)])
    assert result.exit_code == 2, result.output
    assert f"appliances/evil.gns3a: qemu.{key}: " in result.output, result.output
    with pytest.raises(GeneratorError):
        load_lab(folder)
