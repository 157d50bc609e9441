"""Image recipes and the names of what they build.

A :class:`Recipe` holds everything that decides an image's content; :func:`recipe_key` hashes
it (with the helper files under ``generator/data/imagebuild``). A built image is named by its
own content, ``gns3lab-<recipe>-<sha256[:12]>.qcow2`` (:func:`image_filename`), and
:func:`recipe_of` reads the recipe back from such a name.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from generator.errors import ImageError

#: Bump when the Python side of the build (disk layout, mmdebstrap flags) changes.
LAYOUT_VERSION = "2"
MIB = 1024 * 1024
DATA = "imagebuild"


@dataclass(frozen=True)
class Recipe:
    """Everything that decides an image's content. All of it goes into the cache key."""

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


DEBIAN_12 = Recipe(
    name="debian-12",
    suite="bookworm",
    sources=(
        "deb http://deb.debian.org/debian bookworm main",
        "deb http://deb.debian.org/debian-security bookworm-security main",
    ),
    packages=tuple(sorted((
        "systemd-sysv", "udev", "linux-image-cloud-amd64", "cloud-init", "ifupdown", "ifenslave",
        "vlan", "bridge-utils", "iproute2", "iputils-ping", "netbase", "python3",
        "openssh-server", "openssh-client", "sudo", "isc-dhcp-client", "dnsmasq-base",
        "nftables", "ansible-core",
    ))),
    essential_hooks=("essential.sh",),
    customize_hooks=("prune-modules.sh", "customize.sh"),
    cloud_cfg="90-gns3lab.cfg",
    boot_cfg="syslinux.cfg",
    disk_size=3 * 1024 * MIB,
    boot_size=64 * MIB,
    appliance_name="gns3lab Debian 12",
    version_prefix="12",
    description=(
        "Debian 12 (bookworm) cloud image built offline by gns3lab: cloud-init (NoCloud seed on "
        "the IDE cdrom), openssh-server, ansible-core, ifupdown/bridge/vlan/bonding, nftables, "
        "dnsmasq-base. Virtio disk and NICs only (cloud kernel), serial console on ttyS0, NICs "
        "eth0..ethN. Test image: root has an empty password on the console."
    ),
)

#: Recipes by name; add more here.
RECIPES: dict[str, Recipe] = {DEBIAN_12.name: DEBIAN_12}


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
    return [*recipe.essential_hooks, *recipe.customize_hooks, recipe.cloud_cfg, recipe.boot_cfg]


def recipe_key(recipe: Recipe) -> str:
    """Short hash of everything that decides the image content."""
    h = hashlib.sha256()
    fields = {k: v for k, v in recipe.__dict__.items() if k != "description"}
    h.update(json.dumps({"layout": LAYOUT_VERSION, **fields}, sort_keys=True).encode())
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
