"""Each bundled lab in the real GNS3 desktop GUI (gns3-gui 2.2.61, PyQt6), as most users see it.

gns3-gui runs under Xvfb against the test's gns3-server 2.2.61 and imports each archive (built
with ``--no-images``; tiny blank qcow2 files stand in for the base images) through its own
File > Import portable project code (tests/support/gui_driver.py, in the GUI's own venv, which
``make test`` provisions with tests/support/provision_gui.sh). Fonts are forced to the fallback:
the GUI sees only DejaVu, as a desktop without Noto Sans does, so labels are drawn in the wider
DejaVu Sans. Then, measured in the GUI's own QGraphicsScene:

- every item (icons, names, port labels, port markers, drawings) lies inside the scene
  rectangle the project declares (else it cannot be scrolled to);
- no two labels overlap, and no label lies on an icon or a port marker;
- no link crosses a node's name;
- at View > Fit in view the title and the legend stay readable.

A last archive's base image is missing on purpose: GNS3 2.2 refuses to open it with one dialog,
and the archive's README says exactly that. Pictures: ``test-artifacts/desktop-gui/``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import zipfile
from collections.abc import Iterator
from itertools import combinations
from pathlib import Path
from typing import Any

import pytest

from generator import tools
from generator.build import BuildOptions, build_lab
from tests.helpers import REPO, make_tiny_appliance
from tests.integration.test_webui import virbr0  # noqa: F401 (a fixture: the NAT node's bridge)

pytestmark = pytest.mark.slow

LABS = ["demo", "openstack-ceph-mini", "openstack-ceph"]
GUI_VENV = REPO / ".cache" / "gns3" / "gui"
PROVISION = REPO / "tests" / "support" / "provision_gui.sh"
DRIVER = REPO / "tests" / "support" / "gui_driver.py"
ARTIFACTS = REPO / "test-artifacts" / "desktop-gui"
MISSING = "missing-image"  # the archive whose base image the server lacks
TOLERANCE = 0.5  # px: boxes that only touch do not overlap
TITLE_PX, LEGEND_PX = 12.0, 8.0  # least text height on screen at Fit in view
FONTS_CONF = """<?xml version="1.0"?>
<!DOCTYPE fontconfig SYSTEM "fonts.dtd">
<fontconfig>
  <dir>/usr/share/fonts/truetype/dejavu</dir>
  <include ignore_missing="yes">/etc/fonts/conf.d</include>
  <cachedir>{cache}</cachedir>
</fontconfig>
"""


@pytest.fixture(scope="module")
def xvfb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A private X display (Xvfb picks a free number and tells it on a pipe)."""
    if shutil.which("Xvfb") is None:
        pytest.fail("Xvfb not found: apt-get install xvfb (make setup does)", pytrace=False)
    read, write = os.pipe()
    proc = subprocess.Popen(["Xvfb", "-displayfd", str(write), "-screen", "0", "1920x1080x24",
                             "-nolisten", "tcp"], pass_fds=(write,), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    os.close(write)
    with os.fdopen(read) as pipe:
        display = pipe.readline().strip()
    try:
        yield f":{display}"
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def _gui_python() -> Path:
    python = GUI_VENV / "bin" / "python"
    if not python.exists():
        proc = subprocess.run(["sh", str(PROVISION)], capture_output=True, text=True,
                              timeout=900, check=False)
        if proc.returncode != 0:
            pytest.fail(f"{PROVISION} failed:\n{proc.stderr[-2000:]}", pytrace=False)
    return python


def _archives(out: Path, images: Path) -> list[Path]:
    """The bundled labs, and the demo once more with a base image the server lacks."""
    make_tiny_appliance(images, "gns3lab Debian 12", "gns3lab-debian-12-gui.qcow2")
    built = [build_lab(REPO / "blueprints" / lab, BuildOptions(
        out_dir=out, images_dirs=(images,), no_images=True)).archive for lab in LABS]
    missing = out / "missing"
    # The demo names its image by recipe (image: debian-12): it takes the appliance that
    # `images build` writes (gns3lab-debian-12.gns3a), here one for an image the server lacks,
    # with no other image folder in sight (a build of debian-12 there would win).
    made = make_tiny_appliance(missing / "images", "gns3lab Debian 12", "gns3lab-missing.qcow2")
    made.rename(missing / "images" / "gns3lab-debian-12.gns3a")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GNS3LAB_IMAGES", str(missing / "images"))
        demo = build_lab(REPO / "blueprints" / "demo", BuildOptions(
            out_dir=missing, images_dirs=(missing / "images",), no_images=True)).archive
    return [*built, demo.rename(out / f"{MISSING}.gns3project")]


def _project(archive: Path) -> dict[str, Any]:
    with zipfile.ZipFile(archive) as zf:
        return json.loads(zf.read("project.gns3"))


@pytest.fixture(scope="module")
def reports(gns3_server_22, virbr0, xvfb: str,  # type: ignore[no-untyped-def]  # noqa: F811
            tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """One GUI session imports every archive; each one's measure, by archive name."""
    python = _gui_python()
    work = tmp_path_factory.mktemp("desktop-gui")
    archives = _archives(work / "dist", work / "images")
    for archive in archives[:-1]:  # stand-in base images for all but the last
        for node in _project(archive)["topology"]["nodes"]:
            name = node["properties"].get("hda_disk_image")
            if name and not (gns3_server_22.images_dir / name).exists():
                tools.qemu_img("create", "-q", "-f", "qcow2", gns3_server_22.images_dir / name,
                               "64M")
    (work / "fc").mkdir()
    (work / "fonts.conf").write_text(FONTS_CONF.format(cache=work / "fc"))
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env.update(HOME=str(work / "home"), XDG_CONFIG_HOME=str(work / "home" / ".config"),
               DISPLAY=xvfb, QT_QPA_PLATFORM="xcb", FONTCONFIG_FILE=str(work / "fonts.conf"))
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    proc = subprocess.run([str(python), str(DRIVER), "--server", gns3_server_22.url, "--out",
                           str(ARTIFACTS), *map(str, archives)], env=env, capture_output=True,
                          text=True, timeout=600, check=False)
    out: dict[str, dict[str, Any]] = {}
    for archive in archives:
        path = ARTIFACTS / f"{archive.stem}.json"
        if not path.exists():
            pytest.fail(f"gui_driver.py wrote no {path.name} (exit {proc.returncode}):\n"
                        f"{proc.stdout[-1500:]}{proc.stderr[-3000:]}", pytrace=False)
        out[archive.stem] = {**json.loads(path.read_text()), "archive": str(archive)}
    return out


def _opened(reports: dict[str, dict[str, Any]], lab: str) -> dict[str, Any]:
    report = reports[lab]
    assert not report.get("error"), f"{lab} did not open in the GUI: {report}"
    assert report["want"] == {k: len(report[v]) for k, v in (
        ("nodes", "icons"), ("links", "links"), ("drawings", "drawings"))}
    return report


def _overlap(a: list[float], b: list[float], gap: float = -TOLERANCE) -> bool:
    return a[0] < b[2] + gap and b[0] < a[2] + gap and a[1] < b[3] + gap and b[1] < a[3] + gap


def _labels(report: dict[str, Any]) -> list[tuple[str, list[float]]]:
    """Every text on the canvas: node names, port labels, drawings (title, legend)."""
    return ([(f"name {n['node']}", n["box"]) for n in report["names"]]
            + [(f"{p['node']}:{p['text']}", p["box"]) for p in report["ports"]]
            + [(f"drawing {d['text'][:20]!r}", d["box"]) for d in report["drawings"]])


# -- what a user sees ---------------------------------------------------------------------
@pytest.mark.parametrize("lab", LABS)
def test_the_gui_draws_the_fallback_font(lab: str, reports: dict) -> None:
    fonts = _opened(reports, lab)["fonts"]
    assert fonts == ["DejaVu Sans"], fonts


@pytest.mark.parametrize("lab", LABS)
def test_every_item_lies_inside_the_scene(lab: str, reports: dict) -> None:
    report = _opened(reports, lab)
    x0, y0, x1, y1 = report["scene"]
    outside = [(what, b) for what, b in _labels(report)
               + [(f"icon {i['node']}", i["box"]) for i in report["icons"]]
               + [(f"marker {m['node']}", m["box"]) for m in report["markers"]]
               if b[0] < x0 or b[1] < y0 or b[2] > x1 or b[3] > y1]
    assert outside == [], f"scene {report['scene']}"


@pytest.mark.parametrize("lab", LABS)
def test_no_two_labels_overlap(lab: str, reports: dict) -> None:
    labels = _labels(_opened(reports, lab))
    assert [(a, b) for (a, ba), (b, bb) in combinations(labels, 2) if _overlap(ba, bb)] == []


@pytest.mark.parametrize("lab", LABS)
def test_no_label_lies_on_an_icon_or_a_port_marker(lab: str, reports: dict) -> None:
    report = _opened(reports, lab)
    things = ([(f"icon {i['node']}", i["box"]) for i in report["icons"]]
              + [(f"marker {m['node']}", m["box"]) for m in report["markers"]])
    assert [(a, b) for a, ba in _labels(report) for b, bb in things if _overlap(ba, bb)] == []


@pytest.mark.parametrize("lab", LABS)
def test_no_link_crosses_a_node_name(lab: str, reports: dict) -> None:
    report = _opened(reports, lab)
    crossed = [(f"{lk['a']} -- {lk['b']}", n["node"]) for lk in report["links"]
               for n in report["names"] if _segment_hits(lk["line"], n["box"])]
    assert crossed == []


@pytest.mark.parametrize("lab", LABS)
def test_title_and_legend_are_readable_at_fit_in_view(lab: str, reports: dict) -> None:
    report = _opened(reports, lab)
    scale = report["fit"]["scale"]
    on_screen = sorted(round(d["px"] * scale, 1) for d in report["drawings"])
    assert len(on_screen) == 2
    assert on_screen[0] >= LEGEND_PX and on_screen[1] >= TITLE_PX, (scale, on_screen)


def test_a_missing_image_stops_the_first_open_as_the_readme_says(reports: dict) -> None:
    """GNS3 2.2 will not open the project, names the image; the README says so and where."""
    report = reports[MISSING]
    assert report.get("error") == "dialog" and report["have"]["nodes"] == 0
    assert any("gns3lab-missing.qcow2" in m for m in report["messages"]), report["messages"]
    with zipfile.ZipFile(report["archive"]) as zf:
        readme = zf.read("README.md").decode()
    assert "GNS3 2.2" in readme and "will not open" in readme
    assert "gns3lab-missing.qcow2" in readme


def _segment_hits(line: list[float], box: list[float]) -> bool:
    """Does the segment cross the box (shrunk by the tolerance)? Liang-Barsky clipping."""
    (px, py, qx, qy), b = line, [box[0] + TOLERANCE, box[1] + TOLERANCE,
                                 box[2] - TOLERANCE, box[3] - TOLERANCE]
    t0, t1, dx, dy = 0.0, 1.0, qx - px, qy - py
    for p, q in ((-dx, px - b[0]), (dx, b[2] - px), (-dy, py - b[1]), (dy, b[3] - py)):
        if p == 0:
            if q < 0:
                return False
            continue
        t = q / p
        if p < 0:
            t0 = max(t0, t)
        else:
            t1 = min(t1, t)
        if t0 > t1:
            return False
    return True
