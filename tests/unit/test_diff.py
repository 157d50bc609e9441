"""``gns3lab diff``: golden human and JSON output over blueprint pairs, one change each; exit
codes; the archive reader's refusals; and an archive compared with blueprints.

The golden output of each pair is checked in tests/golden/test_diff_golden.py.
"""

from __future__ import annotations

import json
import time
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from generator.cli import main
from generator.errors import ArchiveError
from generator.read.diff import archive_view, compare_links
from generator.read.reader import SafeArchive
from tests.golden.test_readme import write_lifecycle_appliance
from tests.helpers import DATA, REPO

PAIRS = Path("tests/data/diff")  # relative to the repo, so paths in the output are stable
CASES = ["node-added", "link-rewired", "address-changed", "mac-changed", "inject-edited"]


@pytest.fixture(scope="module")
def appliances(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_lifecycle_appliance(tmp_path_factory.mktemp("appliances"))


@pytest.fixture()
def in_repo(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)


def run_diff(old: Path | str, new: Path | str, appliances: Path, *extra: str) -> Result:
    return CliRunner().invoke(main, ["diff", str(old), str(new), "--images-dir",
                                     str(appliances), *extra])


def diff_json(old: Path | str, new: Path | str, appliances: Path) -> dict:
    result = run_diff(old, new, appliances, "--json")
    assert result.exit_code in (0, 1), result.output
    return json.loads(result.output)


@pytest.mark.usefixtures("in_repo")
def test_equal_blueprints_exit_0(appliances: Path) -> None:
    result = run_diff(PAIRS / "base", PAIRS / "base", appliances)
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1] == "no differences"
    assert diff_json(PAIRS / "base", PAIRS / "base", appliances)["equal"] is True


@pytest.mark.usefixtures("in_repo")
def test_node_added(appliances: Path) -> None:
    doc = diff_json(PAIRS / "base", PAIRS / "node-added", appliances)
    assert doc["nodes"]["added"] == ["srv3"] and not doc["nodes"]["removed"]
    assert doc["links"]["added"] == ["srv3:eth0 -- sw:eth3"]
    assert doc["stages"]["changed"]["servers"]["hosts"] == ["srv1, srv2", "srv1, srv2, srv3"]
    assert {"srv3/user-data", "srv3/meta-data", "srv3/network-config"} <= \
        set(doc["seeds"]["added"])
    assert "+dhcp-host=" in doc["files"]["changed"]["ctl:/etc/gns3lab/dnsmasq.conf"]


@pytest.mark.usefixtures("in_repo")
def test_link_rewired(appliances: Path) -> None:
    doc = diff_json(PAIRS / "base", PAIRS / "link-rewired", appliances)
    assert doc["links"]["rewired"] == [{"end": "srv2:eth0", "old": "sw:eth2", "new": "sw:eth3"}]
    assert not doc["links"]["added"] and not doc["links"]["removed"]
    assert not doc["nodes"]["changed"]


@pytest.mark.usefixtures("in_repo")
def test_address_changed(appliances: Path) -> None:
    doc = diff_json(PAIRS / "base", PAIRS / "address-changed", appliances)
    assert doc["interfaces"]["changed"] == {
        "sw/br0": {"addresses": ["10.30.0.2/24", "10.30.0.3/24"]}}
    assert "+    - 10.30.0.3/24" in doc["seeds"]["changed"]["sw/network-config"]


@pytest.mark.usefixtures("in_repo")
def test_mac_changed(appliances: Path) -> None:
    doc = diff_json(PAIRS / "base", PAIRS / "mac-changed", appliances)
    old, new = doc["nodes"]["changed"]["ctl"]["mac"]
    assert new == "52:54:00:aa:00:00" and old != new
    assert doc["interfaces"]["changed"]["ctl/eth0"]["mac"] == [old, new]


@pytest.mark.usefixtures("in_repo")
def test_inject_edited(appliances: Path) -> None:
    doc = diff_json(PAIRS / "base", PAIRS / "inject-edited", appliances)
    assert sorted(doc["files"]["changed"]) == ["srv1:/etc/motd", "srv2:/etc/motd"]
    text = doc["files"]["changed"]["srv1:/etc/motd"]
    assert text.startswith("--- old/srv1:/etc/motd\n+++ new/srv1:/etc/motd\n")
    assert "+Be nice to the servers." in text
    assert not doc["seeds"]["changed"] and not doc["nodes"]["changed"]


def test_errors_exit_2(appliances: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.gns3project"
    bad.write_bytes(b"not a zip")
    result = run_diff(bad, DATA / "diff" / "base", appliances)
    assert result.exit_code == 2 and "not a readable .gns3project" in result.output
    result = run_diff(tmp_path / "missing", DATA / "diff" / "base", appliances)
    assert result.exit_code == 2
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: [\n")
    result = run_diff(broken, DATA / "diff" / "base", appliances)
    assert result.exit_code == 2 and "malformed YAML" in result.output


@pytest.mark.parametrize("name", ["../evil", "/etc/passwd", "a/../../b", "C:/x", "a\\..\\b"])
def test_archive_reader_refuses_unsafe_names(name: str, tmp_path: Path) -> None:
    archive = tmp_path / "evil.gns3project"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("project.gns3", "{}")
        zf.writestr(name, "x")
    with pytest.raises(ArchiveError, match="unsafe member name"):
        archive_view(archive)


def test_archive_reader_caps_member_size(tmp_path: Path) -> None:
    archive = tmp_path / "big.gns3project"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("project.gns3", b"{" + b" " * 5000 + b"}")
    reader = SafeArchive(archive, cap=4096)
    with pytest.raises(ArchiveError, match="more than the 4 KiB"):
        reader.read("project.gns3")
    reader.close()


def test_archive_that_is_no_project_is_an_error(tmp_path: Path) -> None:
    archive = tmp_path / "odd.gns3project"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("project.gns3", '{"topology": 5}')
    with pytest.raises(ArchiveError, match="not a GNS3 project"):
        archive_view(archive)


def test_rewiring_many_links_is_linear() -> None:
    """20,000 links moved to a new peer and 20,000 replaced by unrelated ones: paired by an
    index of ends, in seconds; the pairwise search was 400 million comparisons."""
    old = {f"hub:{i} -- b{i}:1": "" for i in range(20_000)} | \
        {f"x{i}:1 -- y{i}:1": "" for i in range(20_000)}
    new = {f"hub:{i} -- c{i}:1": "" for i in range(20_000)} | \
        {f"p{i}:1 -- q{i}:1": "" for i in range(20_000)}
    start = time.monotonic()
    section = compare_links(old, new)
    assert time.monotonic() - start < 10
    assert len(section.added) == len(section.removed) == len(section.rewired) == 20_000
    assert section.rewired[0] == ("hub:0", "b0:1", "c0:1")


def test_rewiring_pairs_each_removed_link_with_the_first_added_sharing_an_end() -> None:
    old = {"a:1 -- b:1": "", "a:2 -- c:1": "", "x:1 -- y:1": ""}
    new = {"a:1 -- d:1": "", "a:1 -- e:1": "", "z:1 -- w:1": ""}
    section = compare_links(old, new)
    assert section.rewired == (("a:1", "b:1", "d:1"),)
    assert section.removed == ("a:2 -- c:1", "x:1 -- y:1")
    assert section.added == ("a:1 -- e:1", "z:1 -- w:1")
