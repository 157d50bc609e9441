"""The build stages that write guest-facing content: seed ISOs and libguestfs injection.

The documents themselves are rendered by pure modules (:mod:`seeds`, :mod:`bootstrap`); this
module only decides what goes where and writes it.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import replace
from pathlib import Path, PurePosixPath
from typing import Any

from generator.blueprint.confine import walk
from generator.errors import InjectionError
from generator.fileio import atomic_write
from generator.model import BaseImage, GuestFile, Lab, Node
from generator.paths import Layout
from generator.render import redact
from generator.render.bootstrap import KEY, BootstrapTree, default_user, render_bootstrap
from generator.render.seeds import render_seed
from generator.write.disks import bases_beside
from generator.write.inject import Injection, inject_all
from generator.write.iso import write_seed_iso
from generator.write.keys import LabKey


def write_seeds(lab: Lab, layout: Layout, key: LabKey | None) -> None:
    """One NoCloud seed ISO per cloud-init VM, in the node's folder. ``key`` None
    (``--redact``): the seed fetches the key the controller makes instead of carrying one."""
    for node in lab.vms:
        if node.cloud_init is not None:
            extra = redact.seed_extra(lab, default_user(node)) if key is None else None
            public = key.public if key else None
            write_seed_iso(layout.seed(node), render_seed(node, lab, public, extra))


def guest_files(specs: tuple[GuestFile, ...]) -> tuple[GuestFile, ...]:
    """Blueprint ``inject:`` entries as the files to write (a source folder becomes its tree,
    read now: it is checked again, as it may have changed since resolution)."""
    out: list[GuestFile] = []
    for spec in specs:
        if spec.kind != "symlink" and spec.source is not None and spec.source.is_dir():
            out += _tree(spec)
        else:
            out.append(replace(spec, enable=False))
    return tuple(out)


def _tree(spec: GuestFile) -> list[GuestFile]:
    assert spec.source is not None
    out = [GuestFile(spec.path, kind="dir", mode=spec.mode or 0o755, owner=spec.owner,
                     group=spec.group)]
    for path in walk(spec.source, spec.path):  # checked again: the folder may have changed
        guest = spec.path.rstrip("/") + "/" + path.relative_to(spec.source).as_posix()
        if path.is_dir():
            out.append(GuestFile(guest, kind="dir", mode=0o755, owner=spec.owner,
                                 group=spec.group))
        elif path.is_file():
            mode = 0o755 if path.stat().st_mode & 0o111 else 0o644
            out.append(GuestFile(guest, source=path, mode=mode, owner=spec.owner,
                                 group=spec.group))
    return out


def node_injection(node: Node, layout: Layout, extra: tuple[GuestFile, ...] = (),
                   units: tuple[str, ...] = (), keys: tuple[tuple[str, str], ...] = (),
                   hostname: bool = False) -> Injection:
    files = guest_files(node.injects) + extra
    enable = tuple(Path(s.path).name for s in node.injects if s.enable) + units
    return Injection(node=node.name, disk=layout.overlay(node), files=files,
                     enable_units=tuple(dict.fromkeys(enable)),
                     hostname=node.name if hostname else None, authorized_keys=keys)


def login_injection(lab: Lab, node: Node, key: LabKey | None) -> dict[str, Any]:
    """A node without cloud-init (Cumulus) gets its hostname and the lab key for its login
    injected (with ``--redact``, a first-boot unit that fetches it); ``node_injection``
    keywords, empty for other nodes. The login is the appliance's trait, on the model."""
    user = node.injected_login
    if not user:
        return {}
    if key is None:
        files = as_guest_files(redact.node_files(lab, user))
        return {"extra": files, "units": (redact.FETCH_UNIT,), "hostname": True}
    return {"keys": ((user, key.public),), "hostname": True}


def as_guest_files(files: dict[str, tuple[bytes, int]]) -> tuple[GuestFile, ...]:
    """Rendered files (guest path -> content, mode) as files to inject."""
    return tuple(GuestFile(path, content=data, mode=mode) for path, (data, mode) in files.items())


def write_tree(tree: BootstrapTree, folder: Path) -> None:
    """Write the bootstrap tree under ``folder`` (guest paths made relative), with its modes."""
    for guest, (data, mode) in sorted(tree.files.items()):
        target = folder / guest.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(target, data, mode)


def controller_injection(node: Node, layout: Layout, tree: BootstrapTree, key: LabKey | None
                         ) -> Injection:
    """The controller's own injects, its bootstrap tree and the lab's private key (none with
    ``--redact``: the tree then holds the units that make it at first boot)."""
    files = [GuestFile(str(PurePosixPath(KEY).parent), kind="dir", mode=0o700)]
    files += as_guest_files(tree.files)
    if key is not None:
        files.append(GuestFile(KEY, content=key.private, mode=0o600))
    return node_injection(node, layout, extra=tuple(files), units=tree.units)


def write_bootstrap(lab: Lab, layout: Layout, key: LabKey | None,
                    images: dict[str, BaseImage] | None,
                    progress: Callable[[str], None]) -> tuple[str, ...]:
    """Render the controller's bootstrap tree into the staging folder (for review, without the
    private key), then inject every node's files (one libguestfs launch); returns the injected
    node names."""
    tree = None
    if lab.controller is not None:
        progress(f"rendering the bootstrap of controller {lab.controller.node}")
        tree = render_bootstrap(lab, key.public if key else None)
        if key is None:
            tree = BootstrapTree(files=dict(sorted({**tree.files,
                                                    **redact.controller_files()}.items())),
                                 units=redact.controller_units() + tree.units)
        write_tree(tree, layout.bootstrap_dir)
    injections = [controller_injection(n, layout, tree, key)
                  if tree is not None and lab.controller and n.name == lab.controller.node
                  else node_injection(n, layout, **login_injection(lab, n, key))
                  for n in lab.vms]
    injections = [i for i in injections if i.files or i.enable_units or i.authorized_keys]
    if not injections:
        return ()
    if images is None:
        progress(f"skipping injection into {len(injections)} overlays (--no-images: the base "
                 "images are not there to write through)")
        return ()
    progress(f"injecting files into {len(injections)} overlays (one libguestfs launch; where "
             "KVM is unusable it falls back to TCG by itself)")
    with backed_by_path(lab, injections, images):
        try:
            inject_all(injections, progress=progress)
        except InjectionError as exc:  # name the overlay as the archive does, not the temp dir
            raise InjectionError(exc.message.replace(f"{layout.root}/", ""), hint=exc.hint
                                 ) from None
    return tuple(i.node for i in injections)


def backed_by_path(lab: Lab, injections: list[Injection], images: dict[str, BaseImage]
                   ) -> AbstractContextManager[None]:
    """Let each overlay reach its checked base image during the injection, its header left
    naming the bare file name GNS3 rebases onto its own image folder (:func:`bases_beside`)."""
    pairs = []
    for inj in injections:
        node_image = lab.node(inj.node).image
        assert node_image is not None
        pairs.append((inj.disk, images[node_image.filename]))
    return bases_beside(pairs)
