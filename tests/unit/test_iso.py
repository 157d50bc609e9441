"""NoCloud seed ISO: reproducible bytes, read-back, independent reader (fast, no VM)."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import pytest

from generator.write.iso import SeedContents, SeedError, read_seed_iso, write_seed_iso

FILES = {
    "user-data": b"#cloud-config\nruncmd:\n  - echo hello\n",
    "meta-data": b"instance-id: node1-1\nlocal-hostname: node1\n",
    "network-config": b"version: 2\nethernets:\n  eth0:\n    dhcp4: true\n",
}


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_same_input_gives_identical_bytes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    first, second = tmp_path / "a.iso", tmp_path / "b.iso"
    write_seed_iso(first, FILES)
    time.sleep(1.1)  # a different wall-clock second and another time zone change nothing
    monkeypatch.setenv("TZ", "Asia/Kolkata")
    time.tzset()
    try:
        write_seed_iso(second, dict(reversed(list(FILES.items()))))
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()
    assert _sha(first) == _sha(second)


def test_different_input_gives_different_bytes(tmp_path: Path) -> None:
    first, second = tmp_path / "a.iso", tmp_path / "b.iso"
    write_seed_iso(first, FILES)
    write_seed_iso(second, {**FILES, "meta-data": b"instance-id: node2-1\n"})
    assert _sha(first) != _sha(second)


def test_source_date_epoch_changes_only_dates(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    default, pinned = tmp_path / "a.iso", tmp_path / "b.iso"
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    write_seed_iso(default, FILES)
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    write_seed_iso(pinned, FILES)
    assert _sha(default) != _sha(pinned)
    assert read_seed_iso(default) == read_seed_iso(pinned)
    assert b"1980010100000000" in default.read_bytes()
    assert b"2023111422132000" in pinned.read_bytes()


def test_clock_is_restored_after_write(tmp_path: Path) -> None:
    import pycdlib.headervd

    write_seed_iso(tmp_path / "a.iso", FILES)
    assert pycdlib.headervd.time is time
    assert abs(time.time() - pycdlib.headervd.time.time()) < 5


def test_read_back_gives_label_and_exactly_the_files(tmp_path: Path) -> None:
    iso = tmp_path / "seed.iso"
    write_seed_iso(iso, {**FILES, "vendor-data": b"#cloud-config\n"})
    contents = read_seed_iso(iso)
    assert contents == SeedContents(label="cidata",
                                    files={**FILES, "vendor-data": b"#cloud-config\n"})
    assert list(contents.files) == sorted(contents.files)


def test_write_is_atomic_and_replaces(tmp_path: Path) -> None:
    iso = tmp_path / "sub" / "seed.iso"
    write_seed_iso(iso, FILES)
    write_seed_iso(iso, {**FILES, "user-data": b"#cloud-config\n"})
    assert read_seed_iso(iso).files["user-data"] == b"#cloud-config\n"
    assert sorted(p.name for p in iso.parent.iterdir()) == ["seed.iso"]
    assert iso.stat().st_mode & 0o777 == 0o644


@pytest.mark.parametrize("files, label", [
    ({"meta-data": b"x"}, "cidata"),  # no user-data: NoCloud would ignore the seed
    ({**FILES, "bad/name": b"x"}, "cidata"),
    ({**FILES, "user_data": b"x"}, "cidata"),  # collides with user-data as an ISO9660 name
    (FILES, "ci data"),
])
def test_bad_input_is_refused(tmp_path: Path, files: dict[str, bytes], label: str) -> None:
    with pytest.raises(SeedError):
        write_seed_iso(tmp_path / "seed.iso", files, label=label)
    assert not list(tmp_path.iterdir())


def test_bad_source_date_epoch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "yesterday")
    with pytest.raises(SeedError, match="SOURCE_DATE_EPOCH"):
        write_seed_iso(tmp_path / "seed.iso", FILES)


def test_read_of_a_non_iso_is_a_seed_error(tmp_path: Path) -> None:
    junk = tmp_path / "junk.iso"
    junk.write_bytes(b"\0" * 4096)
    with pytest.raises(SeedError, match="junk.iso"):
        read_seed_iso(junk)
