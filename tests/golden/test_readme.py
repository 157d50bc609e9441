"""README.md of an archive: golden files of the bundled blueprints, and what each must say.

``pytest tests/golden/test_readme.py --update-golden`` rewrites
tests/data/golden/lifecycle/*/README.md.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from generator.archive_format import ComputeRecord
from generator.build import BuildOptions, load_lab, manifest_info
from generator.images.build import BuiltImage, appliance_json
from generator.images.recipe import DEBIAN_12
from generator.model import Lab
from generator.render.readme import render_readme
from tests.helpers import DATA, REPO, stale_goldens

GOLDEN = DATA / "golden" / "lifecycle"
BUNDLED = ["demo", "openstack-ceph", "openstack-ceph-mini"]


def write_lifecycle_appliance(folder: Path) -> Path:
    """The ``gns3lab Debian 12`` appliance the bundled blueprints use, as ``images build``
    writes it, for a stand-in image with fixed checksums (no image file needed)."""
    folder.mkdir(parents=True, exist_ok=True)
    name = "gns3lab-debian-12-golden.qcow2"
    facts = {"path": folder / name, "appliance_path": folder / "a.gns3a",
             "md5": hashlib.md5(b"golden").hexdigest(),
             "sha256": hashlib.sha256(b"golden").hexdigest(), "size": 1_048_576,
             "virtual_size": 3 * 2**30, "key": "golden", "cached": False}
    fields = {f.name for f in dataclasses.fields(BuiltImage)}  # (sha256 is being added)
    built = BuiltImage(**{k: v for k, v in facts.items() if k in fields})
    path = folder / "gns3lab-debian-12.gns3a"
    path.write_text(json.dumps(appliance_json(DEBIAN_12, built), indent=4))
    return folder


@pytest.fixture(scope="module", autouse=True)
def no_image_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """No image folder of this machine plays a part (the test cache, ~/GNS3): a recipe image
    nobody built here is the resolve's ``unbuilt`` stand-in on every machine."""
    home = tmp_path_factory.mktemp("home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HOME", str(home))
        mp.setenv("GNS3LAB_IMAGES", str(home / "images"))
        yield


@pytest.fixture(scope="module")
def appliances(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_lifecycle_appliance(tmp_path_factory.mktemp("appliances"))


def bundled_lab(name: str, appliances: Path) -> Lab:
    return load_lab(REPO / "blueprints" / name, (appliances,))


def check_golden(produced: bytes, golden: Path, request: pytest.FixtureRequest) -> None:
    """Compare with a golden file (rewrite it with --update-golden)."""
    if request.config.getoption("--update-golden"):
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_bytes(produced)
    assert golden.is_file(), f"no golden file {golden}: run with --update-golden"
    assert produced.decode() == golden.read_text(), f"{golden} differs"


def readme_of(lab: Lab, **options: bool) -> str:
    return render_readme(lab, manifest_info(lab, BuildOptions(no_images=True, **options)))


@pytest.mark.parametrize("name", BUNDLED)
def test_readme_golden(name: str, appliances: Path, request: pytest.FixtureRequest) -> None:
    lab = bundled_lab(name, appliances)
    text = readme_of(lab)
    assert text == readme_of(bundled_lab(name, appliances)), "README is not deterministic"
    check_golden(text.encode(), GOLDEN / name / "README.md", request)


@pytest.mark.parametrize("name", BUNDLED)
def test_readme_names_every_node_address_and_image(name: str, appliances: Path) -> None:
    lab = bundled_lab(name, appliances)
    info = manifest_info(lab, BuildOptions(no_images=True))
    text = render_readme(lab, info)
    for node in lab.nodes:
        assert f"| {node.name} | {node.type} | {node.role} |" in text
        for iface, addr in node.addresses():
            assert f"| {node.name} | {iface} |" in text and f"| {addr} |" in text
    for filename, image in info.images.items():
        assert filename in text and image.md5 in text
        assert (image.url or "gns3lab images build debian-12") in text
    totals = lab.totals()
    assert f"{totals['ram_mb']} MB RAM, {totals['vcpus']} vCPUs" in text


def test_readme_says_how_to_import_log_in_and_what_ready_looks_like(appliances: Path) -> None:
    lab = bundled_lab("demo", appliances)
    text = readme_of(lab)
    assert "**File > Import portable project**" in text
    assert "gns3lab push demo.gns3project --server http://127.0.0.1:3080 --start --wait" in text
    # login: the default user of the model's cloud-init users, on the planned address
    user = lab.node("srv1").cloud_init.users[0].name  # type: ignore[union-attr]
    assert f"| srv1 | {user} | 10.10.0.11 | ssh -i <key> {user}@10.10.0.11 |" in text
    assert f"-J {user}@10.10.0.1" in text and "keys/demo/id_ed25519" in text
    # lab ready: the stages in order, one check line per node, then the ready line
    tail = text[text.index("## What \"lab ready\" looks like"):]
    lines = [line for line in tail.splitlines() if line.startswith("gns3lab: ")]
    assert lines == ["gns3lab: stage servers ok", "gns3lab: check mgmt 10.10.0.1 ok",
                     "gns3lab: check switch 10.10.0.2 ok", "gns3lab: check srv1 10.10.0.11 ok",
                     "gns3lab: check srv2 10.10.0.12 ok", "gns3lab: stage check ok",
                     "gns3lab: lab ready"]


def test_readme_follows_the_manifest(appliances: Path) -> None:
    """Included images, sha256, the archive name and placement come from the manifest."""
    lab = bundled_lab("demo", appliances)
    info = manifest_info(lab, BuildOptions(include_images=True))
    ((name, entry),) = info.images.items()
    info = info.model_copy(update={
        "images": {name: entry.model_copy(update={"sha256": "ab" * 32})},
        "archive": "demo-2.0.gns3project", "computes": {"big": ComputeRecord(ram_mb=4096)},
        "placement": {"srv1": "big", "srv2": "big"}})
    text = render_readme(lab, info)
    assert "| in this archive (`images/QEMU/`) |" in text and "GNS3 installs on import" in text
    assert f"sha256 {'ab' * 32}" in text
    assert "choose `demo-2.0.gns3project`" in text
    assert "| big | 4096 | srv1, srv2 |" in text


def test_every_lifecycle_golden_belongs_to_a_case(request: pytest.FixtureRequest) -> None:
    """tests/data/golden/lifecycle/ holds the README.md goldens (here), the topology.svg ones
    (tests/integration/test_graph_dot.py) and the diff ones (tests/golden/test_diff_golden.py);
    a file none of them writes is stale (``--update-golden`` deletes it)."""
    from tests.unit.test_diff import CASES as DIFF_CASES

    expected = {f"{name}/{file}" for name in BUNDLED for file in ("README.md", "topology.svg")}
    expected |= {f"diff/{case}.{ext}" for case in DIFF_CASES for ext in ("txt", "json")}
    assert stale_goldens(request, GOLDEN, expected) == []
