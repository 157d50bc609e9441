"""Recognising secrets in bytes: private keys and cloud-init password keys.

One detector for every place that must not let a secret through unnoticed: ``gns3lab inspect``
scans each archive member with it (streamed, so a marker split across two chunks still
counts), and the archived blueprint leaves out any file with a private key anywhere in it (a
PEM bundle of a certificate then its key, a key after a comment line), scanned as it is
copied.

A private key is the armour line of a PEM or OpenSSH private key block: ``-----BEGIN OPENSSH
PRIVATE KEY-----``, ``RSA``, ``EC``, ``DSA``, PKCS#8's bare ``PRIVATE KEY`` and its
``ENCRYPTED PRIVATE KEY``. A public key (``-----BEGIN PUBLIC KEY-----``, ``ssh-ed25519 …``) or
the words "private key" in prose are not.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

PRIVATE_KEY = re.compile(rb"-----BEGIN [A-Z ]*PRIVATE KEY-----")
#: The user-data keys that carry a console password (or its hash).
PASSWORD_KEYS = re.compile(rb"^\s*-?\s*(passwd|hashed_passwd|plain_text_passwd|password):",
                           re.MULTILINE)
#: Bytes kept from one chunk for the next, so that a marker split across them is still found.
OVERLAP = 64
#: How much of a file :func:`starts_with_private_key` callers pass: a key block's start.
HEAD = 256
#: Chunk size of :func:`is_private_key_file`'s streamed read.
CHUNK = 1 << 20


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


def is_private_key_file(path: Path, limit: int | None = None) -> bool:
    """True when the file at ``path`` holds a private key block anywhere in its first
    ``limit`` bytes (all of it by default), read in chunks: constant memory."""
    with path.open("rb") as fh:
        return scan(_chunks(fh, limit)).private_key


def _chunks(fh: BinaryIO, limit: int | None) -> Iterator[bytes]:
    left = limit
    while left is None or left > 0:
        chunk = fh.read(CHUNK if left is None else min(CHUNK, left))
        if not chunk:
            return
        left = None if left is None else left - len(chunk)
        yield chunk
