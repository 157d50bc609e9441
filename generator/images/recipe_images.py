"""Images a blueprint names by recipe (``image: <recipe>``): which they are, which are built,
and building the missing ones before the lab.

A node's ``image: frr`` names a recipe: a built-in one or the blueprint's own
``images/frr.yaml``. Its image is the recipe's last build in an image folder (the build index
maps the recipe key to the file, named by its content); the resolve takes the appliance of that
build (:func:`lookup_for`). ``gns3lab build`` first builds every recipe image that is not in a
folder yet (:func:`ensure_images`), so one command makes a lab from nothing but Debian's
packages; a second build is a cache hit.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from generator.blueprint.appliance_schema import check_appliance
from generator.blueprint.appliances import Appliance, _parse, _with_traits, load_appliance
from generator.blueprint.load import FOLDER_BLUEPRINTS, load_blueprint, locate
from generator.blueprint.schema import Blueprint
from generator.errors import BlueprintError, ImageError
from generator.images.baseimages import ENV_IMAGES, search_dirs
from generator.images.build import BuiltImage, appliance_json, build_image, find_build
from generator.images.recipe import RECIPES, Recipe, appliance_filename, recipe_key
from generator.images.recipe_load import RecipeBook, load_book
from generator.model import Lab
from generator.paths import gns3_images_dir
from generator.resolve.nodes import ImageLookup

#: The file name an image that is not built yet stands under (validate, show, graph).
UNBUILT = "unbuilt"
Progress = Callable[[str], None]


def build_dir() -> Path:
    """Where a recipe image is built: the first ``$GNS3LAB_IMAGES`` folder, else GNS3's own
    image folder (as ``gns3lab images build``)."""
    first = next((p for p in os.environ.get(ENV_IMAGES, "").split(os.pathsep) if p), None)
    return Path(first).expanduser() if first else gns3_images_dir()


@dataclass(frozen=True)
class RecipeImage:
    """One image a blueprint names by recipe, and its build if one is in an image folder."""

    recipe: Recipe
    key: str
    built: BuiltImage | None


def book_for(blueprint: Path, *, trust: bool = True) -> RecipeBook:
    """The recipes a blueprint can name: the built-ins, and a folder blueprint's own
    ``images/`` (checked against the trust rule unless ``trust``)."""
    file = locate(Path(blueprint))
    own = file.parent if file.name in FOLDER_BLUEPRINTS else None
    return load_book(own, trust=trust)


def named_images(blueprint: Blueprint) -> list[str]:
    """Every recipe the blueprint's nodes, groups and defaults name with ``image:``."""
    layers = [blueprint.defaults, *blueprint.groups.values(), *blueprint.nodes.values()]
    return sorted({layer.image for layer in layers if layer.image})


def find_image(recipe: Recipe, dirs: list[Path]) -> RecipeImage:
    """The recipe's build in the first of ``dirs`` that holds one (None if none does)."""
    for folder in dict.fromkeys([*dirs, build_dir()]):
        built = find_build(recipe, folder)
        if built is not None:
            return RecipeImage(recipe, built.key, built)
    return RecipeImage(recipe, recipe_key(recipe), None)


def plan(blueprint: Path, images_dirs: tuple[Path, ...] = (), *, trust: bool = False
         ) -> list[RecipeImage]:
    """The recipe images a blueprint names, each with its build if there is one. A recipe
    the blueprint names that does not exist is left to the resolve (it names the line)."""
    loaded, _source = load_blueprint(blueprint)
    book = book_for(blueprint, trust=trust)
    dirs = search_dirs(images_dirs)
    return [find_image(book.get(name), dirs) for name in named_images(loaded)
            if name in book.texts]


def ensure_images(blueprint: Path, images_dirs: tuple[Path, ...] = (), *, trust: bool = False,
                  build: bool = True, progress: Progress = lambda _m: None
                  ) -> list[RecipeImage]:
    """Build every recipe image the blueprint names that no image folder holds yet (into
    :func:`build_dir`; not when ``build`` is False), saying so in progress lines; the
    images, built or found. Every recipe is checked (trust rule included) either way."""
    out = []
    for image in plan(blueprint, images_dirs, trust=trust):
        name = image.recipe.name
        if image.built is not None or not build:
            progress(f"image {name}: cached {image.built.path.name}" if image.built else
                     f"image {name}: not built (--no-images builds nothing)")
            out.append(image)
            continue
        progress(f"image {name}: building (recipe key {image.key}; a few minutes)")
        built = build_image(image.recipe, build_dir(), progress=_prefixed(progress, name))
        progress(f"image {name}: built {built.path.name}")
        out.append(RecipeImage(image.recipe, built.key, built))
    return out


def lookup_for(blueprint_file: Path, dirs: list[Path]) -> ImageLookup:
    """What the resolve asks for ``image: <name>``: the appliance of the recipe's build, or of
    a stand-in ``gns3lab-<name>-unbuilt.qcow2`` when none is built yet (validate, show).
    LookupError names the known recipes; BlueprintError tells a wrong recipe file. The
    blueprint's own recipes are read at the first ``image:``."""
    book: list[RecipeBook] = []

    def lookup(name: str) -> Appliance:
        if not book:
            book.append(book_for(blueprint_file, trust=True))
        if name not in book[0].texts:
            raise LookupError(", ".join(book[0].names()))
        image = find_image(book[0].get(name), dirs)
        if image.built is None:
            written = written_appliance(image.recipe, dirs)
            if written is not None:
                return written
        return recipe_appliance(image)

    return ImageLookup(lookup, {r.appliance_name.lower(): r.name for r in RECIPES.values()})


def lookups(dirs: list[Path]) -> Callable[[Path], ImageLookup]:
    """:func:`lookup_for` with the image folders ``dirs``, for
    :func:`generator.resolve.lab.resolve_blueprint`."""
    return lambda blueprint_file: lookup_for(blueprint_file, dirs)


def written_appliance(recipe: Recipe, dirs: list[Path]) -> Appliance | None:
    """The appliance file ``images build`` wrote for the recipe (``gns3lab-<name>.gns3a``) in
    the first image folder that has one, if it is the recipe's (its name): it describes the
    last build there, which may be of an older recipe. Only used when no build of the
    current recipe is indexed (validate, show, ``build --no-images``); ``build`` builds that
    first."""
    for folder in dict.fromkeys([*dirs, build_dir()]):
        path = folder / appliance_filename(recipe)
        if not path.is_file():
            continue
        try:
            app = load_appliance(path)
        except BlueprintError:
            continue
        if app.name == recipe.appliance_name:
            return app
    return None


def check_built(lab: Lab) -> None:
    """Refuse a lab that names an image by recipe when neither a build nor an appliance of
    it was found (``build --no-images`` does not build: the lab could not name the image)."""
    missing = sorted({n.image.recipe or "" for n in lab.vms
                      if n.image and n.image.filename.endswith(f"-{UNBUILT}.qcow2")})
    if missing:
        raise ImageError(f"no image folder holds a build of {', '.join(missing)}, and "
                         "--no-images does not build it (an archive names its image by the "
                         "image's digest)",
                         hint=f"build it first: gns3lab images build {lab.blueprint_file.parent}"
                              ", or drop --no-images")


def recipe_appliance(image: RecipeImage) -> Appliance:
    """The appliance of a recipe image (made from the recipe, as its ``.gns3a`` would be)."""
    recipe, built = image.recipe, image.built
    if built is None:  # named after its recipe file: no appliance file exists yet
        folder = build_dir()
        built = BuiltImage(path=folder / f"gns3lab-{recipe.name}-{UNBUILT}.qcow2",
                           appliance_path=Path(recipe.origin or appliance_filename(recipe)),
                           md5="0" * 32,
                           sha256=UNBUILT, size=0, virtual_size=recipe.disk_size,
                           key=image.key, cached=False)
    data = appliance_json(recipe, built)  # our own JSON: a check failing here is a bug
    app = _parse(built.appliance_path, check_appliance(data), "qemu",
                 {built.path.name: built.virtual_size})
    return _with_traits(app, data.get("vendor_name"))


def _prefixed(progress: Callable[[str], None], name: str) -> Callable[[str], None]:
    """``progress`` with each line naming the image ``name`` it is about."""
    def say(stage: str) -> None:
        progress(f"image {name}: {stage}")
    return say
