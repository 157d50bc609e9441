"""An OpenSSH public key as ``ssh_key:``'s ``.pub`` must hold it: checked before it is used.

The ``.pub`` text goes into every node's ``authorized_keys`` (through cloud-init YAML) and into
the manifest, so garbage, a second line or a control character must not pass. Pure: the text
is parsed here (type, base64 blob whose first field names the same type, printable comment).
"""

from __future__ import annotations

import base64
import binascii
import struct

from generator.errors import Refused

MAX_PUBLIC_KEY = 16 << 10  # bytes of a .pub read (an RSA 16384 key is ~2.8 KB)
KEY_TYPES = ("ssh-ed25519", "ssh-rsa", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384",
             "ecdsa-sha2-nistp521", "sk-ssh-ed25519@openssh.com",
             "sk-ecdsa-sha2-nistp256@openssh.com", "ssh-dss")


def parse_public_key(data: bytes, name: str) -> str:
    """The one key line of the ``.pub`` file ``name`` holding ``data``; Refused (naming the
    file and line) when it is not exactly one OpenSSH public key."""
    fix = "give the .pub that ssh-keygen wrote beside the private key (ssh-keygen -y -f KEY)"
    if len(data) > MAX_PUBLIC_KEY:
        raise Refused(f"{name} has {len(data)} bytes, more than a public key's "
                      f"{MAX_PUBLIC_KEY}", fix)
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError as exc:
        at = data.count(b"\n", 0, exc.start) + 1
        raise Refused(f"{name}:{at}: not an OpenSSH public key (a byte that is not ASCII)",
                      fix) from None
    lines = [(n, t) for n, t in enumerate(text.splitlines(), 1) if t.strip()]
    if len(lines) != 1:
        where = f"{name}:{lines[1][0]}" if lines else name
        raise Refused(f"{where}: not one OpenSSH public key ({len(lines)} lines with text)",
                      fix)
    number, key = lines[0]
    why = _line_problem(key)
    if why:
        raise Refused(f"{name}:{number}: not an OpenSSH public key ({why})", fix)
    return key.strip()


def _line_problem(line: str) -> str | None:
    """Why ``line`` is not ``TYPE BASE64 [COMMENT]``, or None."""
    if any(not c.isprintable() for c in line):
        return "a control character"
    fields = line.split(None, 2)
    if len(fields) < 2 or fields[0] not in KEY_TYPES:
        return f"it does not start with a key type ({', '.join(KEY_TYPES[:3])}, ...)"
    try:
        blob = base64.b64decode(fields[1], validate=True)
    except (binascii.Error, ValueError):
        return "the key is not base64"
    if len(blob) < 4:
        return "the key is too short"
    (size,) = struct.unpack(">I", blob[:4])
    if blob[4:4 + size] != fields[0].encode():
        return f"the key's bytes do not name {fields[0]}"
    return None
