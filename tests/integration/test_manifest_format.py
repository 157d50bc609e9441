"""The manifest a real build writes is the typed record's rendering, byte for byte."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from generator.archive_format import MANIFEST, parse_manifest, render_manifest
from generator.build import BuildOptions, build_lab
from tests.helpers import BLUEPRINTS

pytestmark = pytest.mark.slow  # build_lab runs qemu-img (overlays) and ssh-keygen (lab key)


def test_a_built_manifest_is_the_records_rendering(tmp_path: Path) -> None:
    result = build_lab(BLUEPRINTS / "fabric", BuildOptions(out_dir=tmp_path, no_images=True))
    with zipfile.ZipFile(result.archive) as zf:
        data = zf.read(MANIFEST)
        names = set(zf.namelist())
    manifest = parse_manifest(json.loads(data), str(result.archive))
    assert render_manifest(manifest) == data
    assert set(manifest.files or {}) == names - {MANIFEST}
