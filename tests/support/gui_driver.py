"""Drive the real GNS3 desktop GUI (gns3-gui 2.2.61 on PyQt6) in-process and measure its scene.

Runs with gns3-gui's own interpreter (``.cache/gns3/gui/bin/python``, see provision_gui.sh),
never the project's venv: it imports nothing from gns3lab. tests/integration/test_desktop_gui.py
starts it under Xvfb with a private HOME and a fontconfig that offers only DejaVu, so every
font a label asks for that is missing (Noto Sans) falls back as it does on a desktop without it.

    python gui_driver.py --server http://127.0.0.1:PORT --out DIR ARCHIVE...

For each archive: File > Import portable project's own code (``Topology.importProject``, its
project-name dialog answered like a user pressing OK), wait until every node, link and drawing
of the project is on the canvas, render the whole scene once (the GUI makes port labels and
port markers while painting), then write ``DIR/<stem>.json`` with every item's scene box and
``DIR/<stem>-fit.png`` (the view after View > Fit in view, as a user first sees it) and
``DIR/<stem>-scene.png`` (the whole scene rectangle at 100 %). Dialogs the GUI raises (an
error box) are answered and their text is recorded in the JSON, so the test can show them.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
import zipfile
from pathlib import Path
from typing import Any

WINDOW = (1600, 1000)  # a common desktop window; the test derives "readable at Fit" from it
LOAD_TIMEOUT = 120.0


def configure(home: Path, server: str) -> None:
    """gns3-gui's settings: a remote controller at ``server``, no wizard, no update check."""
    host, port = server.rsplit("//", 1)[1].rsplit(":", 1)
    conf = home / ".config" / "GNS3" / "2.2"
    conf.mkdir(parents=True, exist_ok=True)
    (conf / "gns3_gui.conf").write_text(json.dumps({
        "version": "2.2.61", "type": "settings",
        "MainWindow": {"hide_setup_wizard": True, "hide_getting_started_dialog": True,
                       "check_for_update": False, "overlay_notifications": False,
                       "hide_new_template_button": True},
    }))
    (conf / "gns3_server.conf").write_text(
        f"[Server]\nhost = {host}\nport = {port}\nauto_start = False\nauth = False\n"
        "protocol = http\nreport_errors = False\n")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--server", required=True)
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("archives", nargs="+", type=Path)
    args = parser.parse_args()
    home = Path(os.environ["HOME"])
    configure(home, args.server)
    args.out.mkdir(parents=True, exist_ok=True)

    from gns3.application import Application
    from gns3.local_config import LocalConfig
    from gns3.qt import QtWidgets

    LocalConfig.instance()
    app = Application([sys.argv[0]])
    from gns3.main_window import MainWindow

    window = MainWindow()
    window.resize(*WINDOW)
    window.show()
    gui = Gui(app, window)
    failures = 0
    try:
        gui.wait(gui.connected, 30, "the GUI never connected to the controller")
        for archive in args.archives:
            report = gui.import_and_measure(archive, args.out)
            (args.out / f"{archive.stem}.json").write_text(json.dumps(report, indent=1))
            failures += bool(report.get("error"))
    finally:
        QtWidgets.QApplication.closeAllWindows()
    return 1 if failures else 0


class Gui:
    """The running GUI, with the few user actions the test needs."""

    def __init__(self, app: Any, window: Any) -> None:
        from gns3.qt import QtCore

        self.app, self.window = app, window
        self.messages: list[str] = []
        self.project_name = ""
        self._timer = QtCore.QTimer()
        self._timer.timeout.connect(self._answer_dialogs)
        self._timer.start(100)

    # -- waiting ---------------------------------------------------------------------------
    def wait(self, condition: Any, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise TimeoutError(what)
            self.app.processEvents()
            time.sleep(0.02)

    def settle(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.app.processEvents()
            time.sleep(0.02)

    def connected(self) -> bool:
        from gns3.controller import Controller

        return bool(Controller.instance().connected())

    def _answer_dialogs(self) -> None:
        """A user in front of the GUI: OK in the import's name dialog; error boxes are read
        (kept for the report) and closed."""
        from gns3.dialogs.project_dialog import ProjectDialog
        from gns3.qt import QtWidgets

        for widget in QtWidgets.QApplication.topLevelWidgets():
            if not widget.isVisible():
                continue
            if isinstance(widget, ProjectDialog):
                if self.project_name:  # the import's name dialog: OK
                    widget.uiNameLineEdit.setText(self.project_name)
                    widget.done(1)
                else:  # the start-up "new project" dialog: Cancel
                    widget.done(0)
            elif widget.inherits("QMessageBox"):  # gns3.qt swaps the class: ask Qt
                text = f"{widget.windowTitle()}: {widget.text()}"
                if not text.startswith("Root:"):  # we may run as root (CI); a user does not
                    self.messages.append(text)
                widget.done(0)

    # -- one archive -----------------------------------------------------------------------
    def import_and_measure(self, archive: Path, out: Path) -> dict[str, Any]:
        from gns3.topology import Topology

        with zipfile.ZipFile(archive) as zf:
            project = json.loads(zf.read("project.gns3"))
        want = {k: len(project["topology"][k]) for k in ("nodes", "links", "drawings")}
        self.messages = []
        self.project_name = f"gui-{archive.stem}"
        topology = Topology.instance()
        topology.importProject(str(archive))  # File > Import portable project, after the picker

        def loaded() -> bool:
            have = self.counts()
            return bool(self.messages) or all(have[k] >= want[k] for k in want)

        try:
            self.wait(loaded, LOAD_TIMEOUT, f"{archive.name}: never fully on the canvas")
        except TimeoutError as exc:
            return {"error": str(exc), "messages": self.messages, "have": self.counts(),
                    "want": want}
        if self.messages:
            self.settle(1.0)
            return {"error": "dialog", "messages": self.messages, "have": self.counts(),
                    "want": want}
        self.settle(1.0)
        self.render_scene(out / f"{archive.stem}-scene.png")  # paints: labels and markers exist
        self.settle(0.5)
        report = self.measure()
        report.update(want=want, messages=self.messages,
                      fit=self.fit_in_view(out / f"{archive.stem}-fit.png"))
        self.close_project()
        return report

    def counts(self) -> dict[str, int]:
        from gns3.items.drawing_item import DrawingItem
        from gns3.items.link_item import LinkItem
        from gns3.items.node_item import NodeItem

        items = self.scene().items()
        return {"nodes": sum(isinstance(i, NodeItem) for i in items),
                "links": sum(isinstance(i, LinkItem) for i in items),
                "drawings": sum(isinstance(i, DrawingItem) for i in items)}

    def scene(self) -> Any:
        return self.window.uiGraphicsView.scene()

    def close_project(self) -> None:
        from gns3.topology import Topology

        project = Topology.instance().project()
        if project is not None:
            project.close()
            self.wait(lambda: self.counts()["nodes"] == 0 or project.closed(), 30,
                      "the project never closed")
            Topology.instance().setProject(None)
            self.settle(0.5)

    # -- pictures --------------------------------------------------------------------------
    def render_scene(self, path: Path) -> None:
        """The whole scene rectangle at 100 %, as scrolling over it would show it."""
        from gns3.qt import QtCore, QtGui

        rect = self.scene().sceneRect()
        image = QtGui.QImage(int(rect.width()), int(rect.height()),
                             QtGui.QImage.Format.Format_ARGB32)
        image.fill(QtCore.Qt.GlobalColor.white)
        painter = QtGui.QPainter(image)
        painter.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing)
        painter.setRenderHint(QtGui.QPainter.RenderHint.TextAntialiasing)
        self.scene().render(painter, QtCore.QRectF(image.rect()), rect)
        painter.end()
        image.save(str(path))

    def fit_in_view(self, path: Path) -> dict[str, Any]:
        """View > Fit in view, then the view's own picture and its scale."""
        self.window._fitInViewActionSlot()
        self.settle(0.5)
        view = self.window.uiGraphicsView
        view.viewport().grab().save(str(path))
        return {"scale": view.transform().m11(),
                "viewport": [view.viewport().width(), view.viewport().height()]}

    # -- the measure -----------------------------------------------------------------------
    def measure(self) -> dict[str, Any]:
        """Every item's scene box: icons, node names, port labels, port markers, links,
        drawings, with the scene rectangle and the fonts Qt really used."""
        from gns3.items.drawing_item import DrawingItem
        from gns3.items.link_item import LinkItem
        from gns3.items.node_item import NodeItem
        from gns3.qt import QtGui

        scene = self.scene()
        icons: list[dict] = []
        names: list[dict] = []
        ports: list[dict] = []
        markers: list[dict] = []
        links: list[dict] = []
        drawings: list[dict] = []
        fonts: set[str] = set()
        for item in scene.items():
            if isinstance(item, NodeItem):
                name = item.node().name()
                icons.append({"node": name, "box": box(item.sceneBoundingRect())})
                label = item.label()
                if label is not None and label.isVisible():
                    names.append({"node": name, "text": label.toPlainText(),
                                  "box": text_box(label)})
                    fonts.add(QtGui.QFontInfo(label.font()).family())
            elif isinstance(item, LinkItem):
                links.append(self.link(item, ports, markers, fonts))
            elif isinstance(item, DrawingItem):
                drawings.append({"kind": type(item).__name__,
                                 "text": getattr(item, "toPlainText", lambda: "")(),
                                 "box": box(item.sceneBoundingRect()),
                                 "px": pixel_size(item)})
                if hasattr(item, "font"):
                    fonts.add(QtGui.QFontInfo(item.font()).family())
        return {"scene": box(scene.sceneRect()), "icons": icons, "names": names,
                "ports": ports, "markers": markers, "links": links, "drawings": drawings,
                "fonts": sorted(fonts),
                "items_box": box(scene.itemsBoundingRect())}

    def link(self, item: Any, ports: list, markers: list, fonts: set) -> dict[str, Any]:
        from gns3.qt import QtCore, QtGui

        src, dst = item.sourceItem().node().name(), item.destinationItem().node().name()
        for port, node in ((item.sourcePort(), src), (item.destinationPort(), dst)):
            label = port.label()
            if label is not None and label.isVisible():
                ports.append({"node": node, "text": label.toPlainText(), "box": text_box(label)})
                fonts.add(QtGui.QFontInfo(label.font()).family())
        a, b = item.mapToScene(item.source), item.mapToScene(item.destination)
        if item.length >= 100:  # the GUI draws no status point on shorter links
            step = QtCore.QPointF(item.dx / item.length, item.dy / item.length)
            for node, base, sign, extra in (
                    (src, item.source + item.edge_offset, 1, item._source_collision_offset),
                    (dst, item.destination - item.edge_offset, -1,
                     item._destination_collision_offset)):
                point = item.mapToScene(base + step * (sign * extra))
                half = item._point_size / 2
                markers.append({"node": node, "box": [point.x() - half, point.y() - half,
                                                      point.x() + half, point.y() + half]})
        return {"a": src, "b": dst, "line": [a.x(), a.y(), b.x(), b.y()]}


def box(rect: Any) -> list[float]:
    return [rect.left(), rect.top(), rect.right(), rect.bottom()]


def text_box(label: Any) -> list[float]:
    """A label's ink box: its bounding rectangle less the text document's margin."""
    margin = label.document().documentMargin()
    rect = label.sceneBoundingRect().adjusted(margin, margin, -margin, -margin)
    return box(rect)


def pixel_size(item: Any) -> float:
    """A text drawing's font height in scene pixels (0 for a picture)."""
    if not hasattr(item, "font"):
        return 0.0
    from gns3.qt import QtGui

    metrics = QtGui.QFontMetricsF(item.font())
    return math.floor(metrics.height() * 100) / 100


if __name__ == "__main__":
    sys.exit(main())
