"""An image recipe as written: pydantic records for every key of ``<name>.yaml``, and its JSON
Schema (``generator/data/schemas/recipe.schema.json``).

A recipe names its base (``from``: a Debian suite, or another recipe) and what it adds: Debian
packages, files, services, sysctl keys, kernel modules, cloud-init's network renderer, the disk
size, and the defaults of its ``.gns3a``. :mod:`generator.images.recipe_load` reads a file into
these records and resolves the ``from`` chain into a :class:`generator.images.recipe.Recipe`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, field_validator

from generator.blueprint.schema import LINE_RE, MODE_RE, Size, Strict

#: A recipe's name: its file stem, and part of the image's file name.
RECIPE_NAME_RE = r"^[a-z0-9][a-z0-9.-]{0,47}$"
#: A Debian package name as apt takes it (no version pins: the suite decides).
PACKAGE_RE = r"^[a-z0-9][a-z0-9+.-]{0,127}$"
#: A systemd unit (``.service`` may be left out).
UNIT_RE = r"^[A-Za-z0-9][A-Za-z0-9:_.@-]{0,127}$"
#: A kernel module name (modprobe takes - and _ alike).
MODULE_RE = r"^[a-z0-9][a-z0-9_-]{0,63}$"
#: A sysctl key, dotted (``net.ipv4.ip_forward``).
SYSCTL_RE = r"^[a-z0-9_][a-z0-9_.-]{0,127}$"
#: An absolute path in the image, without spaces (``..`` is refused by its validator).
DEST_RE = r"^/[A-Za-z0-9_.@+:,=-][A-Za-z0-9_./@+:,=-]{0,1023}$"
#: ``user`` or ``user:group``.
OWNER_RE = r"^[a-z_][a-z0-9_-]{0,31}(:[a-z_][a-z0-9_-]{0,31})?$"

Package = Annotated[str, Field(pattern=PACKAGE_RE)]
OneLine = Annotated[str, Field(pattern=LINE_RE, max_length=4096)]


class RecipeFile(Strict):
    """A file placed into the image after its packages are installed."""

    src: str = Field(max_length=4096, description="The file, relative to the recipe's folder "
                     "(a blueprint's own recipe: the blueprint folder).")
    dest: str = Field(pattern=DEST_RE, description="Absolute path in the image.")
    mode: str = Field("0644", pattern=MODE_RE, description="Octal mode, e.g. '0644'.")
    owner: str = Field("root:root", pattern=OWNER_RE, description="user or user:group.")

    @field_validator("dest")
    @classmethod
    def _no_dotdot(cls, v: str) -> str:
        if ".." in v.split("/"):
            raise ValueError(f"'{v}' has a '..' part: write the path it means")
        return v


class ApplianceDefaults(Strict):
    """Defaults of the image's ``.gns3a`` (a node's own settings still win)."""

    name: str | None = Field(None, pattern=r"^[A-Za-z0-9][A-Za-z0-9 ._+()-]{0,63}$",
                             description="Appliance name (default: 'gns3lab <recipe>').")
    ram: int | None = Field(None, ge=64, le=1 << 20, description="RAM in MB.")
    vcpus: int | None = Field(None, ge=1, le=64)
    adapters: int | None = Field(None, ge=1, le=64, description="Network adapters.")
    adapter_type: str | None = Field(None, pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$",
                                     description="QEMU NIC model, e.g. virtio-net-pci.")
    port_name_format: str | None = Field(None, pattern=r"^[A-Za-z0-9_./-]*\{0\}[A-Za-z0-9_./-]*$",
                                         max_length=32, description="e.g. eth{0}.")
    console_type: Literal["telnet", "vnc", "spice", "none"] | None = None


class RecipeSpec(Strict):
    """One recipe file (``generator/data/recipes/<name>.yaml`` or a blueprint's
    ``images/<name>.yaml``)."""

    description: str = Field("", max_length=4096)
    base: str = Field(alias="from", pattern=RECIPE_NAME_RE,
                      description="A Debian suite (bookworm, trixie) or a recipe to extend.")
    packages: list[Package] = Field(default_factory=list, max_length=1000,
                                    description="Debian packages, added to the parent's.")
    files: list[RecipeFile] = Field(default_factory=list, max_length=1000,
                                    description="Placed after the packages are installed.")
    services: list[Annotated[str, Field(pattern=UNIT_RE)]] = Field(
        default_factory=list, max_length=200, description="systemd units to enable.")
    sysctl: dict[Annotated[str, Field(pattern=SYSCTL_RE)],
                 int | Annotated[str, Field(pattern=r"^[A-Za-z0-9 _./:,-]{0,256}$")]] = Field(
        default_factory=dict, max_length=500, description="Kernel settings at boot.")
    modules: list[Annotated[str, Field(pattern=MODULE_RE)]] = Field(
        default_factory=list, max_length=200,
        description="Kernel modules kept in the image and loaded at boot.")
    network: Literal["eni", "netplan"] | None = Field(
        None, description="cloud-init's network renderer: eni (ifupdown) or netplan "
        "(systemd-networkd; needs netplan.io in packages).")
    size: Size | None = Field(None, description="Disk size, e.g. 3G.")
    appliance: ApplianceDefaults | None = None
    commands: list[OneLine] = Field(
        default_factory=list, max_length=200,
        description="Shell run inside the image (as root) during the build. Refused in a "
        "blueprint's recipe unless --trust-recipe-commands.")
    sources: list[OneLine] = Field(
        default_factory=list, max_length=50,
        description="Extra apt source lines. Sources other than Debian's are refused in a "
        "blueprint's recipe unless --trust-recipe-commands.")


def json_schema() -> dict[str, Any]:
    """The JSON Schema of recipe files (shipped as ``data/schemas/recipe.schema.json``)."""
    schema = RecipeSpec.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "gns3lab image recipe"
    return schema
