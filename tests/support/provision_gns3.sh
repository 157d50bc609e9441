#!/bin/sh
# Install the real GNS3 servers the integration tests run against, one venv per version:
#   $ROOT/.cache/gns3/v22 -> gns3-server 2.2.61
#   $ROOT/.cache/gns3/v30 -> gns3-server 3.0.6
# Idempotent: a venv that already holds the right version is left alone. The two versions are
# the same distribution name, so they cannot share a venv (nor the project's test venv).
set -eu

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PYTHON=${GNS3_PYTHON:-/usr/bin/python3}

provision() {  # provision <venv dir> <version>
    venv=$1 version=$2
    if [ -x "$venv/bin/gns3server" ] && \
        [ "$("$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("gns3-server"))' \
            2>/dev/null)" = "$version" ]; then
        return 0
    fi
    [ -x "$venv/bin/python" ] || "$PYTHON" -m venv "$venv"
    # pip is chatty on stderr even with -q (warnings about index locations): keep its output in
    # a log and show the tail only when it fails.
    log="$venv/provision.log"
    if ! "$venv/bin/python" -m pip install -q --disable-pip-version-check \
            "gns3-server==$version" >"$log" 2>&1; then
        echo "provision_gns3.sh: pip install gns3-server==$version failed; tail of $log:" >&2
        tail -n 20 "$log" >&2
        exit 1
    fi
    echo "provisioned gns3-server $version in $venv"
}

mkdir -p "$ROOT/.cache/gns3"
# Serialise concurrent runs (two test sessions starting at once) on one lock file.
if command -v flock >/dev/null 2>&1; then
    exec 9>"$ROOT/.cache/gns3/.provision.lock"
    flock 9
fi
provision "$ROOT/.cache/gns3/v22" 2.2.61
provision "$ROOT/.cache/gns3/v30" 3.0.6
