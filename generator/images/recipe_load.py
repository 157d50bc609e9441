"""Read recipe files and resolve their ``from`` chains into :class:`Recipe` records.

Built-in recipes ship as package data (``generator/data/recipes/<name>.yaml``); a blueprint may
bring its own in ``images/<name>.yaml``. Both are read like a blueprint (bounded, line-numbered
YAML, unknown keys refused with file:line and a fix) and checked against
:class:`generator.images.recipe_schema.RecipeSpec`.

A blueprint may come from a stranger, and the image build runs as root: a chroot is no boundary
for root. So a blueprint's recipe may only choose Debian packages and add files (confined to
the blueprint folder like every path it names); ``commands`` and package sources other than
Debian's own are refused unless the user trusts it (``--trust-recipe-commands``).

Resolving merges parent-first: lists are the parent's then the recipe's own (packages: one
sorted set, as apt takes them), mappings the parent's updated by the recipe's.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from generator.blueprint.confine import confined
from generator.blueprint.load import _parse, _read_text
from generator.blueprint.problems import validation_problems
from generator.blueprint.schema import parse_size
from generator.blueprint.source import Source, closest
from generator.errors import BlueprintError, Problem, Refused
from generator.images.recipe import MIB, PlacedFile, Recipe
from generator.images.recipe_schema import RECIPE_NAME_RE, RecipeSpec

#: Where a blueprint keeps its own recipes.
BLUEPRINT_RECIPES = "images"
#: Longest ``from`` chain (a recipe extending a recipe ... down to a suite).
MAX_DEPTH = 8
DEFAULT_SIZE = 3 * 1024 * MIB
MIN_SIZE, MAX_SIZE = 256 * MIB, 1024 * 1024 * MIB
BOOT_SIZE = 64 * MIB
TRUST_FLAG = "--trust-recipe-commands"
#: Package sources that are Debian's own (the archive and its security archive).
DEBIAN_SOURCE = re.compile(r"^deb (\[[^\]]*\] )?https?://(deb|security)\.debian\.org/"
                           r"debian(-security)?/? [a-z-]+( (main|contrib|non-free|"
                           r"non-free-firmware))+$")


@dataclass(frozen=True)
class Suite:
    """A Debian release a base recipe starts from."""

    version: str
    sources: tuple[str, ...]


def _suite(codename: str, version: str) -> Suite:
    return Suite(version, (f"deb http://deb.debian.org/debian {codename} main",
                           f"deb http://deb.debian.org/debian-security {codename}-security main"))


SUITES = {"bookworm": _suite("bookworm", "12"), "trixie": _suite("trixie", "13")}


@dataclass(frozen=True)
class RecipeText:
    """One recipe file as read: its name, records, and where each key was written."""

    name: str
    spec: RecipeSpec
    source: Source
    builtin: bool


def builtin_folder() -> Path:
    """``generator/data/recipes``: the built-in recipes."""
    return Path(str(resources.files("generator") / "data" / "recipes"))


def read_recipe(path: Path, folder: Path, builtin: bool) -> RecipeText:
    """Read and check one recipe file; ``folder`` is where its ``files:`` are read from."""
    data, lines = _parse(path, _read_text(path))
    source = Source(file=path, folder=folder, lines=lines)
    name = path.stem
    if not re.match(RECIPE_NAME_RE, name):
        raise BlueprintError([source.problem((), f"recipe name '{name}' (the file name) is "
                                             "not [a-z0-9.-]", "rename the file, e.g. "
                                             "images/my-image.yaml")])
    if not isinstance(data, dict):
        raise BlueprintError([source.problem((), "a recipe must be a YAML mapping",
                                             "start with 'from: debian-12'")])
    try:
        spec = RecipeSpec.model_validate(data)
    except ValidationError as exc:
        raise BlueprintError(validation_problems(source, exc, RecipeSpec)) from None
    return RecipeText(name, spec, source, builtin)


def builtin_texts() -> dict[str, RecipeText]:
    """Every built-in recipe file, by name."""
    folder = builtin_folder()
    return {p.stem: read_recipe(p, folder, True) for p in sorted(folder.glob("*.yaml"))}


def blueprint_texts(folder: Path, builtins: dict[str, RecipeText]) -> dict[str, RecipeText]:
    """The recipes of a blueprint folder's ``images/`` (none if it has no such folder). The
    folder and every file are confined like every path a blueprint names."""
    if not os.path.lexists(folder / BLUEPRINT_RECIPES):
        return {}
    problems: list[Problem] = []
    out: dict[str, RecipeText] = {}
    try:
        # Not walked: a lab's images/ may also hold its base images (gigabytes, --images-dir
        # images); only the *.yaml files read below are the blueprint's, each confined.
        confined(folder, BLUEPRINT_RECIPES, "dir", walk_dir=False)
    except Refused as exc:
        raise BlueprintError([Problem(str(folder / BLUEPRINT_RECIPES), None, "", exc.message,
                                      exc.fix)]) from None
    for entry in sorted((folder / BLUEPRINT_RECIPES).glob("*.y*ml")):
        written = f"{BLUEPRINT_RECIPES}/{entry.name}"
        try:
            path = confined(folder, written, "file")
        except Refused as exc:
            problems.append(Problem(str(entry), None, "", exc.message, exc.fix))
            continue
        try:
            text = read_recipe(path, folder, False)
        except BlueprintError as exc:
            problems += exc.problems
            continue
        if text.name in builtins:
            problems.append(text.source.problem((), f"recipe '{text.name}' has the name of a "
                                                "built-in recipe", "rename the file, and "
                                                f"write 'from: {text.name}' to extend it"))
            continue
        out[text.name] = text
    if problems:
        raise BlueprintError(problems)
    return out


def untrusted_problems(text: RecipeText) -> list[Problem]:
    """What a blueprint's recipe may only do when its user trusts it: run commands, or add a
    package source that is not Debian's."""
    why = ("the image build runs as root and a chroot is no boundary for root, so a "
           "blueprint's recipe may only choose Debian packages and add files")
    out = []
    if text.spec.commands:
        out.append(text.source.problem(("commands",), f"'commands' would run as root while "
                                       f"the image is built: {why}",
                                       f"remove 'commands:', or pass {TRUST_FLAG} if you "
                                       "trust whoever wrote this blueprint"))
    for i, line in enumerate(text.spec.sources):
        if not DEBIAN_SOURCE.match(line):
            out.append(text.source.problem(("sources", i), f"package source '{line}' is not "
                                           f"Debian's: {why}",
                                           f"remove it, or pass {TRUST_FLAG} if you trust "
                                           "whoever wrote this blueprint"))
    return out


class RecipeBook:
    """The recipes one build can see: the built-ins and a blueprint's own, resolved on demand
    (each once)."""

    def __init__(self, texts: dict[str, RecipeText]) -> None:
        self.texts = texts
        self._resolved: dict[str, Recipe] = {}

    def names(self) -> list[str]:
        return sorted(self.texts)

    def get(self, name: str) -> Recipe:
        """The resolved recipe ``name``; LookupError when there is none, BlueprintError when
        it (or a recipe it extends) is wrong."""
        if name not in self.texts:
            raise LookupError(f"unknown image recipe '{name}'")
        return self._resolve(name, ())

    def _resolve(self, name: str, stack: tuple[str, ...]) -> Recipe:
        if name in self._resolved:
            return self._resolved[name]
        text = self.texts[name]
        base = text.spec.base
        parent: Recipe | None = None
        if base not in SUITES:
            known = [n for n, t in self.texts.items() if t.builtin or not text.builtin]
            if base == name or base in stack:
                raise BlueprintError([text.source.problem(("from",), "'from' makes a cycle: "
                                     + " -> ".join((*stack, name, base)),
                                     "make one recipe extend the other, not both")])
            if base not in known:
                raise BlueprintError([text.source.problem(
                    ("from",), f"'{base}' is neither a Debian suite nor a recipe",
                    f"{closest(base, [*SUITES, *known])}")])
            if len(stack) >= MAX_DEPTH:
                raise BlueprintError([text.source.problem(
                    ("from",), f"'from' chain longer than {MAX_DEPTH} recipes",
                    "extend a recipe nearer the suite")])
            parent = self._resolve(base, (*stack, name))
        recipe = merged(text, parent)
        self._resolved[name] = recipe
        return recipe


def load_book(folder: Path | None = None, *, trust: bool = False) -> RecipeBook:
    """The built-in recipes and, for a blueprint folder, its ``images/`` recipes (every one
    resolved now, so a wrong one is told before anything is built). A blueprint recipe that
    runs commands or adds a foreign source is refused unless ``trust``."""
    builtins = builtin_texts()
    own = blueprint_texts(folder, builtins) if folder is not None else {}
    if not trust:
        problems = [p for t in own.values() for p in untrusted_problems(t)]
        if problems:
            raise BlueprintError(problems)
    book = RecipeBook({**builtins, **own})
    problems = []
    for name in own:
        try:
            book.get(name)
        except BlueprintError as exc:
            problems += exc.problems
    if problems:
        raise BlueprintError(problems)
    return book


# --------------------------------------------------------------------------- merging


def merged(text: RecipeText, parent: Recipe | None) -> Recipe:
    """The recipe ``text`` on top of ``parent`` (None: on its Debian suite)."""
    spec = text.spec
    problems: list[Problem] = []
    suite = SUITES.get(spec.base)
    own_files = _placed(text, problems)
    size = parent.disk_size if parent else DEFAULT_SIZE
    if spec.size is not None:
        try:
            size = parse_size(spec.size)
        except ValueError as exc:
            problems.append(text.source.problem(("size",), str(exc), "write e.g. 3G"))
        if not MIN_SIZE <= size <= MAX_SIZE or size % MIB:
            problems.append(text.source.problem(("size",), f"disk size {spec.size} is not a "
                                                "whole number of MiB from 256M to 1T",
                                                "write e.g. 3G"))
    app = spec.appliance
    base_app = parent or Recipe(name="", suite="", sources=(), packages=(), essential_hooks=(),
                                customize_hooks=(), cloud_cfg="", boot_cfg="", disk_size=0,
                                boot_size=0, appliance_name="", version_prefix="",
                                description="")

    def pick(key: str) -> Any:  # the appliance default: the recipe's, else its parent's
        value = getattr(app, key) if app is not None else None
        return value if value is not None else getattr(base_app, key)

    packages = tuple(sorted({*(parent.packages if parent else ()), *spec.packages}))
    network = spec.network or (parent.network if parent else "eni")
    if network == "netplan" and "netplan.io" not in packages:
        problems.append(text.source.problem(("network",), "network: netplan needs the "
                                            "netplan.io package in the image",
                                            "add netplan.io to packages"))
    sysctl = dict(parent.sysctl if parent else ())
    sysctl.update({k: str(v) for k, v in spec.sysctl.items()})
    if problems:
        raise BlueprintError(problems)
    return Recipe(
        name=text.name,
        suite=suite and spec.base or parent.suite,  # type: ignore[union-attr]
        sources=_unique((*(suite.sources if suite else parent.sources),  # type: ignore
                         *spec.sources)),
        packages=packages,
        essential_hooks=parent.essential_hooks if parent else ("essential.sh",),
        customize_hooks=parent.customize_hooks if parent else ("prune-modules.sh",
                                                               "customize.sh"),
        cloud_cfg=parent.cloud_cfg if parent else "90-gns3lab.cfg",
        boot_cfg=parent.boot_cfg if parent else "syslinux.cfg",
        disk_size=size,
        boot_size=parent.boot_size if parent else BOOT_SIZE,
        appliance_name=(app.name if app is not None and app.name else f"gns3lab {text.name}"),
        version_prefix=suite.version if suite else parent.version_prefix,  # type: ignore
        description=spec.description or f"gns3lab image {text.name} (from {spec.base})",
        files=(*(parent.files if parent else ()), *own_files),
        services=_unique((*(parent.services if parent else ()), *spec.services)),
        sysctl=tuple(sorted(sysctl.items())),
        modules=_unique((*(parent.modules if parent else ()), *spec.modules)),
        network=network,
        commands=(*(parent.commands if parent else ()), *spec.commands),
        ram=pick("ram"), vcpus=pick("vcpus"), adapters=pick("adapters"),
        adapter_type=pick("adapter_type"), port_name_format=pick("port_name_format"),
        console_type=pick("console_type"),
        origin=str(text.source.file),
        parents=(spec.base, *(parent.parents if parent else ())),
    )


def _placed(text: RecipeText, problems: list[Problem]) -> tuple[PlacedFile, ...]:
    """The recipe's own ``files:``, each confined to its folder and read for its digest."""
    out = []
    for i, f in enumerate(text.spec.files):
        try:
            path = confined(text.source.folder, f.src, "file")
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
        except Refused as exc:
            problems.append(text.source.problem(("files", i, "src"), exc.message, exc.fix))
            continue
        except OSError as exc:
            problems.append(text.source.problem(("files", i, "src"), f"'{f.src}' cannot be "
                                                f"read: {exc.strerror}",
                                                "check the file's permissions"))
            continue
        out.append(PlacedFile(source=str(path), sha256=digest, dest=f.dest,
                              mode=f.mode.zfill(4), owner=f.owner))
    return tuple(out)


def _unique(items: tuple[str, ...]) -> tuple[str, ...]:
    """``items`` without repeats, first occurrence kept."""
    return tuple(dict.fromkeys(items))
