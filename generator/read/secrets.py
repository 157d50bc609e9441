"""The secret detector, as ``read/`` names it: it lives in the foundation module
:mod:`generator.secretscan` so that ``write/archived_blueprint.py`` (which leaves out files with
a private key) and ``read/inspect.py`` share it without ``write/`` importing ``read/``."""

from __future__ import annotations

from generator.secretscan import (
    CHUNK,
    HEAD,
    OVERLAP,
    PASSWORD_KEYS,
    PRIVATE_KEY,
    SecretScan,
    is_private_key_file,
    scan,
    starts_with_private_key,
)

__all__ = ["CHUNK", "HEAD", "OVERLAP", "PASSWORD_KEYS", "PRIVATE_KEY", "SecretScan",
           "is_private_key_file", "scan", "starts_with_private_key"]
