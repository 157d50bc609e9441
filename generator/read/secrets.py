"""Recognising secrets in bytes: private keys and cloud-init password keys.

One detector for every place that must not let a secret through unnoticed: ``gns3lab inspect``
scans each archive member with it (streamed, so a marker split across two chunks still
counts), and the archived blueprint leaves out any file that starts with a private key.

A private key is the armour line of a PEM or OpenSSH private key block: ``-----BEGIN OPENSSH
PRIVATE KEY-----``, ``RSA``, ``EC``, ``DSA``, PKCS#8's bare ``PRIVATE KEY`` and its
``ENCRYPTED PRIVATE KEY``. A public key (``-----BEGIN PUBLIC KEY-----``, ``ssh-ed25519 …``) or
the words "private key" in prose are not.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

PRIVATE_KEY = re.compile(rb"-----BEGIN [A-Z ]*PRIVATE KEY-----")
#: The user-data keys that carry a console password (or its hash).
PASSWORD_KEYS = re.compile(rb"^\s*-?\s*(passwd|hashed_passwd|plain_text_passwd|password):",
                           re.MULTILINE)
#: Bytes kept from one chunk for the next, so that a marker split across them is still found.
OVERLAP = 64
#: How much of a file :func:`is_private_key_file` reads: a key block starts the file.
HEAD = 256


class SecretScan:
    """Feed a stream's chunks in order; :attr:`private_key` and :attr:`password` tell what
    appeared anywhere in it, also across chunk boundaries."""

    def __init__(self) -> None:
        self.private_key = False
        self.password = False
        self._tail = b""

    def feed(self, chunk: bytes) -> None:
        window = self._tail + chunk
        self.private_key = self.private_key or PRIVATE_KEY.search(window) is not None
        self.password = self.password or PASSWORD_KEYS.search(window) is not None
        self._tail = window[-OVERLAP:]


def scan(chunks: Iterable[bytes]) -> SecretScan:
    """Every chunk of a stream through one :class:`SecretScan`."""
    found = SecretScan()
    for chunk in chunks:
        found.feed(chunk)
    return found


def starts_with_private_key(head: bytes) -> bool:
    """True when ``head`` (a file's first bytes) opens with a private key block."""
    return PRIVATE_KEY.match(head.lstrip()) is not None


def is_private_key_file(path: Path) -> bool:
    """True when the file at ``path`` is a private key (its first bytes open a key block)."""
    with path.open("rb") as fh:
        return starts_with_private_key(fh.read(HEAD))
