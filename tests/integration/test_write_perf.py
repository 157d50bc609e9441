"""The write stage's cheap paths (issue 12) keep the results of the slow ones.

* An overlay is ONE ``qemu-img create -u`` with the known size, byte for byte what creating
  against the real base and rebasing to the bare name gave; injection reaches the base through
  a link beside the overlay, so the header is written once and names the bare file name.
* Bundling trusts the digest cache instead of hashing the image again, and still refuses an
  image that changed after its digest was cached (even with its mtime put back).
* The injection tar carries numeric owners (empty names) and the modes as given.
"""

from __future__ import annotations

import json
import os
import tarfile
import time
import zipfile
from pathlib import Path

import pytest

from generator import tools
from generator.archive_format import Manifest
from generator.build import BuildOptions, build_lab
from generator.errors import ArchiveError
from generator.images.baseimages import digests_of, trusted_sha256
from generator.model import BaseImage
from generator.paths import Layout
from generator.write.archive import write_archive, write_manifest
from generator.write.disks import bases_beside
from generator.write.inject_tar import Entry, write_tar
from tests.helpers import make_tiny_appliance

pytestmark = pytest.mark.slow  # qemu-img
MIB = 1 << 20


def _base(folder: Path, name: str = "base.qcow2") -> BaseImage:
    make_tiny_appliance(folder, "Tiny Guest", name, size="64M")
    path = folder / name
    return BaseImage(appliance="Tiny Guest", appliance_version="1", filename=name,
                     md5sum="", filesize=path.stat().st_size, path=path, format="qcow2",
                     virtual_size=64 * MIB)


def test_overlays_are_one_create_and_identical_to_create_then_rebase(tmp_path: Path) -> None:
    images = tmp_path / "images"
    make_tiny_appliance(images, "Tiny Guest", "tiny-perf.qcow2", size="64M")
    bp = tmp_path / "lab.yaml"
    bp.write_text("name: perf\nnodes:\n  a: {appliance: Tiny Guest, ram: 64}\n"
                  "  b: {appliance: Tiny Guest, ram: 64, disk: 96M}\n")
    built = build_lab(bp, BuildOptions(out_dir=tmp_path / "dist", images_dirs=(images,)))
    stored = f"tiny-perf.{digests_of(images / 'tiny-perf.qcow2')[1][:12]}.qcow2"  # bundled
    layout = Layout(Path("."))
    with zipfile.ZipFile(built.archive) as zf:
        names = zf.namelist()
        got = {n.name: zf.read(layout.rel(layout.overlay(n))) for n in built.lab.vms}
    assert not any(name.startswith("project-files/") and name.endswith(f"/{stored}")
                   for name in names)  # no link beside an overlay is archived
    for node in built.lab.vms:
        old = tmp_path / f"old-{node.name}.qcow2"  # the old way: against the base, rebased
        size = max(node.disk_size, 64 * MIB)
        tools.qemu_img("create", "-q", "-f", "qcow2", "-F", "qcow2", "-b",
                       (images / "tiny-perf.qcow2").resolve(), old, str(size))
        tools.qemu_img("rebase", "-u", "-F", "qcow2", "-b", stored, old)
        assert got[node.name] == old.read_bytes(), node.name
        mine = tmp_path / f"{node.name}.qcow2"
        mine.write_bytes(got[node.name])
        info = tools.image_info(mine)
        assert info["backing-filename"] == stored
        assert info["virtual-size"] == size


def test_bases_beside_links_for_the_block_and_leaves_the_header(tmp_path: Path) -> None:
    base = _base(tmp_path / "images")
    overlay = tmp_path / "node" / "hda_disk.qcow2"
    overlay.parent.mkdir()
    tools.qemu_img("create", "-q", "-f", "qcow2", "-u", "-F", "qcow2", "-b", base.filename,
                   overlay, str(64 * MIB))
    header = overlay.read_bytes()
    with bases_beside([(overlay, base)]):
        assert (overlay.parent / base.filename).resolve() == base.path.resolve()
        chain = json.loads(tools.qemu_img("info", "--backing-chain", "--output=json", overlay))
        assert len(chain) == 2 and chain[1]["virtual-size"] == 64 * MIB  # qemu reaches it
    assert sorted(os.listdir(overlay.parent)) == ["hda_disk.qcow2"]
    assert overlay.read_bytes() == header


def test_bases_beside_rebases_when_the_name_is_taken(tmp_path: Path) -> None:
    base = _base(tmp_path / "images", "hdb_disk.qcow2")
    overlay = tmp_path / "node" / "hda_disk.qcow2"
    overlay.parent.mkdir()
    (overlay.parent / "hdb_disk.qcow2").write_bytes(b"a data disk of that name\n")
    tools.qemu_img("create", "-q", "-f", "qcow2", "-u", "-F", "qcow2", "-b", base.filename,
                   overlay, str(64 * MIB))
    header = overlay.read_bytes()
    with bases_beside([(overlay, base)]):
        info = tools.image_info(overlay)
        assert Path(info["backing-filename"]) == base.path.resolve()
    assert overlay.read_bytes() == header
    assert (overlay.parent / "hdb_disk.qcow2").read_bytes() == b"a data disk of that name\n"


def _staged(tmp_path: Path) -> Layout:
    layout = Layout(tmp_path / "stage")
    layout.root.mkdir()
    layout.project_file.write_text("{}")
    return layout


def test_a_trusted_image_is_bundled_and_a_changed_one_refused(tmp_path: Path) -> None:
    layout = _staged(tmp_path)
    image = tmp_path / "base.img"
    image.write_bytes(os.urandom(3 * MIB))
    extra = {"images/QEMU/base.img": image}
    write_manifest(layout, Manifest(), extra)  # caches the digests beside the image
    assert trusted_sha256(image) == digests_of(image)[1]
    archive = write_archive(layout, tmp_path / "out" / "ok.gns3project", extra=extra)
    with zipfile.ZipFile(archive) as zf:
        assert zf.read("images/QEMU/base.img") == image.read_bytes()
        assert zf.testzip() is None  # CRCs right without the sha256 pass
    st = image.stat()
    time.sleep(0.05)  # past the coarse clock tick the sidecar was written in
    with image.open("r+b") as fh:  # same size, one byte changed, mtime put back
        fh.seek(MIB)
        byte = fh.read(1)
        fh.seek(MIB)
        fh.write(bytes([byte[0] ^ 1]))
    os.utime(image, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert trusted_sha256(image) is None  # the ctime moved: the cache no longer vouches
    target = tmp_path / "out" / "bad.gns3project"
    with pytest.raises(ArchiveError, match="base.img changed while it was bundled"):
        write_archive(layout, target, extra=extra)
    assert not target.exists()


def test_the_injection_tar_has_numeric_owners_and_exact_modes(tmp_path: Path) -> None:
    source = tmp_path / "payload"
    source.write_bytes(b"from the host\n")
    entries = [Entry("/etc/lab", "dir", 0o750, 1000, 4),
               Entry("/etc/lab/run.sh", "file", 0o4755, 0, 0, content=b"#!/bin/sh\n"),
               Entry("/etc/lab/run.sh", "file", 0o700, 0, 0, content=b"last wins\n"),
               Entry("/srv/p", "file", 0o600, 1000, 1000, source=source),
               Entry("/etc/link", "symlink", 0o644, 0, 0, target="/etc/lab/run.sh")]
    with (tmp_path / "x.tar").open("wb") as fh:
        write_tar(entries, fh)
    with tarfile.open(tmp_path / "x.tar") as tar:
        got = {m.name: m for m in tar.getmembers()}
        assert list(got) == ["etc/lab", "etc/lab/run.sh", "srv/p", "etc/link"]
        assert all(m.uname == "" and m.gname == "" for m in got.values())
        assert (got["etc/lab"].mode, got["etc/lab"].uid, got["etc/lab"].gid) == (0o750, 1000, 4)
        assert tar.extractfile("etc/lab/run.sh").read() == b"last wins\n"
        assert got["etc/lab/run.sh"].mode == 0o700
        assert tar.extractfile("srv/p").read() == b"from the host\n"
        assert got["etc/link"].issym() and got["etc/link"].linkname == "/etc/lab/run.sh"


def test_a_kernel_copied_image_gives_the_bytes_zipfile_writes(tmp_path: Path) -> None:
    """A trusted image goes by copy_file_range with the CRC from a second thread; the archive
    must be what zipfile's own writes make of the same members."""
    layout = _staged(tmp_path)
    (layout.root / "README.md").write_text("hello\n" * 100)
    image = tmp_path / "base.img"
    image.write_bytes(os.urandom(5 * MIB + 3))
    extra = {"images/QEMU/base.img": image}
    write_manifest(layout, Manifest(), extra)
    assert trusted_sha256(image) is not None
    archive = write_archive(layout, tmp_path / "out" / "x.gns3project", extra=extra)
    reference = tmp_path / "reference.zip"
    with zipfile.ZipFile(archive) as got, zipfile.ZipFile(reference, "w",
                                                          allowZip64=True) as zf:
        for name in got.namelist():
            source = image if name in extra else layout.root / name
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr, info.create_system = 0o100644 << 16, 3
            info.compress_type = zipfile.ZIP_STORED if name in extra else zipfile.ZIP_DEFLATED
            info.file_size = source.stat().st_size
            with zf.open(info, "w") as dst:
                dst.write(source.read_bytes())
    assert reference.read_bytes() == archive.read_bytes()
