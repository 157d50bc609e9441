"""``build --redact``: an archive with no private key at all (pure renderers).

The controller makes the lab's key pair at its first boot and serves the public half over HTTP
on the lab's management network; every other node fetches it at its first boot and adds it to
its default user's ``authorized_keys`` (cloud-init nodes from their seed, the others through an
injected unit). The trust is first-come on the lab's own network, which is what a lab that
leaves the builder's machine without its key can have; the archive itself carries no secret.
"""

from __future__ import annotations

from generator.model import Lab
from generator.render.guest_paths import KEY, UNIT_DIR
from generator.render.stages import management_address

PORT = 8222
PUB_DIR = "/var/lib/gns3lab/pub"
KEYGEN_UNIT = "gns3lab-keygen.service"
SERVE_UNIT = "gns3lab-keyserve.service"
FETCH_UNIT = "gns3lab-fetch-key.service"
FETCH_SCRIPT = "/usr/local/sbin/gns3lab-fetch-key"

KEYGEN = f"""\
# gns3lab (--redact): make the lab's key pair on the controller at first boot (generated).
[Unit]
Description=gns3lab: make the lab key
Before=gns3lab-bootstrap.service {SERVE_UNIT}
ConditionPathExists=!{KEY}

[Service]
Type=oneshot
ExecStart=/bin/sh -c 'mkdir -p -m 0700 /root/.ssh && ssh-keygen -q -t ed25519 -N "" \\
  -C gns3lab -f {KEY}'

[Install]
WantedBy=multi-user.target
"""

SERVE = f"""\
# gns3lab (--redact): serve the lab's public key to the nodes at first boot (generated).
[Unit]
Description=gns3lab: serve the lab's public key
After={KEYGEN_UNIT} network-online.target
Wants=network-online.target

[Service]
Type=simple
ExecStartPre=/bin/sh -c 'mkdir -p {PUB_DIR} && cp {KEY}.pub {PUB_DIR}/id_ed25519.pub'
ExecStart=/usr/bin/python3 -m http.server {PORT} --directory {PUB_DIR}

[Install]
WantedBy=multi-user.target
"""

FETCH_UNIT_TEXT = f"""\
# gns3lab (--redact): take the lab's public key from the controller at first boot (generated).
[Unit]
Description=gns3lab: fetch the lab's public key
Wants=network-online.target
After=network-online.target

[Service]
Type=oneshot
ExecStart={FETCH_SCRIPT}

[Install]
WantedBy=multi-user.target
"""


def key_url(lab: Lab) -> str:
    """Where the nodes find the controller's public key."""
    assert lab.controller is not None, "--redact needs a controller to make the key"
    address = management_address(lab, lab.node(lab.controller.node))
    assert address is not None, "the controller has no management address"
    return f"http://{address.ip}:{PORT}/id_ed25519.pub"


def fetch_script(url: str, user: str) -> bytes:
    """A first-boot script (Python 3, which cloud-init and Cumulus both have): wait for the
    controller's key, then authorize it for ``user``. Idempotent."""
    return f'''#!/usr/bin/python3
# gns3lab (--redact): authorize the lab key the controller serves (generated).
import os, pwd, time, urllib.request
URL, USER = {url!r}, {user!r}
for _ in range(720):
    try:
        key = urllib.request.urlopen(URL, timeout=10).read().decode().strip()
        if key.startswith("ssh-"):
            break
    except OSError:
        pass
    time.sleep(5)
else:
    raise SystemExit("gns3lab: no lab key at " + URL)
entry = pwd.getpwnam(USER)
folder = os.path.join(entry.pw_dir, ".ssh")
os.makedirs(folder, mode=0o700, exist_ok=True)
path = os.path.join(folder, "authorized_keys")
old = open(path).read() if os.path.exists(path) else ""
if key not in old:
    with open(path, "a") as fh:
        fh.write(("" if old.endswith("\\n") or not old else "\\n") + key + "\\n")
for p in (folder, path):
    os.chown(p, entry.pw_uid, entry.pw_gid)
os.chmod(path, 0o600)
'''.encode()


def controller_files() -> dict[str, tuple[bytes, int]]:
    """The controller's extra units (guest path -> content, mode)."""
    return {f"{UNIT_DIR}/{KEYGEN_UNIT}": (KEYGEN.encode(), 0o644),
            f"{UNIT_DIR}/{SERVE_UNIT}": (SERVE.encode(), 0o644)}


def controller_units() -> tuple[str, ...]:
    return (KEYGEN_UNIT, SERVE_UNIT)


def seed_extra(lab: Lab, user: str) -> dict[str, object]:
    """cloud-init keys that fetch and authorize the key (merged into the node's user-data)."""
    return {"write_files": [{"path": FETCH_SCRIPT, "permissions": "0755", "owner": "root:root",
                             "content": fetch_script(key_url(lab), user).decode()}],
            "runcmd": [[FETCH_SCRIPT]]}


def node_files(lab: Lab, user: str) -> dict[str, tuple[bytes, int]]:
    """For a node without cloud-init: the script and its first-boot unit."""
    return {FETCH_SCRIPT: (fetch_script(key_url(lab), user), 0o755),
            f"{UNIT_DIR}/{FETCH_UNIT}": (FETCH_UNIT_TEXT.encode(), 0o644)}

