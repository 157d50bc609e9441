"""``gns3lab diff``: what changed between two lab builds, archives or blueprints in any mix.

Both sides become a :class:`LabView`, built from the same artefacts either way: the project file,
each node's seed files, the controller's bootstrap tree and the manifest facts. A blueprint's
are rendered (``load_lab`` + ``render_project`` + ``render_seed`` + ``render_bootstrap``, all
pure, no tools); an archive's are read back (``project.gns3``, the seed ISOs,
``gns3lab/bootstrap/``, ``gns3lab/manifest.json``) through a reader that refuses unsafe member
names and caps what it reads, so a stranger's archive is safe to compare: its documents are
parsed within :mod:`generator.read.bounded`'s limits, each seed ISO is streamed to a temporary
file and read within the seed limits, and a bootstrap file past MAX_TEXT is compared by its size
and sha256 (streamed), never held.

The lab key is the one thing a blueprint does not fix (it is generated at build time), so every
text has it replaced by ``<lab key>``, and the meta-data instance-id (a hash of the seed) by
``<node>-<hash>``; the key itself is compared only when both sides know it. Files injected from
blueprint ``inject:`` entries live inside an archive's disk overlays, so they are compared only
between two blueprints.
"""

from __future__ import annotations

import difflib
import hashlib
import re
import tempfile
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from generator.archive_format import PROJECT_FILE, Manifest
from generator.errors import ArchiveError, SeedError
from generator.read.bounded import parse_json, parse_yaml
from generator.read.reader import SafeArchive, is_archive, size_text
from generator.read.shape import (
    MEMBERS,
    node_folder,
    project_nodes,
    project_problem,
)
from generator.render.guest_paths import STAGES_FILE
from generator.write.iso import MAX_SEED_ISO, read_seed_iso

LAB_KEY = "<lab key>"
PUBLIC_KEY = "/root/.ssh/id_ed25519.pub"
BOOTSTRAP_PREFIX = MEMBERS.rel(MEMBERS.bootstrap_dir) + "/"
SECTIONS = ("lab", "nodes", "links", "interfaces", "images", "stages", "seeds", "files")
_INSTANCE_ID = re.compile(r"^(instance-id: )(\S+)-[0-9a-f]{12}$", re.M)
MAX_TEXT = 1 << 20  # a bootstrap file past this is compared by size and sha256
MAX_TEXTS = 16 << 20  # bootstrap and seed text read from one archive in all


@dataclass(frozen=True)
class LabView:
    """One side of a diff, normalised: plain data only, comparable key by key."""

    source: str
    lab: dict[str, Any]
    nodes: dict[str, dict[str, Any]]
    links: dict[str, str]  # "a:port -- b:port" (ends sorted) -> its filters ("" if none)
    interfaces: dict[str, dict[str, Any]]  # "node/iface" -> kind, mac, addresses, dhcp, ...
    images: dict[str, dict[str, Any]]
    stages: dict[str, dict[str, Any]]  # name -> position, hosts, playbooks, timeout
    seeds: dict[str, str]  # "node/file" -> text
    files: dict[str, str]  # "node:/guest/path" -> text (the controller's bootstrap tree)
    injects: dict[str, str] | None  # "node:/guest/path" of inject: entries (blueprints only)
    lab_key: str | None
    #: a captured archive's snapshots (gns3lab capture): name -> stage it follows, members
    snapshots: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class Section:
    """Changes of one kind: keys added and removed, and per changed key the change."""

    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    changed: dict[str, Any] = field(default_factory=dict)
    rewired: tuple[tuple[str, str, str], ...] = ()  # links: (kept end, old peer, new peer)

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.changed or self.rewired)


@dataclass(frozen=True)
class LabDiff:
    old: str
    new: str
    sections: dict[str, Section]
    not_compared: tuple[str, ...] = ()

    @property
    def equal(self) -> bool:
        return not any(self.sections.values())

    def to_json(self) -> dict[str, Any]:
        """Plain data for ``--json``: every section, empty ones included."""
        out: dict[str, Any] = {"old": self.old, "new": self.new, "equal": self.equal,
                               "not_compared": list(self.not_compared)}
        for name, sec in self.sections.items():
            out[name] = {"added": list(sec.added), "removed": list(sec.removed),
                         "changed": sec.changed}
            if name == "links":
                out[name]["rewired"] = [{"end": e, "old": o, "new": n} for e, o, n in sec.rewired]
        return out


# --------------------------------------------------------------------------- normalising

def as_text(data: bytes) -> str:
    """File content as text; binary content as a one-line digest."""
    if b"\0" in data:
        return f"<binary, {len(data)} bytes, sha256 {hashlib.sha256(data).hexdigest()}>\n"
    return data.decode("utf-8", errors="replace")


def _normalise(text: str, key: str | None) -> str:
    if key:
        text = text.replace(key, LAB_KEY)
    return _INSTANCE_ID.sub(r"\1\2-<hash>", text)


def _link_key(ends: list[tuple[str, str]]) -> str:
    return " -- ".join(f"{n}:{p}" for n, p in sorted(ends))


def _nodes(project: dict[str, Any], placement: dict[str, Any]) -> dict[str, dict[str, Any]]:
    out = {}
    for n in project["topology"]["nodes"]:
        props = n.get("properties") or {}
        entry: dict[str, Any] = {"type": n["node_type"]}
        if n["node_type"] == "qemu":
            entry.update(ram=props.get("ram"), cpus=props.get("cpus"),
                         image=props.get("hda_disk_image"), nics=props.get("adapters"),
                         mac=props.get("mac_address"), console=props.get("console_type"),
                         seed=props.get("cdrom_image") or None,
                         disks=", ".join(props.get(f"{s}_disk_image") or "-"
                                         for s in ("hdb", "hdc", "hdd")))
        else:
            entry["ports"] = ", ".join(str(p.get("name")) for p in props.get("ports_mapping", []))
        entry["compute"] = placement.get(n["name"])
        out[n["name"]] = entry
    return out


def _links(project: dict[str, Any]) -> dict[str, str]:
    names = {n["node_id"]: n["name"] for n in project["topology"]["nodes"]}
    out = {}
    for link in project["topology"]["links"]:
        ends = [(names[e["node_id"]], str((e.get("label") or {}).get("text")
                                          or f"{e['adapter_number']}/{e['port_number']}"))
                for e in link["nodes"]]
        filters = link.get("filters") or {}
        out[_link_key(ends)] = ", ".join(f"{k} {v}" for k, v in sorted(filters.items()))
    return out


def _interfaces(seeds: dict[str, dict[str, bytes]]) -> dict[str, dict[str, Any]]:
    """Guest interfaces by ``node/name`` from each seed's network-config."""
    out: dict[str, dict[str, Any]] = {}
    for node, files in seeds.items():
        doc = parse_yaml(files.get("network-config", b"") or b"{}") or {}
        for section in ("ethernets", "bonds", "vlans", "bridges"):
            for name, body in (doc.get(section) or {}).items():
                body = body or {}
                entry = {"kind": section[:-1], "mac": (body.get("match") or {}).get("macaddress"),
                         "addresses": ", ".join(map(str, body.get("addresses", []))),
                         "dhcp": bool(body.get("dhcp4")),
                         "members": ", ".join(body.get("interfaces", [])),
                         "vlan": body.get("id"), "link": body.get("link")}
                out[f"{node}/{name}"] = {k: v for k, v in entry.items() if v not in (None, "")}
    return out


def _stages(bootstrap: dict[str, bytes]) -> tuple[str | None, dict[str, dict[str, Any]]]:
    raw = bootstrap.get(STAGES_FILE)
    if raw is None:
        return None, {}
    doc = parse_json(raw)
    return doc.get("controller"), {
        s["name"]: {"position": i + 1, "hosts": ", ".join(s.get("hosts", [])),
                    "playbooks": ", ".join(s.get("playbooks", [])), "timeout": s.get("timeout")}
        for i, s in enumerate(doc.get("stages", []))}


def make_view(source: str, project: dict[str, Any], seeds: dict[str, dict[str, bytes]],
              bootstrap: dict[str, bytes], manifest: Manifest, key: str | None,
              injects: dict[str, dict[str, bytes]] | None) -> LabView:
    """The normalised view of one build from its artefacts (either side of a diff)."""
    controller, stages = _stages(bootstrap)
    shown = {"appliance", "version", "md5", "size", "url", "sha256"}
    images = {name: {k: v for k, v in e.model_dump(include=shown).items() if v is not None}
              for name, e in manifest.images.items()}

    def texts(tree: dict[str, dict[str, bytes]], sep: str) -> dict[str, str]:
        return {f"{node}{sep}{path}": _normalise(as_text(data), key)
                for node, files in sorted(tree.items()) for path, data in sorted(files.items())}

    files = texts({controller: {p: d for p, d in bootstrap.items() if p != PUBLIC_KEY}}, ":") \
        if controller else {}
    return LabView(
        source=source,
        lab={"name": manifest.lab or project.get("name"),
             "version": manifest.version, "gns3": manifest.gns3},
        nodes=_nodes(project, manifest.placement), links=_links(project),
        interfaces=_interfaces(seeds), images=images, stages=stages,
        seeds=texts(seeds, "/"), files=files,
        injects=texts(injects, ":") if injects is not None else None, lab_key=key,
        snapshots=_snapshots(manifest))


def _snapshots(manifest: Manifest) -> dict[str, dict[str, Any]]:
    """A captured archive's snapshots by name: the stage each follows, its members' digests."""
    records = manifest.capture.snapshots.values() if manifest.capture else ()
    return {r.name: {"stage": r.stage, "members": {n: f.sha256 for n, f in r.files.items()}}
            for r in records}


# --------------------------------------------------------------------------- the two readers

def blueprint_view(path: Path, images_dirs: tuple[Path, ...] = ()) -> LabView:
    """A blueprint's view: everything a build renders before it touches a disk."""
    from generator.build import BuildOptions, load_lab, manifest_info
    from generator.render.bootstrap import render_bootstrap
    from generator.render.project import render_project
    from generator.render.seeds import render_seed
    from generator.write.guest import guest_files

    lab = load_lab(path, images_dirs)
    key = lab.ssh_key.with_name(lab.ssh_key.name + ".pub").read_text().strip() \
        if lab.ssh_key else None
    public = key or LAB_KEY
    seeds = {n.name: render_seed(n, lab, public) for n in lab.vms if n.cloud_init is not None}
    tree = render_bootstrap(lab, public).files if lab.controller else {}
    injects = {n.name: {f.path: _guest_content(f) for f in guest_files(n.injects)}
               for n in lab.vms if n.injects}
    manifest = manifest_info(lab, BuildOptions(no_images=True))
    return make_view(str(path), render_project(lab), seeds,
                     {p: data for p, (data, _mode) in tree.items()}, manifest, key, injects)


def _guest_content(f: Any) -> bytes:
    if f.kind == "symlink":
        return f"<symlink to {f.target}>\n".encode()
    if f.kind == "dir":
        return b"<directory>\n"
    return f.content if f.content is not None else Path(f.source).read_bytes()


def archive_view(path: Path) -> LabView:
    """An archive's view, read from its project file, seed ISOs, bootstrap tree and manifest."""
    with SafeArchive(path) as zf:
        if PROJECT_FILE not in zf.infos:
            raise ArchiveError(f"{path}: no {PROJECT_FILE} at the archive root",
                               hint="is this a GNS3 portable project?")
        project = zf.json(PROJECT_FILE)
        if problem := project_problem(project):
            raise ArchiveError(f"{path}: {PROJECT_FILE}: {problem}")
        manifest = zf.manifest() or Manifest()
        bootstrap = _archive_bootstrap(zf)
        seeds = _archive_seeds(zf, project, sum(map(len, bootstrap.values())))
    try:
        key = manifest.lab_key or \
            as_text(bootstrap.get(PUBLIC_KEY, b"")).strip() or None
        return make_view(str(path), project, seeds, bootstrap, manifest, key, None)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ArchiveError(f"{path}: not a project gns3lab can read: "
                           f"{type(exc).__name__}: {exc}") from None


def _archive_bootstrap(zf: SafeArchive) -> dict[str, bytes]:
    """The bootstrap tree by guest path: each file up to MAX_TEXT as it is, a bigger one as a
    line with its size and sha256 (streamed); ArchiveError past MAX_TEXTS in all."""
    out: dict[str, bytes] = {}
    total = 0
    for name, info in sorted(zf.infos.items()):
        if not name.startswith(BOOTSTRAP_PREFIX) or name.endswith("/"):
            continue
        if info.file_size > MAX_TEXT:
            data = (f"<{info.file_size} bytes, sha256 {zf.digest(name)}, compared by "
                    "digest>\n").encode()
        else:
            data = zf.read(name, MAX_TEXT)
        total = _spend(zf, total, len(data))
        out["/" + name[len(BOOTSTRAP_PREFIX):]] = data
    return out


def _spend(zf: SafeArchive, spent: int, more: int) -> int:
    """What one archive's texts have cost with ``more`` bytes; ArchiveError past MAX_TEXTS."""
    if spent + more > MAX_TEXTS:
        raise ArchiveError(f"{zf.path}: its bootstrap tree and seeds hold more than the "
                           f"{size_text(MAX_TEXTS)} of text diff compares")
    return spent + more


def _archive_seeds(zf: SafeArchive, project: dict[str, Any], spent: int
                   ) -> dict[str, dict[str, bytes]]:
    """Each QEMU node's seed files by node name: the ISO streamed to a temporary file, read
    within the seed limits, its network-config parsed within the YAML limits; the texts
    counted against MAX_TEXTS with the ``spent`` bytes already read."""
    out = {}
    with tempfile.TemporaryDirectory(prefix="gns3lab-diff.") as tmp:
        iso = Path(tmp) / "seed.iso"
        for node in project_nodes(project):
            seed = node.get("properties", {}).get("cdrom_image")
            member = f"{node_folder(node['node_id'])}{seed}"
            if not seed or not isinstance(seed, str) or member not in zf.infos:
                continue
            with iso.open("wb") as fh:
                zf.copy(member, fh, MAX_SEED_ISO)
            try:
                files = read_seed_iso(iso).files
                parse_yaml(files.get("network-config", b"") or b"{}")
            except (SeedError, ValueError) as exc:
                reason = exc.message if isinstance(exc, SeedError) else f"network-config: {exc}"
                raise ArchiveError(f"{zf.path}: {member}: {reason.split(f'{iso}: ')[-1]}",
                                   hint="this archive was not written by gns3lab") from None
            spent = _spend(zf, spent, sum(map(len, files.values())))
            out[node["name"]] = files
    return out


def load_view(path: Path, images_dirs: tuple[Path, ...] = ()) -> LabView:
    """An archive's view when ``path`` is a zip (or named .gns3project), else a blueprint's."""
    if path.is_file() and (path.suffix == ".gns3project" or is_archive(path)):
        return archive_view(path)
    return blueprint_view(path, images_dirs)


# --------------------------------------------------------------------------- comparing

def _attrs(old: dict[str, Any], new: dict[str, Any]) -> dict[str, list[Any]]:
    return {k: [old.get(k), new.get(k)] for k in sorted(set(old) | set(new))
            if old.get(k) != new.get(k)}


def compare_records(old: dict[str, dict[str, Any]], new: dict[str, dict[str, Any]]) -> Section:
    """Records by key: added, removed, and per kept key the attributes that changed."""
    changed = {k: _attrs(old[k], new[k]) for k in old if k in new and old[k] != new[k]}
    return Section(added=tuple(k for k in new if k not in old),
                   removed=tuple(k for k in old if k not in new), changed=changed)


def compare_texts(old: dict[str, str], new: dict[str, str]) -> Section:
    """Texts by name: added, removed, and a unified diff of each changed one."""
    changed = {}
    for name in old:
        if name in new and old[name] != new[name]:
            lines = difflib.unified_diff(old[name].splitlines(), new[name].splitlines(),
                                         f"old/{name}", f"new/{name}", n=2, lineterm="")
            changed[name] = "\n".join(lines) + "\n"
    return Section(added=tuple(k for k in new if k not in old),
                   removed=tuple(k for k in old if k not in new), changed=changed)


def compare_links(old: dict[str, str], new: dict[str, str]) -> Section:
    """Links added and removed; a removed and an added link sharing one end are a rewiring
    (each removed link pairs with the first added one that shares an end). The added links
    are indexed by end, so two archives of many links compare in linear time."""
    removed = [k for k in old if k not in new]
    added = [k for k in new if k not in old]
    by_end: dict[str, deque[int]] = {}
    for i, link in enumerate(added):
        for end in set(link.split(" -- ")):
            by_end.setdefault(end, deque()).append(i)
    used: set[int] = set()
    rewired, kept = [], []
    for r in removed:
        ends = set(r.split(" -- "))
        match = min((i for i in (_first_unused(by_end.get(e), used) for e in ends)
                     if i is not None and len(ends & set(added[i].split(" -- "))) == 1),
                    default=None)
        if match is None:
            kept.append(r)
            continue
        used.add(match)
        (end,) = ends & set(added[match].split(" -- "))
        rewired.append((end, _other(r, end), _other(added[match], end)))
    changed = {k: [old[k], new[k]] for k in old if k in new and old[k] != new[k]}
    return Section(added=tuple(a for i, a in enumerate(added) if i not in used),
                   removed=tuple(kept), changed=changed, rewired=tuple(rewired))


def _first_unused(queue: deque[int] | None, used: set[int]) -> int | None:
    """The first index in ``queue`` not yet ``used`` (used ones are dropped on the way)."""
    while queue and queue[0] in used:
        queue.popleft()
    return queue[0] if queue else None


def _other(link: str, end: str) -> str:
    a, b = link.split(" -- ")
    return b if a == end else a


def diff_views(old: LabView, new: LabView) -> LabDiff:
    """Every difference between two views, section by section."""
    lab_old, lab_new = _known(old.lab, new.lab, tuple(old.lab))
    images_old, images_new = old.images, new.images
    if any("sha256" not in e for e in [*old.images.values(), *new.images.values()]):
        images_old, images_new = ({k: _known(e, {}, ("sha256",))[1] for k, e in side.items()}
                                  for side in (old.images, new.images))
    sections = {
        "lab": compare_records({"lab": lab_old}, {"lab": lab_new}),
        "nodes": compare_records(old.nodes, new.nodes),
        "links": compare_links(old.links, new.links),
        "interfaces": compare_records(old.interfaces, new.interfaces),
        "images": compare_records(images_old, images_new),
        "stages": compare_records(old.stages, new.stages),
        "seeds": compare_texts(old.seeds, new.seeds),
        "files": compare_texts(old.files, new.files),
    }
    if old.snapshots or new.snapshots:  # captured archives only: built ones keep their output
        sections["snapshots"] = compare_records(old.snapshots, new.snapshots)
    not_compared = []
    if old.injects is not None and new.injects is not None:
        sections["files"] = _merge(sections["files"], compare_texts(old.injects, new.injects))
    else:
        not_compared.append("files from inject: entries (an archive holds them inside the "
                            "disk overlays)")
    if old.lab_key and new.lab_key:
        if old.lab_key != new.lab_key:
            sections["lab"].changed.setdefault("lab", {})["lab key"] = [old.lab_key,
                                                                        new.lab_key]
    else:
        not_compared.append("the lab key (generated at build time)")
    return LabDiff(old.source, new.source, sections, tuple(not_compared))


def _known(old: dict[str, Any], new: dict[str, Any], keys: tuple[str, ...]
           ) -> tuple[dict[str, Any], dict[str, Any]]:
    """Both records without those ``keys`` that one side does not know (None or absent)."""
    drop = {k for k in keys if old.get(k) is None or new.get(k) is None}
    return ({k: v for k, v in old.items() if k not in drop},
            {k: v for k, v in new.items() if k not in drop})


def _merge(a: Section, b: Section) -> Section:
    return Section(added=tuple(sorted(a.added + b.added)),
                   removed=tuple(sorted(a.removed + b.removed)),
                   changed=dict(sorted({**a.changed, **b.changed}.items())))


def diff_labs(old: Path, new: Path, images_dirs: tuple[Path, ...] = ()) -> LabDiff:
    """Compare two labs, each an archive or a blueprint."""
    return diff_views(load_view(old, images_dirs), load_view(new, images_dirs))
