"""Bundling base images into archives with real builds (qemu-img, ssh-keygen) and a GNS3
server. Split from tests/unit/test_bundle.py, whose tests write archives without them."""

from __future__ import annotations

import json
import uuid
import zipfile
from pathlib import Path

import pytest

from generator.build import BuildOptions, build_lab
from tests.helpers import link_image
from tests.unit.test_bundle import (
    MIB,
    big_appliance,
    run_measured,
    sha256,
    tiny_lab,
)

pytestmark = pytest.mark.slow


def stored(image: Path) -> str:
    """The name a build bundles a third-party image by: ``<stem>.<sha256[:12]>.<ext>``."""
    return f"{image.stem}.{sha256(image)[:12]}{image.suffix}"


@pytest.mark.slow
def test_bundling_a_2_gib_image_writes_it_once_in_little_memory(tmp_path: Path) -> None:
    size = 2048 * MIB
    images = tmp_path / "images"
    image = big_appliance(images, "big-bundle.img", size)
    bp = tmp_path / "lab.yaml"
    bp.write_text("name: big\nnodes:\n  vm1: {appliance: Big Guest, ram: 64}\n")
    rss, io = run_measured(tmp_path, "build", bp, "-o", tmp_path / "dist", "--images-dir",
                           images, "--include-images")
    archive = tmp_path / "dist" / "big.gns3project"
    member = f"images/QEMU/{stored(image)}"
    with zipfile.ZipFile(archive) as zf:
        info = zf.getinfo(member)
        assert info.compress_type == zipfile.ZIP_STORED and info.file_size == size
        manifest = json.loads(zf.read("gns3lab/manifest.json"))
    assert manifest["files"][member] == {"sha256": sha256(image), "size": size}
    # Everything else the build writes (overlay header, seed, README, sidecars) is small.
    overhead = 32 * MIB
    assert io["wchar"] < size * 1.2 + overhead, f"the build wrote {io['wchar'] >> 20} MiB"
    assert io["write_bytes"] < size * 1.2 + overhead, io
    assert rss < 200 * MIB, f"build peaked at {rss >> 20} MiB"
    print(f"build: wrote {io['wchar'] >> 20} MiB (wchar), {io['write_bytes'] >> 20} MiB "
          f"(write_bytes), peak RSS {rss >> 20} MiB")
    rss, io = run_measured(tmp_path, "inspect", archive)
    assert rss < 200 * MIB, f"inspect peaked at {rss >> 20} MiB"
    print(f"inspect: peak RSS {rss >> 20} MiB")
    rss, io = run_measured(tmp_path, "verify", archive)  # exit 0: its image is inside
    assert rss < 200 * MIB, f"verify peaked at {rss >> 20} MiB"
    print(f"verify: peak RSS {rss >> 20} MiB")
    assert io["rchar"] >= size  # it did hash the image member (streamed)


@pytest.mark.slow
@pytest.mark.parametrize("include, bundled", [
    (None, {"ours"}), (True, {"ours", "public-guest.qcow2"}), (False, set())])
def test_what_is_bundled_by_default_and_on_request(tmp_path: Path, include: bool | None,
                                                   bundled: set[str]) -> None:
    bp, images, ours = tiny_lab(tmp_path)
    built = build_lab(bp, BuildOptions(out_dir=tmp_path / "dist", images_dirs=(images,),
                                       include_images=include))
    with zipfile.ZipFile(built.archive) as zf:
        names = {n.removeprefix("images/QEMU/") for n in zf.namelist()
                 if n.startswith("images/")}
        manifest = json.loads(zf.read("gns3lab/manifest.json"))
        recorded = manifest["images"]
        for name in names:
            source = images / recorded[name]["original"]
            assert zf.read(f"images/QEMU/{name}") == source.read_bytes()
    published = {ours if n == "ours" else n for n in bundled}
    assert names == {stored(images / n) for n in published}  # bundled ones named by content
    ours_as = stored(images / ours) if include is not False else ours
    public_as = stored(images / "public-guest.qcow2") if include else "public-guest.qcow2"
    assert recorded[ours_as]["public_url"] is False
    assert recorded[public_as]["public_url"] is True
    assert {n for n, e in recorded.items() if e["included"]} == names
    assert recorded[ours_as]["sha256"] == sha256(images / ours)


@pytest.mark.slow
def test_cli_include_flags(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from generator.cli import main

    bp, images, ours = tiny_lab(tmp_path)
    runner = CliRunner()
    for flag, expect in (("--no-include-images", False), ("--include-images", True)):
        out = tmp_path / flag
        result = runner.invoke(main, ["build", str(bp), "-o", str(out), "--images-dir",
                                      str(images), flag])
        assert result.exit_code == 0, result.output
        with zipfile.ZipFile(out / "bundle.gns3project") as zf:
            public, mine = images / "public-guest.qcow2", images / ours
            assert (f"images/QEMU/{stored(public)}" in zf.namelist()) is expect
            assert (f"images/QEMU/{stored(mine)}" in zf.namelist()) is expect
            assert "images/QEMU/public-guest.qcow2" not in zf.namelist()
    refused = runner.invoke(main, ["build", str(bp), "--no-images", "--include-images"])
    assert refused.exit_code == 2
    assert "--include-images and --no-images exclude each other" in refused.output


@pytest.mark.slow
def test_include_images_round_trip(gns3_server, tmp_path: Path) -> None:  # type: ignore
    """Import a bundled archive: the image lands in the server's images folder, same sha256."""
    bp, images, ours = tiny_lab(tmp_path)
    built = build_lab(bp, BuildOptions(out_dir=tmp_path / "dist", images_dirs=(images,)))
    landed = gns3_server.images_dir / stored(images / ours)
    assert not landed.exists()
    link_image(images / "public-guest.qcow2", gns3_server.images_dir)  # downloaded by hand
    client = gns3_server.client
    project = client.import_project(built.archive, name=f"bundle-{uuid.uuid4().hex[:6]}")
    pid = project["project_id"]
    try:
        assert landed.is_file(), sorted(p.name for p in gns3_server.images_dir.iterdir())
        assert sha256(landed) == sha256(images / ours)
        client.open_project(pid)
        nodes = {n["name"]: n for n in client.nodes(pid)}
        assert nodes["a"]["properties"]["hda_disk_image"] == landed.name
    finally:
        client.close_project(pid)
        client.delete_project(pid)
