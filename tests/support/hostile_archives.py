"""Hostile ``.gns3project`` archives for the readers' bounds (issue 17, findings 7 and 11).

Each maker writes one archive into a folder and returns its path. They are small on disk (a few
MB at most) but built to cost a careless reader time or memory: a project that inflates to
hundreds of MiB, a seed ISO whose files are 120 hard links to one 48 MiB extent, a billion-laughs
network-config, a bootstrap tree of big members, 100,000 members with one duplicate, names that
collide by case or by Unicode normalisation, a project nested 10,000 deep, and documents of the
wrong shape.

The zip is written by hand (:func:`write_zip`): zipfile cannot repeat pre-compressed data (a
256 MiB member would take seconds to deflate) and warns on duplicate names. Repeated data is
deflated once per distinct chunk with a full flush, so the same compressed bytes can follow
each other: a member of N copies of a 1 MiB chunk costs one compression and N copies.
"""

from __future__ import annotations

import hashlib
import io
import json
import struct
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from generator.read.shape import MANIFEST, node_folder

NODE_ID = "6f1c2a4e-0b7d-4c55-9a3e-2d8f1e0c7b11"
SEED = "seed.iso"
MIB = 1 << 20
BOOTSTRAP = "gns3lab/bootstrap/"
#: 1 MiB that deflates about 200:1 (below the readers' zip-bomb ratio): noise, then 'a's.
NOISY_MIB = hashlib.shake_256(b"gns3lab").hexdigest(2048).encode() + b"a" * (MIB - 4096)


@dataclass(frozen=True)
class Member:
    """One zip member: its raw deflate stream (or stored bytes), CRC and sizes."""

    name: str
    raw: bytes
    crc: int
    size: int
    sha256: str
    method: int = 8  # 8 deflate, 0 stored


def member(name: str, data: bytes) -> Member:
    """A member holding ``data``, deflated."""
    return repeated(name, [(data, 1)])


def repeated(name: str, parts: list[tuple[bytes, int]]) -> Member:
    """A member of each ``(chunk, times)`` in turn: each chunk deflated once, then repeated."""
    raw, crc, size, sha = io.BytesIO(), 0, 0, hashlib.sha256()
    for chunk, times in parts:
        comp = zlib.compressobj(6, zlib.DEFLATED, -15)
        piece = comp.compress(chunk) + comp.flush(zlib.Z_FULL_FLUSH)
        for _ in range(times):
            raw.write(piece)
            crc = zlib.crc32(chunk, crc)
            sha.update(chunk)
        size += len(chunk) * times
    raw.write(zlib.compressobj(6, zlib.DEFLATED, -15).flush())  # the final (empty) block
    return Member(name, raw.getvalue(), crc, size, sha.hexdigest())


def write_zip(path: Path, members: Iterable[Member]) -> Path:
    """A zip of ``members`` in order (duplicates kept), with a ZIP64 end record past 65,535."""
    central, count = io.BytesIO(), 0
    with path.open("wb") as out:
        for m in members:
            name = m.name.encode("utf-8")
            offset = out.tell()
            # flag 0x800: the name is UTF-8 (an NFD name must reach the reader as written)
            fixed = struct.pack("<HHHHHIIIHH", 20, 0x800, m.method, 0, 0x21, m.crc,
                                len(m.raw), m.size, len(name), 0)
            out.write(b"PK\x03\x04" + fixed + name + m.raw)
            central.write(b"PK\x01\x02" + struct.pack(
                "<HHHHHHIIIHHHHHII", 0x0314, 20, 0x800, m.method, 0, 0x21, m.crc, len(m.raw),
                m.size, len(name), 0, 0, 0, 0, 0o100644 << 16, offset) + name)
            count += 1
        start, directory = out.tell(), central.getvalue()
        out.write(directory)
        if count > 0xFFFF:
            end64 = out.tell()
            out.write(b"PK\x06\x06" + struct.pack("<QHHIIQQQQ", 44, 45, 45, 0, 0, count, count,
                                                   len(directory), start))
            out.write(b"PK\x06\x07" + struct.pack("<IQI", 0, end64, 1))
        short = min(count, 0xFFFF)
        out.write(b"PK\x05\x06" + struct.pack("<HHHHIIH", 0, 0, short, short, len(directory),
                                              start, 0))
    return path


# --------------------------------------------------------------------------- a plain lab


def project(nodes: list | None = None) -> dict:
    """A small project with one QEMU node on ``base.qcow2`` whose CD-ROM is the seed ISO."""
    node = {"node_id": NODE_ID, "name": "vm1", "node_type": "qemu", "compute_id": "local",
            "console_type": "telnet", "x": 0, "y": 0,
            "properties": {"hda_disk_image": "base.qcow2", "cdrom_image": SEED, "ram": 512,
                           "cpus": 1, "adapters": 1}}
    return {"name": "hostile", "revision": 9, "type": "topology", "version": "2.2.61",
            "project_id": "0f0e0d0c-0b0a-4909-8807-060504030201", "auto_start": False,
            "topology": {"nodes": [node] if nodes is None else nodes, "links": [],
                         "computes": [], "drawings": []}}


def seed_member(files: dict[str, bytes]) -> Member:
    from generator.write.iso import seed_iso_bytes

    return member(node_folder(NODE_ID) + SEED, seed_iso_bytes(files))


def plain_seed_files() -> dict[str, bytes]:
    return {"user-data": b"#cloud-config\nhostname: vm1\n",
            "meta-data": b"instance-id: vm1-0123456789ab\n",
            "network-config": b"version: 2\nethernets: {}\n"}


def lab_zip(path: Path, members: list[Member], manifest: dict | None = None,
            unlisted: Iterable[Member] = ()) -> Path:
    """``members`` plus a manifest recording each one's sha256 and size, then ``unlisted``."""
    files = {m.name: {"sha256": m.sha256, "size": m.size} for m in members}
    doc = {"lab": "hostile", "files": files, "images": {}, **(manifest or {})}
    return write_zip(path, [*members, member(MANIFEST, json.dumps(doc).encode()), *unlisted])


def plain_lab(path: Path, extra: Iterable[Member] = (), doc: object = None,
              unlisted: Iterable[Member] = ()) -> Path:
    """The plain lab (project and seed) plus ``extra`` members."""
    body = json.dumps(project() if doc is None else doc).encode()
    return lab_zip(path, [member("project.gns3", body), seed_member(plain_seed_files()),
                          *extra], unlisted=unlisted)


# --------------------------------------------------------------------------- finding 7


def big_project(folder: Path) -> Path:
    """A project.gns3 of 256 MiB (a valid project with a long string) in about 1.3 MB."""
    head = json.dumps(project())[:-1].encode() + b', "pad": "'
    body = repeated("project.gns3", [(head, 1), (NOISY_MIB, 256), (b'"}', 1)])
    return lab_zip(folder / "big-project.gns3project", [body, seed_member(plain_seed_files())])


def zip_bomb(folder: Path) -> Path:
    """A project.gns3 that inflates 1 GiB from about 1 MB (ratio past 1000)."""
    body = repeated("project.gns3", [(b" " * (64 * MIB), 16), (b"{}", 1)])
    return lab_zip(folder / "zip-bomb.gns3project", [body, seed_member(plain_seed_files())])


def hardlinked_seed(folder: Path, links: int = 120, big: bytes = NOISY_MIB * 48,
                    label: str = "hardlinked-seed") -> Path:
    """A seed ISO whose root holds ``links`` hard links to one file (one extent) of ``big``:
    48 MiB by default, as found; :func:`hardlinked_small_seed` keeps the ISO small."""
    import pycdlib

    iso = pycdlib.PyCdlib()
    iso.new(interchange_level=3, joliet=3, rock_ridge="1.09", vol_ident="cidata")
    for name, data in plain_seed_files().items():
        iso.add_fp(io.BytesIO(data), len(data), f"/{name.upper().replace('-', '_')}.;1",
                   rr_name=name, joliet_path=f"/{name}")
    iso.add_fp(io.BytesIO(big), len(big), "/BIG.;1", rr_name="big", joliet_path="/big")
    for i in range(links):
        iso.add_hard_link(iso_old_path="/BIG.;1", iso_new_path=f"/L{i}.;1", rr_name=f"l{i}")
        iso.add_hard_link(iso_old_path="/BIG.;1", joliet_new_path=f"/l{i}")
    out = io.BytesIO()
    iso.write_fp(out)
    iso.close()
    seed = member(node_folder(NODE_ID) + SEED, out.getvalue())
    return lab_zip(folder / f"{label}.gns3project",
                   [member("project.gns3", json.dumps(project()).encode()), seed])


def hardlinked_small_seed(folder: Path) -> Path:
    """A 1 MB seed ISO (within what a reader takes of one) with 20 hard links to its 1,000 KB
    file: 20 MB to read, past the seed limits only when each link counts."""
    return hardlinked_seed(folder, 20, NOISY_MIB[:1000 << 10], "hardlinked-small-seed")


def billion_laughs() -> bytes:
    """Nine levels of nine aliases: 387 million strings once expanded, 1 KB as written."""
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, 9):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]")
    return ("\n".join(lines) + "\nversion: 2\nethernets: *a8\n").encode()


def laughing_seed(folder: Path) -> Path:
    """A seed whose network-config and user-data are billion-laughs YAML."""
    files = dict(plain_seed_files(), **{"network-config": billion_laughs(),
                                        "user-data": b"#cloud-config\n" + billion_laughs()})
    return lab_zip(folder / "laughing-seed.gns3project",
                   [member("project.gns3", json.dumps(project()).encode()), seed_member(files)])


def big_bootstrap(folder: Path, count: int = 40, mib: int = 8) -> Path:
    """``count`` bootstrap members of ``mib`` MiB each (320 MiB in all, about 1.7 MB)."""
    stages = member(BOOTSTRAP + "etc/gns3lab/stages.json",
                    json.dumps({"controller": "vm1", "stages": []}).encode())
    big = [repeated(f"{BOOTSTRAP}srv/blob{i:02d}.txt", [(NOISY_MIB, mib)]) for i in range(count)]
    return plain_lab(folder / "big-bootstrap.gns3project", [stages, *big])


def many_members(folder: Path, count: int = 100_000) -> Path:
    """``count`` members (the readers' limit), the last a duplicate of an earlier one."""
    empty = member("x", b"")
    extra = [Member(f"gns3lab/blueprint/f{i:06d}.txt", empty.raw, empty.crc, 0, empty.sha256)
             for i in range(count - 4)]
    extra.append(extra[len(extra) // 2])
    return plain_lab(folder / "many-members.gns3project", unlisted=extra)


def case_collision(folder: Path, which: str) -> Path:
    """A member beside another that differs only by case (or Unicode normalisation)."""
    overlay = node_folder(NODE_ID) + "hda_disk.qcow2"
    twins = {"disk": [member(overlay, b""), member(overlay.replace("hda_disk", "HDA_DISK"),
                                                   b"")],
             "project": [member("PROJECT.GNS3", b"{}")],
             "nfd": [member("gns3lab/blueprint/caf\u00e9.txt", b"nfc"),
                     member("gns3lab/blueprint/cafe\u0301.txt", b"nfd")]}[which]
    return plain_lab(folder / f"collide-{which}.gns3project", twins)


# --------------------------------------------------------------------------- finding 11


def deep_project(folder: Path, depth: int = 10_000) -> Path:
    """A project whose ``topology`` holds a list nested ``depth`` deep."""
    body = json.dumps(project())[:-1] + ', "deep": ' + "[" * depth + "]" * depth + "}"
    return lab_zip(folder / "deep-project.gns3project",
                   [member("project.gns3", body.encode()), seed_member(plain_seed_files())])


def list_project(folder: Path) -> Path:
    """``project.gns3`` is ``[1, 2]``."""
    return plain_lab(folder / "list-project.gns3project", doc=[1, 2])


def list_properties(folder: Path) -> Path:
    """A node whose ``properties`` are a list."""
    doc = project()
    doc["topology"]["nodes"][0]["properties"] = ["hda_disk_image", "base.qcow2"]
    return plain_lab(folder / "list-properties.gns3project", doc=doc)


def lots_image_size(folder: Path) -> Path:
    """The manifest records the base image's size as ``"lots"``."""
    body = member("project.gns3", json.dumps(project()).encode())
    return lab_zip(folder / "lots-size.gns3project", [body, seed_member(plain_seed_files())],
                   {"images": {"base.qcow2": {"size": "lots", "md5": "0" * 32}}})


#: Every hostile archive by name, for parametrised tests.
MAKERS: dict[str, Callable[[Path], Path]] = {
    "big-project": big_project, "zip-bomb": zip_bomb, "hardlinked-seed": hardlinked_seed,
    "hardlinked-small-seed": hardlinked_small_seed,
    "laughing-seed": laughing_seed, "big-bootstrap": big_bootstrap,
    "many-members": many_members,
    "case-disk": lambda f: case_collision(f, "disk"),
    "case-project": lambda f: case_collision(f, "project"),
    "nfd-name": lambda f: case_collision(f, "nfd"),
    "deep-project": deep_project, "list-project": list_project,
    "list-properties": list_properties, "lots-size": lots_image_size,
}
