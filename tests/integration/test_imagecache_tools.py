"""Found base images checked with qemu-img (split from tests/unit/test_imagecache.py)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from generator.errors import ImageError

pytestmark = pytest.mark.slow


@pytest.mark.slow
def test_found_images_carry_their_sha256(tmp_path: Path) -> None:
    from generator.build import load_lab
    from generator.images.baseimages import find_images
    from tests.helpers import make_tiny_appliance

    images = tmp_path / "images"
    make_tiny_appliance(images, "Tiny Guest", "tiny-sha.qcow2")
    bp = tmp_path / "lab.yaml"
    bp.write_text("name: sha\nnodes:\n  vm1: {appliance: Tiny Guest}\n")
    lab = load_lab(bp, (images,))
    found = find_images(lab, [images])
    data = (images / "tiny-sha.qcow2").read_bytes()
    assert found["tiny-sha.qcow2"].sha256 == hashlib.sha256(data).hexdigest()
    assert found["tiny-sha.qcow2"].md5sum == hashlib.md5(data).hexdigest()
    # Cached beside the image, hidden from GNS3's image list; the md5 cache is GNS3's own.
    assert (images / ".tiny-sha.qcow2.sha256sum").read_text().strip() == \
        found["tiny-sha.qcow2"].sha256
    assert (images / "tiny-sha.qcow2.md5sum").read_text().strip() == hashlib.md5(data).hexdigest()


@pytest.mark.slow
def test_two_images_with_one_file_name_are_refused(tmp_path: Path) -> None:
    from generator.build import BuildOptions, build_lab
    from tests.helpers import make_tiny_appliance

    make_tiny_appliance(tmp_path / "a", "Guest A", "same.qcow2", size="64M")
    make_tiny_appliance(tmp_path / "b", "Guest B", "same.qcow2", size="32M")
    bp = tmp_path / "lab.yaml"
    bp.write_text("name: clash\nnodes:\n  vm1: {appliance: Guest A}\n  vm2: {appliance: Guest B}\n")
    for no_images in (False, True):
        opts = BuildOptions(out_dir=tmp_path / "dist", images_dirs=(tmp_path / "a", tmp_path / "b"),
                            no_images=no_images)
        with pytest.raises(ImageError) as info:
            build_lab(bp, opts)
        message = info.value.message
        assert "two different images share the file name 'same.qcow2'" in message
        assert "node 'vm1' (Guest A 1" in message and "node 'vm2' (Guest B 1" in message
        assert "rename one image" in (info.value.hint or "")
        assert not list((tmp_path / "dist").glob("*.gns3project"))
