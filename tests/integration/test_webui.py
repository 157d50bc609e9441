"""Each bundled lab in GNS3 2.2.61's own web UI, in a real headless Chromium.

The archive is built with ``--no-images``, imported into a real gns3-server 2.2.61 and opened
(tiny blank qcow2 files stand in for the base images; the NAT node needs a ``virbr0`` bridge,
made here as root). Chromium (Debian's ``chromium``), driven over its DevTools protocol on a
pipe, loads ``/static/web-ui/server/1/project/<id>``: the canvas must hold every node name and
one link path per link. The screenshot is kept in ``test-artifacts/webui/<lab>.png``.

A second load switches the web UI to the labels the project stores (its "show interface labels"
without "integrate link labels") and measures every label as Chromium draws it: no two may
overlap, the canvas_quality figures checked against the real rendering.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from generator import tools
from generator.build import BuildOptions, BuildResult, build_lab
from tests.helpers import REPO, make_tiny_appliance

pytestmark = pytest.mark.slow

LABS = ["demo", "openstack-ceph", "openstack-ceph-mini"]
ARTIFACTS = REPO / "test-artifacts" / "webui"
WINDOW = (2600, 1700)
RENDER_TIMEOUT = 90.0


class Chromium:
    """Headless Chromium on ``--remote-debugging-pipe`` (fds 3 and 4), one page attached."""

    def __init__(self, profile: Path) -> None:
        exe = shutil.which("chromium")
        if exe is None:
            pytest.fail("chromium not found: apt-get install chromium (make setup does)",
                        pytrace=False)
        to_child_r, self._to_child = os.pipe()
        self._from_child, from_child_w = os.pipe()

        def plumb() -> None:  # the pipe ends become the child's fds 3 and 4
            os.dup2(to_child_r, 3)
            os.dup2(from_child_w, 4)

        argv = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                "--remote-debugging-pipe", f"--user-data-dir={profile}",
                f"--window-size={WINDOW[0]},{WINDOW[1]}", "--no-first-run", "about:blank"]
        self.proc = subprocess.Popen(argv, preexec_fn=plumb, close_fds=False,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(to_child_r)
        os.close(from_child_w)
        self._buffer = b""
        self._next = 0
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.call("Target.attachToTarget", targetId=target,
                                 flatten=True)["sessionId"]
        self.call("Page.enable", session=True)
        self.call("Emulation.setDeviceMetricsOverride", session=True, width=WINDOW[0],
                  height=WINDOW[1], deviceScaleFactor=1, mobile=False)

    def call(self, method: str, session: bool = False, **params: Any) -> dict[str, Any]:
        self._next += 1
        message: dict[str, Any] = {"id": self._next, "method": method, "params": params}
        if session:
            message["sessionId"] = self.session
        os.write(self._to_child, json.dumps(message).encode() + b"\0")
        while True:
            answer = self._read()
            if answer.get("id") == self._next:
                if "error" in answer:
                    raise RuntimeError(f"{method}: {answer['error']}")
                return answer.get("result", {})

    def _read(self) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            chunk = os.read(self._from_child, 1 << 20)
            if not chunk:
                raise RuntimeError("chromium closed its DevTools pipe")
            self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(raw)

    def evaluate(self, expression: str) -> Any:
        result = self.call("Runtime.evaluate", session=True, expression=expression,
                           returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def navigate(self, url: str) -> None:
        self.call("Page.navigate", session=True, url=url)

    def screenshot(self, path: Path) -> None:
        data = self.call("Page.captureScreenshot", session=True, format="png")["data"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))

    def close(self) -> None:
        try:
            self.call("Browser.close")
        except (RuntimeError, OSError):
            pass
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._to_child)
        os.close(self._from_child)


@pytest.fixture(scope="module")
def virbr0() -> Iterator[None]:
    """libvirt's default bridge, which GNS3's NAT node attaches to (made here when missing)."""
    made = False
    if subprocess.run(["ip", "link", "show", "virbr0"], capture_output=True).returncode != 0:
        if os.geteuid() != 0:
            pytest.fail("the NAT node needs a virbr0 bridge: run as root or "
                        "`ip link add virbr0 type bridge`", pytrace=False)
        subprocess.run(["ip", "link", "add", "virbr0", "type", "bridge"], check=True)
        subprocess.run(["ip", "link", "set", "virbr0", "up"], check=True)
        made = True
    yield
    if made:
        subprocess.run(["ip", "link", "delete", "virbr0"], check=False)


@pytest.fixture(scope="module")
def chromium(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chromium]:
    browser = Chromium(tmp_path_factory.mktemp("chromium-profile"))
    yield browser
    browser.close()


@pytest.fixture(scope="module")
def appliance_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("webui-images")
    make_tiny_appliance(folder, "gns3lab Debian 12", "gns3lab-debian-12-webui.qcow2")
    return folder


def _build(lab: str, appliances: Path, out: Path) -> BuildResult:
    return build_lab(REPO / "blueprints" / lab, BuildOptions(out_dir=out, images_dirs=(
        appliances,), no_images=True))


def _stand_in_images(project: dict[str, Any], images_dir: Path) -> None:
    """A tiny blank qcow2 under each base image name the project uses."""
    for node in project["topology"]["nodes"]:
        name = node["properties"].get("hda_disk_image")
        if name and not (images_dir / name).exists():
            tools.qemu_img("create", "-q", "-f", "qcow2", images_dir / name, "64M")


def _wait(browser: Chromium, expression: str, timeout: float = RENDER_TIMEOUT) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = browser.evaluate(expression)
        if value:
            return value
        if time.monotonic() > deadline:
            browser.screenshot(ARTIFACTS / "timeout.png")
            page = browser.evaluate("location.href + ' ' + document.body.innerText.slice(0, 500)")
            pytest.fail(f"web UI never satisfied: {expression}\npage: {page}", pytrace=False)
        time.sleep(0.5)


CANVAS = """(() => {
  const names = [...document.querySelectorAll('g.node text.label')].map(t => t.textContent);
  const paths = document.querySelectorAll('g.link path.ethernet_link').length;
  const images = [...document.querySelectorAll('g.node image')]
      .filter(i => (i.getAttribute('xlink:href') || i.getAttribute('href') || '')).length;
  return {names, paths, images};
})()"""

LABEL_BOXES = """(() => {
  const box = e => { const r = e.getBoundingClientRect();
                     return [r.left, r.top, r.right, r.bottom]; };
  return {
    ports: [...document.querySelectorAll('g.interface_label_container text.interface_label')]
        .map(t => [t.textContent, box(t)]),
    names: [...document.querySelectorAll('g.node text.label')].map(t => [t.textContent, box(t)]),
  };
})()"""


@pytest.mark.parametrize("lab", LABS)
def test_lab_in_the_web_ui(lab: str, gns3_server_22, virbr0, chromium: Chromium,  # type: ignore[no-untyped-def]
                           appliance_dir: Path, tmp_path: Path) -> None:
    result = _build(lab, appliance_dir, tmp_path / "dist")
    with zipfile.ZipFile(result.archive) as zf:
        project = json.loads(zf.read("project.gns3"))
    _stand_in_images(project, gns3_server_22.images_dir)
    client = gns3_server_22.client
    pid = client.import_project(result.archive, name=f"webui-{lab}")["project_id"]
    try:
        client.open_project(pid)
        # The web UI's start page registers the server that serves it (server 1) first.
        chromium.navigate(f"{gns3_server_22.url}/static/web-ui/bundled")
        server = _wait(chromium, "(location.pathname.match(/server\\/(\\d+)\\//) || [])[1]")
        url = f"{gns3_server_22.url}/static/web-ui/server/{server}/project/{pid}"
        want_names = sorted(n["name"] for n in project["topology"]["nodes"])
        links = len(project["topology"]["links"])

        chromium.navigate(url)
        canvas = _wait(chromium, f"(() => {{ const c = {CANVAS}; return c.names.length >= "
                                 f"{len(want_names)} && c.paths >= {links} && c; }})()")
        time.sleep(2)  # symbols and fonts arrive after the first draw
        canvas = chromium.evaluate(CANVAS)
        chromium.screenshot(ARTIFACTS / f"{lab}.png")
        assert sorted(canvas["names"]) == want_names
        assert canvas["paths"] == links

        # The stored label positions, as the web UI draws them when told to use them.
        chromium.evaluate("localStorage.setItem('integrateLinkLabelsToLinks', 'false'); "
                          "localStorage.setItem('showInterfaceLabels', 'true'); true")
        chromium.navigate(url)
        _wait(chromium, f"document.querySelectorAll('g.interface_label_container "
                        f"text.interface_label').length >= {2 * links}")
        time.sleep(2)
        chromium.screenshot(ARTIFACTS / f"{lab}-stored-labels.png")
        drawn = chromium.evaluate(LABEL_BOXES)
        chromium.evaluate("localStorage.removeItem('integrateLinkLabelsToLinks'); true")
        assert len(drawn["ports"]) == 2 * links
        (ARTIFACTS / f"{lab}-labels.json").write_text(json.dumps(drawn))
        assert _overlaps(drawn["ports"] + drawn["names"]) == []
    finally:
        client.close_project(pid)
        client.delete_project(pid)


def _overlaps(boxes: list[tuple[str, list[float]]]) -> list[tuple[str, str]]:
    out = []
    for i, (a, (ax0, ay0, ax1, ay1)) in enumerate(boxes):
        for b, (bx0, by0, bx1, by1) in boxes[i + 1:]:
            if ax0 < bx1 and bx0 < ax1 and ay0 < by1 and by0 < ay1:
                out.append((a, b))
    return out
