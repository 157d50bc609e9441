"""A stranger's blueprint folder (issue 17, findings 1, 4 and 13): nothing in it runs on the
builder, nothing outside it leaks in, and every bad input is exit 2 with nothing left behind.

Real git makes the hostile repository, real ssh-keygen the keys; the CLI runs in a child
process (HOME and cwd in the test's folder), as a user would run it."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import unicodedata
import zipfile
from pathlib import Path

import pytest

from tests.helpers import REPO

pytestmark = pytest.mark.slow  # ssh-keygen, dot and git run for real

LAB = "name: fine\nnodes:\n  vm1: {appliance: Ubuntu Cloud Guest}\n"
HOST_SECRET = "HOST-SECRET-4d1e0b"


def cli(t: Path, *args: str | Path, env: dict[str, str] | None = None
        ) -> subprocess.CompletedProcess:
    """``gns3lab ARGS`` in a child process, cwd and HOME in ``t``."""
    (t / "home").mkdir(exist_ok=True)
    full = {k: v for k, v in os.environ.items()
            if k not in ("GNS3LAB_IMAGES", "SOURCE_DATE_EPOCH")}
    full.update(HOME=str(t / "home"), PYTHONPATH=str(REPO), **(env or {}))
    code = "import sys; from generator.cli import main; sys.exit(main())"
    return subprocess.run([sys.executable, "-c", code, *map(str, args)], cwd=t, env=full,
                          capture_output=True, text=True, timeout=180, check=False)


def build(t: Path, bp: str | Path, out: str = "out", env: dict[str, str] | None = None
          ) -> subprocess.CompletedProcess:
    return cli(t, "build", bp, "-o", out, "--no-images", env=env)


def blueprint(t: Path, name: str = "bp", text: str = LAB) -> Path:
    bp = t / name
    bp.mkdir()
    (bp / "lab.yaml").write_text(text)
    return bp


def members(archive: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(archive) as zf:
        return {n: zf.read(n) for n in zf.namelist()}


def errors(run: subprocess.CompletedProcess) -> str:
    """The error lines of a run (progress lines dropped), for messages."""
    return "".join(line for line in run.stderr.splitlines(keepends=True)
                   if not line.startswith("["))


def git(bp: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(bp), *args], check=True, capture_output=True, timeout=60)


# --------------------------------------------------------------------------- finding 1


def hostile_repository(t: Path, canary: Path) -> Path:
    """A blueprint shipped with its own .git: every git config key and hook that runs a
    command touches ``canary``; a .gitignore that the archive must still honour."""
    bp = blueprint(t)
    git(bp, "init", "-q")
    command = f"touch {canary}; false"
    for key, value in (("core.fsmonitor", command), ("core.pager", command),
                       ("core.sshCommand", command), ("core.editor", command),
                       ("diff.external", command), ("filter.evil.clean", command),
                       ("filter.evil.process", command), ("core.hooksPath", str(bp / "hooks"))):
        git(bp, "config", key, value)
    (bp / ".gitattributes").write_text("* filter=evil diff=evil\n")
    hooks = bp / "hooks"
    hooks.mkdir()
    for name in ("post-checkout", "post-index-change", "pre-commit", "reference-transaction",
                 "fsmonitor-watchman"):
        (hooks / name).write_text(f"#!/bin/sh\ntouch {canary}\n")
        (hooks / name).chmod(0o755)
        (bp / ".git" / "hooks" / name).write_text(f"#!/bin/sh\ntouch {canary}\n")
        (bp / ".git" / "hooks" / name).chmod(0o755)
    (bp / "notes.txt").write_text("plain notes\n")
    (bp / "a.log").write_text("ignored\n")
    (bp / "keep.log").write_text("re-included\n")
    (bp / "build").mkdir()
    (bp / "build" / "out.txt").write_text("ignored folder\n")
    (bp / "sub").mkdir()
    (bp / "sub" / ".gitignore").write_text("local.txt\n")
    (bp / "sub" / "local.txt").write_text("ignored by the deeper .gitignore\n")
    (bp / "sub" / "b.log").write_text("ignored from above\n")
    (bp / "sub" / "kept.txt").write_text("kept\n")
    # config files programs might look for in their working directory (none of ours does)
    for name in ("mtoolsrc", ".mtoolsrc", "mke2fs.conf", ".gitconfig", "ssh_config"):
        (bp / name).write_text(f"# would run: {command}\n")
    (bp / ".gitignore").write_text("*.log\n!keep.log\nbuild/\n/hooks/\nmtoolsrc\n"
                                   "mke2fs.conf\nssh_config\n")
    return bp


def test_a_blueprints_git_config_and_hooks_never_run(tmp_path: Path) -> None:
    """Finding 1: ``core.fsmonitor`` and friends in the blueprint's own .git ran as the
    builder; now no git runs at all, and .gitignore is still honoured (read as text)."""
    canary = tmp_path / "CANARY"
    hostile_repository(tmp_path, canary)
    built = build(tmp_path, "bp")
    assert built.returncode == 0, built.stderr
    checked = cli(tmp_path, "validate", "bp")
    assert checked.returncode == 0, checked.stderr
    assert not canary.exists(), "a command from the blueprint's .git ran on the builder"
    inside = cli(tmp_path / "bp", "build", ".", "-o", "../out2", "--no-images")  # cwd: the bp
    assert inside.returncode == 0, inside.stderr
    assert not canary.exists(), "a program run from inside the blueprint folder ran its config"
    prefix = "gns3lab/blueprint/"
    archived = {n.removeprefix(prefix) for n in members(tmp_path / "out" / "fine.gns3project")
                if n.startswith(prefix)}
    assert archived == {"lab.yaml", "notes.txt", "keep.log", "sub/kept.txt"}, archived
    assert "not archived: a.log (git ignores it)" in built.stderr
    assert "not archived: build (git ignores it)" in built.stderr


# --------------------------------------------------------------------------- finding 4


def leaked(t: Path, secret: str, allowed: set[Path]) -> list[Path]:
    """Every file below ``t`` (links not followed) but ``allowed`` whose bytes hold
    ``secret``; archives are read member by member (deflate hides the text)."""
    found = []
    for root, _, files in os.walk(t):
        for name in files:
            path = Path(root, name)
            if path in allowed or path.is_symlink() or not path.is_file():
                continue
            if secret.encode() in path.read_bytes():
                found.append(path)
            if zipfile.is_zipfile(path) and any(secret.encode() in data
                                                for data in members(path).values()):
                found.append(path)
    return found


def test_a_hard_link_to_a_host_file_is_refused_and_nothing_leaks(tmp_path: Path) -> None:
    """Finding 4: ``ln /etc/shadow BP/notes.txt`` was archived as a plain member. Now exit 2
    naming the file and the fix, no output folder, and the secret nowhere but where it was."""
    host = tmp_path / "shadow"
    host.write_text(f"root:{HOST_SECRET}:19000:0:99999:7:::\n")
    bp = blueprint(tmp_path)
    os.link(host, bp / "notes.txt")
    for command in (["build", "bp", "-o", "out", "--no-images"], ["validate", "bp"]):
        run = cli(tmp_path, *command)
        assert run.returncode == 2, run.stderr
        assert "bp/notes.txt: is a hard link" in run.stderr, run.stderr
        assert "cp --no-preserve=links notes.txt" in run.stderr, run.stderr
        assert HOST_SECRET not in run.stdout + run.stderr
    assert not (tmp_path / "out").exists()
    assert leaked(tmp_path, HOST_SECRET, {host, bp / "notes.txt"}) == []


@pytest.mark.parametrize("field", ["inject", "ssh_key"])
def test_a_hard_link_the_blueprint_names_is_refused(tmp_path: Path, field: str) -> None:
    """The same for a file the blueprint names (check_mode): at the line that names it."""
    host = tmp_path / "host-key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(host)],
                   check=True, capture_output=True, timeout=60)
    if field == "inject":
        bp = blueprint(tmp_path, text="name: fine\nnodes:\n  vm1:\n    appliance: Ubuntu "
                       "Cloud Guest\n    inject:\n      - {path: /etc/motd, source: motd.txt}\n")
        os.link(host, bp / "motd.txt")
        named = "motd.txt"
    else:
        bp = blueprint(tmp_path, text="ssh_key: id\n" + LAB)
        os.link(host, bp / "id")
        os.link(host.with_name("host-key.pub"), bp / "id.pub")
        named = "id"
    run = build(tmp_path, "bp")
    assert run.returncode == 2, run.stderr
    assert f"'{named}' is a hard link" in run.stderr, run.stderr
    assert "bp/lab.yaml:" in errors(run).splitlines()[0]
    assert not (tmp_path / "out").exists()


def test_a_private_key_anywhere_in_a_file_stays_out(tmp_path: Path) -> None:
    """Finding 4: a PEM bundle (certificate, then key) and a key after a comment line became
    plain members (only the first bytes were read). Now every such file is left out, and no
    member holds a private key block."""
    key = tmp_path / "k"
    subprocess.run(["ssh-keygen", "-q", "-t", "rsa", "-b", "2048", "-m", "PKCS8", "-N", "",
                    "-f", str(key)], check=True, capture_output=True, timeout=60)
    cert = "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIU\n-----END CERTIFICATE-----\n"
    bp = blueprint(tmp_path)
    (bp / "bundle.pem").write_text(cert + key.read_text())
    (bp / "commented.key").write_text("# the lab's TLS key\n" + key.read_text())
    (bp / "deep.txt").write_text("x" * ((1 << 20) - 7) + "\n" + key.read_text())  # across chunks
    (bp / "public.pem").write_text("-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----\n")
    built = build(tmp_path, "bp")
    assert built.returncode == 0, built.stderr
    got = members(tmp_path / "out" / "fine.gns3project")
    for name in ("bundle.pem", "commented.key", "deep.txt"):
        assert f"gns3lab/blueprint/{name}" not in got
        assert f"not archived: {name} (a private key)" in built.stderr
    assert "gns3lab/blueprint/public.pem" in got
    assert not [n for n, data in got.items() if b"PRIVATE KEY-----" in data]


def test_a_fifo_a_socket_in_the_folder_are_refused(tmp_path: Path) -> None:
    """Finding 4/13: a FIFO was skipped silently. Now exit 2 naming each, in seconds (never
    opened), nothing left behind; the same for validate."""
    bp = blueprint(tmp_path)
    os.mkfifo(bp / "pipe")
    (bp / "run").mkdir()
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(bp / "run" / "agent.sock"))
        for command in (["build", "bp", "-o", "out", "--no-images"], ["validate", "bp"]):
            run = cli(tmp_path, *command)
            assert run.returncode == 2, run.stderr
            assert "bp/pipe: is a FIFO (named pipe)" in run.stderr, run.stderr
            assert "bp/run/agent.sock: is a socket" in run.stderr, run.stderr
    assert not (tmp_path / "out").exists()


def test_an_ignored_fifo_is_no_problem(tmp_path: Path) -> None:
    """What .gitignore leaves out is never looked at: a FIFO there does not stop the build."""
    bp = blueprint(tmp_path)
    (bp / ".gitignore").write_text("run/\n")
    (bp / "run").mkdir()
    os.mkfifo(bp / "run" / "pipe")
    built = build(tmp_path, "bp")
    assert built.returncode == 0, built.stderr


# --------------------------------------------------------------------------- Deliver 3


@pytest.mark.parametrize(("first", "second"), [
    ("Notes.txt", "notes.txt"),
    (unicodedata.normalize("NFC", "café.txt"), unicodedata.normalize("NFD", "café.txt")),
    ("Docs/a.txt", "docs/b.txt"),
])
def test_names_that_fold_together_are_never_written(tmp_path: Path, first: str,
                                                    second: str) -> None:
    """Build never writes two members a case-insensitive or normalising file system would
    make one: exit 2 naming both files, nothing left behind."""
    bp = blueprint(tmp_path)
    for name in (first, second):
        (bp / name).parent.mkdir(exist_ok=True)
        (bp / name).write_text(f"{name}\n")
    run = build(tmp_path, "bp")
    assert run.returncode == 2, run.stderr
    message = errors(run)
    assert "a file system that folds them (macOS, Windows) makes them one file" in message
    for name in (first.split("/")[0], second.split("/")[0]):
        assert name in message or ascii(name) in message, message
    assert not (tmp_path / "out").exists()


# --------------------------------------------------------------------------- finding 13


def test_output_under_a_regular_file_is_exit_2(tmp_path: Path) -> None:
    (tmp_path / "lab.yaml").write_text(LAB)
    (tmp_path / "file").write_text("a file\n")
    run = build(tmp_path, "lab.yaml", out="file/sub")
    assert run.returncode == 2, run.stderr
    assert "error: output file/sub cannot be made: Not a directory" in run.stderr
    assert "hint: give -o a folder" in run.stderr


@pytest.mark.parametrize(("pub", "why"), [
    ("garbage here\n", "keys/id.pub:1: not an OpenSSH public key (it does not start"),
    ("ssh-ed25519 AAAA!!!! me\n", "keys/id.pub:1: not an OpenSSH public key (the key is not"),
    ("ssh-rsa {blob} me\n", "keys/id.pub:1: not an OpenSSH public key (the key's bytes do "
     "not name ssh-rsa)"),
    ("\n# comment\n", "keys/id.pub:2: not an OpenSSH public key (it does not start"),
    (None, "keys/id.pub:2: not one OpenSSH public key (2 lines with text)"),
])
def test_a_garbage_public_key_is_refused_at_its_line(tmp_path: Path, pub: str | None,
                                                     why: str) -> None:
    """Finding 13: ssh_key's .pub was taken as it was (into every authorized_keys)."""
    bp = blueprint(tmp_path, text="ssh_key: keys/id\n" + LAB)
    (bp / "keys").mkdir()
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(bp / "keys/id")],
                   check=True, capture_output=True, timeout=60)
    good = (bp / "keys/id.pub").read_text()
    blob = good.split()[1]  # a real ed25519 key's bytes
    (bp / "keys/id.pub").write_text(pub.format(blob=blob) if pub is not None
                                    else good + "ssh-ed25519 AAAA\n")
    for command in (["build", "bp", "-o", "out", "--no-images"], ["validate", "bp"]):
        run = cli(tmp_path, *command)
        assert run.returncode == 2, run.stderr
        assert errors(run).startswith("error: bp/lab.yaml:1: ssh_key: "), run.stderr
        assert why in run.stderr, run.stderr
    assert not (tmp_path / "out").exists()


def test_a_good_public_key_still_builds(tmp_path: Path) -> None:
    bp = blueprint(tmp_path, text="ssh_key: keys/id\n" + LAB)
    (bp / "keys").mkdir()
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "me@example",
                    "-f", str(bp / "keys/id")], check=True, capture_output=True, timeout=60)
    built = build(tmp_path, "bp")
    assert built.returncode == 0, built.stderr


@pytest.mark.parametrize("epoch", ["abc", "-5", "1e9", "99999999999999"])
def test_a_bad_source_date_epoch_leaves_nothing(tmp_path: Path, epoch: str) -> None:
    """Finding 13: SOURCE_DATE_EPOCH=abc was refused after the lab key was written."""
    (tmp_path / "lab.yaml").write_text(LAB)
    run = build(tmp_path, "lab.yaml", env={"SOURCE_DATE_EPOCH": epoch})
    assert run.returncode == 2, run.stderr
    assert "SOURCE_DATE_EPOCH" in errors(run)
    assert not (tmp_path / "out").exists(), sorted(p.name for p in (tmp_path / "out").rglob("*"))


@pytest.mark.parametrize("broken", ["not-json", "ram-lots"])
def test_a_malformed_appliance_leaves_nothing(tmp_path: Path, broken: str) -> None:
    """Finding 13: a broken .gns3a beside the blueprint (not JSON; a value of the wrong type
    that once passed validate): exit 2, no keys/ in the output."""
    bp = blueprint(tmp_path, text="name: fine\nnodes:\n  vm1: {appliance: Bad}\n")
    (bp / "appliances").mkdir()
    if broken == "not-json":
        text = '{"name": "Bad", "images": ['
    else:
        doc = json.loads((REPO / "appliances" / "ubuntu-cloud.gns3a").read_text())
        doc["name"], doc["qemu"]["ram"] = "Bad", "lots"
        text = json.dumps(doc)
    (bp / "appliances" / "bad.gns3a").write_text(text)
    run = build(tmp_path, "bp")
    assert run.returncode == 2, run.stderr
    assert "bad.gns3a" in errors(run)
    assert not (tmp_path / "out").exists()
