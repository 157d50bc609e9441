"""Golden files: blueprint -> exact project.gns3, user-data, network-config, meta-data.

Run ``pytest tests/integration/test_golden_build.py --update-golden`` to rewrite them (stale files
are deleted), then review the diff.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from generator.build import BuildOptions, build_lab
from generator.write.iso import read_seed_iso
from tests.helpers import BLUEPRINTS, DATA
from tests.support.golden import check_golden

pytestmark = pytest.mark.slow  # build_lab runs qemu-img (overlays) and ssh-keygen (lab key)

GOLDEN = DATA / "golden"
CASES = ["fabric", "builtins"]


def _outputs(archive: Path, tmp: Path) -> dict[str, bytes]:
    """The generated artefacts worth pinning, by a stable name."""
    out: dict[str, bytes] = {}
    with zipfile.ZipFile(archive) as zf:
        project = json.loads(zf.read("project.gns3"))
        out["project.gns3"] = zf.read("project.gns3")
        names = {n["node_id"]: n["name"] for n in project["topology"]["nodes"]}
        for member in zf.namelist():
            if member.endswith("-seed.iso"):
                node = names[member.split("/")[2]]
                iso = tmp / f"{node}.iso"
                iso.write_bytes(zf.read(member))
                for fname, data in read_seed_iso(iso).files.items():
                    out[f"{node}/{fname}"] = data
    return out


@pytest.mark.parametrize("case", CASES)
def test_golden(case: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    result = build_lab(BLUEPRINTS / case, BuildOptions(out_dir=tmp_path / "dist",
                                                       no_images=True))
    check_golden(request, GOLDEN / case, _outputs(result.archive, tmp_path))
