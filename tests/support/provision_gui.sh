#!/bin/sh
# Install the GNS3 desktop GUI the desktop-GUI test drives (tests/integration/test_desktop_gui.py):
#   $ROOT/.cache/gns3/gui -> gns3-gui 2.2.61 on PyQt6 (2.2.61 needs PyQt6 >= 6.3.1, not PyQt5)
# Its own venv: gns3-gui pins its own aiohttp/psutil and must not meet the servers' (nor the
# project's) packages. Qt's xcb platform plugin also needs Debian's libxcb-icccm4 and
# libxcb-keysyms1 and the test needs xvfb: the Makefile's APT_PACKAGES installs them.
# Idempotent: a venv that already holds both is left alone.
set -eu

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PYTHON=${GNS3_PYTHON:-/usr/bin/python3}
VENV="$ROOT/.cache/gns3/gui"
GUI_VERSION=2.2.61

have() {
    "$VENV/bin/python" -c 'import importlib.metadata as m, sys
sys.exit(m.version("gns3-gui") != sys.argv[1])
import PyQt6.QtSvgWidgets' "$GUI_VERSION" 2>/dev/null
}

mkdir -p "$ROOT/.cache/gns3"
if command -v flock >/dev/null 2>&1; then
    exec 9>"$ROOT/.cache/gns3/.provision-gui.lock"
    flock 9
fi
[ -x "$VENV/bin/python" ] && have && exit 0
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
log="$VENV/provision.log"
if ! "$VENV/bin/python" -m pip install -q --disable-pip-version-check \
        "gns3-gui==$GUI_VERSION" "PyQt6>=6.3.1" >"$log" 2>&1; then
    echo "provision_gui.sh: pip install gns3-gui==$GUI_VERSION PyQt6 failed; tail of $log:" >&2
    tail -n 20 "$log" >&2
    exit 1
fi
have || { echo "provision_gui.sh: gns3-gui $GUI_VERSION or PyQt6 missing after install" >&2; exit 1; }
echo "provisioned gns3-gui $GUI_VERSION (PyQt6) in $VENV"
