"""Building archives: determinism, archive layout, overlays, seeds (real qemu-img, cloud-init)."""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path

import pytest

from generator import tools
from generator.build import BuildOptions, build_lab
from generator.write.iso import read_seed_iso
from tests.helpers import BLUEPRINTS, make_tiny_appliance
from tests.support.cloudinit_check import check_network_config, check_user_data

pytestmark = pytest.mark.slow  # build_lab runs qemu-img and ssh-keygen even with no_images

FABRIC = BLUEPRINTS / "fabric"


@pytest.fixture(scope="module")
def fabric_archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    return build_lab(FABRIC, BuildOptions(out_dir=out, no_images=True)).archive


def test_same_blueprint_gives_byte_identical_archives(tmp_path: Path) -> None:
    first = build_lab(FABRIC, BuildOptions(out_dir=tmp_path / "a", no_images=True)).archive
    again = build_lab(FABRIC, BuildOptions(out_dir=tmp_path / "a", no_images=True)).archive
    data = first.read_bytes()
    assert data == again.read_bytes()
    other = build_lab(FABRIC, BuildOptions(out_dir=tmp_path / "b", no_images=True)).archive
    assert other.read_bytes() == data  # the blueprint gives its key: no per-folder state


def test_generated_key_is_kept_and_reused(tmp_path: Path) -> None:
    bp = tmp_path / "bp"
    bp.mkdir()
    text = (FABRIC / "lab.yaml").read_text().replace("ssh_key: keys/id_ed25519\n", "")
    (bp / "lab.yaml").write_text(text)
    one = build_lab(bp, BuildOptions(out_dir=tmp_path / "d", no_images=True))
    two = build_lab(bp, BuildOptions(out_dir=tmp_path / "d", no_images=True))
    assert one.key_path == two.key_path == tmp_path / "d" / "keys" / "fabric" / "id_ed25519"
    assert one.archive.read_bytes() == two.archive.read_bytes()
    pub = one.key_path.with_name("id_ed25519.pub").read_text().strip()
    with zipfile.ZipFile(one.archive) as zf:
        seeds = [n for n in zf.namelist() if n.endswith("-seed.iso")]
        iso = tmp_path / "s.iso"
        iso.write_bytes(zf.read(seeds[0]))
    assert pub in read_seed_iso(iso).files["user-data"].decode()


def test_archive_layout(fabric_archive: Path) -> None:
    with zipfile.ZipFile(fabric_archive) as zf:
        infos = zf.infolist()
        names = [i.filename for i in infos]
        assert names[0] == "project.gns3"
        assert names[1:] == sorted(names[1:])
        assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}
        assert {i.compress_type for i in infos} == {zipfile.ZIP_DEFLATED}
        project = json.loads(zf.read("project.gns3"))
        manifest = json.loads(zf.read("gns3lab/manifest.json"))
        assert "gns3lab/blueprint/lab.yaml" in names
    assert project["revision"] == 9
    for node in project["topology"]["nodes"]:
        if node["node_type"] == "qemu":
            folder = f"project-files/qemu/{node['node_id']}/"
            assert folder + "hda_disk.qcow2" in names
    assert set(manifest["files"]) == set(names) - {"gns3lab/manifest.json"}


def test_overlays_name_bare_backing_file(fabric_archive: Path, tmp_path: Path) -> None:
    with zipfile.ZipFile(fabric_archive) as zf:
        zf.extractall(tmp_path)
        project = json.loads(zf.read("project.gns3"))
    for node in project["topology"]["nodes"]:
        if node["node_type"] != "qemu":
            continue
        props = node["properties"]
        overlay = tmp_path / "project-files" / "qemu" / node["node_id"] / "hda_disk.qcow2"
        info = tools.image_info(overlay)
        assert info["format"] == "qcow2"
        assert info["backing-filename"] == props["hda_disk_image"]
        assert "/" not in info["backing-filename"]
        assert info["backing-filename-format"] == "qcow2"
        if props["hdb_disk_image"]:
            data = overlay.with_name(props["hdb_disk_image"])
            assert tools.image_info(data)["virtual-size"] == 10 * 2**30


def test_seeds_read_back_and_pass_cloud_init(fabric_archive: Path, tmp_path: Path) -> None:
    with zipfile.ZipFile(fabric_archive) as zf:
        zf.extractall(tmp_path)
        project = json.loads(zf.read("project.gns3"))
    seeded = [n for n in project["topology"]["nodes"] if n["properties"].get("cdrom_image")]
    assert {n["name"] for n in seeded} == {"server1", "server2"}
    instance_ids = set()
    for node in seeded:
        iso = tmp_path / "project-files" / "qemu" / node["node_id"] / \
            node["properties"]["cdrom_image"]
        seed = read_seed_iso(iso)
        assert seed.label == "cidata"
        assert set(seed.files) == {"user-data", "meta-data", "network-config"}
        check_user_data(seed.files["user-data"].decode(), source=f"{node['name']}/user-data")
        summary = check_network_config(seed.files["network-config"].decode(),
                                       source=f"{node['name']}/network-config")
        assert summary["interfaces"]["bond0"]["parameters"]["bond-mode"] == "802.3ad"
        meta = seed.files["meta-data"].decode()
        assert f"local-hostname: {node['name']}" in meta
        instance_ids.add(meta.splitlines()[0])
    assert len(instance_ids) == 2


def test_checked_images_and_include_images(tmp_path: Path) -> None:
    images = tmp_path / "images"
    make_tiny_appliance(images, "Tiny Guest", "tiny-guest-build.qcow2")
    bp = tmp_path / "lab.yaml"
    bp.write_text("name: tiny\nnodes:\n  vm1: {appliance: Tiny Guest}\n  vm2: {appliance: Tiny "
                  "Guest}\nlinks:\n  - vm1:eth0 -- vm2:eth0\n")
    opts = BuildOptions(out_dir=tmp_path / "dist", images_dirs=(images,), include_images=True)
    archive = build_lab(bp, opts).archive
    base = (images / "tiny-guest-build.qcow2").read_bytes()
    stored = f"tiny-guest-build.{hashlib.sha256(base).hexdigest()[:12]}.qcow2"  # by content
    with zipfile.ZipFile(archive) as zf:
        info = zf.getinfo(f"images/QEMU/{stored}")
        assert info.compress_type == zipfile.ZIP_STORED
        assert zf.read(info.filename) == base


def test_disk_smaller_than_base_is_refused(tmp_path: Path) -> None:
    from generator.errors import ImageError

    images = tmp_path / "images"
    make_tiny_appliance(images, "Tiny Guest", "tiny-guest-small.qcow2", size="64M")
    bp = tmp_path / "lab.yaml"
    bp.write_text("name: small\nnodes:\n  vm1: {appliance: Tiny Guest, disk: 32M}\n")
    with pytest.raises(ImageError, match="asks for a 32 MiB disk, smaller than its base"):
        build_lab(bp, BuildOptions(out_dir=tmp_path / "dist", images_dirs=(images,)))
    assert not (tmp_path / "dist").exists() or not any((tmp_path / "dist").iterdir())
