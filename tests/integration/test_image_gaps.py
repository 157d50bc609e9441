"""Gaps of issue 17 left between the image cache and build: a build ships only an image it
could check (an appliance with no md5sum proves nothing about a file of that name), and what
build writes into the image cache (digest sidecars) is private like what a pull writes."""

from __future__ import annotations

import hashlib
import json
import stat
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from generator.cli import main
from tests.helpers import make_tiny_appliance

pytestmark = pytest.mark.slow  # qemu-img


def _lab(tmp_path: Path, image: dict[str, object] | None = None) -> tuple[Path, Path]:
    """A one-node lab on a tiny appliance in ``tmp_path/images``, its image entry updated with
    ``image`` (keys whose value is None removed); the blueprint and the images folder."""
    images = tmp_path / "images"
    path = make_tiny_appliance(images, "Hand Placed", "hand.qcow2")
    data = json.loads(path.read_text())
    for key, value in (image or {}).items():
        if value is None:
            data["images"][0].pop(key)
        else:
            data["images"][0][key] = value
    path.write_text(json.dumps(data))
    bp = tmp_path / "lab.yaml"
    bp.write_text("name: hand\nnodes:\n  vm1: {appliance: Hand Placed, ram: 64}\n")
    return bp, images


@pytest.mark.parametrize("image", [{"md5sum": None, "filesize": 0},
                                   {"md5sum": None}],
                         ids=["no-md5-no-size", "size-only"])
def test_an_image_its_appliance_declares_no_md5_for_is_not_shipped(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, image: dict[str, object]) -> None:
    """A file of the right name placed by hand, whose appliance gives no md5sum: build refuses
    it (exit 2, naming the appliance and the fix) instead of archiving it unchecked (was: exit
    0 and ``images/QEMU/hand.qcow2`` in the archive). A size alone proves nothing either:
    ``images verify`` (check_file) says the same of it."""
    bp, images = _lab(tmp_path, image)
    monkeypatch.setenv("GNS3LAB_IMAGES", str(images))
    monkeypatch.setenv("HOME", str(tmp_path))
    dist = tmp_path / "dist"
    result = CliRunner().invoke(main, ["build", str(bp), "-o", str(dist), "--include-images"])
    assert result.exit_code == 2, result.output
    assert "appliance 'Hand Placed' declares no md5sum for hand.qcow2" in result.output
    assert "add the image's md5sum and filesize to the appliance" in result.output
    assert "Traceback" not in result.output
    assert not list(dist.glob("*.gns3project"))
    verify = CliRunner().invoke(main, ["images", "verify", str(bp)])
    assert verify.exit_code == 2 and "declares no md5 or sha256 for hand.qcow2" in verify.output


def test_an_image_with_its_md5_is_still_shipped_and_its_sidecars_are_private(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The rule's other side: with the md5 (and no size: the md5 is the proof) the image is
    checked and shipped; the digest sidecars build leaves in the cache are 0600."""
    bp, images = _lab(tmp_path, {"filesize": 0})
    monkeypatch.setenv("GNS3LAB_IMAGES", str(images))
    monkeypatch.setenv("HOME", str(tmp_path))
    dist = tmp_path / "dist"
    result = CliRunner().invoke(main, ["build", str(bp), "-o", str(dist), "--include-images"])
    assert result.exit_code == 0, result.output
    [archive] = dist.glob("*.gns3project")
    with zipfile.ZipFile(archive) as zf:
        base = (images / "hand.qcow2").read_bytes()
        stored = f"hand.{hashlib.sha256(base).hexdigest()[:12]}.qcow2"  # named by content
        assert zf.read(f"images/QEMU/{stored}") == base
    for sidecar in (images / "hand.qcow2.md5sum", images / ".hand.qcow2.sha256sum"):
        assert stat.S_IMODE(sidecar.stat().st_mode) == 0o600, sidecar
