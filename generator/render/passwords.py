"""Password hashing moved to :mod:`generator.passwords` (resolve hashes the console passwords,
write hashes the archived blueprint's: neither is a renderer's job). This name stays for the
modules that still import from here."""

from generator.passwords import derived_salt, sha512_crypt

__all__ = ["derived_salt", "sha512_crypt"]
