"""The one private-key detector (generator/read/secrets.py) that ``inspect`` and the archived
blueprint share, on real keys made by ssh-keygen in every format it writes: OpenSSH, PEM RSA and
EC, PKCS#8, and encrypted ones; streamed, a marker split across two chunks still counts; public
keys and the words "private key" in prose do not."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from generator.read.secrets import (
    HEAD,
    OVERLAP,
    PRIVATE_KEY,
    is_private_key_file,
    scan,
    starts_with_private_key,
)

pytestmark = pytest.mark.slow  # keys are made by the real ssh-keygen

#: name -> (ssh-keygen arguments, the armour line that key starts with)
KEYS = {
    "openssh": (["-t", "ed25519", "-N", ""], b"-----BEGIN OPENSSH PRIVATE KEY-----"),
    "pem-rsa": (["-t", "rsa", "-b", "2048", "-m", "PEM", "-N", ""],
                b"-----BEGIN RSA PRIVATE KEY-----"),
    "pem-ec": (["-t", "ecdsa", "-b", "256", "-m", "PEM", "-N", ""],
               b"-----BEGIN EC PRIVATE KEY-----"),
    "pkcs8": (["-t", "rsa", "-b", "2048", "-m", "PKCS8", "-N", ""],
              b"-----BEGIN PRIVATE KEY-----"),
    "pkcs8-encrypted": (["-t", "rsa", "-b", "2048", "-m", "PKCS8", "-N", "secret phrase"],
                        b"-----BEGIN ENCRYPTED PRIVATE KEY-----"),
    "pem-rsa-encrypted": (["-t", "rsa", "-b", "2048", "-m", "PEM", "-N", "secret phrase"],
                          b"-----BEGIN RSA PRIVATE KEY-----"),
    "openssh-encrypted": (["-t", "ed25519", "-N", "secret phrase"],
                          b"-----BEGIN OPENSSH PRIVATE KEY-----"),
}


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every key of KEYS, written by ssh-keygen (its .pub next to it)."""
    folder = tmp_path_factory.mktemp("keys")
    made = {}
    for name, (args, _) in KEYS.items():
        path = folder / name
        subprocess.run(["ssh-keygen", "-q", *args, "-C", f"test-{name}", "-f", str(path)],
                       check=True, capture_output=True, timeout=60)
        made[name] = path
    return made


@pytest.mark.parametrize("name", sorted(KEYS))
def test_every_key_format_is_found(keys: dict[str, Path], name: str) -> None:
    data = keys[name].read_bytes()
    assert data.startswith(KEYS[name][1])  # ssh-keygen wrote the format the case names
    assert scan([data]).private_key
    assert starts_with_private_key(data)
    assert starts_with_private_key(b"\n\n  " + data)  # leading blank lines still count
    assert is_private_key_file(keys[name])
    if name.endswith("encrypted") and name.startswith("pem"):
        assert b"Proc-Type: 4,ENCRYPTED" in data  # the legacy encrypted PEM form


@pytest.mark.parametrize("name", ["openssh", "pkcs8-encrypted"])
def test_a_marker_split_across_two_chunks_is_found(keys: dict[str, Path], name: str) -> None:
    """Inside a larger stream (as in a disk overlay), at every split of the armour line."""
    key = keys[name].read_bytes()
    before = os.urandom(5000).replace(b"-", b"_")  # no accidental marker
    stream = before + key + os.urandom(3000)
    start = len(before)
    for cut in range(start, start + len(KEYS[name][1]) + 1):
        assert scan([stream[:cut], stream[cut:]]).private_key, cut
    assert scan(stream[i:i + 7] for i in range(0, len(stream), 7)).private_key  # tiny chunks


def test_the_overlap_covers_every_armour_line() -> None:
    assert all(len(marker) <= OVERLAP for _, marker in KEYS.values())


def test_public_keys_are_not_private(keys: dict[str, Path]) -> None:
    openssh_pub = keys["openssh"].with_suffix(".pub")
    pem_pub = subprocess.run(["ssh-keygen", "-e", "-m", "PKCS8", "-f",
                              str(keys["pkcs8"].with_suffix(".pub"))],
                             check=True, capture_output=True, timeout=60).stdout
    assert pem_pub.startswith(b"-----BEGIN PUBLIC KEY-----")
    for data in (openssh_pub.read_bytes(), pem_pub):
        assert not scan([data]).private_key
        assert not starts_with_private_key(data)
    assert not is_private_key_file(openssh_pub)


@pytest.mark.parametrize("prose", [
    b"Keep the PRIVATE KEY at home; the archive only carries the public one.\n",
    b"# -----BEGIN PRIVATE\n# the lab's private key never leaves the builder\n",
    b"PRIVATE KEY-----\n",
    b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
])
def test_prose_and_other_pem_blocks_are_not_keys(tmp_path: Path, prose: bytes) -> None:
    assert not scan([prose]).private_key
    assert not PRIVATE_KEY.search(prose)
    path = tmp_path / "notes.txt"
    path.write_bytes(prose)
    assert not is_private_key_file(path)


def test_a_key_anywhere_in_a_file_makes_it_a_key_file(keys: dict[str, Path],
                                                      tmp_path: Path) -> None:
    """The archived blueprint leaves out key files: also a document that holds a key further
    down (a PEM bundle, a key after a comment; issue 17 finding 4), as inspect's scan does."""
    quoted = b"# notes\n" + b"x" * HEAD + b"\n" + keys["openssh"].read_bytes()
    path = tmp_path / "notes.md"
    path.write_bytes(quoted)
    assert is_private_key_file(path)
    assert scan([quoted]).private_key


def test_password_keys_are_found_in_user_data_also_across_chunks() -> None:
    user_data = (b"#cloud-config\nusers:\n  - name: lab\n    hashed_passwd: $6$salt$hash\n")
    cut = user_data.index(b"hashed_passwd") + 5
    assert scan([user_data[:cut], user_data[cut:]]).password
    assert scan([b"chpasswd:\n  expire: false\npassword: x\n"]).password
    assert not scan([b"#cloud-config\nssh_pwauth: false\n"]).password
    assert not scan([user_data]).private_key
