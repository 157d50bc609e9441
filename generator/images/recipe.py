"""Image recipes and the names of what they build.

A :class:`Recipe` holds everything that decides an image's content; :func:`recipe_key` hashes
it (with the helper files under ``generator/data/imagebuild``). A built image is named by its
own content, ``gns3lab-<recipe>-<sha256[:12]>.qcow2`` (:func:`image_filename`), and
:func:`recipe_of` reads the recipe back from such a name.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, fields
from importlib import resources
from pathlib import Path

from generator.errors import ImageError

#: Bump when the Python side of the build (disk layout, mmdebstrap flags) changes.
LAYOUT_VERSION = "2"
MIB = 1024 * 1024
DATA = "imagebuild"


@dataclass(frozen=True)
class PlacedFile:
    """A file a recipe places into the image: where it is read from, its digest (checked
    again when it is staged for the build), and where it goes."""

    source: str
    sha256: str
    dest: str
    mode: str = "0644"
    owner: str = "root:root"


@dataclass(frozen=True)
class Recipe:
    """Everything that decides an image's content, resolved from its ``from`` chain (see
    :mod:`generator.images.recipe_load`). All of it but ``description``, ``origin`` and
    ``parents`` goes into the cache key; a field added after layout 2 goes in only when it is
    not its default, so a recipe that does not use it keeps its key (and its image bytes: the
    file system's UUID and the disk's ids derive from the key)."""

    name: str
    suite: str
    sources: tuple[str, ...]
    packages: tuple[str, ...]
    essential_hooks: tuple[str, ...]
    customize_hooks: tuple[str, ...]
    cloud_cfg: str
    boot_cfg: str
    disk_size: int
    boot_size: int
    appliance_name: str
    version_prefix: str
    description: str
    #: SOURCE_DATE_EPOCH of the build: every timestamp the build makes is at most this.
    source_date_epoch: int = 1735689600  # 2025-01-01T00:00:00Z
    files: tuple[PlacedFile, ...] = ()
    services: tuple[str, ...] = ()
    sysctl: tuple[tuple[str, str], ...] = ()
    modules: tuple[str, ...] = ()
    network: str = "eni"
    commands: tuple[str, ...] = ()
    ram: int = 512
    vcpus: int = 1
    adapters: int = 1
    adapter_type: str = "virtio-net-pci"
    port_name_format: str = "eth{0}"
    console_type: str = "telnet"
    #: The recipe file, for messages ("" for one made in Python).
    origin: str = ""
    #: The recipes it extends, nearest first (the suite last).
    parents: tuple[str, ...] = ()

    @property
    def customized(self) -> bool:
        """Whether the build runs the recipe step (files, services, sysctl, network)."""
        return bool(self.files or self.services or self.sysctl or self.modules
                    or self.network != "eni")


#: Not part of the image: left out of the cache key.
UNKEYED = ("description", "origin", "parents")
#: Fields added after layout 2: keyed only when set, so older recipes keep their keys.
OPTIONAL_DEFAULTS = {f.name: f.default for f in fields(Recipe)
                     if f.name in ("files", "services", "sysctl", "modules", "network",
                                   "commands", "ram", "vcpus", "adapters", "adapter_type",
                                   "port_name_format", "console_type")}
#: Helper files of the recipe step and of the module keeping (used only when a recipe needs).
RECIPE_HOOK = "apply-recipe.sh"
MODULES_HOOK = "keep-modules.sh"


# --------------------------------------------------------------------------- recipe and naming


def data_file(name: str) -> Path:
    """Path of a helper file shipped as package data under ``generator/data/imagebuild``."""
    path = Path(str(resources.files("generator") / "data" / DATA / name))
    if not path.is_file():
        raise ImageError(f"image build helper file missing: {path}",
                         hint="reinstall gns3lab; the package data is incomplete")
    return path


def recipe_files(recipe: Recipe) -> list[str]:
    """Names of the helper files a recipe uses, in a fixed order."""
    extra = [*([MODULES_HOOK] if recipe.modules else []),
             *([RECIPE_HOOK] if recipe.customized else [])]
    return [*recipe.essential_hooks, *recipe.customize_hooks, recipe.cloud_cfg, recipe.boot_cfg,
            *extra]


def key_fields(recipe: Recipe) -> dict:
    """The recipe's fields that decide the image, as JSON values (a placed file by its digest,
    destination, mode and owner: never by where it is read from)."""
    out: dict = {}
    for f in fields(Recipe):
        value = getattr(recipe, f.name)
        if f.name in UNKEYED or (f.name in OPTIONAL_DEFAULTS
                                 and value == OPTIONAL_DEFAULTS[f.name]):
            continue
        if f.name == "files":
            value = [[p.sha256, p.dest, p.mode, p.owner] for p in value]
        out[f.name] = value
    return out


def recipe_key(recipe: Recipe) -> str:
    """Short hash of everything that decides the image content."""
    h = hashlib.sha256()
    h.update(json.dumps({"layout": LAYOUT_VERSION, **key_fields(recipe)},
                        sort_keys=True).encode())
    for name in recipe_files(recipe):
        h.update(name.encode() + b"\0" + data_file(name).read_bytes() + b"\0")
    return h.hexdigest()[:12]


def get_recipe(name: str) -> Recipe:
    """The recipe called ``name``, or an ImageError listing the known ones."""
    try:
        return RECIPES[name]
    except KeyError:
        raise ImageError(f"unknown image recipe: {name!r}",
                         hint=f"known recipes: {', '.join(sorted(RECIPES))}") from None


def image_filename(recipe: Recipe, sha256: str) -> str:
    """File name of a qcow2 image of ``recipe`` whose content has digest ``sha256``."""
    return f"gns3lab-{recipe.name}-{sha256[:12]}.qcow2"


def recipe_of(filename: str) -> Recipe:
    """The recipe an image file name ``gns3lab-<recipe>-<12 hex>.qcow2`` was built from."""
    for recipe in sorted(RECIPES.values(), key=lambda r: -len(r.name)):
        prefix = f"gns3lab-{recipe.name}-"
        rest = filename.removeprefix(prefix).removesuffix(".qcow2")
        if filename.startswith(prefix) and filename.endswith(".qcow2") and \
                len(rest) == 12 and all(c in "0123456789abcdef" for c in rest):
            return recipe
    raise ImageError(f"{filename} is not named like an image gns3lab built "
                     "(gns3lab-<recipe>-<sha256[:12]>.qcow2)",
                     hint=f"known recipes: {', '.join(sorted(RECIPES))}")


def appliance_filename(recipe: Recipe) -> str:
    """File name of the appliance file for ``recipe``."""
    return f"gns3lab-{recipe.name}.gns3a"


def builtin_recipes() -> dict[str, Recipe]:
    """The recipes shipped in ``generator/data/recipes``, resolved, by name."""
    from generator.images.recipe_load import RecipeBook, builtin_texts

    book = RecipeBook(builtin_texts())
    return {name: book.get(name) for name in book.names()}


#: The built-in recipes by name (``generator/data/recipes/*.yaml``).
RECIPES: dict[str, Recipe] = builtin_recipes()
DEBIAN_12 = RECIPES["debian-12"]
