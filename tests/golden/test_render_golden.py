"""Every bundled blueprint, rendered byte for byte: the controller's whole bootstrap tree and each
add-on's own output, against ``tests/data/golden/render/<blueprint>/``.

Pure: the blueprint is resolved and rendered, nothing is built. The ``gns3lab Debian 12``
appliance the blueprints use is the one ``gns3lab images build debian-12`` writes, described here
for a fixed stand-in image (the file itself is never read), and the lab key is a fixed public
key. ``pytest --update-golden`` rewrites the folders (stale files go); review the diff.

Layout of a blueprint's folder: ``bootstrap/<guest path>`` for every file of the tree,
``bootstrap.index`` with each file's mode and the units to enable, and
``addons/<add-on>/<path>`` for every add-on that applies.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from generator import addons
from generator.build import load_lab
from generator.images.build import BuiltImage, appliance_json, write_appliance
from generator.images.recipe import RECIPES, image_filename
from generator.model import Lab
from generator.render.bootstrap import BootstrapTree, render_bootstrap
from tests.support.golden import check_golden

REPO = Path(__file__).resolve().parents[2]
GOLDEN = REPO / "tests" / "data" / "golden" / "render"
BLUEPRINTS = sorted(p.name for p in (REPO / "blueprints").iterdir() if (p / "lab.yaml").is_file())
PUB = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGdvbGRlbmdvbGRlbmdvbGRlbmdvbGRlbmdvbGRlbmdv golden"


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An images folder holding only the appliance of a stand-in debian-12 image."""
    folder = tmp_path_factory.mktemp("images")
    recipe = RECIPES["debian-12"]
    sha256 = "5" * 64
    image = folder / image_filename(recipe, sha256)
    built = BuiltImage(path=image, appliance_path=image.with_suffix(".gns3a"), md5="6" * 32,
                       sha256=sha256, size=300 << 20, virtual_size=2 << 30, key="golden",
                       cached=True)
    write_appliance(built.appliance_path, appliance_json(recipe, built))
    return folder


def tree_files(tree: BootstrapTree) -> dict[str, bytes]:
    """The tree as golden files: each guest file, and an index of modes and units."""
    out = {f"bootstrap/{path.lstrip('/')}": data for path, (data, _) in tree.files.items()}
    index = [f"{mode:04o} {path}" for path, (_, mode) in tree.files.items()]
    index += [f"enable {unit}" for unit in tree.units]
    out["bootstrap.index"] = ("\n".join(index) + "\n").encode()
    return out


def addon_files(lab: Lab) -> dict[str, bytes]:
    """Each applicable add-on's own files, under its name."""
    return {f"addons/{addon.name}/{path}": data for addon in addons.ADDONS if addon.applies(lab)
            for path, data in addon.render(lab).items()}


@pytest.mark.parametrize("blueprint", BLUEPRINTS)
def test_render_matches_golden(blueprint: str, images: Path, request: pytest.FixtureRequest
                               ) -> None:
    lab = load_lab(REPO / "blueprints" / blueprint, (images,))
    assert lab.controller is not None, f"{blueprint} has no controller to bootstrap"
    produced = tree_files(render_bootstrap(lab, PUB)) | addon_files(lab)
    check_golden(request, GOLDEN / blueprint, produced)


def test_every_blueprint_is_covered() -> None:
    """A new bundled blueprint needs its goldens (rerun with --update-golden)."""
    assert BLUEPRINTS == sorted(p.name for p in GOLDEN.iterdir() if p.is_dir())
