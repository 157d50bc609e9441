"""The pipeline's direction is a test: no module of ``generator/`` imports a later stage.

Every ``import`` and ``from ... import`` of every module is read with ``ast`` (function-local
imports included), and so is every attribute taken from an imported package (``addons.
render_addons(lab)`` counts as an import of ``generator.addons.render_addons``). The table
(docs/architecture.md, "Layering") says which targets each part of the package may not import;
a known exception goes on ALLOWED with the reason it is still there. An entry that no longer
matches an import fails the test too, so the list only shrinks.
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

import pytest

from tests.helpers import REPO

PACKAGE = REPO / "generator"

#: Top-level modules every stage may import; they import no stage themselves.
FOUNDATION = frozenset({"__init__", "__version__", "errors", "model", "naming", "paths",
                        "archive_format", "fileio", "tools", "interrupt", "qcow2", "passwords",
                        "hostcheck", "secretscan"})
LATER = ("resolve", "render", "write", "read", "server", "images", "addons", "build", "cli")
#: Part of the package -> the parts it must not import (its later stages, and cli).
FORBIDDEN: dict[str, frozenset[str]] = {
    "foundation": frozenset({"blueprint", *LATER}),
    "blueprint": frozenset(LATER),
    "resolve": frozenset({"render", "write", "read", "server", "images", "build", "cli"}),
    "addons": frozenset({"write", "read", "server", "images", "build", "cli"}),
    "render": frozenset({"write", "read", "server", "images", "build", "cli"}),
    "images": frozenset({"render", "write", "server", "build", "cli"}),
    "write": frozenset({"read", "server", "build", "cli"}),
    "read": frozenset({"write", "server", "build", "cli"}),
    "server": frozenset({"write", "build", "cli"}),
    "build": frozenset({"cli"}),
    # import runs the pipeline backwards: reads a project (read/), checks what it writes
    # with build's own loader; only the CLI and a running server are out of its reach
    "importing": frozenset({"server", "cli"}),
    "cli": frozenset(),
}
#: Parts that may import an add-on module (generator.addons.<module>); the rest go through the
#: registry (generator/addons/__init__.py) and name no add-on.
ADDON_USERS = frozenset({"addons", "build", "cli"})

#: (importing module, imported name) -> why it is still there. Issue 18 removes each one.
ALLOWED: dict[tuple[str, str], str] = {
    ("generator.read.diff", "generator.build"):
        "diff re-resolves the blueprint with build.load_lab and takes its manifest from "
        "build.manifest_info; issue 18 moves both beside resolve",
    ("generator.read.diff", "generator.write.iso"):
        "seed ISOs are parsed by write/iso.py; issue 18 moves the reader half out of write",
    ("generator.read.diff", "generator.write.guest"):
        "diff expands the model's GuestFile records (a source folder -> its tree, read from "
        "disk) with write/guest.guest_files; issue 18's read/ change moves diff's re-build "
        "beside resolve",
    ("generator.read.verify", "generator.write.iso"):
        "as read.diff -> write.iso",
}


def part_of(module: str) -> str:
    """``generator.resolve.lab`` -> ``resolve``; a top-level module -> itself or foundation."""
    parts = module.split(".")
    if len(parts) == 1:
        return "foundation"
    if (PACKAGE / parts[1]).is_dir():
        return parts[1]
    return "foundation" if parts[1] in FOUNDATION else parts[1]


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def is_module(dotted: str) -> bool:
    base = REPO.joinpath(*dotted.split("."))
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def imports_of(path: Path) -> set[str]:
    """Every generator name the module at ``path`` imports or takes from an imported package."""
    here = module_name(path)
    package = here if path.name == "__init__.py" else here.rpartition(".")[0]
    return imports_in(path.read_text(), package)


def imports_in(source: str, package: str) -> set[str]:
    """Every generator name ``source`` (a module of ``package``) imports or takes from an
    imported package."""
    tree = ast.parse(source)
    found: set[str] = set()
    aliases: dict[str, str] = {}  # local name -> the generator module it is bound to
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                found.add(alias.name)
                if alias.asname:
                    aliases[alias.asname] = alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(up + ([node.module] if node.module else []))
            for alias in node.names:
                dotted = f"{base}.{alias.name}"
                found.add(dotted if is_module(dotted) else base)
                if is_module(dotted):
                    aliases[alias.asname or alias.name] = dotted
    for node in ast.walk(tree):  # addons.render_addons(lab) uses the registry's render phase
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                and node.value.id in aliases):
            found.add(f"{aliases[node.value.id]}.{node.attr}")
    return {name for name in found if name.startswith("generator.") or name == "generator"}


def violations(module: str, imported: set[str]) -> set[str]:
    """The imported names against the pipeline's direction (see FORBIDDEN and ADDON_USERS)."""
    mine = part_of(module)
    out = set()
    for name in imported:
        if name == "generator":
            continue
        theirs = part_of(name)
        if theirs != mine and theirs in FORBIDDEN[mine]:
            out.add(name)
        parts = name.split(".")
        if (theirs == "addons" and mine not in ADDON_USERS and len(parts) > 2
                and is_module(".".join(parts[:3]))):
            out.add(".".join(parts[:3]))  # an add-on module, not the registry
        if mine == "resolve" and theirs == "addons" and parts[-1].startswith("render"):
            out.add(name)  # the registry's render phase is render's
    return out


@functools.cache  # two tests ask; the package does not change during the run
def all_violations() -> frozenset[tuple[str, str]]:
    return frozenset((module_name(path), name) for path in sorted(PACKAGE.rglob("*.py"))
                     for name in violations(module_name(path), imports_of(path)))


def test_every_part_of_the_package_is_in_the_table() -> None:
    parts = {part_of(module_name(p)) for p in PACKAGE.rglob("*.py")}
    assert parts <= set(FORBIDDEN), sorted(parts - set(FORBIDDEN))


def test_no_import_goes_against_the_pipeline() -> None:
    found = all_violations()
    new = sorted(found - set(ALLOWED))
    assert not new, "imports against the pipeline (docs/architecture.md, Layering):\n" + \
        "\n".join(f"  {a} -> {b}" for a, b in new)


def test_every_allowed_exception_is_still_needed() -> None:
    stale = sorted(set(ALLOWED) - all_violations())
    assert not stale, f"fixed: remove from ALLOWED: {stale}"


@pytest.mark.parametrize("source, expected", [
    ("from generator.render.project import render_project\n", "generator.render.project"),
    ("def f():\n    from generator.write import iso\n", "generator.write.iso"),
    ("from generator import addons\naddons.render_addons(1)\n", "generator.addons.render_addons"),
    ("from generator.addons.fabric import x\n", "generator.addons.fabric"),
    ("from ..cli import main\n", "generator.cli"),
])
def test_an_upward_import_in_resolve_is_found(source: str, expected: str) -> None:
    """The checker itself: a resolve module with an upward import (top-level, inside a
    function, relative, or an attribute of the add-on registry) is a violation."""
    assert expected in violations("generator.resolve.lab",
                                  imports_in(source, "generator.resolve"))


def test_a_downward_import_is_not() -> None:
    source = ("from generator.blueprint import schema\nfrom generator import addons, model\n"
              "addons.check_addons(1)\nfrom generator.resolve.canvas import tier_of\n")
    assert violations("generator.resolve.lab", imports_in(source, "generator.resolve")) == set()
