"""Image recipes are data: YAML files read, checked and resolved (``from`` chains, merging,
confinement, the trust rule), and the built-in ``debian-12`` is today's recipe, key for key."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from generator.errors import BlueprintError
from generator.images import recipe as imagerecipe
from generator.images.recipe_load import load_book
from generator.images.recipe_schema import json_schema
from tests.helpers import REPO

#: The cache key of debian-12 while it was a Python record (layout 2): the same key makes the
#: same image (the file system's UUID and the disk ids derive from it), so the move to YAML
#: changed no byte of the image (bd50e79fa44b..., built before and after).
DEBIAN_12_KEY = "2a9b7dbd0fe7"


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_debian_12_moved_to_yaml_with_the_same_key() -> None:
    recipe = imagerecipe.RECIPES["debian-12"]
    assert imagerecipe.recipe_key(recipe) == DEBIAN_12_KEY
    assert recipe.suite == "bookworm" and recipe.appliance_name == "gns3lab Debian 12"
    assert recipe.description.startswith("Debian 12 (bookworm) cloud image built offline")
    assert recipe.description.endswith("root has an empty password on the console.")


def test_shipped_schema_is_the_generated_one() -> None:
    shipped = REPO / "generator" / "data" / "schemas" / "recipe.schema.json"
    assert json.loads(shipped.read_text()) == json.loads(json.dumps(json_schema()))


def test_builtins_follow_the_schema() -> None:
    import jsonschema
    import yaml

    schema = json_schema()
    for path in (REPO / "generator" / "data" / "recipes").glob("*.yaml"):
        jsonschema.validate(yaml.safe_load(path.read_text()), schema)


def test_blueprint_recipe_extends_a_builtin_parent_first(tmp_path: Path) -> None:
    write(tmp_path, "files/motd", "hello\n")
    write(tmp_path, "images/web.yaml", "from: debian-12\npackages: [nginx-light, sudo]\n"
          "files: [{src: files/motd, dest: /etc/motd}]\nservices: [nginx]\n"
          "sysctl: {net.ipv4.ip_forward: 1}\nmodules: [vxlan]\nsize: 2G\n"
          "appliance: {ram: 256, adapters: 4}\n")
    write(tmp_path, "images/web2.yaml", "from: web\nservices: [ssh]\n"
          "sysctl: {net.ipv4.ip_forward: 0, vm.swappiness: 10}\n")
    book = load_book(tmp_path)
    web, web2 = book.get("web"), book.get("web2")
    base = imagerecipe.RECIPES["debian-12"]
    assert set(web.packages) == {*base.packages, "nginx-light"}
    assert list(web.packages) == sorted(web.packages)
    assert web.files[0].dest == "/etc/motd" and web.files[0].mode == "0644"
    assert web.disk_size == 2 << 30 and web.ram == 256 and web.adapters == 4
    assert web.appliance_name == "gns3lab web" and web.parents == ("debian-12", "bookworm")
    assert web2.services == ("nginx", "ssh") and web2.files == web.files
    assert dict(web2.sysctl) == {"net.ipv4.ip_forward": "0", "vm.swappiness": "10"}
    assert web2.ram == 256 and web2.modules == ("vxlan",)
    keys = {imagerecipe.recipe_key(r) for r in (base, web, web2)}
    assert len(keys) == 3
    # A file's bytes are part of the key; where it is read from is not.
    before = imagerecipe.recipe_key(web)
    write(tmp_path, "files/motd", "changed\n")
    assert imagerecipe.recipe_key(load_book(tmp_path).get("web")) != before


def test_unknown_key_names_file_line_and_fix(tmp_path: Path) -> None:
    write(tmp_path, "images/web.yaml", "from: debian-12\npackage: [nginx]\n")
    with pytest.raises(BlueprintError) as err:
        load_book(tmp_path)
    text = str(err.value)
    assert "images/web.yaml:2: package: unknown key 'package'" in text
    assert "did you mean 'packages'?" in text


@pytest.mark.parametrize(("body", "expected"), [
    ("from: web\n", "'from' makes a cycle: web -> web"),
    ("from: buster\n", "'buster' is neither a Debian suite nor a recipe"),
    ("from: bookworm\nnetwork: netplan\n", "netplan needs the netplan.io package"),
    ("from: bookworm\nsize: 100M\n", "not a whole number of MiB from 256M to 1T"),
    ("from: bookworm\nfiles: [{src: x, dest: /etc/../x}]\n", "has a '..' part"),
])
def test_wrong_recipes_are_refused(tmp_path: Path, body: str, expected: str) -> None:
    write(tmp_path, "x", "x\n")
    write(tmp_path, "images/web.yaml", body)
    with pytest.raises(BlueprintError, match=expected):
        load_book(tmp_path)


def test_builtin_name_is_not_shadowed(tmp_path: Path) -> None:
    write(tmp_path, "images/debian-12.yaml", "from: bookworm\n")
    with pytest.raises(BlueprintError, match="has the name of a built-in recipe"):
        load_book(tmp_path)


def test_commands_and_foreign_sources_need_trust(tmp_path: Path) -> None:
    write(tmp_path, "images/web.yaml", "from: debian-12\ncommands: [touch /x]\n"
          "sources: ['deb http://deb.debian.org/debian bookworm main contrib',\n"
          "          'deb http://example.com/apt stable main']\n")
    with pytest.raises(BlueprintError) as err:
        load_book(tmp_path)
    lines = err.value.lines()
    assert len(lines) == 2  # the Debian source is fine
    assert "images/web.yaml:2: commands:" in lines[0] and "chroot is no boundary" in lines[0]
    assert "--trust-recipe-commands" in lines[0]
    assert "images/web.yaml:4: sources[1]: package source 'deb http://example.com" in lines[1]
    trusted = load_book(tmp_path, trust=True).get("web")
    assert trusted.commands == ("touch /x",) and len(trusted.sources) == 4


def test_files_are_confined_to_the_blueprint_folder(tmp_path: Path) -> None:
    folder = tmp_path / "bp"
    write(tmp_path, "secret", "host file\n")
    write(folder, "images/up.yaml", "from: debian-12\nfiles: [{src: ../secret, dest: /x}]\n")
    with pytest.raises(BlueprintError, match=r"up.yaml:2: files\[0\].src: '../secret' leaves"):
        load_book(folder)
    write(folder, "images/up.yaml", "from: debian-12\nfiles: [{src: link, dest: /x}]\n")
    os.symlink(tmp_path / "secret", folder / "link")
    with pytest.raises(BlueprintError, match="symlink that leads out of the blueprint folder"):
        load_book(folder)


def test_recipe_file_outside_the_folder_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "bp"
    write(tmp_path, "elsewhere/web.yaml", "from: debian-12\ncommands: [id]\n")
    (folder / "images").mkdir(parents=True)
    os.symlink(tmp_path / "elsewhere/web.yaml", folder / "images/web.yaml")
    with pytest.raises(BlueprintError, match="is a symlink"):
        load_book(folder)
    os.unlink(folder / "images/web.yaml")
    os.rmdir(folder / "images")
    os.symlink(tmp_path / "elsewhere", folder / "images")
    with pytest.raises(BlueprintError, match="symlink that leads out of the blueprint folder"):
        load_book(folder)


OWN = REPO / "tests" / "data" / "blueprints" / "own-recipe"


def cli(args: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from click.testing import CliRunner

    from generator.cli import main

    monkeypatch.setenv("GNS3LAB_IMAGES", str(tmp_path / "cache"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    return CliRunner().invoke(main, args)


def test_validate_says_which_images_a_build_makes(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    result = cli(["validate", str(OWN)], tmp_path, monkeypatch)
    assert result.exit_code == 0, result.output
    key = imagerecipe.recipe_key(load_book(OWN).get("web"))
    assert result.output.splitlines()[-1] == f"image web: build will make it (recipe key {key})"
    shown = cli(["images", "list", str(OWN), "--json"], tmp_path, monkeypatch)
    assert json.loads(shown.output)[0]["build"] == "web"


def test_commands_refused_before_anything_is_built(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil

    folder = tmp_path / "bp"
    shutil.copytree(OWN, folder)
    with (folder / "images" / "web.yaml").open("a") as f:
        f.write("commands: [touch /root/owned]\n")
    for args in (["build", str(folder), "-o", str(tmp_path / "out")],
                 ["images", "build", str(folder)], ["validate", str(folder)]):
        result = cli(args, tmp_path, monkeypatch)
        assert result.exit_code == 2, result.output
        assert f"{folder}/images/web.yaml:13: commands: 'commands' would run as root" \
            in result.output
        assert "--trust-recipe-commands" in result.output
    assert not (tmp_path / "cache").exists() and not (tmp_path / "out").exists()
