"""Bundling base images costs one write (issue 9, deliverable 4).

``--include-images`` streams each base straight from its file into the zip (stored, Zip64 past
4 GiB) with no staging copy; images with no public download URL (the ones we build) are
bundled by default, ``--no-include-images`` refuses. The big test builds, inspects and
verifies a 2 GiB image in subprocesses and measures what they write (``/proc/self/io``) and
their peak RSS (``RUSAGE_CHILDREN`` of a fresh parent, so nothing earlier in the session
counts). The round trip imports a bundled archive into real gns3-server 2.2.61 and 3.0.6.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import uuid
import zipfile
from pathlib import Path

import pytest

from generator.build import BuildOptions, build_lab
from generator.errors import ArchiveError
from generator.paths import Layout
from generator.write.archive import write_archive, write_manifest
from tests.helpers import REPO, link_image, make_tiny_appliance

MIB = 1 << 20
#: Runs the CLI and, at exit, copies its own /proc/self/io to $IO_OUT.
IO_SCRIPT = """\
import atexit, os, sys
def _dump():
    with open("/proc/self/io") as src, open(os.environ["IO_OUT"], "w") as dst:
        dst.write(src.read())
atexit.register(_dump)
from generator.cli import main
main(sys.argv[1:], prog_name="gns3lab")
"""
#: A fresh parent: runs its arguments and prints their peak RSS (KiB), then their exit code.
RSS_SCRIPT = """\
import resource, subprocess, sys
rc = subprocess.run(sys.argv[1:]).returncode
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, rc)
"""


def sha256(path: Path) -> str:
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def run_measured(tmp_path: Path, *args: str | Path) -> tuple[int, dict[str, int]]:
    """Run ``gns3lab ARGS`` in a subprocess; its peak RSS in bytes and its /proc/self/io."""
    io_out = tmp_path / f"io-{uuid.uuid4().hex[:6]}.txt"
    env = dict(os.environ, IO_OUT=str(io_out), PYTHONPATH=str(REPO))
    proc = subprocess.run([sys.executable, "-c", RSS_SCRIPT, sys.executable, "-c", IO_SCRIPT,
                           *map(str, args)], env=env, capture_output=True, text=True,
                          timeout=1200, check=False)
    rss_kib, rc = proc.stdout.split()[-2:]
    assert rc == "0", proc.stderr
    io = dict(line.split(": ") for line in io_out.read_text().splitlines())
    return int(rss_kib) * 1024, {k: int(v) for k, v in io.items()}


def big_appliance(folder: Path, filename: str, size: int) -> Path:
    """A ``size``-byte raw base image of one random MiB repeated (no holes: every byte is
    really written and read), and a .gns3a naming it with no download URL."""
    folder.mkdir(parents=True, exist_ok=True)
    image = folder / filename
    block = os.urandom(MIB)
    md5 = hashlib.md5()
    with image.open("wb") as fh:
        for _ in range(size // MIB):
            fh.write(block)
            md5.update(block)
    appliance = json.loads(make_tiny_appliance(folder / "tpl", "Big Guest", "tpl.qcow2")
                           .read_text())
    appliance["images"] = [{"filename": filename, "version": "1", "md5sum": md5.hexdigest(),
                            "filesize": size}]
    appliance["versions"] = [{"name": "1", "images": {"hda_disk_image": filename}}]
    (folder / "big.gns3a").write_text(json.dumps(appliance, indent=4))
    return image


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
    with zipfile.ZipFile(archive) as zf:
        info = zf.getinfo("images/QEMU/big-bundle.img")
        assert info.compress_type == zipfile.ZIP_STORED and info.file_size == size
        manifest = json.loads(zf.read("gns3lab/manifest.json"))
    assert manifest["files"]["images/QEMU/big-bundle.img"] == {"sha256": sha256(image),
                                                               "size": size}
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


def tiny_lab(root: Path, with_url: bool = False) -> tuple[Path, Path, str]:
    """A blueprint with two images: one we made (no URL), one with a public URL."""
    images = root / "images"
    ours = f"ours-{uuid.uuid4().hex[:8]}.qcow2"
    make_tiny_appliance(images, "Our Guest", ours, size="72M")
    public = images / make_tiny_appliance(images, "Public Guest", "public-guest.qcow2").name
    doc = json.loads(public.read_text())
    doc["images"][0]["direct_download_url"] = "https://example.org/public-guest.qcow2"
    public.write_text(json.dumps(doc))
    bp = root / "lab.yaml"
    bp.write_text("name: bundle\nnodes:\n  a: {appliance: Our Guest, ram: 64}\n"
                  "  b: {appliance: Public Guest, ram: 64}\n")
    return bp, images, ours


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
        for name in names:
            assert zf.read(f"images/QEMU/{name}") == (images / name).read_bytes()
    assert names == {ours if n == "ours" else n for n in bundled}
    recorded = manifest["images"]
    assert recorded[ours]["public_url"] is False
    assert recorded["public-guest.qcow2"]["public_url"] is True
    assert {n for n, e in recorded.items() if e["included"]} == names
    assert recorded[ours]["sha256"] == sha256(images / ours)


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
            assert ("images/QEMU/public-guest.qcow2" in zf.namelist()) is expect
            assert (f"images/QEMU/{ours}" in zf.namelist()) is expect
    refused = runner.invoke(main, ["build", str(bp), "--no-images", "--include-images"])
    assert refused.exit_code == 2
    assert "--include-images and --no-images exclude each other" in refused.output


def staging(tmp_path: Path) -> Layout:
    layout = Layout(tmp_path / "stage")
    layout.root.mkdir()
    layout.project_file.write_text("{}")
    (layout.root / "README.md").write_text("hello\n")
    return layout


def test_extra_members_stream_from_their_files_and_are_stored(tmp_path: Path) -> None:
    layout = staging(tmp_path)
    image = tmp_path / "base.qcow2"
    image.write_bytes(os.urandom(3 * MIB + 5))
    extra = {"images/QEMU/base.qcow2": image}
    write_manifest(layout, {"lab": "x"}, extra)
    archive = write_archive(layout, tmp_path / "out" / "x.gns3project", extra=extra)
    assert not layout.image("base.qcow2").exists()  # never copied into staging
    with zipfile.ZipFile(archive) as zf:
        assert zf.namelist() == ["project.gns3", "README.md", "gns3lab/manifest.json",
                                 "images/QEMU/base.qcow2"]
        info = zf.getinfo("images/QEMU/base.qcow2")
        assert info.compress_type == zipfile.ZIP_STORED
        assert zf.read(info) == image.read_bytes()
        files = json.loads(zf.read("gns3lab/manifest.json"))["files"]
    assert files["images/QEMU/base.qcow2"] == {"sha256": sha256(image),
                                               "size": image.stat().st_size}
    assert set(files) == {"project.gns3", "README.md", "images/QEMU/base.qcow2"}


def test_an_image_that_changes_while_bundled_leaves_no_archive(tmp_path: Path) -> None:
    """The manifest's sha256 comes from the digest cache; the bytes streamed into the zip are
    hashed on the way and must match it, or the archive would lie about its image."""
    layout = staging(tmp_path)
    image = tmp_path / "base.qcow2"
    image.write_bytes(b"A" * MIB)
    extra = {"images/QEMU/base.qcow2": image}
    write_manifest(layout, {}, extra)  # caches the digests beside the image
    sidecar = tmp_path / ".base.qcow2.sha256sum"
    sidecar.write_text("0" * 64 + "\n")  # a stale cache: the file is not what it records
    write_manifest(layout, {}, extra)
    target = tmp_path / "out" / "x.gns3project"
    with pytest.raises(ArchiveError, match="base.qcow2 changed while it was bundled"):
        write_archive(layout, target, extra=extra)
    assert not target.exists() and not list(target.parent.iterdir())


def test_an_extra_member_may_not_shadow_a_staged_file(tmp_path: Path) -> None:
    layout = staging(tmp_path)
    with pytest.raises(ArchiveError, match="README.md is both"):
        write_archive(layout, tmp_path / "x.gns3project",
                      extra={"README.md": layout.root / "README.md"})


@pytest.mark.slow
def test_include_images_round_trip(gns3_server, tmp_path: Path) -> None:  # type: ignore
    """Import a bundled archive: the image lands in the server's images folder, same sha256."""
    bp, images, ours = tiny_lab(tmp_path)
    built = build_lab(bp, BuildOptions(out_dir=tmp_path / "dist", images_dirs=(images,)))
    landed = gns3_server.images_dir / ours
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
        assert nodes["a"]["properties"]["hda_disk_image"] == ours
    finally:
        client.close_project(pid)
        client.delete_project(pid)
