"""Archives are safe to hand around: no secret the builder did not mean to share, no debris from
killed builds, one key for parallel builds, bounded memory for strangers' archives
(real qemu-img, ssh-keygen, openssl; the CLI in subprocesses so signals are real)."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml

from generator.passwords import derived_salt, sha512_crypt
from generator.write.iso import read_seed_iso
from tests.helpers import BLUEPRINTS, REPO
from tests.support.peak import measure

pytestmark = pytest.mark.slow
FABRIC = BLUEPRINTS / "fabric"
PASSWORD = "Corr3ct-H0rse-Battery"
HOST_SECRET = "HOST-SECRET-7f3a9c"


def cli(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "generator.cli", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=600, check=False)


def secret_blueprint(tmp_path: Path) -> Path:
    """The fabric lab with a console password, a symlink to a host file and its key inside."""
    bp = tmp_path / "bp"
    shutil.copytree(FABRIC, bp)
    host_file = tmp_path / "shadow"
    host_file.write_text(f"root:{HOST_SECRET}:19000:0:99999:7:::\n")
    (bp / "notes.txt").symlink_to(host_file)
    (bp / "keys-link").symlink_to(FABRIC / "keys", target_is_directory=True)
    doc = yaml.safe_load((bp / "lab.yaml").read_text())
    doc["groups"]["servers"].setdefault("cloud_init", {})["users"] = [
        {"name": "lab", "password": PASSWORD, "ssh_keys": []}]
    (bp / "lab.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    return bp


def members(archive: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(archive) as zf:
        return {n: zf.read(n) for n in zf.namelist()}


def test_no_secret_in_any_member(tmp_path: Path) -> None:
    bp = secret_blueprint(tmp_path)
    built = cli("build", bp, "-o", tmp_path / "out", "--no-images")
    assert built.returncode == 0, built.stderr
    assert "not archived: notes.txt (a symlink" in built.stderr
    archive = tmp_path / "out" / "fabric.gns3project"
    private = (FABRIC / "keys" / "id_ed25519").read_text()
    key_body = [line for line in private.splitlines() if "-----" not in line]
    files = members(archive)
    for name, data in files.items():  # seed ISOs included: their files are stored plainly
        assert PASSWORD.encode() not in data, name
        assert HOST_SECRET.encode() not in data, name
        assert b"PRIVATE KEY-----" not in data, name
        assert not any(line.encode() in data for line in key_body), name
    blueprint = {n for n in files if n.startswith("gns3lab/blueprint/")}
    assert "gns3lab/blueprint/keys/id_ed25519" not in blueprint  # the public half may stay
    assert not {n for n in blueprint if n.startswith(("gns3lab/blueprint/keys-link",
                                                      "gns3lab/blueprint/notes.txt"))}
    # the seeds carry a SHA-512 crypt hash that logs the user in with the password
    hashed_users = []
    for seed in (n for n in files if n.endswith("-seed.iso")):
        (tmp_path / "seed.iso").write_bytes(files[seed])
        user_data = yaml.safe_load(read_seed_iso(tmp_path / "seed.iso").files["user-data"])
        hashed_users += [u for u in user_data["users"] if "passwd" in u]
    assert hashed_users
    for user in hashed_users:
        hashed = user["passwd"]
        assert hashed.startswith("$6$") and user["lock_passwd"] is False
        assert sha512_crypt(PASSWORD, hashed.split("$")[2]) == hashed
    archived = yaml.safe_load(files["gns3lab/blueprint/lab.yaml"])
    user = archived["groups"]["servers"]["cloud_init"]["users"][0]
    assert "password" not in user and user["password_hash"].startswith("$6$")
    # inspect says what secrets there are
    shown = cli("inspect", archive)
    assert shown.returncode == 0, shown.stderr
    assert "console password hash" in shown.stdout


def test_archived_blueprint_builds_again_with_the_same_password(tmp_path: Path) -> None:
    """The hashed blueprint the archive carries builds again, and its seeds log in with the
    same password (the hash is taken as written)."""
    bp = secret_blueprint(tmp_path)
    assert cli("build", bp, "-o", tmp_path / "a", "--no-images").returncode == 0
    files = members(tmp_path / "a" / "fabric.gns3project")
    again = tmp_path / "again"
    for name, data in files.items():
        if name.startswith("gns3lab/blueprint/"):
            dest = again / name.removeprefix("gns3lab/blueprint/")
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(data)
    shutil.copy(FABRIC / "keys" / "id_ed25519", again / "keys")
    rebuilt = cli("build", again, "-o", tmp_path / "b", "--no-images")
    assert rebuilt.returncode == 0, rebuilt.stderr
    archived = yaml.safe_load(files["gns3lab/blueprint/lab.yaml"])
    given = archived["groups"]["servers"]["cloud_init"]["users"][0]["password_hash"]
    assert sha512_crypt(PASSWORD, given.split("$")[2]) == given
    seeds = members(tmp_path / "b" / "fabric.gns3project")
    found = [n for n, data in seeds.items() if n.endswith("-seed.iso") and given.encode() in data]
    assert len(found) == 2  # server1, server2


def test_sha512_crypt_matches_openssl() -> None:
    for password, salt in [(PASSWORD, derived_salt("lab", "n1", "lab")), ("x" * 100, "ab/.cd"),
                           ("pässwörd", "0123456789abcdef")]:
        ref = subprocess.run(["openssl", "passwd", "-6", "-salt", salt, "-stdin"],
                             input=password.encode(), capture_output=True, check=True)
        assert sha512_crypt(password, salt) == ref.stdout.decode().strip()


def test_output_folder_inside_the_blueprint_is_not_archived(tmp_path: Path) -> None:
    bp = tmp_path / "bp"
    shutil.copytree(FABRIC, bp)
    sizes = []
    for _ in range(3):  # cd BP && gns3lab build .
        built = cli("build", ".", "--no-images", cwd=bp)
        assert built.returncode == 0, built.stderr
        sizes.append((bp / "dist" / "fabric.gns3project").stat().st_size)
    assert sizes[0] == sizes[1] == sizes[2]
    names = members(bp / "dist" / "fabric.gns3project")
    assert not any(n.startswith("gns3lab/blueprint/dist") for n in names)


# ------------------------------------------------------------------------------- kill tests

def only_complete(out: Path) -> list[str]:
    """What is in the output folder; every archive in it must inspect cleanly."""
    entries = sorted(p.name for p in out.iterdir()) if out.exists() else []
    for name in entries:
        if name.endswith(".gns3project"):
            check = cli("inspect", out / name)
            assert check.returncode == 0 and "every member matches" in check.stdout, check
    return entries


def build_and_signal(bp: Path, out: Path, phrase: str, sig: int) -> int:
    proc = subprocess.Popen([sys.executable, "-m", "generator.cli", "build", str(bp), "-o",
                             str(out), "--no-images"], stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    for line in proc.stderr:
        if phrase in line:
            proc.send_signal(sig)
            break
    proc.stderr.read()
    return proc.wait(timeout=300)


@pytest.mark.parametrize("phrase", ["creating disks", "writing cloud-init seeds",
                                    "writing project file", "writing archive"])
def test_sigterm_and_sigkill_leave_only_complete_archives(tmp_path: Path, phrase: str) -> None:
    bp = tmp_path / "bp"
    shutil.copytree(FABRIC, bp)
    out = tmp_path / "out"
    code = build_and_signal(bp, out, phrase, signal.SIGTERM)
    assert code in (0, 128 + signal.SIGTERM)  # 0: it finished before the signal landed
    assert set(only_complete(out)) <= {"fabric.gns3project", "keys"}
    code = build_and_signal(bp, out, phrase, signal.SIGKILL)
    assert code in (0, -signal.SIGKILL)
    debris = [n for n in only_complete(out) if n not in ("fabric.gns3project", "keys")]
    assert all(re.match(r"^\.fabric\.(gns3project\.)?\d+\.", n) for n in debris), debris
    rebuilt = cli("build", bp, "-o", out, "--no-images")
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert only_complete(out) == ["fabric.gns3project"]  # the lab gives its key: no keys/


def test_ctrl_c_while_creating_disks_is_never_swallowed(tmp_path: Path) -> None:
    bp = tmp_path / "bp"
    shutil.copytree(FABRIC, bp)
    for i in range(5):
        out = tmp_path / f"out{i}"
        code = build_and_signal(bp, out, "creating disks", signal.SIGINT)
        assert code == 128 + signal.SIGINT, code
        assert set(only_complete(out)) <= {"keys"}


def test_five_parallel_builds_share_one_key(tmp_path: Path) -> None:
    bp = tmp_path / "bp"
    shutil.copytree(FABRIC, bp)
    text = (bp / "lab.yaml").read_text().replace("ssh_key: keys/id_ed25519\n", "")
    (bp / "lab.yaml").write_text(text)
    out = tmp_path / "out"
    procs = [subprocess.Popen([sys.executable, "-m", "generator.cli", "build", str(bp), "-o",
                               str(out), "--no-images"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(5)]
    results = [p.communicate(timeout=600) for p in procs]
    assert [p.returncode for p in procs] == [0] * 5, results
    assert only_complete(out) == ["fabric.gns3project", "keys"]
    assert sorted(os.listdir(out / "keys" / "fabric")) == [".lock", "id_ed25519",
                                                           "id_ed25519.pub"]
    pub = (out / "keys" / "fabric" / "id_ed25519.pub").read_text().strip()
    files = members(out / "fabric.gns3project")
    seeds = [data for name, data in files.items() if name.endswith("-seed.iso")]
    assert len(seeds) == 2 and all(pub.encode() in data for data in seeds)


# ------------------------------------------------------------------------ strangers' archives

def test_inspect_streams_a_one_gib_member(tmp_path: Path) -> None:
    built = cli("build", FABRIC, "-o", tmp_path / "out", "--no-images")
    assert built.returncode == 0, built.stderr
    source = members(tmp_path / "out" / "fabric.gns3project")
    big = tmp_path / "big.zip"
    block = os.urandom(1 << 20)
    import hashlib
    import json
    sha = hashlib.sha256()
    with zipfile.ZipFile(big, "w", allowZip64=True) as zf:
        info = zipfile.ZipInfo("images/QEMU/big.qcow2")
        info.compress_type = zipfile.ZIP_STORED
        info.file_size = 1 << 30
        with zf.open(info, "w") as fh:
            for _ in range(1024):
                fh.write(block)
                sha.update(block)
        manifest = json.loads(source["gns3lab/manifest.json"])
        manifest["files"]["images/QEMU/big.qcow2"] = {"sha256": sha.hexdigest(),
                                                      "size": 1 << 30}
        for name, data in source.items():
            if name != "gns3lab/manifest.json":
                zf.writestr(name, data)
        zf.writestr("gns3lab/manifest.json", json.dumps(manifest))
    shown = measure([sys.executable, "-m", "generator.cli", "inspect", big],
                    tmp_path / "inspect.txt")
    assert shown.returncode == 0, shown.output
    assert "every member matches its sha256" in shown.output
    assert shown.peak_mb < 100, f"inspect peaked at {shown.peak_mb:.0f} MB"


def test_inspect_never_hangs_on_a_fifo(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.gns3project"
    os.mkfifo(fifo)
    shown = cli("inspect", fifo)
    assert shown.returncode == 2
    assert "not a regular file" in shown.stderr


def test_redact_leaves_no_private_key_and_fetches_the_controllers(tmp_path: Path,
                                                                 lab_image) -> None:  # type: ignore[no-untyped-def]
    """--redact: no key pair is made or kept; the controller's tree makes and serves it, every
    seed fetches it from the controller's management address (the boot is in test_e2e_demo)."""
    env = dict(os.environ, GNS3LAB_IMAGES=str(lab_image.path.parent))
    mini = REPO / "blueprints" / "openstack-ceph-mini"
    built = subprocess.run([sys.executable, "-m", "generator.cli", "build", str(mini), "-o",
                            str(tmp_path / "out"), "--no-images", "--redact"], env=env,
                           capture_output=True, text=True, timeout=600, check=False)
    assert built.returncode == 0, built.stderr
    assert not (tmp_path / "out" / "keys").exists()
    archive = next((tmp_path / "out").glob("*.gns3project"))
    files = members(archive)
    assert not [n for n, data in files.items() if b"PRIVATE KEY" in data]
    units = {n.rsplit("/", 1)[-1] for n in files if n.startswith("gns3lab/bootstrap/etc/")}
    assert {"gns3lab-keygen.service", "gns3lab-keyserve.service"} <= units
    assert "gns3lab/bootstrap/root/.ssh/id_ed25519.pub" not in files
    seeds = [data for n, data in files.items() if n.endswith("-seed.iso")]
    assert seeds and all(b"http://" in data and b":8222/id_ed25519.pub" in data
                         and b"ssh-ed25519" not in data for data in seeds)
    shown = subprocess.run([sys.executable, "-m", "generator.cli", "inspect", str(archive)],
                           capture_output=True, text=True, check=False)
    assert shown.returncode == 0 and "secrets: none" in shown.stdout


@pytest.mark.parametrize("name", ["demo", "openstack-ceph", "openstack-ceph-mini"])
def test_validate_and_build_agree_on_the_bundled_blueprints(tmp_path: Path, name: str,
                                                           lab_image) -> None:  # type: ignore[no-untyped-def]
    bp = REPO / "blueprints" / name
    env = dict(os.environ, GNS3LAB_IMAGES=str(lab_image.path.parent))  # the demo's appliance
    runs = [subprocess.run([sys.executable, "-m", "generator.cli", *args], env=env,
                           capture_output=True, text=True, timeout=600, check=False)
            for args in (["validate", str(bp)],
                         ["build", str(bp), "-o", str(tmp_path), "--no-images"])]
    assert [r.returncode for r in runs] == [0, 0], [r.stderr for r in runs]


@pytest.fixture(scope="module")
def fabric_members(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    out = tmp_path_factory.mktemp("fabric")
    built = cli("build", FABRIC, "-o", out, "--no-images")
    assert built.returncode == 0, built.stderr
    return members(out / "fabric.gns3project")


def rezip(path: Path, files: dict[str, bytes], tweak=None) -> Path:  # type: ignore[no-untyped-def]
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in files.items():
            info = zipfile.ZipInfo(name)
            if tweak:
                tweak(info)
            zf.writestr(info, data)
    return path


@pytest.mark.parametrize(("case", "message"), [
    ("absolute", "unsafe member name '/etc/cron.d/x'"),
    ("dotdot", "unsafe member name '../../x'"),
    ("symlink", "is a symlink"),
    ("encrypted", "'project.gns3' is encrypted"),
    ("duplicate", "appears twice"),
    ("project-list", "not a GNS3 project"),
    ("project-not-json", "is not valid JSON"),
    ("manifest-typeless", "manifest.json: files is [1]: input should be a valid dictionary"),
])
@pytest.mark.filterwarnings("ignore:Duplicate name")  # the duplicate is the point
def test_inspect_refuses_what_gns3lab_never_writes(tmp_path: Path, case: str, message: str,
                                                   fabric_members: dict[str, bytes]) -> None:
    files = dict(fabric_members)
    tweak = None
    if case in ("absolute", "dotdot"):
        files["/etc/cron.d/x" if case == "absolute" else "../../x"] = b"* * * * * root id\n"
    elif case == "symlink":
        files["gns3lab/link"] = b"/etc/shadow"

        def tweak(info: zipfile.ZipInfo) -> None:
            if info.filename == "gns3lab/link":
                info.external_attr = 0o120777 << 16
    elif case == "project-list":
        files["project.gns3"] = b"[1, 2]"
    elif case == "project-not-json":
        files["project.gns3"] = b"\x00\xffnot json"
    elif case == "manifest-typeless":
        files["gns3lab/manifest.json"] = b'{"files": [1]}'
    archive = rezip(tmp_path / "bad.gns3project", files, tweak)
    if case == "duplicate":
        with zipfile.ZipFile(archive, "a") as zf:
            zf.writestr("README.md", b"a second README")
    if case == "encrypted":  # set bit 0 of the member's flags in the central directory
        data = bytearray(archive.read_bytes())
        at = data.index(b"PK\x01\x02")  # the first central record: project.gns3's
        data[at + 8] |= 0x1
        archive.write_bytes(bytes(data))
    shown = cli("inspect", archive)
    assert shown.returncode == 2, shown.stdout + shown.stderr
    assert message in shown.stderr and "Traceback" not in shown.stderr


def test_inspect_reports_a_bad_crc_and_shows_options_and_escapes(
        tmp_path: Path, fabric_members: dict[str, bytes]) -> None:
    import json

    files = dict(fabric_members)
    project = json.loads(files["project.gns3"])
    node = next(n for n in project["topology"]["nodes"] if n["node_type"] == "qemu")
    node["name"] = "evil\x1b[2J\x1b[31mname"
    node["properties"]["options"] = "-virtfs local,path=/,mount_tag=host,security_model=none"
    files["project.gns3"] = json.dumps(project).encode()
    archive = rezip(tmp_path / "opts.gns3project", files)
    shown = cli("inspect", archive)
    assert "\x1b" not in shown.stdout + shown.stderr
    assert "evil\\x1b[2J\\x1b[31mname" in shown.stdout
    assert "-virtfs local,path=/" in shown.stdout and "QEMU options" in shown.stdout
    assert shown.returncode == 2  # the project file no longer matches the manifest
    assert re.search(r"project.gns3: is \d+ bytes, the manifest records \d+", shown.stderr)
    # a member whose bytes no longer match their CRC
    data = bytearray(archive.read_bytes())
    seed = next(n for n in files if n.endswith("-seed.iso"))
    with zipfile.ZipFile(archive) as zf:
        info = zf.getinfo(seed)
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    data[start + 10] ^= 0xFF
    (tmp_path / "crc.gns3project").write_bytes(bytes(data))
    shown = cli("inspect", tmp_path / "crc.gns3project")
    assert shown.returncode == 2 and "Traceback" not in shown.stderr
    assert f"{seed}: unreadable: Bad CRC-32" in shown.stderr
