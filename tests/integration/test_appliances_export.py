"""An appliance file exported with a built image passes the registry checks (split from
tests/unit/test_appliances.py; the export runs qemu-img)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from generator.blueprint.appliances import (
    load_appliance,
)
from generator.errors import GeneratorError
from tests.unit.test_appliances import (
    registry_warnings,
)

pytestmark = pytest.mark.slow


@pytest.mark.slow
def test_exported_appliance_passes_the_registry_checks(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from generator import tools
    from generator.cli.images import appliance
    from generator.images.build import export_appliance, file_digests

    raw = tmp_path / "disk.qcow2"
    tools.qemu_img("create", "-q", "-f", "qcow2", raw, "64M")
    md5, sha256 = file_digests(raw)
    image = raw.rename(tmp_path / f"gns3lab-debian-12-{sha256[:12]}.qcow2")
    result = CliRunner().invoke(appliance, ["export", str(image), "-o", str(tmp_path / "x.gns3a")])
    assert result.exit_code == 0, result.output
    data = json.loads((tmp_path / "x.gns3a").read_text())
    assert registry_warnings(data) == []
    assert data["images"] == [{"filename": image.name, "version": f"12-{sha256[:12]}",
                               "md5sum": md5, "filesize": image.stat().st_size}]
    assert data["versions"][0]["name"] == data["images"][0]["version"]
    loaded = load_appliance(tmp_path / "x.gns3a").for_version(None)
    assert loaded.images[image.name].md5sum == md5 and loaded.port_name_format == "eth{0}"
    # Default output: beside the image. A renamed or changed image is refused.
    assert export_appliance(image) == image.with_suffix(".gns3a")
    other = image.rename(tmp_path / "gns3lab-debian-12-000000000000.qcow2")
    with pytest.raises(GeneratorError, match="which its name does not carry"):
        export_appliance(other)
    with pytest.raises(GeneratorError, match="is not named like an image gns3lab built"):
        export_appliance(other.rename(tmp_path / "debian.qcow2"))
