"""What a GNS3 user meets when an archive's base images are not on the server, and what to do:
one text for the archive's README and for ``gns3lab inspect`` (pure, no imports from the rest
of the package, so generator/read may call it as well as generator/render).

Measured with the real servers (docs: ../shared/spec/gns3-server-harness.md, and
tests/integration/test_desktop_gui.py with gns3-gui 2.2.61): the import itself succeeds
without the images, but opening the project fails until every QEMU base image is in the
server's images folder. GNS3 2.2's desktop GUI then shows one error dialog naming only the
first missing image ("The image X is missing") and the project stays closed in the project
library; 3.x answers the same ("The image 'X' is missing") in its web UI.
"""

from __future__ import annotations

from collections.abc import Iterable

#: Where a GNS3 server looks for QEMU base images, by default (the GNS3 VM: /opt/gns3/images).
IMAGES_FOLDER = "~/GNS3/images/QEMU/"


def image_advice(needed: Iterable[str], included: Iterable[str]) -> list[str]:
    """Paragraphs (plain Markdown, one per item) about the base images ``needed`` by the
    project, of which ``included`` ride in the archive."""
    needed = sorted(set(needed))
    inside = set(included)
    missing = [name for name in needed if name not in inside]
    if not needed:
        return ["The lab has no VMs: it opens as soon as it is imported."]
    if not missing:
        return ["Every base image is in this archive: GNS3 installs it on import, and the "
                "project opens and starts as it is."]
    names = ", ".join(f"`{name}`" for name in missing)
    return [
        f"This archive does not hold these base images: {names}. GNS3 needs every one of them "
        f"on its server before the project can open:",
        "- **GNS3 2.2** imports the archive, but the project will not open: one error dialog "
        "names only the first missing image (\"The image ... is missing\") and the project "
        "stays closed in the project library.",
        "- **GNS3 3.x** imports it too, and opening it fails the same way in the web UI "
        "(\"The image '...' is missing\").",
        f"What to do: copy the images, by these exact names, into the GNS3 server's QEMU "
        f"images folder (`{IMAGES_FOLDER}` by default; `/opt/gns3/images/QEMU/` on the GNS3 "
        f"VM; the desktop GUI shows yours under Edit > Preferences > General > Binary images, "
        f"\"My binary images\", whose `QEMU` subfolder it is), or upload them with "
        f"`gns3lab push ARCHIVE --upload-images DIR`. Then open the project again "
        f"(File > Open project, or the project library); nothing needs re-importing.",
    ]
