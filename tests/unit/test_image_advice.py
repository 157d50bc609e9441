"""What the README's "Import and start" (and ``gns3lab inspect``) tell a GNS3 user about base
images that are not in the archive (generator.render.image_advice)."""

from __future__ import annotations

from generator.render.image_advice import image_advice


def test_missing_images_are_named_with_what_each_gns3_version_does() -> None:
    text = "\n".join(image_advice(["b.qcow2", "a.qcow2", "c.img"], ["c.img"]))
    assert "`a.qcow2`, `b.qcow2`" in text and "`c.img`" not in text
    assert "**GNS3 2.2**" in text and "will not open" in text and "first missing image" in text
    assert "**GNS3 3.x**" in text
    assert "~/GNS3/images/QEMU/" in text and "--upload-images" in text
    assert "open the project again" in text


def test_an_archive_with_every_image_opens_as_it_is() -> None:
    assert image_advice(["a.qcow2"], ["a.qcow2"]) == [
        "Every base image is in this archive: GNS3 installs it on import, and the project "
        "opens and starts as it is."]
    assert image_advice([], []) == ["The lab has no VMs: it opens as soon as it is imported."]
