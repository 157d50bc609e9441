"""The readers' bounds, pure (issue 17, findings 7 and 11): bounded JSON and YAML parsing, the
member-name checks of SafeArchive (duplicates found in linear time, names that one file system
would make one file), the shape of a manifest's images, and the seed ISO limits (hard links).
The same archives through the real CLI, with memory measured: tests/integration/
test_reader_bounds.py."""

from __future__ import annotations

import io
import json
import time
from pathlib import Path

import pytest

from generator.archive_format import ManifestError, parse_manifest
from generator.errors import ArchiveError, SeedError
from generator.read.bounded import MAX_DEPTH, parse_json, parse_yaml
from generator.read.reader import SafeArchive, check_distinct
from generator.write.iso import MAX_SEED_FILE, read_seed_iso
from tests.helpers import DATA
from tests.support import hostile_archives as hostile

# --------------------------------------------------------------------------- JSON


def test_json_nested_10000_deep_is_refused_not_recursed() -> None:
    with pytest.raises(ValueError, match=f"nested deeper than {MAX_DEPTH} levels"):
        parse_json(b"[" * 10_000 + b"]" * 10_000)


def test_json_depth_counts_brackets_outside_strings_only() -> None:
    text = json.dumps({"a": "[" * 500, "b\\": '"{' * 300, "c": [[["x"]]]})
    assert parse_json(text.encode()) == json.loads(text)


@pytest.mark.parametrize(("body", "reason"), [
    (b"[" + b"{}," * 300_000 + b"{}]", "objects and lists"),
    (b"[" + b"0," * 1_100_000 + b"0]", "values"),
    (b'"' + b"a" * (9 << 20) + b'"', "MiB"),
])
def test_json_past_its_size_limits_is_refused(body: bytes, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        parse_json(body)


@pytest.mark.parametrize("golden", sorted((DATA / "golden").glob("*/project.gns3")),
                         ids=lambda p: p.parent.name)
def test_json_of_real_projects_parses_as_json_does(golden: Path) -> None:
    assert parse_json(golden.read_bytes()) == json.loads(golden.read_bytes())


# --------------------------------------------------------------------------- YAML


def test_yaml_billion_laughs_is_refused_at_once() -> None:
    start = time.monotonic()
    with pytest.raises(ValueError, match="aliases expand it past"):
        parse_yaml(hostile.billion_laughs())
    assert time.monotonic() - start < 1


@pytest.mark.parametrize(("text", "reason"), [
    (b"a: &x [*x]\n", "recursive alias"),
    (b"a: " + b"[" * 200 + b"]" * 200 + b"\n", "deeper than"),
    (b"a: &a [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[x]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]\n"
     b"b: [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[*a]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]\n",
     "aliases nest it deeper"),
    (b"a: [unclosed\n", "not readable YAML"),
    (b"\xff\xfe", "not readable YAML"),
])
def test_yaml_limits_and_errors_are_value_errors(text: bytes, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        parse_yaml(text)


def test_yaml_aliases_within_limits_load() -> None:
    assert parse_yaml(b"a: &x [1, 2]\nb: *x\n") == {"a": [1, 2], "b": [1, 2]}


# --------------------------------------------------------------------------- member names


@pytest.mark.parametrize(("names", "reason"), [
    (["a/hda_disk.qcow2", "a/HDA_DISK.qcow2"], "collide"),
    (["project.gns3", "PROJECT.GNS3"], "collide"),
    (["caf\u00e9.txt", "cafe\u0301.txt"], "collide"),
    (["Stra\u00dfe", "STRASSE"], "collide"),
    (["notes", "NOTES/a.txt"], "folder 'NOTES/'"),
    (["x/y", "x/y"], "appears twice"),
])
def test_names_one_file_system_would_merge_are_refused(names: list[str], reason: str) -> None:
    with pytest.raises(ArchiveError, match=reason):
        check_distinct(Path("a.zip"), names)


def test_folder_entries_and_their_members_are_distinct() -> None:
    check_distinct(Path("a.zip"), ["a/", "a/b", "A/c", "d/e/f", "d/e/g"])


def test_duplicate_search_is_linear() -> None:
    names = [f"gns3lab/blueprint/f{i:06d}.txt" for i in range(100_000)]
    names.append(names[50_000])
    start = time.monotonic()
    with pytest.raises(ArchiveError, match="f050000.txt' appears twice"):
        check_distinct(Path("a.zip"), names)
    assert time.monotonic() - start < 5


@pytest.mark.parametrize("which", ["case-disk", "case-project", "nfd-name", "many-members",
                                   "zip-bomb"])
def test_safe_archive_refuses_on_opening(which: str, tmp_path: Path) -> None:
    archive = hostile.MAKERS[which](tmp_path)
    with pytest.raises(ArchiveError, match=str(archive)):
        SafeArchive(archive)


def test_json_member_past_the_readers_limit_is_refused_by_its_size(tmp_path: Path) -> None:
    with SafeArchive(hostile.big_project(tmp_path)) as zf, \
            pytest.raises(ArchiveError, match="more than the 8 MiB gns3lab reads of it"):
        zf.json("project.gns3")


def test_copy_stops_at_its_cap(tmp_path: Path) -> None:
    with SafeArchive(hostile.hardlinked_seed(tmp_path, links=1)) as zf, \
            pytest.raises(ArchiveError, match="more than the 2 MiB"):
        zf.copy(hostile.node_folder(hostile.NODE_ID) + hostile.SEED, io.BytesIO(), 2 << 20)


# --------------------------------------------------------------------------- documents


@pytest.mark.parametrize(("images", "reason"), [
    ({"base.qcow2": {"size": "lots"}}, "images.base.qcow2.size is 'lots': input should be a "
                                       "valid integer"),
    ({"base.qcow2": {"size": -1}}, "images.base.qcow2.size is -1: input should be greater "
                                   "than or equal to 0"),
    ({"base.qcow2": {"size": True}}, "images.base.qcow2.size is True"),
    ({"base.qcow2": {"md5": 5}}, "images.base.qcow2.md5 is 5: input should be a valid string"),
    ({"base.qcow2": [1]}, "images.base.qcow2 is [1]"),
    ("x", "images is 'x': input should be a valid dictionary"),
    ([{"name": "base.qcow2", "md5": "0" * 32}], "build writes a mapping of image file names"),
])
def test_manifest_images_of_the_wrong_shape(images: object, reason: str) -> None:
    """One message naming the first value of the wrong shape; a list of image records (a
    form build never writes) is refused too."""
    with pytest.raises(ManifestError) as caught:
        parse_manifest({"files": {}, "images": images}, "lab.gns3project")
    assert caught.value.message.startswith("lab.gns3project: gns3lab/manifest.json: ")
    assert reason in caught.value.message


def test_manifest_images_as_built_pass() -> None:
    manifest = parse_manifest({"files": {}, "images": {"base.qcow2": {
        "size": 5, "md5": "0" * 32, "sha256": "1" * 64, "url": None}}})
    assert manifest.images["base.qcow2"].size == 5


# --------------------------------------------------------------------------- seed ISOs


def _seed_of(archive: Path, tmp_path: Path) -> Path:
    with SafeArchive(archive) as zf:
        data = zf.read(hostile.node_folder(hostile.NODE_ID) + hostile.SEED)
    (tmp_path / "seed.iso").write_bytes(data)
    return tmp_path / "seed.iso"


def test_seed_hard_links_count_each_time(tmp_path: Path) -> None:
    seed = _seed_of(hostile.hardlinked_small_seed(tmp_path), tmp_path)
    assert seed.stat().st_size < 2 << 20
    with pytest.raises(SeedError, match=r"hold more than 2 MiB \(hard links count each time"):
        read_seed_iso(seed)


def test_seed_file_past_its_limit_is_refused(tmp_path: Path) -> None:
    seed = _seed_of(hostile.hardlinked_seed(tmp_path, links=0), tmp_path)
    with pytest.raises(SeedError, match=f"more than a seed file's {MAX_SEED_FILE >> 20} MiB"):
        read_seed_iso(seed)
