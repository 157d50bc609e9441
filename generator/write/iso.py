"""NoCloud seed ISOs: write them reproducibly, read them back.

Only the ISO layer lives here; the documents inside (``user-data``, ``meta-data``,
``network-config``, ``vendor-data``) are rendered elsewhere and checked by
:mod:`tests.support.cloudinit_check`.

The image is ISO9660 (interchange level 3) with Rock Ridge 1.09 and Joliet, volume id ``cidata``,
all files in the root directory: the layout of ``/work/shared/spec/test-image.md`` section 2,
which cloud-init 22.4 accepted as ``DataSourceNoCloud [seed=/dev/sr0]``. cloud-init reads the
Rock Ridge (or Joliet) long names; the 8.3-style ISO9660 names only exist for plain readers.

Reproducibility. pycdlib stamps the wall clock into the volume descriptors (creation, effective
and modification dates, the last one at write time), every directory record and every Rock Ridge
``TF`` entry, and converts it with :func:`time.localtime`, so both the time and the host's time
zone would leak into the image. While one seed is built, :func:`_frozen_clock` rebinds the
``time`` name inside the already imported ``pycdlib.*`` modules (and only there) to a small
stand-in whose ``time()`` returns a fixed epoch and whose ``localtime()`` is ``gmtime()``. The
epoch is ``SOURCE_DATE_EPOCH`` when set, else 1980-01-01T00:00:00Z. Nothing else in the process
sees the change, and it is undone on exit, also on errors. Because the rebinding is
module-global, builds are serialised by a lock, so threads may call :func:`write_seed_iso`
concurrently. pycdlib is otherwise deterministic for the same input: the files are added in
sorted order, and nothing random is written (there is no UDF).
"""

from __future__ import annotations

import io
import os
import re
import struct
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from time import struct_time  # (inside _FixedTime, `time` names its method)
from typing import BinaryIO

from generator.errors import SeedError
from generator.fileio import atomic_file

#: 1980-01-01T00:00:00Z: the default date of every timestamp in a seed ISO.
DEFAULT_EPOCH = 315532800

#: Files NoCloud needs before it accepts a seed (``vendor-data`` and ``network-config`` optional).
REQUIRED_FILES = ("meta-data", "user-data")

#: What a reader takes from a seed ISO it did not write (verify, diff): a NoCloud seed holds a
#: few files of a few KB (68 KB as an ISO). Hard links are counted each time they are read.
MAX_SEED_ISO = 2 << 20  # bytes of the ISO image itself
MAX_SEED_FILE = 1 << 20  # bytes of one file in it
MAX_SEED_FILES = 32  # entries in its root directory

#: What pycdlib may raise besides its own exception on a damaged or hostile image.
_PARSE_ERRORS = (ValueError, IndexError, KeyError, struct.error, RecursionError)

_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
_LABEL_RE = re.compile(r"^[A-Za-z0-9_]{1,32}$")
_CLOCK_LOCK = threading.RLock()


@dataclass(frozen=True)
class SeedContents:
    """What a seed ISO holds: its volume label and its files by long (Rock Ridge/Joliet) name."""

    label: str
    files: dict[str, bytes] = field(default_factory=dict)


def source_date_epoch() -> int:
    """The fixed timestamp written into seed ISOs: ``SOURCE_DATE_EPOCH`` or 1980-01-01."""
    raw = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if not raw:
        return DEFAULT_EPOCH
    if not raw.isdigit():
        raise SeedError(f"SOURCE_DATE_EPOCH is not a non-negative integer: {raw!r}")
    epoch = int(raw)
    if not 0 <= epoch < 253402300800:  # ISO9660 dates end with the year 9999
        raise SeedError(f"SOURCE_DATE_EPOCH is out of range for ISO9660 dates: {epoch}")
    return epoch


class _FixedTime:
    """Stand-in for the ``time`` module inside pycdlib: a stopped, UTC clock."""

    def __init__(self, epoch: int) -> None:
        self._epoch = float(epoch)

    def time(self) -> float:
        """The fixed epoch instead of the wall clock."""
        return self._epoch

    def localtime(self, secs: float | None = None) -> struct_time:
        """UTC instead of the host's zone, so the GMT offset written is always 0."""
        return time.gmtime(self._epoch if secs is None else secs)

    def __getattr__(self, name: str) -> object:
        return getattr(time, name)


@contextmanager
def _frozen_clock(epoch: int) -> Iterator[None]:
    """Pin pycdlib's clock to ``epoch`` (UTC) for the duration of the block; see module doc."""
    import pycdlib  # noqa: F401  (imports every pycdlib submodule that reads the clock)

    with _CLOCK_LOCK:
        patched = [mod for name, mod in list(sys.modules.items())
                   if name.startswith("pycdlib.") and getattr(mod, "time", None) is time]
        stand_in = _FixedTime(epoch)
        for mod in patched:
            mod.time = stand_in  # type: ignore[attr-defined]
        try:
            yield
        finally:
            for mod in patched:
                mod.time = time  # type: ignore[attr-defined]


def _iso9660_name(name: str) -> str:
    """The short ISO9660 name of a file (``user-data`` -> ``USER_DATA.;1``)."""
    stem = re.sub(r"[^A-Z0-9_]", "_", name.upper())[:30]
    return f"/{stem}.;1"


def _check_inputs(files: Mapping[str, bytes], label: str) -> None:
    """Reject names and labels that NoCloud or ISO9660 would not take."""
    if not _LABEL_RE.match(label):
        raise SeedError(f"invalid seed ISO volume label {label!r} (1-32 of A-Z a-z 0-9 _)",
                        hint="NoCloud looks for the label 'cidata'")
    for name, data in files.items():
        if not _NAME_RE.match(name):
            raise SeedError(f"invalid seed file name {name!r} (a-z 0-9 . _ -, at most 64)")
        if not isinstance(data, bytes | bytearray):
            raise SeedError(f"seed file {name!r} must be bytes, not {type(data).__name__}")
    missing = [n for n in REQUIRED_FILES if n not in files]
    if missing:
        raise SeedError(f"NoCloud seed lacks {', '.join(missing)}",
                        hint="cloud-init ignores a NoCloud seed without user-data and meta-data")
    short = [_iso9660_name(n) for n in files]
    if len(set(short)) != len(short):
        raise SeedError(f"seed file names collide as ISO9660 names: {sorted(files)}")


def _build(files: Mapping[str, bytes], label: str, out: BinaryIO) -> None:
    """Write the ISO image of ``files`` to ``out`` (the clock must already be frozen)."""
    import pycdlib

    iso = pycdlib.PyCdlib()
    iso.new(interchange_level=3, joliet=3, rock_ridge="1.09", vol_ident=label,
            sys_ident="LINUX")
    try:
        for name in sorted(files):
            data = bytes(files[name])
            iso.add_fp(io.BytesIO(data), len(data), _iso9660_name(name), rr_name=name,
                       joliet_path=f"/{name}")
        iso.write_fp(out)
    finally:
        iso.close()


def seed_iso_bytes(files: Mapping[str, bytes], *, label: str = "cidata") -> bytes:
    """The bytes of the seed ISO :func:`write_seed_iso` would write."""
    _check_inputs(files, label)
    buf = io.BytesIO()
    with _frozen_clock(source_date_epoch()):
        _build(files, label, buf)
    return buf.getvalue()


def write_seed_iso(path: Path, files: Mapping[str, bytes], *, label: str = "cidata") -> None:
    """Write a NoCloud seed ISO with ``files`` at its root to ``path``, atomically.

    The result depends only on ``files``, ``label`` and ``SOURCE_DATE_EPOCH``: the same input
    gives the same bytes. The image is written to a temporary file next to ``path`` and renamed
    over it, so readers never see half an ISO.
    """
    data = seed_iso_bytes(files, label=label)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_file(path) as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())


def _long_name(iso: object, rec: object, kind: str) -> str:
    """The Rock Ridge or Joliet name of a root directory entry."""
    full = iso.full_path_from_dirrecord(rec, rockridge=(kind == "rr_path"))  # type: ignore
    return full.rsplit("/", 1)[-1]


def _root_files(iso: object) -> dict[str, bytes]:
    """Read every file in the root directory, by its long name when there is one; at most
    MAX_SEED_FILES entries of MAX_SEED_FILE bytes, MAX_SEED_ISO in all (SeedError past them:
    120 hard links to one 48 MiB extent would otherwise read 5.6 GB)."""
    if iso.has_rock_ridge():  # type: ignore[attr-defined]
        kind = "rr_path"
    elif iso.has_joliet():  # type: ignore[attr-defined]
        kind = "joliet_path"
    else:
        kind = "iso_path"
    records = [rec for rec in iso.list_children(**{kind: "/"})  # type: ignore[attr-defined]
               if rec is not None and not (rec.is_dot() or rec.is_dotdot() or rec.is_dir())]
    if len(records) > MAX_SEED_FILES:
        raise SeedError(f"{len(records)} files in the root, more than a seed's "
                        f"{MAX_SEED_FILES}")
    out: dict[str, bytes] = {}
    total = 0
    for rec in records:
        name = _long_name(iso, rec, kind)
        size = rec.get_data_length()
        total += size
        if size > MAX_SEED_FILE:
            raise SeedError(f"file {name!r} is {size} bytes, more than a seed file's "
                            f"{MAX_SEED_FILE >> 20} MiB")
        if total > MAX_SEED_ISO:
            raise SeedError(f"its files hold more than {MAX_SEED_ISO >> 20} MiB (hard links "
                            "count each time)")
        buf = io.BytesIO()
        iso.get_file_from_iso_fp(buf, **{kind: f"/{name}"})  # type: ignore[attr-defined]
        if kind == "iso_path":
            name = name.split(";", 1)[0].rstrip(".").lower()
        out[name] = buf.getvalue()
    return out


def read_seed_iso(path: Path) -> SeedContents:
    """Read a seed ISO back: its volume label and its root files (for tests, ``verify`` and
    ``diff``), within MAX_SEED_FILES, MAX_SEED_FILE and MAX_SEED_ISO; SeedError otherwise."""
    import pycdlib
    from pycdlib.pycdlibexception import PyCdlibException

    iso = pycdlib.PyCdlib()
    try:
        iso.open(str(path))
    except (OSError, PyCdlibException, *_PARSE_ERRORS) as exc:
        raise SeedError(f"cannot read seed ISO {path}: {exc}") from exc
    try:
        label = iso.pvd.volume_identifier.decode("utf-8", errors="replace").rstrip(" \x00")
        files = _root_files(iso)
    except (PyCdlibException, *_PARSE_ERRORS) as exc:
        raise SeedError(f"cannot read seed ISO {path}: {exc}") from exc
    finally:
        iso.close()
    return SeedContents(label=label, files=dict(sorted(files.items())))
