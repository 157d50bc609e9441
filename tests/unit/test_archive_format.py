"""The archive format is one module: the typed manifest round-trips byte for byte, a manifest of
another shape is refused with exit 2, and no other module opens an archive with raw ``zipfile``
or spells the manifest's member name."""

from __future__ import annotations

import ast
import json
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from generator.archive_format import (
    MANIFEST,
    Manifest,
    ManifestError,
    parse_manifest,
    render_manifest,
)
from generator.cli import main
from tests.helpers import DATA, REPO

#: gns3lab/manifest.json of tests/data/blueprints/fabric built with --no-images by the build
#: before the manifest was typed (an untyped dict dumped with sorted keys).
BUILT = DATA / "manifest" / "fabric.json"
PACKAGE = REPO / "generator"
#: The modules that may open an existing archive with zipfile: the safe reader, and the format.
OPENERS = {"generator/read/reader.py", "generator/archive_format.py"}


def test_a_built_manifest_round_trips_byte_for_byte() -> None:
    data = BUILT.read_bytes()
    manifest = parse_manifest(json.loads(data))
    assert render_manifest(manifest) == data
    assert parse_manifest(json.loads(render_manifest(manifest))) == manifest
    assert manifest.files and manifest.files["project.gns3"].size
    assert manifest.computes == {} and manifest.lab == "fabric"


def test_the_record_is_frozen() -> None:
    manifest = parse_manifest(json.loads(BUILT.read_bytes()))
    with pytest.raises(ValueError, match="frozen"):
        manifest.lab = "other"


def test_a_manifest_that_is_not_a_mapping_is_refused() -> None:
    with pytest.raises(ManifestError, match=r"gns3lab/manifest.json: is \[1, 2\], not a mapping"):
        parse_manifest([1, 2])


def test_a_strangers_manifest_may_leave_out_what_it_does_not_record() -> None:
    assert parse_manifest({"images": {"b.qcow2": {"md5": "0" * 32}}}) == Manifest(
        images={"b.qcow2": {"md5": "0" * 32}})  # type: ignore[dict-item]


def _archive(path: Path, manifest: object) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("project.gns3", json.dumps({
            "name": "lab", "revision": 9, "topology": {"nodes": [], "links": []}}))
        zf.writestr(MANIFEST, json.dumps(manifest))
    return path


@pytest.mark.parametrize("command", ["inspect", "images", "diff"])
def test_a_list_of_image_records_is_refused_with_exit_2(tmp_path: Path, command: str) -> None:
    """Build writes ``images`` as a mapping of file names to records; a stranger's list of
    records (which images/cache.py used to read) is refused, by every reader, in one message."""
    archive = _archive(tmp_path / "list.gns3project",
                       {"files": {}, "images": [{"name": "base.qcow2", "md5": "0" * 32}]})
    args = {"inspect": ["inspect", str(archive)], "images": ["images", "list", str(archive)],
            "diff": ["diff", str(archive), str(archive)]}[command]
    result = CliRunner().invoke(main, args, env={"GNS3LAB_IMAGES": str(tmp_path / "c"),
                                                 "HOME": str(tmp_path)})
    assert result.exit_code == 2, result.output
    assert "gns3lab/manifest.json: images is [{'name'" in result.output
    assert "build writes a mapping of image file names to records" in result.output
    assert "Traceback" not in result.output


# --------------------------------------------------------------------------- one place


def _sources() -> list[tuple[str, str]]:
    return [(str(p.relative_to(REPO)), p.read_text()) for p in sorted(PACKAGE.rglob("*.py"))]


def _opens_existing(call: ast.Call) -> bool:
    """Whether a ``ZipFile(...)``/``is_zipfile(...)`` call reads an archive that exists: any
    mode but "w" or "x" (a writer makes a new one)."""
    func = call.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
    if name == "is_zipfile":
        return True
    if name != "ZipFile":
        return False
    mode = call.args[1] if len(call.args) > 1 else next(
        (k.value for k in call.keywords if k.arg == "mode"), None)
    return not (isinstance(mode, ast.Constant) and mode.value in ("w", "x"))


def test_only_the_safe_reader_opens_an_existing_archive() -> None:
    raw = sorted(f"{path}:{node.lineno}" for path, source in _sources() if path not in OPENERS
                 for node in ast.walk(ast.parse(source))
                 if isinstance(node, ast.Call) and _opens_existing(node))
    assert raw == [], "open archives with generator.read.reader.SafeArchive (or is_archive)"


def test_the_check_sees_a_raw_open() -> None:
    call = ast.parse("zipfile.ZipFile(path)").body[0].value  # type: ignore[attr-defined]
    assert _opens_existing(call)
    call = ast.parse("zipfile.ZipFile(t, 'w')").body[0].value  # type: ignore[attr-defined]
    assert not _opens_existing(call)


def test_only_the_format_module_spells_the_manifest_member() -> None:
    """Docstrings may name it; code takes it from generator.archive_format."""
    spelled = []
    for path, source in _sources():
        if path == "generator/archive_format.py":
            continue
        tree = ast.parse(source)
        docs = {id(n.body[0].value) for n in ast.walk(tree)
                if isinstance(n, ast.Module | ast.FunctionDef | ast.ClassDef) and n.body
                and isinstance(n.body[0], ast.Expr)}
        spelled += [f"{path}:{n.lineno}" for n in ast.walk(tree)
                    if isinstance(n, ast.Constant) and isinstance(n.value, str)
                    and "manifest.json" in n.value and id(n) not in docs]
    assert spelled == []


def test_push_refuses_an_image_record_without_md5(tmp_path: Path) -> None:
    """push compares each base image's md5 with the server's: a record without one is refused
    before the server is asked anything."""
    from generator.server.facts import read_archive

    archive = _archive(tmp_path / "nomd5.gns3project", {"images": {"base.qcow2": {"size": 1}}})
    with pytest.raises(ManifestError, match=r"manifest.json: images.base.qcow2.md5 is missing"):
        read_archive(archive)
