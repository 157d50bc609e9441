"""The shipped appliance files are valid registry appliances and load into records."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from generator.blueprint.appliance_schema import MAX_APPLIANCE_BYTES, MAX_PROBLEMS, json_depth
from generator.blueprint.appliances import (
    REPO_APPLIANCES,
    UNSUPPORTED,
    load_appliance,
    load_catalogue,
    read_capped,
)
from generator.errors import BlueprintError, GeneratorError, Refused
from tests.helpers import DATA

SCHEMAS = DATA / "registry-schemas"  # from GNS3/gns3-registry, see tests/data/SOURCES.md
V8 = DATA / "appliances-v8"  # written by hand from the v8 format, see its SOURCES.md
FILES = sorted(REPO_APPLIANCES.glob("*.gns3a")) + sorted(V8.glob("*.gns3a"))


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


def registry_warnings(data: dict[str, Any]) -> list[str]:
    """What gns3-registry's checks.py would say of one appliance (errors and warnings alike):
    the strict schema of its registry_version, "can be downgraded", duplicate file names and
    checksums, unused images, missing relations, and a version named unlike all its images."""
    version = data["registry_version"]
    schema = json.loads((SCHEMAS / f"appliance_v{version}.json").read_text())
    errors = [e.message for e in jsonschema.Draft4Validator(strict(schema)).iter_errors(data)]
    if errors:
        return [f"schema v{version}: {m}" for m in errors]
    out = []
    if version > 4:
        lower = json.loads((SCHEMAS / f"appliance_v{version - 1}.json").read_text())
        if jsonschema.Draft4Validator(strict(lower)).is_valid({**data, "registry_version":
                                                              version - 1}):
            out.append(f"can be downgraded to registry version {version - 1}")
    images: dict[str, str] = {}
    sums: set[str] = set()
    for image in data.get("images", []):
        digest = image.get("checksum") or image.get("md5sum")
        if image["filename"] in images:
            out.append(f"duplicate image filename {image['filename']}")
        if digest in sums:
            out.append(f"duplicate image md5sum {digest}")
        if not any(image["filename"] in v["images"].values() for v in data["versions"]):
            out.append(f"unused image {image['filename']}")
        images[image["filename"]] = image["version"]
        sums.add(digest)
    for v in data.get("versions", []) if data.get("images") else []:
        missing = [f for f in v["images"].values() if f not in images]
        out += [f"missing relation {f} for version {v['name']}" for f in missing]
        if not any(images.get(f) == v["name"] for f in v["images"].values()):
            out.append(f"version mismatch for version {v['name']}")
    return out


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_appliance_validates_against_registry_schema(path: Path) -> None:
    data = json.loads(path.read_text())
    problems = registry_warnings(data)
    # The registry's own Cumulus and Ubuntu files carry version names unlike their image
    # versions ("4.3.0" vs "4.3.0-vx"); the registry accepts them with a warning. Nothing else.
    assert [p for p in problems if not p.startswith("version mismatch")] == []
    if path.parent == V8:
        assert problems == []


def test_registry_checks_catch_what_the_registry_catches() -> None:
    data = json.loads((V8 / "test-router.gns3a").read_text())
    data["versions"][0]["name"] = "2.0-renamed"
    data["images"][2]["md5sum"] = data["images"][1]["md5sum"]
    del data["settings"][0]["template_properties"]["platform"]
    data["settings"][0]["template_properties"]["colour"] = "red"
    assert registry_warnings(data) and registry_warnings(data)[0].startswith("schema v8")
    data["settings"][0]["template_properties"].pop("colour")
    assert registry_warnings(data) == ["duplicate image md5sum 85b15442269c4b2fae70cf3cb6d05892",
                                       "version mismatch for version 2.0-renamed"]


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


def test_v8_versions_get_their_own_settings() -> None:
    app = load_appliance(V8 / "test-router.gns3a")
    assert app.registry_version == 8 and app.kind == "qemu"
    # No version chosen: the first version (2.0), which runs "large" over the default set.
    large = app.for_version(None)
    assert (large.selected, large.qemu["ram"], large.qemu["cpus"]) == ("2.0", 8192, 4)
    assert (large.qemu["adapters"], large.qemu["adapter_type"]) == (10, "virtio-net-pci")
    assert (large.port_name_format, large.first_port_name) == ("eth{0}", None)
    assert large.qemu["arch"] == "x86_64" and large.qemu["console_type"] == "telnet"
    default = app.for_version("1.0")
    assert (default.qemu["ram"], default.qemu["cpus"], default.port_name_format) == (
        2048, 2, "eth{0}")
    assert default.symbol == ":/symbols/router.svg"
    legacy = app.for_version("0.9")  # inherit_default_properties: false
    assert (legacy.qemu["ram"], legacy.qemu["adapters"], legacy.qemu["arch"]) == (1024, 4, "i386")
    assert "cpus" not in legacy.qemu and "options" not in legacy.qemu
    assert (legacy.port_name_format, legacy.first_port_name) == ("ge-0/0/{0}", "mgmt0")
    assert legacy.symbol == ":/symbols/classic/router.svg"
    assert legacy.version(None).name == "0.9"  # the chosen version sticks
    # By image version and by image, as for v4; the v8 "checksum" field is the md5.
    assert app.for_version("2.0").images["test-router-2.0.qcow2"].md5sum == \
        "1a730653202ebb3779cc7c14e8ffb1b4"
    assert app.images["test-router-1.0.qcow2"].compression == "xz"
    # The appliance itself (before a version is chosen) describes the default set.
    assert (app.qemu["ram"], app.port_name_format) == (2048, "eth{0}")


def test_vyos_shaped_v8_resolves_to_the_version_settings(tmp_path: Path) -> None:
    """issue 9: VyOS 1.5.1 read as 2048 MB and Ethernet{0}; the registry says 8192 and eth{0}."""
    data = json.loads((V8 / "test-router.gns3a").read_text())
    data["port_name_format"] = "Ethernet{0}"  # not a v8 key: must not win over the set's
    path = tmp_path / "router.gns3a"
    path.write_text(json.dumps(data))
    chosen = load_appliance(path).for_version("2.0")
    assert (chosen.qemu["ram"], chosen.port_name_format) == (8192, "eth{0}")


@pytest.mark.parametrize("kind", ["docker", "dynamips", "iou"])
def test_non_qemu_appliances_are_refused(kind: str, tmp_path: Path) -> None:
    data = json.loads((REPO_APPLIANCES / "debian.gns3a").read_text())
    data.pop("qemu")
    data[kind] = {"image": "x"} if kind == "docker" else {"platform": "c7200"}
    path = tmp_path / f"{kind}.gns3a"
    path.write_text(json.dumps(data))
    app = load_appliance(path)
    assert app.kind == kind
    for call in (lambda: app.version(None), lambda: app.for_version("12.6")):
        with pytest.raises(LookupError) as info:
            call()
        assert str(info.value) == f"appliance 'Debian': {UNSUPPORTED}"
    assert UNSUPPORTED == "docker/dynamips/iou appliances are not supported (use a qemu appliance)"


def test_v8_docker_appliance_is_refused_not_versionless() -> None:
    app = load_appliance(V8 / "test-container.gns3a")
    with pytest.raises(LookupError, match="appliances are not supported") as info:
        app.for_version(None)
    assert "lists no versions" not in str(info.value)


def test_v8_version_running_a_docker_set_is_refused(tmp_path: Path) -> None:
    data = json.loads((V8 / "test-router.gns3a").read_text())
    data["settings"].append({"name": "ctr", "template_type": "docker",
                             "template_properties": {"image": "example/x"}})
    data["versions"][1]["settings"] = "ctr"
    path = tmp_path / "mixed.gns3a"
    path.write_text(json.dumps(data))
    app = load_appliance(path)
    assert app.for_version("2.0").qemu["ram"] == 8192
    with pytest.raises(LookupError, match=r"version '1.0': docker/dynamips/iou appliances"):
        app.for_version("1.0")


@pytest.mark.parametrize("bad", ["../../x", "sub/disk.qcow2", "..", "", "a\\b"])
@pytest.mark.parametrize("where", ["images", "versions"])
def test_image_file_names_must_be_bare(bad: str, where: str, tmp_path: Path) -> None:
    """issue 7: ``filename: ../../x`` escaped the staging folder."""
    data = json.loads((REPO_APPLIANCES / "debian.gns3a").read_text())
    if where == "images":
        data["images"][0]["filename"] = bad
    else:
        data["versions"][0]["images"]["hda_disk_image"] = bad
    path = tmp_path / "evil.gns3a"
    path.write_text(json.dumps(data))
    with pytest.raises(GeneratorError, match="is not a bare file name") as info:
        load_appliance(path)
    assert repr(bad) in info.value.message and str(path) in info.value.message


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


@pytest.mark.parametrize(("version", "ram", "cpus", "fmt"), [("2.0", 8192, 4, "eth{0}"),
                                                             ("1.0", 2048, 2, "eth{0}")])
def test_resolved_nodes_take_the_v8_settings_of_their_version(tmp_path: Path, version: str,
                                                               ram: int, cpus: int,
                                                               fmt: str) -> None:
    """A blueprint node on a v8 appliance gets the settings of the version it picks."""
    from generator.build import load_lab

    folder = tmp_path / "bp"
    (folder / "appliances").mkdir(parents=True)
    source = DATA / "appliances-v8" / "test-router.gns3a"
    (folder / "appliances" / source.name).write_text(source.read_text())
    (folder / "lab.yaml").write_text(
        f"name: v8\nnodes:\n  r1: {{appliance: gns3lab Test Router, version: '{version}'}}\n")
    node = load_lab(folder).node("r1")
    assert (node.ram, node.cpus, node.port_name_format) == (ram, cpus, fmt)


# --------------------------------------------------------------------------- issue 17: bounds


def write_variant(tmp_path: Path, change: Any, base: Path = V8 / "test-router.gns3a") -> Path:
    """A copy of ``base`` with ``change(data)`` applied, as ``tmp_path/evil.gns3a``."""
    data = json.loads(base.read_text())
    change(data)
    path = tmp_path / "evil.gns3a"
    path.write_text(json.dumps(data))
    return path


def problems_of(path: Path) -> list[str]:
    with pytest.raises(BlueprintError) as info:
        load_appliance(path)
    return [p.render() for p in info.value.problems]


def test_v8_set_properties_are_checked_with_their_json_path(tmp_path: Path) -> None:
    path = write_variant(tmp_path, lambda d: d["settings"][1]["template_properties"].update(
        ram=-5, console_type="telnet\x1b[2J", options="-m 1\n-evil"))
    found = problems_of(path)
    assert [f.split(": ")[1] for f in found] == [
        "settings[1].template_properties.ram", "settings[1].template_properties.console_type",
        "settings[1].template_properties.options"], found
    assert all(f.startswith(f"{path}: ") and "(fix: " in f for f in found), found
    assert "'telnet\\x1b[2J'" in found[1] and "\x1b" not in "".join(found)


def test_docker_sets_are_not_checked_as_qemu(tmp_path: Path) -> None:
    """A docker set's properties are not QEMU's (its version is refused when used)."""
    path = write_variant(tmp_path, lambda d: d["settings"].append(
        {"name": "ctr", "template_type": "docker", "template_properties": {"ram": "lots"}}))
    assert load_appliance(path).for_version("2.0").qemu["ram"] == 8192


@pytest.mark.parametrize(("change", "where", "words"), [
    (lambda d: d["versions"][0].update(settings="nope"), "versions[0].settings",
     "names settings 'nope'"),
    (lambda d: [s.update(default=False) for s in d["settings"]], "settings",
     "3 settings sets and none is marked default"),
    (lambda d: d.update(registry_version=9), "registry_version", "less than or equal to 8"),
    (lambda d: d["images"][0].update(md5sum="x" * 32, checksum=None), "images[0].md5sum",
     "should match pattern"),
    (lambda d: d["images"][0].update(filesize=1 << 50), "images[0].filesize",
     "less than or equal to"),
])
def test_each_problem_names_its_json_path(tmp_path: Path, change: Any, where: str,
                                           words: str) -> None:
    found = problems_of(write_variant(tmp_path, change))
    assert len(found) == 1 and f": {where}: " in found[0] and words in found[0], found


def test_many_problems_are_told_in_a_few_lines(tmp_path: Path) -> None:
    path = write_variant(tmp_path, lambda d: d.update(versions=["x"] * 500))
    found = problems_of(path)
    assert len(found) == MAX_PROBLEMS + 1 and found[-1].endswith(
        f"and {500 - MAX_PROBLEMS} more problems (fix: fix the ones above and run validate "
        "again)"), found[-1]


@pytest.mark.parametrize(("text", "depth"), [
    ('{"a": "[[[[{{{", "b": [[1]]}', 3), ('{"a": "\\"[[[["}', 1), ("[]" * 1000, 1),
    ("[" * 5000, 5000), ('"]]]"', 0)])
def test_json_depth_skips_strings(text: str, depth: int) -> None:
    assert json_depth(text) == depth


def test_reading_never_opens_a_fifo_or_a_device_and_stops_at_the_cap(tmp_path: Path) -> None:
    """A FIFO with no writer would block an open for ever; /dev/zero never ends; /proc files
    claim 0 bytes. Each is refused or capped at once."""
    fifo = tmp_path / "pipe.gns3a"
    os.mkfifo(fifo)
    for path, words in ((fifo, "is a FIFO"), (Path("/dev/zero"), "is a device")):
        with pytest.raises(Refused, match=words):
            read_capped(path)
    big = tmp_path / "big.gns3a"
    big.write_bytes(b" " * (MAX_APPLIANCE_BYTES + 1))
    with pytest.raises(Refused, match="at most 1048576"):
        read_capped(big)
    assert 0 < len(read_capped(Path("/proc/self/status"), limit=100_000)) < 100_000
    with pytest.raises(Refused, match="larger than 10 bytes"):
        read_capped(Path("/proc/self/status"), limit=10)
    link = tmp_path / "link.gns3a"
    link.symlink_to(big)
    with pytest.raises(Refused, match="symlink"):
        read_capped(link, nofollow=True)


def test_path_refs_need_a_blueprint_folder_and_stay_in_it(tmp_path: Path) -> None:
    catalogue = load_catalogue([REPO_APPLIANCES])
    with pytest.raises(LookupError, match="only a blueprint"):
        catalogue.find("x.gns3a")
    with pytest.raises(Refused, match="absolute path"):
        catalogue.find(str(REPO_APPLIANCES / "debian.gns3a"), tmp_path)
    with pytest.raises(Refused, match="'..'"):
        catalogue.find("../debian.gns3a", tmp_path)
    (tmp_path / "d.gns3a").write_text((REPO_APPLIANCES / "debian.gns3a").read_text())
    assert catalogue.find("d.gns3a", tmp_path).name == "Debian"


def test_a_file_named_by_many_nodes_is_read_once(tmp_path: Path) -> None:
    """A lab of 1,000 nodes naming one 1 MiB file must not parse it 1,000 times."""
    (tmp_path / "d.gns3a").write_text((REPO_APPLIANCES / "debian.gns3a").read_text())
    (tmp_path / "bad.gns3a").write_text("[1, 2]")
    catalogue = load_catalogue([REPO_APPLIANCES])
    assert catalogue.find("d.gns3a", tmp_path) is catalogue.find("./d.gns3a", tmp_path)
    with pytest.raises(BlueprintError) as first:
        catalogue.find("bad.gns3a", tmp_path)
    with pytest.raises(BlueprintError) as second:
        catalogue.find("bad.gns3a", tmp_path)
    assert first.value is second.value


def test_depth_scan_is_linear() -> None:
    """The scan before the parser must not itself be the slow part (a 1 MiB file of
    brackets or of escaped quotes)."""
    start = time.monotonic()
    assert json_depth("[]" * (MAX_APPLIANCE_BYTES // 2)) == 1
    assert json_depth('{"a": "' + '\\"' * (MAX_APPLIANCE_BYTES // 2) + '"}') == 1
    assert time.monotonic() - start < 5


def test_an_unknown_name_tells_why_each_broken_user_file_was_skipped(tmp_path: Path) -> None:
    """The name may be in any of them, not only the first."""
    (tmp_path / "a.gns3a").write_text("[1, 2]")
    (tmp_path / "b.gns3a").write_text('{"name": "B", "qemu": {"ram": "lots"}}')
    catalogue = load_catalogue([REPO_APPLIANCES, tmp_path], strict=1)
    assert catalogue.find("debian").name == "Debian"
    with pytest.raises(BlueprintError) as info:
        catalogue.find("B")
    assert [p.render().split(": ")[:2] for p in info.value.problems] == [
        [str(tmp_path / "a.gns3a"), "holds a JSON array at the top level, not an object (fix"],
        [str(tmp_path / "b.gns3a"), "qemu.ram"]]
