"""Console passwords never travel in plain text: SHA-512 crypt (``$6$``), which every guest's
libc reads, with a salt derived from where the password is used, so rebuilds stay
byte-identical. Pure.

The algorithm is glibc's SHA-crypt (Ulrich Drepper's specification, default 5000 rounds),
checked against ``openssl passwd -6`` in the tests. Python's own ``crypt`` module is deprecated
and gone from Python 3.13, hence this small implementation.
"""

from __future__ import annotations

import hashlib

ALPHABET = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
ROUNDS = 5000
SALT_CHARS = 16


def derived_salt(*parts: str) -> str:
    """A 16-character crypt salt from ``parts`` (e.g. lab, node, user): stable, not secret."""
    digest = hashlib.sha256("\x00".join(("gns3lab-salt", *parts)).encode()).digest()
    return "".join(ALPHABET[b % 64] for b in digest[:SALT_CHARS])


def sha512_crypt(password: str, salt: str) -> str:
    """``$6$<salt>$<hash>`` of ``password`` as crypt(3) computes it."""
    key, s = password.encode(), salt[:SALT_CHARS].encode()
    digest_b = hashlib.sha512(key + s + key).digest()
    ctx = hashlib.sha512(key + s)
    ctx.update(_repeat(digest_b, len(key)))
    n = len(key)
    while n:
        ctx.update(digest_b if n & 1 else key)
        n >>= 1
    digest_a = ctx.digest()
    p_bytes = _repeat(hashlib.sha512(key * len(key)).digest(), len(key))
    s_bytes = _repeat(hashlib.sha512(s * (16 + digest_a[0])).digest(), len(s))
    c = digest_a
    for r in range(ROUNDS):
        ctx = hashlib.sha512(p_bytes if r & 1 else c)
        if r % 3:
            ctx.update(s_bytes)
        if r % 7:
            ctx.update(p_bytes)
        ctx.update(c if r & 1 else p_bytes)
        c = ctx.digest()
    return f"$6${s.decode()}${_encode(c)}"


def _repeat(block: bytes, length: int) -> bytes:
    """``block`` repeated and cut to ``length`` bytes."""
    return (block * (length // len(block) + 1))[:length]


def _encode(c: bytes) -> str:
    """crypt's base-64 of the 64-byte digest, in SHA-512 crypt's byte order."""
    out = []
    for i in range(21):
        a, b, d = i, i + 21, i + 42
        trio = ((a, b, d), (b, d, a), (d, a, b))[i % 3]
        out.append(_b64(c[trio[0]], c[trio[1]], c[trio[2]], 4))
    out.append(_b64(0, 0, c[63], 2))
    return "".join(out)


def _b64(b2: int, b1: int, b0: int, n: int) -> str:
    w = (b2 << 16) | (b1 << 8) | b0
    chars = []
    for _ in range(n):
        chars.append(ALPHABET[w & 0x3F])
        w >>= 6
    return "".join(chars)
