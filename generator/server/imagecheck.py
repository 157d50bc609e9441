"""Before a push imports anything: is every base image the archive's manifest names on the
compute its nodes will run on, with the md5 the archive was built on?

GNS3 reports each image's md5. A different file of the same name would turn the archive's
overlays into garbage, so the push is refused, naming the image, both checksums and the fix.
``upload_from`` uploads missing images first.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from generator.archive_format import ImageRecord
from generator.errors import ImageError
from generator.images.baseimages import md5_of, search_dirs
from generator.read.shape import image_member
from generator.server.api import Gns3Client
from generator.server.consoles import Progress, PushEvent
from generator.server.facts import ArchiveFacts
from generator.server.placement import LOCAL, Placement


def check_images(client: Gns3Client, facts: ArchiveFacts, placement: Placement,
                 upload_from: Sequence[Path] | None, progress: Progress) -> list[str]:
    """Compare every base image in the manifest with the one on the compute its nodes run on;
    upload missing ones when ``upload_from`` is given. Returns the uploads made; raises
    ImageError (naming image, both md5s and the fix) before anything is imported."""
    images = facts.manifest.images
    if not images:
        return []
    users: dict[tuple[str, str], list[str]] = {}
    for node in facts.project.get("topology", {}).get("nodes", []):
        image = node.get("properties", {}).get("hda_disk_image")
        if isinstance(image, str) and image in images:
            cid = placement.nodes.get(node["name"], LOCAL)
            users.setdefault((image, cid), []).append(node["name"])
    listing: dict[str, dict[str, dict[str, Any]]] = {}
    problems, uploaded = [], []
    for (image, cid), nodes in sorted(users.items()):
        want = images[image]
        if cid not in listing:
            listing[cid] = {i["filename"]: i for i in client.compute_images(cid)}
        have = listing[cid].get(image)
        if have is None and upload_from is not None:
            have = _upload(client, cid, image, want, upload_from, progress)
            if have is not None:
                listing[cid][image] = have
                uploaded.append(f"{image} -> {cid}")
        problem = _judge(image, want, have, cid, nodes, facts, listing.get(LOCAL), upload_from)
        if problem:
            problems.append(problem)
        else:
            progress(PushEvent("images", f"base image {image} on {cid}: md5 {want.md5} "
                                         "matches the archive"))
    if problems:
        raise ImageError("\n".join(problems), hint="nothing was imported or started")
    return uploaded


def _judge(image: str, want: ImageRecord, have: dict[str, Any] | None, cid: str,
           nodes: list[str], facts: ArchiveFacts, controller: dict[str, Any] | None,
           upload_from: Sequence[Path] | None) -> str | None:
    """The refusal for one image on one compute, or None when the nodes may start on it."""
    who = f"node{'s' if len(nodes) > 1 else ''} {', '.join(nodes)}"
    if have is not None:
        if have.get("md5sum") == want.md5:
            return None
        return (f"base image '{image}' on compute '{cid}' has md5 {have.get('md5sum')} "
                f"({have.get('filesize')} bytes), but the archive was built on md5 "
                f"{want.md5} ({want.size} bytes): {who} would run their overlays on "
                f"the wrong base and read garbage. Fix: replace {have.get('path') or image} in "
                f"that server's QEMU images folder with the image the archive was built on "
                f"(md5 {want.md5}{_where(want)}), or rebuild the archive on the server's "
                "image")
    if image_member(image) in facts.members and cid == LOCAL:
        return None  # the import brings it
    if cid != LOCAL and controller and (controller.get(image) or {}).get("md5sum") == want.md5:
        return None  # the controller sends it to the compute when the node is created
    looked = f" (not found with that md5 in {', '.join(map(str, _dirs(upload_from)))})" \
        if upload_from is not None else ""
    return (f"base image '{image}' (md5 {want.md5}, {want.size} bytes{_where(want)}) "
            f"is missing on compute '{cid}', needed by {who}{looked}. Fix: push with "
            "--upload-images DIR (a folder holding it), or copy it into that server's QEMU "
            "images folder")


def _where(want: ImageRecord) -> str:
    return f", from {want.url}" if want.url else ""


def _dirs(upload_from: Sequence[Path] | None) -> list[Path]:
    return search_dirs(upload_from or ())


def _upload(client: Gns3Client, cid: str, image: str, want: ImageRecord,
            upload_from: Sequence[Path], progress: Progress) -> dict[str, Any] | None:
    """Upload the local copy of ``image`` whose md5 matches; the server's listing after it.

    An image the archive names by content (``want.original``) is found locally by either
    name and uploaded under the archive's: a link of that name carries the bytes."""
    names = [image, *([want.original] if want.original else [])]
    local = next((d / name for d in _dirs(upload_from) for name in names
                  if (d / name).is_file() and md5_of(d / name) == want.md5), None)
    if local is None:
        return None
    progress(PushEvent("images", f"uploading {image} ({local.stat().st_size >> 20} MiB) to "
                                 f"compute {cid}"))
    if local.name == image:
        client.upload_image(cid, local)
    else:
        with tempfile.TemporaryDirectory(prefix="gns3lab-upload.") as tmp:
            link = Path(tmp) / image
            link.symlink_to(local.resolve())
            client.upload_image(cid, link)
    found = next((i for i in client.compute_images(cid) if i["filename"] == image), None)
    if found is None and client.prefix == "/v3" and cid != LOCAL:
        # 3.x keeps an upload in the controller's store (its local compute lists it) and
        # sends it to a remote compute when a node is created there.
        found = next((i for i in client.compute_images(LOCAL) if i["filename"] == image), None)
    return found
