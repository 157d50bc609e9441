"""Fuzz tests: strangers' blueprints and archives end in success or one clear error.

Over blueprints: the bundled ones (``blueprints/``, ``tests/data/blueprints/``) mutated (keys
dropped or renamed, values replaced by random scalars, strings with control characters, huge
numbers, nested lists), and random YAML text, through ``load_lab`` and ``gns3lab validate``:
only success or a GeneratorError (exit 0 or 2). Over archives: a real ``--no-images`` archive
mutated (members renamed to absolute or ``..`` names, truncated, bytes flipped, project.gns3
replaced by random JSON, duplicate members, huge declared sizes) through ``gns3lab inspect``:
exit 0 or 2, never a crash or a hang.

Bounded for CI (``derandomize=True``: the same examples on every run; a deadline per example
and ``max_examples``; both tests together take well under two minutes). Hypothesis prints a
failing example, and its blueprint or archive stays in the test's tmp folder.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import struct
import warnings
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from generator.build import load_lab
from generator.cli import main
from generator.errors import GeneratorError
from tests.helpers import BLUEPRINTS, REPO

SEEDS = sorted(p.parent.name for p in (REPO / "blueprints").glob("*/lab.yaml")) + \
    sorted(f"tests/{p.parent.name}" for p in BLUEPRINTS.glob("*/lab.yaml"))
FUZZ = settings(derandomize=True, deadline=None, database=None, print_blob=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
                phases=[Phase.explicit, Phase.generate])


def fuzz(examples: int) -> settings:
    return settings(FUZZ, max_examples=examples)


def seed_folder(name: str) -> Path:
    return BLUEPRINTS / name[len("tests/"):] if name.startswith("tests/") \
        else REPO / "blueprints" / name


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Copies of the seed blueprints (mutants are written beside their lab.yaml, so the files
    they name are found), and an empty HOME so ~/GNS3 on this machine plays no part."""
    root = tmp_path_factory.mktemp("fuzz")
    for name in SEEDS:
        shutil.copytree(seed_folder(name), root / name, symlinks=True)
    (root / "home").mkdir()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HOME", str(root / "home"))
        mp.delenv("GNS3LAB_IMAGES", raising=False)
        yield root


def _stand_in(data: Any) -> Any:
    """The bundled labs' data with the locally built image's appliance (in ~/GNS3, which the
    sandbox hides) replaced by the repository's Debian appliance, so mutants get past it."""
    if isinstance(data, dict):
        return {k: _stand_in(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_stand_in(v) for v in data]
    return "Debian" if data == "gns3lab Debian 12" else data


def _seed(name: str) -> Any:
    data = yaml.safe_load((seed_folder(name) / "lab.yaml").read_text())
    standing_in = _stand_in(data)
    if standing_in != data:  # the Debian appliance names its ports ens4..., the lab eth0...
        for node in standing_in.get("nodes", {}).values():
            node["port_name_format"] = "eth{0}"
    return standing_in


SEED_DATA = {name: _seed(name) for name in SEEDS}

# --------------------------------------------------------------------------- blueprint mutants

NASTY_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40) | \
    st.sampled_from(["", " ", "\n", "a\nb", "x;$(id)", "'\"", "../../etc/passwd", "/dev/zero",
                     "{x}", "{0:>100000000}", "n[5-1]", "n[1-10000000000]", "n[01-03]",
                     "banana/24", "a-b", "10.0.0.0/33", "0", "-1", "1e999", "\x00", "\x1b[31m",
                     "auto", "true", "eth0", "lan", "keys/id_ed25519", "playbooks/x.yml"])
SCALARS = st.none() | st.booleans() | st.integers() | \
    st.sampled_from([0, -1, 2**31, 2**63, 10**15, 10**100, 4095, 5000]) | \
    st.floats(allow_nan=True, allow_infinity=True) | NASTY_TEXT
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(NASTY_TEXT, inner, max_size=3), max_leaves=8)


def paths(data: Any, prefix: tuple = ()) -> list[tuple]:
    """Every path into ``data`` (mapping keys and list indices)."""
    out = [prefix]
    if isinstance(data, dict):
        for k, v in data.items():
            out += paths(v, prefix + (k,))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            out += paths(v, prefix + (i,))
    return out


def mutate(data: Any, path: tuple, op: str, value: Any) -> Any:
    """``data`` with the value at ``path`` dropped, renamed, replaced, listed or nested."""
    if not path:
        return value if op == "replace" else data
    parent = data
    for part in path[:-1]:
        parent = parent[part]
    last = path[-1]
    if op == "drop":
        del parent[last]
    elif op == "rename" and isinstance(parent, dict):
        parent[str(value) if not isinstance(value, dict | list) else "x"] = parent.pop(last)
    elif op == "list":
        parent[last] = [parent[last]]
    elif op == "nest":
        parent[last] = [[parent[last], value]]
    else:
        parent[last] = value
    return data


@st.composite
def mutants(draw: st.DrawFn) -> tuple[str, Any]:
    name = draw(st.sampled_from(SEEDS))
    data = json.loads(json.dumps(SEED_DATA[name]))  # a deep copy of plain data
    for _ in range(draw(st.integers(1, 3))):
        where = draw(st.sampled_from(paths(data)))
        op = draw(st.sampled_from(["drop", "rename", "replace", "replace", "list", "nest"]))
        data = mutate(data, where, op, draw(VALUES))
    return name, data


def check_blueprint(path: Path) -> None:
    """validate: exit 0 or 2, never a traceback; load_lab: a lab or a GeneratorError.

    validate ends with ``load_lab(path)`` itself (same arguments, same sandbox), so when it
    passed, load_lab returned a lab there and is not run a second time; when it failed, the
    recipe plan before it may have stopped it, so load_lab runs on its own."""
    result = CliRunner().invoke(main, ["validate", str(path)])
    assert result.exit_code in (0, 2), (result.output, result.exc_info)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    if result.exit_code != 0:
        try:
            load_lab(path)
        except GeneratorError:
            pass


@pytest.mark.parametrize("name", SEEDS)
def test_seeds_validate(sandbox: Path, name: str) -> None:
    """The unmutated seeds are good blueprints, so mutants start from something that works.
    A seed with its own image recipes (``images/<name>.yaml``) is validated as its folder's
    lab.yaml: a blueprint's recipes belong to a blueprint folder, not to any YAML file in it."""
    path = sandbox / name / "seed.yaml"
    if (sandbox / name / "images").is_dir():
        path = sandbox / name / "lab.yaml"
    path.write_text(yaml.safe_dump(SEED_DATA[name], sort_keys=False))
    result = CliRunner().invoke(main, ["validate", str(path)])
    assert result.exit_code == 0, result.output


@pytest.mark.timeout(150)
@fuzz(500)
@given(mutants())
def test_mutated_blueprints(sandbox: Path, mutant: tuple[str, Any]) -> None:
    name, data = mutant
    path = sandbox / name / "fuzz.yaml"
    try:
        text = yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
    except (yaml.YAMLError, ValueError, OverflowError):  # pragma: no cover - not writable
        return
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    check_blueprint(path)


YAML_BITS = st.sampled_from(["name: x\n", "nodes:\n", "  vm1: {appliance: Ubuntu Cloud Guest}\n",
                             "links:\n", "  - ", "a:eth0 -- b:eth0\n", "&a ", "*a ", "[", "]",
                             "{", "}", ": ", "- ", "!!binary ", "!!python/name:os.system ",
                             "? ", "<<: *a\n", "'", '"', "\\", "\t", "\n", "#", "%YAML 1.1\n",
                             "---\n", "...\n", "2026-13-45", "0x", "1e999", "~", "\x85", "\ufeff"])


@pytest.mark.timeout(60)
@fuzz(400)
@given(st.lists(YAML_BITS | st.text(max_size=8), max_size=30).map("".join))
def test_random_yaml_text(sandbox: Path, text: str) -> None:
    path = sandbox / "random.yaml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    check_blueprint(path)


@pytest.mark.timeout(60)
@fuzz(200)
@given(st.binary(max_size=200))
def test_random_bytes(sandbox: Path, data: bytes) -> None:
    path = sandbox / "bytes.yaml"
    path.write_bytes(data)
    check_blueprint(path)


# --------------------------------------------------------------------------- archive mutants


def members(archive: bytes) -> list[tuple[zipfile.ZipInfo, bytes]]:
    with zipfile.ZipFile(io.BytesIO(archive)) as zf:
        return [(info, zf.read(info)) for info in zf.infolist()]


def rezip(items: list[tuple[str, bytes]]) -> bytes:
    buf = io.BytesIO()
    with warnings.catch_warnings(), zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        warnings.simplefilter("ignore")  # duplicate names are one of the mutations
        for name, data in items:
            zf.writestr(zipfile.ZipInfo(name, (1980, 1, 1, 0, 0, 0)), data)
    return buf.getvalue()


JSONS = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=10)
                     | st.floats(allow_nan=False),
                     lambda inner: st.lists(inner, max_size=3)
                     | st.dictionaries(st.sampled_from(["name", "topology", "nodes", "links",
                                                        "node_id", "node_type", "properties",
                                                        "revision", "files", "x"]) | st.text(
                                                            max_size=5), inner, max_size=4),
                     max_leaves=12)


@st.composite
def archive_mutants(draw: st.DrawFn, archive: bytes) -> bytes:
    items = [(i.filename, data) for i, data in members(archive)]
    op = draw(st.sampled_from(["rename", "truncate", "flip", "project", "manifest", "duplicate",
                               "huge", "drop"]))
    k = draw(st.integers(0, len(items) - 1))
    if op == "rename":
        new = draw(st.sampled_from(["/etc/passwd", "../../x", "a/../../y", "C:\\x", "",
                                    "project.gns3", "gns3lab/manifest.json", "x\x1b[31m", "a\nb"]))
        items[k] = (new, items[k][1])
    elif op == "project":
        items = [(n, json.dumps(draw(JSONS)).encode() if n == "project.gns3" else d)
                 for n, d in items]
    elif op == "manifest":
        items = [(n, json.dumps(draw(JSONS)).encode() if n.endswith("manifest.json") else d)
                 for n, d in items]
    elif op == "duplicate":
        items.append((items[k][0], draw(st.binary(max_size=20))))
    elif op == "drop":
        del items[k]
    blob = rezip(items)
    if op == "truncate":
        blob = blob[:draw(st.integers(0, len(blob) - 1))]
    elif op == "flip":
        at = draw(st.integers(0, len(blob) - 1))
        blob = blob[:at] + bytes([blob[at] ^ draw(st.integers(1, 255))]) + blob[at + 1:]
    elif op == "huge":
        blob = declare_huge(blob, draw(st.integers(0, len(items) - 1)))
    return blob


def declare_huge(blob: bytes, k: int) -> bytes:
    """Set member ``k``'s declared uncompressed size to 4 GiB - 1 in its central record."""
    data = bytearray(blob)
    pos, seen = 0, 0
    while (pos := data.find(b"PK\x01\x02", pos)) >= 0:
        if seen == k:
            struct.pack_into("<I", data, pos + 24, 0xFFFFFFFF)
            break
        seen, pos = seen + 1, pos + 4
    return bytes(data)


@pytest.mark.timeout(30)
def test_inspect_refuses_a_fifo(sandbox: Path) -> None:
    """An archive path that is a FIFO is refused, not read (reading one would block)."""
    fifo = sandbox / "pipe.gns3project"
    if not fifo.exists():
        os.mkfifo(fifo)
    result = CliRunner().invoke(main, ["inspect", str(fifo)])
    assert result.exit_code == 2, result.output
