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
import time
import uuid
import zipfile
from pathlib import Path

import pytest

from generator.archive_format import Manifest
from generator.errors import ArchiveError
from generator.paths import Layout
from generator.write.archive import write_archive, write_manifest
from tests.helpers import REPO, make_tiny_appliance

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
    write_manifest(layout, Manifest(lab="x"), extra)
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
    """The manifest's sha256 comes from the digest cache; an image changed since (even with its
    mtime put back) is no longer vouched for by the cache, so its bytes are hashed on the way
    and must match it, or the archive would lie about its image."""
    layout = staging(tmp_path)
    image = tmp_path / "base.qcow2"
    image.write_bytes(b"A" * MIB)
    extra = {"images/QEMU/base.qcow2": image}
    write_manifest(layout, Manifest(), extra)  # caches the digests beside the image
    st = image.stat()
    time.sleep(0.05)  # past the coarse clock tick the sidecar was written in
    image.write_bytes(b"B" * MIB)  # same size, other bytes, mtime put back: the ctime moves
    os.utime(image, ns=(st.st_atime_ns, st.st_mtime_ns))
    target = tmp_path / "out" / "x.gns3project"
    with pytest.raises(ArchiveError, match="base.qcow2 changed while it was bundled"):
        write_archive(layout, target, extra=extra)
    assert not target.exists() and not list(target.parent.iterdir())


def test_an_extra_member_may_not_shadow_a_staged_file(tmp_path: Path) -> None:
    layout = staging(tmp_path)
    with pytest.raises(ArchiveError, match="README.md is both"):
        write_archive(layout, tmp_path / "x.gns3project",
                      extra={"README.md": layout.root / "README.md"})
