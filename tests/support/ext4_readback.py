"""Read guest paths back out of disks without a libguestfs launch: for the tests whose disks
hold their root on an ext4 (or ext2/3) filesystem, whole-disk or in an MBR/GPT partition.

Each disk is converted to a sparse raw file (``qemu-img convert`` follows the overlay's backing
chain, so what is read is what the guest would see), ``e2fsck -fn`` must find its root
filesystem clean (so nothing is left in a journal that a kernel mount would replay and a
direct reader would miss), and ``debugfs`` stats and dumps the paths. It returns the same
:class:`~tests.support.readback.GuestStat` per path as :func:`tests.support.readback.
read_back_many`, so the tests' assertions are unchanged; a launch costs about 20 s under TCG,
this a second or two per disk. Tests that check the launch itself (inspection, several mounts)
keep :func:`~tests.support.readback.read_back_many`.
"""

from __future__ import annotations

import fnmatch
import json
import stat
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from generator import tools
from generator.write.inject_accounts import Accounts
from tests.support.readback import GuestStat

_KINDS = {"regular": "file", "directory": "dir", "symlink": "symlink"}


def read_back_offline(requests: Mapping[Path, Sequence[str]]) -> dict[Path, dict[str, GuestStat]]:
    """Stat and read guest paths on several disks; missing paths are left out. A path with
    ``*`` in it is a pattern, as for read_back_many."""
    out: dict[Path, dict[str, GuestStat]] = {}
    with tempfile.TemporaryDirectory(prefix="readback-") as tmp:
        for n, (disk, paths) in enumerate(requests.items()):
            raw = Path(tmp) / f"{n}.raw"
            fmt = tools.image_info(disk).get("format", "qcow2")
            subprocess.run(["qemu-img", "convert", "-q", "-f", fmt, "-O", "raw", str(disk),
                            str(raw)], check=True, capture_output=True)
            out[disk] = _Fs(_root_fs(raw), Path(tmp) / str(n)).read(paths)
            raw.unlink()
    return out


def _root_fs(raw: Path) -> str:
    """The debugfs device spec (``raw?offset=N``) of the filesystem that holds /etc, checked
    clean by ``e2fsck -fn``."""
    table = subprocess.run(["sfdisk", "--json", str(raw)], capture_output=True, text=True,
                           check=False)
    parts = json.loads(table.stdout)["partitiontable"]["partitions"] if table.stdout else []
    offsets = [int(p["start"]) * 512 for p in parts] or [0]
    for offset in offsets:
        spec = f"{raw}?offset={offset}"
        probe = subprocess.run(["debugfs", "-R", "stat /etc", spec], capture_output=True,
                               text=True, check=False)
        if "Type: directory" in probe.stdout:
            check = subprocess.run(["e2fsck", "-fn", spec], capture_output=True, text=True,
                                   check=False)
            assert check.returncode == 0, f"{raw} at {offset}: e2fsck -fn\n{check.stdout}"
            return spec
    raise AssertionError(f"no ext filesystem with /etc in {raw} (offsets {offsets})")


class _Fs:
    """One filesystem read through debugfs, a batch of commands per call."""

    def __init__(self, spec: str, scratch: Path) -> None:
        self.spec, self.scratch = spec, scratch
        scratch.mkdir()

    def run(self, commands: Sequence[str]) -> dict[str, str]:
        """Each command's output (stdout), by command."""
        script = self.scratch / "commands"
        script.write_text("".join(f"{c}\n" for c in commands))
        done = subprocess.run(["debugfs", "-f", str(script), self.spec], capture_output=True,
                              text=True, check=True)
        out: dict[str, str] = {}
        command = None
        for line in done.stdout.splitlines():
            if line.startswith("debugfs: ") and line[9:] in commands:
                command = line[9:]
                out[command] = ""
            elif command is not None:
                out[command] += line + "\n"
        return out

    def dump(self, paths: Sequence[str]) -> dict[str, bytes]:
        """The bytes of each path (a regular file, or a symlink's target block)."""
        files = {p: self.scratch / f"dump-{i}" for i, p in enumerate(paths)}
        self.run([f'dump "{p}" {f}' for p, f in files.items()])
        return {p: f.read_bytes() for p, f in files.items() if f.exists()}

    def expand(self, paths: Sequence[str]) -> list[str]:
        """The paths, each pattern replaced by the paths it matches (sorted)."""
        out: list[str] = []
        for path in paths:
            found = [""]
            parts = path.strip("/").split("/")
            for n, part in enumerate(parts):
                if "*" not in part:
                    found = [f"{f}/{part}" for f in found]
                    continue
                listed = self.run([f'ls -p "{f or "/"}"' for f in found])
                # Directories matched by the last part end in "/", as libguestfs marks them.
                mark = n == len(parts) - 1
                found = [f"{f}/{name}" + ("/" if mark and is_dir else "") for f in found
                         for name, is_dir in _entries(listed.get(f'ls -p "{f or "/"}"', ""))
                         if fnmatch.fnmatchcase(name, part)]
            out += sorted(found)
        return out

    def read(self, requested: Sequence[str]) -> dict[str, GuestStat]:
        paths = self.expand(requested)
        stats = self.run([f'stat "{p}"' for p in paths])
        heads = {p: _head(stats.get(f'stat "{p}"', "")) for p in paths}
        heads = {p: h for p, h in heads.items() if h is not None}
        accounts = self.dump(["/etc/passwd", "/etc/group"])
        acc = Accounts.parse(*(accounts[p].decode(errors="replace") if p in accounts else None
                               for p in ("/etc/passwd", "/etc/group")))
        blobs = self.dump([p for p, h in heads.items() if h["kind"] == "file"
                           or (h["kind"] == "symlink" and h["target"] is None)])
        out = {}
        for path, h in heads.items():
            kind, uid, gid = h["kind"], h["uid"], h["gid"]
            target = h["target"]
            if kind == "symlink" and target is None:
                target = blobs[path].decode()
            out[path] = GuestStat(path, kind, h["mode"], uid, gid, acc.name(uid, False),
                                  acc.name(gid, True),
                                  blobs[path] if kind == "file" else None,
                                  target if kind == "symlink" else None)
        return out


def _entries(listing: str) -> list[tuple[str, bool]]:
    """(name, is a directory) of each entry of a ``ls -p`` listing
    (``/inode/mode/uid/gid/name/size/``), but . and .."""
    rows = [row.split("/") for row in listing.splitlines() if row.count("/") >= 6]
    return [(r[5], stat.S_ISDIR(int(r[2], 8))) for r in rows if r[5] not in (".", "..")]


def _head(text: str) -> dict | None:
    """Kind, mode bits, ids and fast symlink target from ``stat`` output; None if missing."""
    fields = text.split()
    if "Inode:" not in fields:
        return None

    def after(key: str) -> str:
        return fields[fields.index(key) + 1]

    kind = _KINDS.get(after("Type:"), "other")
    mode = int(after("Mode:"), 8)
    target = None
    for line in text.splitlines():
        if line.startswith('Fast link dest: "') and line.endswith('"'):
            target = line[len('Fast link dest: "'):-1]
    return {"kind": kind, "mode": stat.S_IMODE(mode), "uid": int(after("User:")),
            "gid": int(after("Group:")), "target": target}
