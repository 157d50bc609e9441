"""libguestfs injection into qcow2 overlays (generator/write/inject.py and its parts:
inject_session, inject_tar, inject_units, inject_accounts).

Launches (about 20 s each under TCG): one for the good injection (root found by the /etc
probe), one to read it back through a fresh handle (root found by inspect_os, which costs about
one more launch), one for all the in-guest error cases. The test bases take none: their
filesystems are made on the host (``mke2fs -d``, tests/support/standin_images.py).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import uuid
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace

import pytest

from generator import tools
from generator.errors import InjectionError
from generator.write import inject as disks
from generator.write.disks import create_blank_disk, create_overlay
from generator.write.inject import GuestFile, Injection, inject_all
from generator.write.inject_units import install_targets
from tests.support.readback import launches, read_back_many
from tests.support.standin_images import to_qcow2, write_fs, write_full_fs

pytestmark = pytest.mark.slow

PASSWD = ("root:x:0:0:root:/root:/bin/bash\n"
          "daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n"
          "lab:x:1000:1000:Lab user:/home/lab:/bin/sh\n")
GROUP = "root:x:0:\ndaemon:x:1:\nadm:x:4:lab\nlab:x:1000:\n"
HOSTS = "127.0.0.1\tlocalhost\n127.0.1.1\tbase-image\n::1\tlocalhost ip6-localhost\n"
SAMPLE_UNIT = ("[Unit]\nDescription=shipped in the base\n[Service]\nExecStart=/bin/true\n"
               "[Install]\nWantedBy=multi-user.target graphical.target\n"
               "RequiredBy=sysinit.target\n")
BOOT_UNIT = ("[Unit]\nDescription=Lab bootstrap (injected)\nAfter=cloud-init.service\n"
             "Before=cloud-final.service\n[Service]\nType=oneshot\n"
             "ExecStart=/etc/lab/bootstrap.sh systemd-unit\n"
             "[Install]\nWantedBy=multi-user.target\n")
KEY_LAB = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGxhYmxhYmxhYmxhYmxhYmxhYmxh lab@host"
KEY_ROOT = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHJvb3Ryb290cm9vdHJvb3Ryb290 root@host"
NODES = ("flat-a", "flat-b", "mbr-a", "mbr-b.lab.test")


def _populate(root: Path) -> Path:
    """A minimal Debian-like tree in the host folder ``root``: accounts, hosts, a unit in /lib,
    a symlink to replace (modes and owners as a guest's: dirs 0755, files 0644, root's)."""
    for d in ("etc/systemd/system", "root", "lib/systemd/system", "home/lab/.ssh"):
        (root / d).mkdir(parents=True, exist_ok=True)
    for path, text in (("etc/passwd", PASSWD), ("etc/group", GROUP), ("etc/hosts", HOSTS),
                       ("etc/hostname", "base-image\n"),
                       ("lib/systemd/system/lab-sample.service", SAMPLE_UNIT),
                       ("home/lab/.ssh/authorized_keys", KEY_LAB + "\n")):
        (root / path).write_text(text)
    for path in (root, *root.rglob("*")):
        path.chmod(0o755 if path.is_dir() else 0o644)
    (root / "root").chmod(0o700)
    os.chown(root / "home/lab", 1000, 1000)
    (root / "etc/old-link").symlink_to("/etc/hostname")
    return root


def _populate_mbr(d: Path) -> tuple[Path, Path]:
    """The trees of the partitioned base: /boot's (p1) and the root's (p2, with /bin/sh and
    os-release, so inspection finds a Linux root, and an fstab naming both by UUID)."""
    boot, root = d / "mbr-p1", _populate(d / "mbr-p2")
    boot.mkdir(mode=0o755)
    (boot / "BOOT_PART").write_text("p1\n")
    (root / "bin").mkdir(mode=0o755)
    (root / "bin/sh").write_bytes(b"")
    (root / "bin/sh").chmod(0o755)
    (root / "boot").mkdir(mode=0o755)
    (root / "etc/os-release").write_text("ID=debian\nVERSION_ID=12\nNAME=\"Debian GNU/Linux\"\n")
    return boot, root


def _build_bases(d: Path) -> dict[str, Path]:
    """flat: whole-disk ext4, no /bin/sh (inspection fails, /etc fallback); mbr: two partitions,
    /boot on p1 and root on p2 with fstab by UUID (inspection works); tiny: full ext4;
    blank: no filesystem. No launch: ``mke2fs -d`` makes each filesystem from a host folder."""
    bases = {name: d / f"{name}.qcow2" for name in ("flat", "mbr", "tiny", "blank")}
    create_blank_disk(bases["blank"], 16 << 20)
    trees = d / "trees"
    write_fs(d / "flat.raw", _populate(trees / "flat"), 64 << 20)
    write_full_fs(d / "tiny.raw", _populate(trees / "tiny"), 16 << 20)
    p1, p2 = (2048 * 512, 32768 * 512), (34816 * 512, (96 << 20) - 34816 * 512)
    raw = d / "mbr.raw"
    with raw.open("wb") as f:
        f.truncate(96 << 20)
    subprocess.run(["sfdisk", "-q", str(raw)], check=True, capture_output=True, text=True,
                   input=f"label: dos\nstart={p1[0] // 512}, size={p1[1] // 512}, type=83\n"
                         f"start={p2[0] // 512}, type=83\n")
    uuids = {"boot": str(uuid.uuid4()), "root": str(uuid.uuid4())}
    boot, root = _populate_mbr(trees)
    (root / "etc/fstab").write_text(f"UUID={uuids['root']} / ext4 defaults 0 1\n"
                                    f"UUID={uuids['boot']} /boot ext2 defaults 0 2\n")
    write_fs(raw, boot, p1[1], offset=p1[0], fs_type="ext2", uuid=uuids["boot"])
    write_fs(raw, root, p2[1], offset=p2[0], uuid=uuids["root"])
    for name in ("flat", "mbr", "tiny"):
        to_qcow2(d / f"{name}.raw", bases[name])
        (d / f"{name}.raw").unlink()
    return bases


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="session")
def bases(tmp_path_factory) -> dict[str, Path]:
    return _build_bases(tmp_path_factory.mktemp("bases"))


def overlay(bases: dict[str, Path], base: str, name: str) -> Path:
    """A linked clone next to its base (the header names the base by bare file name)."""
    path = bases[base].parent / f"{name}.qcow2"
    create_overlay(path, bases[base].name, "qcow2", tools.image_info(bases[base])["virtual-size"])
    return path


def _injection(node: str, disk: Path, host_file: Path, big: bytes) -> Injection:
    files = (
        GuestFile("/etc/lab/bootstrap.sh", content=f"#!/bin/sh\necho {node}\n".encode(),
                  mode=0o755),
        GuestFile("/etc/systemd/system/lab-bootstrap.service", content=BOOT_UNIT.encode()),
        GuestFile("/opt/lab/data", kind="dir", mode=0o750, owner="lab", group="lab"),
        GuestFile("/opt/lab/./data/../data/note.txt", content=b"note\n", mode=0o640, owner=1000,
                  group="adm"),
        GuestFile("/etc/lab/conf.d", kind="dir"),
        GuestFile("/etc/old-link", kind="symlink", target="/etc/lab/bootstrap.sh"),
        GuestFile("/srv/from-host.bin", source=host_file, mode=0o600),
        GuestFile("/srv/big.bin", content=big),
    )
    if node.startswith("mbr"):
        files += (GuestFile("/boot/lab.txt", content=f"boot {node}\n".encode()),)
    return Injection(node=node, disk=disk, files=files, hostname=node,
                     enable_units=("lab-bootstrap.service", "lab-sample.service"),
                     authorized_keys=(("lab", KEY_LAB), ("lab", KEY_LAB), ("root", KEY_ROOT)))


READ_PATHS = ("/etc/lab/bootstrap.sh", "/etc/lab", "/opt/lab/data", "/opt/lab/data/note.txt",
              "/etc/lab/conf.d", "/etc/old-link", "/srv/from-host.bin", "/srv/big.bin",
              "/etc/hostname", "/etc/hosts", "/home/lab/.ssh", "/home/lab/.ssh/authorized_keys",
              "/root/.ssh", "/root/.ssh/authorized_keys", "/boot/lab.txt", "/boot/BOOT_PART",
              "/etc/systemd/system/multi-user.target.wants/lab-bootstrap.service",
              "/etc/systemd/system/multi-user.target.wants/lab-sample.service",
              "/etc/systemd/system/graphical.target.wants/lab-sample.service",
              "/etc/systemd/system/sysinit.target.requires/lab-sample.service")


@pytest.fixture(scope="session")
def injected(bases, tmp_path_factory):
    """Inject into 4 overlays (2 flat, 2 partitioned) with one call, then read back."""
    work = tmp_path_factory.mktemp("host")
    host_file = work / "payload.bin"
    host_file.write_bytes(os.urandom(100_000))
    big = os.urandom(3 << 20)
    shas = {name: _sha(p) for name, p in bases.items()}
    disks_ = {node: overlay(bases, node.split("-")[0], f"ov-{node}") for node in NODES}
    messages: list[str] = []
    report = inject_all([_injection(n, d, host_file, big) for n, d in disks_.items()],
                        progress=messages.append)
    inject_launches = launches(messages)
    read_messages: list[str] = []
    stats = read_back_many(dict.fromkeys(disks_.values(), READ_PATHS), inspect=True,
                           progress=read_messages.append)
    return {"report": report, "launches": inject_launches, "shas": shas, "big": big,
            "stats": {n: stats[d] for n, d in disks_.items()}, "host": host_file.read_bytes(),
            "messages": messages, "read_launches": launches(read_messages)}


def test_one_launch_for_all_overlays(injected):
    assert injected["launches"] == 1
    assert injected["report"].launches == 1
    assert [r.node for r in injected["report"].disks] == list(NODES)
    assert injected["read_launches"] == 1
    assert any("4 disk" in m for m in injected["messages"])


def test_roots_and_mounts(injected):
    by_node = {r.node: r for r in injected["report"].disks}
    assert by_node["flat-a"].root == "/dev/sda" and by_node["flat-a"].mounts == ()
    assert by_node["mbr-a"].root == "/dev/sdc2" and by_node["mbr-a"].mounts == ("/boot",)
    assert by_node["mbr-b.lab.test"].root == "/dev/sdd2"


@pytest.mark.parametrize("node", NODES)
def test_files_read_back(injected, node):
    s = injected["stats"][node]

    def check(path, kind, mode, owner="root", group="root"):
        st = s[path]
        assert (st.kind, oct(st.mode), st.owner, st.group) == (kind, oct(mode), owner, group), path
        return st

    script = check("/etc/lab/bootstrap.sh", "file", 0o755)
    assert script.content == f"#!/bin/sh\necho {node}\n".encode()
    check("/etc/lab", "dir", 0o755)
    st = check("/opt/lab/data", "dir", 0o750, "lab", "lab")
    assert (st.uid, st.gid) == (1000, 1000)
    st = check("/opt/lab/data/note.txt", "file", 0o640, "lab", "adm")
    assert (st.content, st.gid) == (b"note\n", 4)
    check("/etc/lab/conf.d", "dir", 0o755)
    assert check("/etc/old-link", "symlink", 0o777).target == "/etc/lab/bootstrap.sh"
    assert check("/srv/from-host.bin", "file", 0o600).content == injected["host"]
    assert check("/srv/big.bin", "file", 0o644).content == injected["big"]


@pytest.mark.parametrize("node", NODES)
def test_hostname_keys_units(injected, node):
    s = injected["stats"][node]
    assert s["/etc/hostname"].content == f"{node}\n".encode()
    hosts = s["/etc/hosts"].content.decode().splitlines()
    short = node.split(".")[0]
    expected = f"127.0.1.1\t{node}" + (f"\t{short}" if short != node else "")
    assert hosts == ["127.0.0.1\tlocalhost", expected, "::1\tlocalhost ip6-localhost"]
    for home, user, key in (("/home/lab", "lab", KEY_LAB), ("/root", "root", KEY_ROOT)):
        ssh, keys = s[f"{home}/.ssh"], s[f"{home}/.ssh/authorized_keys"]
        assert (ssh.kind, ssh.mode, ssh.owner, ssh.group) == ("dir", 0o700, user, user)
        assert (keys.mode, keys.owner, keys.group) == (0o600, user, user)
        assert keys.content.decode().splitlines() == [key]  # once, even though given twice
    wants = "/etc/systemd/system/multi-user.target.wants"
    assert s[f"{wants}/lab-bootstrap.service"].target == "/etc/systemd/system/lab-bootstrap.service"
    sample = ("symlink", "/lib/systemd/system/lab-sample.service")
    for link in (f"{wants}/lab-sample.service",
                 "/etc/systemd/system/graphical.target.wants/lab-sample.service",
                 "/etc/systemd/system/sysinit.target.requires/lab-sample.service"):
        assert (s[link].kind, s[link].target) == sample


def test_boot_partition_of_each_disk(injected):
    """Overlays of one base share filesystem UUIDs; each must get /boot from its own disk."""
    for node in ("mbr-a", "mbr-b.lab.test"):
        s = injected["stats"][node]
        assert s["/boot/BOOT_PART"].content == b"p1\n"
        assert s["/boot/lab.txt"].content == f"boot {node}\n".encode()
    assert "/boot/lab.txt" not in injected["stats"]["flat-a"]


def test_bases_unchanged(injected, bases):
    assert {name: _sha(p) for name, p in bases.items()} == injected["shas"]


# ---------------------------------------------------------------- errors found before launching

def _raw(bases, name):
    path = bases["flat"].parent / name
    path.write_bytes(b"\0" * 65536)
    return path


PRE_LAUNCH = {
    "relative": (lambda d, b: Injection("r1", d, (GuestFile("etc/x", b""),)), "is not absolute"),
    "escape": (lambda d, b: Injection("r1", d, (GuestFile("/etc/../../x", b""),)),
               "escapes the guest root"),
    "no-source": (lambda d, b: Injection("r1", d, (GuestFile("/x", source=Path("/nope")),)),
                  "source file /nope does not exist"),
    "both": (lambda d, b: Injection("r1", d, (GuestFile("/x", b"", source=Path("/etc/hosts")),)),
             "exactly one of content and source"),
    "no-target": (lambda d, b: Injection("r1", d, (GuestFile("/x", kind="symlink"),)),
                  "needs a target"),
    "hostname": (lambda d, b: Injection("r1", d, hostname="bad_name!"), "not a valid host name"),
    "str-content": (lambda d, b: Injection("r1", d, (GuestFile("/x", "text"),)),
                    "content must be bytes"),
    "unit-name": (lambda d, b: Injection("r1", d, enable_units=("a/b.service",)),
                  "is not a systemd unit name"),
    "key-lines": (lambda d, b: Injection("r1", d, authorized_keys=(("lab", "k1\nk2"),)),
                  "is not one non-empty line"),
    "base": (lambda d, b: Injection("r1", b["flat"], hostname="r1"),
             "not a qcow2 overlay with a backing file"),
    "raw": (lambda d, b: Injection("r1", _raw(b, "raw.img"), hostname="r1"),
            "not a qcow2 overlay with a backing file (format raw)"),
    "missing": (lambda d, b: Injection("r1", d.parent / "nope.qcow2", hostname="r1"),
                "disk does not exist"),
}


@pytest.mark.parametrize("case", sorted(PRE_LAUNCH))
def test_errors_before_launch(bases, case):
    make, text = PRE_LAUNCH[case]
    disk = overlay(bases, "flat", f"pre-{case}")
    messages: list[str] = []
    with pytest.raises(InjectionError) as err:
        inject_all([make(disk, bases)], progress=messages.append)
    assert text in err.value.message and "node r1" in err.value.message
    assert err.value.hint
    assert launches(messages) == 0


def test_read_only_overlay(bases):
    disk = overlay(bases, "flat", "pre-ro")
    disk.chmod(0o444)
    messages: list[str] = []
    with pytest.raises(InjectionError, match="read-only on the host") as err:
        inject_all([Injection("r1", disk, hostname="r1")], progress=messages.append)
    assert "chmod u+w" in err.value.hint and launches(messages) == 0


def test_missing_backing_file(bases, tmp_path):
    disk = tmp_path / "orphan.qcow2"
    create_overlay(disk, "gone.qcow2", "qcow2", 64 << 20)
    with pytest.raises(InjectionError, match="backing file .*gone.qcow2 not found"):
        inject_all([Injection("r1", disk, hostname="r1")])


def test_same_disk_twice_and_batch_size(bases):
    disk = overlay(bases, "flat", "pre-twice")
    with pytest.raises(InjectionError, match="also used by node r1"):
        inject_all([Injection("r1", disk, hostname="r1"), Injection("r2", disk, hostname="r2")])
    with pytest.raises(InjectionError, match="batch_size 0"):
        inject_all([Injection("r1", disk, hostname="r1")], batch_size=0)


def test_nothing_to_do_needs_no_launch(bases):
    messages: list[str] = []
    report = inject_all([Injection("r1", overlay(bases, "flat", "pre-empty"))],
                        progress=messages.append)
    assert report.disks == () and report.launches == 0 and launches(messages) == 0


def test_batches_of_batch_size(bases, monkeypatch):
    """Batching without the appliance: a fake handle records the disks of each launch."""
    launched: list[list[str]] = []

    @contextmanager
    def fake_appliance(items, *, readonly, progress=None):
        launched.append([path.name for path, _ in items])
        yield SimpleNamespace(umount_all=lambda: None)

    def fake_scan(cls, g, inspect):
        return cls([f"/dev/sd{c}" for c in "abc"[:len(launched[-1])]], [], {})

    monkeypatch.setattr(disks, "_appliance", fake_appliance)
    monkeypatch.setattr(disks._Devices, "scan", classmethod(fake_scan))
    monkeypatch.setattr(disks, "_inject_one", lambda g, inj, devs, disk: disks.DiskReport(
        inj.node, inj.disk, disk, (), ()))
    injections = [Injection(f"n{i}", overlay(bases, "flat", f"batch-{i}"), hostname=f"n{i}")
                  for i in range(5)]
    report = inject_all(injections, batch_size=2)
    assert [len(batch) for batch in launched] == [2, 2, 1] and report.launches == 3
    assert [(r.node, r.root) for r in report.disks] == [
        ("n0", "/dev/sda"), ("n1", "/dev/sdb"), ("n2", "/dev/sda"), ("n3", "/dev/sdb"),
        ("n4", "/dev/sda")]


def test_install_section_parsing():
    text = ("[Unit]\nWantedBy=no.target\n[Install]\n# WantedBy=comment.target\n"
            "WantedBy=a.target b.target\nRequiredBy=c.target\nAlias=x.service\n")
    assert install_targets(text) == [("wants", "a.target"), ("wants", "b.target"),
                                            ("requires", "c.target")]


# ---------------------------------------------------------------- errors found in the guest

@pytest.fixture(scope="session")
def guest_errors(bases):
    """Every in-guest failure at once: one launch, one InjectionError."""
    no_install = GuestFile("/etc/systemd/system/plain.service",
                           content=b"[Service]\nExecStart=/bin/true\n")
    cases = {
        "full": Injection("full", overlay(bases, "tiny", "err-full"),
                          (GuestFile("/srv/data.bin", content=b"x" * (1 << 20)),)),
        "blank": Injection("blank", overlay(bases, "blank", "err-blank"), hostname="blank"),
        "ghost": Injection("ghost", overlay(bases, "flat", "err-ghost"),
                           authorized_keys=(("ghost", KEY_LAB),)),
        "owner": Injection("owner", overlay(bases, "flat", "err-owner"),
                           (GuestFile("/x", b"", owner="nobody-here"),)),
        "nounit": Injection("nounit", overlay(bases, "flat", "err-nounit"),
                            enable_units=("missing.service",)),
        "noinstall": Injection("noinstall", overlay(bases, "flat", "err-noinstall"),
                               (no_install,), enable_units=("plain.service",)),
    }
    messages: list[str] = []
    with pytest.raises(InjectionError) as err:
        inject_all(list(cases.values()), progress=messages.append)
    return err.value, launches(messages)


def test_guest_errors_one_launch_one_error(guest_errors):
    """A failing disk does not stop the others: one launch, one error listing all six."""
    error, launches = guest_errors
    assert launches == 1
    assert error.message.startswith("injection failed on 6 disks:")
    assert error.hint


@pytest.mark.parametrize("node,text", [
    ("full", "no space left in the guest filesystem while writing /srv/data.bin"),
    ("blank", "guest filesystem not found"),
    ("ghost", "cannot add an SSH key for user 'ghost': not in the guest's /etc/passwd"),
    ("owner", "unknown user 'nobody-here'"),
    ("nounit", "cannot enable missing.service: no unit file"),
    ("noinstall", "plain.service has no [Install] WantedBy=/RequiredBy="),
])
def test_guest_error_messages(guest_errors, node, text):
    line = next(ln for ln in guest_errors[0].message.splitlines() if f"node {node} " in ln)
    assert text in line and f"err-{node}.qcow2" in line


def test_a_base_image_hint_names_no_internal_function(tmp_path):
    """The hint a person reads when an injection target is no overlay says what to do, not
    which function of gns3lab makes overlays (no launch: refused before)."""
    disk = tmp_path / "base.qcow2"
    create_blank_disk(disk, 1 << 20)
    with pytest.raises(InjectionError) as err:
        inject_all([Injection("r1", disk, hostname="r1")])
    assert "not a qcow2 overlay with a backing file" in err.value.message
    assert err.value.hint and "write." not in err.value.hint and "(" not in err.value.hint
