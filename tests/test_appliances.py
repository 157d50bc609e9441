"""The shipped appliance files are valid registry appliances and load into records."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from generator.appliances import REPO_APPLIANCES, load_appliance, load_catalogue
from tests.helpers import DATA

SCHEMAS = DATA / "registry-schemas"  # from GNS3/gns3-registry, see tests/data/SOURCES.md
FILES = sorted(REPO_APPLIANCES.glob("*.gns3a"))


def strict(schema: Any) -> Any:
    """Like the registry's checks.py: every object with properties forbids other keys."""
    if isinstance(schema, dict):
        out = {k: strict(v) for k, v in schema.items()}
        if "properties" in out:
            out.setdefault("additionalProperties", False)
        return out
    if isinstance(schema, list):
        return [strict(v) for v in schema]
    return schema


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_appliance_validates_against_registry_schema(path: Path) -> None:
    data = json.loads(path.read_text())
    schema = json.loads((SCHEMAS / f"appliance_v{data['registry_version']}.json").read_text())
    jsonschema.Draft4Validator(strict(schema)).validate(data)
    for version in data["versions"]:  # the registry's "Missing relation" check
        for filename in version["images"].values():
            assert filename in {i["filename"] for i in data["images"]}


def test_catalogue_has_the_promised_appliances() -> None:
    catalogue = load_catalogue([REPO_APPLIANCES])
    ubuntu = catalogue.find("Ubuntu Cloud Guest")
    for release in ("18.04", "22.04", "24.04"):
        image = ubuntu.version(release).images["hda_disk_image"]
        assert image == f"ubuntu-{release}-server-cloudimg-amd64.img"
        assert ubuntu.images[image].md5sum and ubuntu.images[image].filesize > 0
    cumulus = catalogue.find("Cumulus VX")
    assert cumulus.version("4.3.0").images["hda_disk_image"].startswith("cumulus-linux-4.3.0")
    assert cumulus.version("5.4.0").images["hda_disk_image"].startswith("cumulus-linux-5.4.0")
    assert (cumulus.first_port_name, cumulus.port_name_format) == ("eth0", "swp{port1}")
    debian = catalogue.find("debian")
    assert debian.version("12.6").images["hda_disk_image"] == "debian-12.6.qcow2"
    assert ubuntu.cloud_init and not cumulus.cloud_init


def test_registry_v8_settings_are_read(tmp_path: Path) -> None:
    data = json.loads((REPO_APPLIANCES / "debian.gns3a").read_text())
    qemu = data.pop("qemu")
    data["registry_version"] = 8
    data["settings"] = [{"default": True, "template_type": "qemu", "template_properties": {
        "platform": "x86_64", "adapters": 2, "ram": 768,
        "adapter_type": qemu["adapter_type"], "hda_disk_interface": "virtio"}}]
    path = tmp_path / "debian-v8.gns3a"
    path.write_text(json.dumps(data))
    app = load_appliance(path)
    assert app.qemu["ram"] == 768 and app.qemu["arch"] == "x86_64"
