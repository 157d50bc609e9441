"""``gns3lab verify`` (issue 10 deliverable 3, issue 9's image checks on arrival).

Golden cases (``tests/data/golden/verify/<case>.txt``: exit code and output, the temp folder
written ``<tmp>``): a fresh archive passes, bundled or not; a flipped byte, a missing member,
an extra member, a backing name that is a path, a project file with an unknown key and a seed
ISO without ``meta-data`` are each caught with their own message; and the corruption case of
issue 9: an archive built on image A, a different file of the same name in another folder,
``verify --images-dir`` refuses it. Archives are built once with the real qemu-img; each case
rewrites a copy (and, where the case is not about the manifest, re-seals the manifest so that
only the case's own problem shows).
"""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from generator import tools
from generator.build import BuildOptions, build_lab
from generator.cli import main
from generator.read.schemas import SCHEMAS, SERVER_SCHEMAS
from tests.helpers import DATA, REPO, make_tiny_appliance, stale_goldens

pytestmark = pytest.mark.slow  # builds archives (qemu-img, ssh-keygen), GNS3 server venvs

GOLDEN = DATA / "golden" / "verify"
MANIFEST = "gns3lab/manifest.json"
IMAGE = "verify-base.qcow2"
BLUEPRINT = """\
name: verifylab
version: "1.0"
ssh_key: id_ed25519
networks:
  lan: {cidr: 10.30.0.0/24}
defaults: {appliance: Verify Guest, ram: 64}
nodes:
  vm1:
    seed: true
    interfaces: {eth0: {network: lan, address: 11}}
  vm2:
    seed: true
    disks: [{size: 64M}]
    interfaces: {eth0: {network: lan, address: 12}}
links:
  - vm1:eth0 -- vm2:eth0
"""


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One archive without its image, one with it bundled; the folder with image A."""
    root = tmp_path_factory.mktemp("verify")
    images = root / "images-a"
    make_tiny_appliance(images, "Verify Guest", IMAGE, size="80M")
    bp = root / "bp"
    bp.mkdir()
    (bp / "lab.yaml").write_text(BLUEPRINT)
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "verify",
                    "-f", str(bp / "id_ed25519")], check=True)
    plain = build_lab(bp, BuildOptions(out_dir=root / "plain", images_dirs=(images,),
                                       include_images=False)).archive
    bundled = build_lab(bp, BuildOptions(out_dir=root / "bundled", images_dirs=(images,))
                        ).archive
    return {"plain": plain, "bundled": bundled, "images": images, "root": root}


@pytest.fixture(autouse=True)
def no_default_images(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The default image folders (cache, ~/GNS3) are empty temp folders here."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("GNS3LAB_IMAGES", str(tmp_path / "cache"))


def rewrite(src: Path, dst: Path, change: Callable[[dict[str, bytes]], None],
            reseal: bool = True) -> Path:
    """Copy archive ``src`` to ``dst`` with ``change`` applied to its members (name ->
    bytes); ``reseal`` records the changed members' sha256/size in the manifest, as a
    careful forger would."""
    with zipfile.ZipFile(src) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    before = dict(members)
    change(members)
    if reseal:
        manifest = json.loads(members[MANIFEST])
        for name, data in members.items():
            if name != MANIFEST and before.get(name) != data:
                manifest["files"][name] = {"sha256": hashlib.sha256(data).hexdigest(),
                                           "size": len(data)}
        members[MANIFEST] = json.dumps(manifest).encode()
    with zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return dst


def node_file(members: dict[str, bytes], node: str, suffix: str) -> str:
    project = json.loads(members["project.gns3"])
    (node_id,) = [n["node_id"] for n in project["topology"]["nodes"] if n["name"] == node]
    return next(n for n in members if n.startswith(f"project-files/qemu/{node_id}/")
                and n.endswith(suffix))


def flip_byte(members: dict[str, bytes]) -> None:
    data = bytearray(members["gns3lab/blueprint/lab.yaml"])
    data[10] ^= 0x01
    members["gns3lab/blueprint/lab.yaml"] = bytes(data)


def backing_path(tmp: Path) -> Callable[[dict[str, bytes]], None]:
    def change(members: dict[str, bytes]) -> None:
        overlay = tmp / "overlay.qcow2"
        tools.qemu_img("create", "-q", "-f", "qcow2", "-u", "-F", "qcow2", "-b",
                       f"/home/builder/images/{IMAGE}", overlay, "80M")
        members[node_file(members, "vm1", "hda_disk.qcow2")] = overlay.read_bytes()
    return change


def unknown_key(members: dict[str, bytes]) -> None:
    project = json.loads(members["project.gns3"])
    project["unknown_key"] = True
    members["project.gns3"] = json.dumps(project, indent=4).encode()


def seed_without_meta_data(members: dict[str, bytes]) -> None:
    import pycdlib

    name = node_file(members, "vm2", ".iso")
    iso = pycdlib.PyCdlib()
    iso.new(interchange_level=3, joliet=3, rock_ridge="1.09", vol_ident="cidata")
    user = b"#cloud-config\nhostname: vm2\n"
    iso.add_fp(io.BytesIO(user), len(user), "/USER_DATA.;1", rr_name="user-data",
               joliet_path="/user-data")
    out = io.BytesIO()
    iso.write_fp(out)
    iso.close()
    members[name] = out.getvalue()


CASES: dict[str, tuple[str, Callable[[Path], Callable[[dict[str, bytes]], None]] | None,
                       bool]] = {
    # case: (archive, change, reseal)
    "fresh": ("plain", None, True),
    "fresh-bundled": ("bundled", None, True),
    "flipped-byte": ("plain", lambda tmp: flip_byte, False),
    "missing-member": ("plain", lambda tmp: lambda m: m.pop("topology.svg") and None, False),
    "extra-member": ("plain", lambda tmp: lambda m: m.update({"notes.txt": b"hi\n"}), False),
    "backing-path": ("plain", backing_path, True),
    "unknown-key": ("plain", lambda tmp: unknown_key, True),
    "seed-without-meta-data": ("plain", lambda tmp: seed_without_meta_data, True),
}


def run_verify(*args: str | Path) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["verify", *map(str, args)])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, result.output


def check_golden(request: pytest.FixtureRequest, case: str, text: str) -> None:
    golden = GOLDEN / f"{case}.txt"
    if request.config.getoption("--update-golden"):
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(text)
    assert text == golden.read_text(), f"golden {golden.name} differs"


def normalise(text: str, *roots: Path) -> str:
    for root in roots:
        text = text.replace(str(root), "<tmp>")
    return text


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(CASES))
def test_verify_golden(case: str, built: dict[str, Path], tmp_path: Path,
                       request: pytest.FixtureRequest) -> None:
    which, make, reseal = CASES[case]
    archive = built[which]
    if make is not None:
        archive = rewrite(archive, tmp_path / f"{case}.gns3project", make(tmp_path), reseal)
    # The bundled archive needs no image folder: its image is inside.
    dirs = ["--images-dir", str(built["images"])] if which == "plain" else []
    code, output = run_verify(archive, *dirs)
    check_golden(request, case, f"exit {code}\n"
                 + normalise(output, tmp_path, built["root"]))
    assert code == (0 if case.startswith("fresh") else 2)


@pytest.mark.slow
def test_verify_refuses_another_image_of_the_same_name(built: dict[str, Path],
                                                       tmp_path: Path,
                                                       request: pytest.FixtureRequest) -> None:
    """Issue 9's corruption case: built on image A; folder B holds another file named A."""
    other = tmp_path / "images-b"
    other.mkdir()
    tools.qemu_img("create", "-q", "-f", "qcow2", other / IMAGE, "96M")
    code, output = run_verify(built["plain"], "--images-dir", other)
    check_golden(request, "other-image-same-name", f"exit {code}\n"
                 + normalise(output, tmp_path, built["root"]))
    assert code == 2
    a, b = built["images"] / IMAGE, other / IMAGE
    for digest in (hashlib.md5(a.read_bytes()), hashlib.sha256(a.read_bytes()),
                   hashlib.md5(b.read_bytes()), hashlib.sha256(b.read_bytes())):
        assert digest.hexdigest() in output  # both checksums of both files
    assert "Fix: replace it with the archive's image" in output
    # The right folder first: it passes.
    assert run_verify(built["plain"], "--images-dir", built["images"])[0] == 0


@pytest.mark.slow
def test_verify_json_names_each_check(built: dict[str, Path], tmp_path: Path) -> None:
    archive = rewrite(built["plain"], tmp_path / "x.gns3project",
                      lambda m: (flip_byte(m), m.update({"notes.txt": b"x"})), reseal=False)
    code, output = run_verify(archive, "--json")
    report = json.loads(output)
    assert code == 2 and report["ok"] is False
    by_subject = {p["subject"]: p for p in report["problems"]}
    assert by_subject["gns3lab/blueprint/lab.yaml"]["check"] == "members"
    assert "not in the manifest" in by_subject["notes.txt"]["message"]
    assert by_subject[IMAGE]["check"] == "images"  # no --images-dir: not found
    assert "base image not found" in by_subject[IMAGE]["message"]
    assert report["checked"] == {"members": report["checked"]["members"], "overlays": 3,
                                 "seeds": 2, "images": 1}
    code, output = run_verify(built["bundled"], "--json")
    assert code == 0 and json.loads(output)["problems"] == []


EXPORT = """\
import json, gns3server
if gns3server.__version__.startswith("2."):
    from gns3server.schemas import cloud, ethernet_switch, qemu, topology
    out = {"topology": topology.TOPOLOGY_SCHEMA, "qemu": qemu.QEMU_CREATE_SCHEMA,
           "cloud": cloud.CLOUD_CREATE_SCHEMA,
           "ethernet_switch": ethernet_switch.ETHERNET_SWITCH_CREATE_SCHEMA}
else:
    from gns3server.schemas.compute import (cloud_nodes, ethernet_switch_nodes, nat_nodes,
                                            qemu_nodes)
    from gns3server.schemas.controller.topology import Topology
    out = {"topology": Topology.model_json_schema(),
           "qemu": qemu_nodes.QemuCreate.model_json_schema(),
           "cloud": cloud_nodes.CloudCreate.model_json_schema(),
           "nat": nat_nodes.NATCreate.model_json_schema(),
           "ethernet_switch": ethernet_switch_nodes.EthernetSwitchCreate.model_json_schema()}
print(json.dumps({"version": gns3server.__version__, "schemas": out}, indent=1,
                 sort_keys=True))
"""


@pytest.mark.slow
@pytest.mark.parametrize("venv, name", [("v22", SERVER_SCHEMAS[0]), ("v30", SERVER_SCHEMAS[1])])
def test_schemas_are_the_servers_own(venv: str, name: str) -> None:
    """generator/data/schemas/ are exported unchanged from the real servers."""
    python = REPO / ".cache" / "gns3" / venv / "bin" / "python"
    if not python.exists():
        subprocess.run(["bash", str(REPO / "tests" / "support" / "provision_gns3.sh")],
                       check=True)
    exported = subprocess.run([str(python), "-P", "-c", EXPORT], capture_output=True,
                              text=True, check=True, timeout=120).stdout
    assert json.loads(exported) == json.loads((SCHEMAS / name).read_text())


def test_every_verify_golden_belongs_to_a_case(request: pytest.FixtureRequest) -> None:
    """A file under tests/data/golden/verify/ that no test writes is stale (``--update-golden``
    deletes it)."""
    expected = {f"{case}.txt" for case in CASES} | {"other-image-same-name.txt"}
    assert stale_goldens(request, GOLDEN, expected) == []
