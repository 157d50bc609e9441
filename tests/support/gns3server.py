"""Real GNS3 servers for integration tests: one per version per test session.

Fixtures:

- ``gns3_server_22``: gns3-server 2.2.61; ``gns3_server_30``: gns3-server 3.0.6.
- ``gns3_server``: parametrized over both (test ids ``[2.2]`` and ``[3.0]``).
- ``gns3_computes_22``: two more 2.2.61 servers (on 127.0.0.2 and 127.0.0.3), the second
  registered as remote compute ``remote1`` of the first (a :class:`ComputePair`); kept apart
  from ``gns3_server_22`` because GNS3 spreads every import over all registered computes.
- ``gns3_computes_30``: the same with two 3.0.6 servers (127.0.0.4, 127.0.0.5); the remote
  compute is named ``remote1`` and has a UUID as id (3.0's database wants one).

Each yields a :class:`Gns3Server` (``url``, ``version``, ``client``, ``images_dir``, ``root``,
``log_path``). A server runs isolated on loopback: its own directory tree, config, ``HOME``
and port ranges, the project's uBridge stand-in (``tests/support/ubridge``), and hardware
acceleration off (KVM hangs on this kind of machine; every QEMU runs under TCG).

The servers live in venvs under ``.cache/gns3`` made by ``provision_gns3.sh``, which runs
when they are missing. A server that cannot be provisioned or started FAILS the test: CI must be
able to install everything. When a test using a server fails, or the server does not come up,
its log is copied to ``test-artifacts/``.
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from generator.errors import ServerError
from generator.server.api import Gns3Client

REPO = Path(__file__).resolve().parents[2]
SUPPORT = Path(__file__).resolve().parent
ARTIFACTS = REPO / "test-artifacts"
UBRIDGE = SUPPORT / "ubridge"
PROVISION = SUPPORT / "provision_gns3.sh"

#: version -> (venv under .cache/gns3, environment variable that may point at another gns3server)
VERSIONS = {"2.2": ("v22", "GNS3SERVER_22"), "3.0": ("v30", "GNS3SERVER_30")}
#: The 3.0 admin account, created from [Controller] when the fresh database is made.
ADMIN_USER, ADMIN_PASSWORD = "admin", "gns3lab-test"
READY_TIMEOUT = 90.0
STOP_TIMEOUT = 20.0
SERVER_FIXTURES = ("gns3_server", "gns3_server_22", "gns3_server_30")
REMOTE_COMPUTE = "remote1"
#: The credentials a 3.x compute asks its controller for (HTTP Basic on /v3/compute/...;
#: [Server] compute_username/compute_password, which 2.2 ignores).
COMPUTE_USER, COMPUTE_PASSWORD = "gns3lab-compute", "gns3lab-compute-test"


@dataclass
class Gns3Server:
    """One running GNS3 server, as the fixtures hand it to tests."""

    version: str  #: "2.2" or "3.0"
    url: str  #: http://127.0.0.1:PORT
    client: Gns3Client  #: authenticated client for this server
    root: Path  #: the server's private directory tree (config, projects, images, home)
    images_dir: Path  #: <root>/images/QEMU, where QEMU base images go
    log_path: Path  #: <root>/server.log
    process: subprocess.Popen = field(repr=False)
    failed: bool = False  #: set when a test using this server failed; keeps the log

    @property
    def projects_dir(self) -> Path:
        """Where the server keeps its projects."""
        return self.root / "projects"


def _gns3server_executable(version: str) -> Path:
    """The gns3server of ``version`` (``$GNS3SERVER_22``/``_30`` override the venvs);
    provision the venvs first when they are missing. Fails, never skips."""
    venv, env_var = VERSIONS[version]
    exe = Path(os.environ.get(env_var) or REPO / ".cache" / "gns3" / venv / "bin" / "gns3server")
    if not exe.exists() and not os.environ.get(env_var):
        _provision()
    if not exe.exists():
        pytest.fail(f"gns3server {version} not found at {exe}", pytrace=False)
    return exe


def _provision() -> None:
    """Run provision_gns3.sh (it serialises concurrent runs itself)."""
    try:
        proc = subprocess.run([str(PROVISION)], capture_output=True, text=True, timeout=900,
                              check=False)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{PROVISION} timed out after 900 s", pytrace=False)
    if proc.returncode != 0:
        pytest.fail(f"{PROVISION} failed (exit {proc.returncode}):\n"
                    f"{proc.stdout[-2000:]}{proc.stderr[-2000:]}", pytrace=False)


def _free_tcp_port(host: str = "127.0.0.1") -> int:
    """A currently free loopback TCP port (the OS picks it)."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def _port_block(base: int, size: int = 200, blocks: int = 30) -> int:
    """A random block start in [base, base + size*blocks): separate ranges for each server, so
    two servers (or two test sessions) rarely compete. GNS3 skips ports that are taken anyway.
    Kept below 32768, the start of Linux's ephemeral range."""
    return base + size * random.randrange(blocks)


def _write_config(root: Path, port: int, host: str = "127.0.0.1") -> Path:
    """The INI file both versions accept (each ignores the other's keys)."""
    console, udp = _port_block(20000), _port_block(26000)
    text = f"""\
[Server]
host = {host}
port = {port}
local = true
auth = false
projects_path = {root}/projects
images_path = {root}/images
appliances_path = {root}/appliances
symbols_path = {root}/symbols
configs_path = {root}/configs
resources_path = {root}/resources
report_errors = false
compute_username = {COMPUTE_USER}
compute_password = {COMPUTE_PASSWORD}
install_builtin_appliances = false
enable_builtin_templates = false
ubridge_path = {UBRIDGE}
console_start_port_range = {console}
console_end_port_range = {console + 199}
udp_start_port_range = {udp}
udp_end_port_range = {udp + 199}

[Controller]
default_admin_username = {ADMIN_USER}
default_admin_password = {ADMIN_PASSWORD}

[Qemu]
enable_hardware_acceleration = false
require_hardware_acceleration = false
enable_kvm = false
require_kvm = false
"""
    conf = root / "conf" / "gns3_server.conf"
    conf.write_text(text)
    return conf


def _make_tree(root: Path) -> None:
    for sub in ("conf", "projects", "images/QEMU", "appliances", "symbols", "configs",
                "resources", "home"):
        (root / sub).mkdir(parents=True, exist_ok=True)


def _server_env(root: Path) -> dict[str, str]:
    """The test environment with HOME and XDG dirs moved into ``root``."""
    home = root / "home"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env.update(HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"),
               XDG_DATA_HOME=str(home / ".local/share"), XDG_CACHE_HOME=str(home / ".cache"))
    return env


def _log_tail(server_root: Path, lines: int = 30) -> str:
    texts = []
    for name in ("server.log", "stdout.log"):
        path = server_root / name
        if path.exists():
            texts.append(f"--- {path} (tail) ---\n" + "\n".join(
                path.read_text(errors="replace").splitlines()[-lines:]))
    return "\n".join(texts)


def _keep_logs(version: str, root: Path) -> None:
    """Copy the server's logs to test-artifacts/ (git-ignored) for a failed run."""
    ARTIFACTS.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for name in ("server.log", "stdout.log"):
        if (root / name).exists():
            shutil.copy(root / name,
                        ARTIFACTS / f"gns3-{version}-{stamp}-{os.getpid()}-{root.name}-{name}")


def _wait_ready(proc: subprocess.Popen, client: Gns3Client, root: Path, version: str) -> None:
    """Poll ``/version`` until the server answers, then check the API version and login."""
    deadline = time.monotonic() + READY_TIMEOUT
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"gns3server {version} exited with code {proc.returncode} "
                               f"during start-up\n{_log_tail(root)}")
        try:
            answer = client.version()
            break
        except ServerError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"gns3server {version} did not answer within "
                                   f"{READY_TIMEOUT:.0f} s\n{_log_tail(root)}") from None
            time.sleep(0.1)
    if not str(answer.get("version", "")).startswith(version + "."):
        raise RuntimeError(f"expected gns3server {version}.x, the server says {answer}")
    client.projects()  # authenticates on 3.0, so bad credentials fail here, not in a test


def _stop(proc: subprocess.Popen) -> None:
    """SIGTERM (the server stops its QEMUs and uBridges), then SIGKILL its process group."""
    if proc.poll() is None:
        proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=STOP_TIMEOUT)
    with contextlib.suppress(ProcessLookupError):  # its own session only: stragglers, if any
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=STOP_TIMEOUT)


def _run_server(version: str, tmp_path_factory: pytest.TempPathFactory, label: str = "",
                host: str = "127.0.0.1") -> Iterator[Gns3Server]:
    """Start, wait for, yield and stop one server, bound to the loopback address ``host``."""
    exe = _gns3server_executable(version)
    root = tmp_path_factory.mktemp(f"gns3-{version.replace('.', '')}{label}")
    _make_tree(root)
    port = _free_tcp_port(host)
    conf = _write_config(root, port, host)
    url = f"http://{host}:{port}"
    argv = [str(exe), "--config", str(conf), "--local", "--host", host,
            "--port", str(port), "--log", str(root / "server.log")]
    with open(root / "stdout.log", "wb") as out:
        # cwd = root: on export GNS3 looks for relative image names in its cwd first.
        proc = subprocess.Popen(argv, cwd=root, env=_server_env(root), stdout=out,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)
    client = Gns3Client(url, ADMIN_USER, ADMIN_PASSWORD) if version == "3.0" else Gns3Client(url)
    error = None
    try:
        _wait_ready(proc, client, root, version)
    except (RuntimeError, ServerError) as exc:
        error = str(exc)
    if error:  # failed outside the except block, so the report shows only the message
        _stop(proc)
        _keep_logs(version, root)
        pytest.fail(error, pytrace=False)
    server = Gns3Server(version=version, url=url, client=client, root=root,
                        images_dir=root / "images" / "QEMU", log_path=root / "server.log",
                        process=proc)
    try:
        yield server
    finally:
        _stop(proc)
        if server.failed:
            _keep_logs(version, root)


@pytest.fixture(scope="session")
def gns3_server_22(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gns3Server]:
    """A gns3-server 2.2.61 for the whole session."""
    yield from _run_server("2.2", tmp_path_factory)


@pytest.fixture(scope="session")
def gns3_server_30(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gns3Server]:
    """A gns3-server 3.0.6 for the whole session (JWT login as the admin user)."""
    yield from _run_server("3.0", tmp_path_factory)


@pytest.fixture(scope="session", params=sorted(VERSIONS))
def gns3_server(request: pytest.FixtureRequest) -> Gns3Server:
    """Each server version in turn: tests using this run once per version."""
    return request.getfixturevalue(f"gns3_server_{request.param.replace('.', '')}")


@dataclass
class ComputePair:
    """A controller and a second server registered on it as a remote compute."""

    controller: Gns3Server
    compute: Gns3Server
    compute_id: str  #: the remote compute's id on the controller (2.2: its name too)

    @property
    def servers(self) -> dict[str, Gns3Server]:
        """compute id -> the server that runs it."""
        return {"local": self.controller, self.compute_id: self.compute}


def register_compute(controller: Gns3Server, compute: Gns3Server, name: str) -> str:
    """Register ``compute`` on ``controller`` as ``name``, wait until the controller is
    connected to it, and return its compute id: ``name`` on 2.2; on 3.x a UUID (its database
    keeps compute ids as UUIDs and fails on any other), the compute's own credentials go with
    it (its API refuses anyone else) and the controller connects at once (``?connect=true``)."""
    host, port = compute.url.rsplit("/", 1)[1].split(":")
    v3 = controller.version.startswith("3.")
    compute_id = str(uuid.uuid5(uuid.NAMESPACE_URL, compute.url)) if v3 else name
    user, password = (COMPUTE_USER, COMPUTE_PASSWORD) if v3 else ("", "")
    controller.client.request("POST", "/computes?connect=true" if v3 else "/computes", {
        "compute_id": compute_id, "name": name, "protocol": "http", "host": host,
        "port": int(port), "user": user, "password": password})
    deadline = time.monotonic() + READY_TIMEOUT
    while not _connected(controller, compute_id):
        if time.monotonic() > deadline:
            pytest.fail(f"controller {controller.url} did not connect to compute {compute.url}"
                        f"\n{_log_tail(controller.root)}\n{_log_tail(compute.root)}",
                        pytrace=False)
        time.sleep(0.2)
    return compute_id


def _connected(controller: Gns3Server, compute_id: str) -> bool:
    """2.2 says whether it is connected to a compute; 3.0's computes API answers from its
    database (``connected`` is never live there), so ask the compute something through the
    controller: its image list."""
    if not controller.version.startswith("3."):
        return bool(controller.client.request("GET", f"/computes/{compute_id}").get("connected"))
    try:
        controller.client.compute_images(compute_id)
    except ServerError:
        return False
    return True


@pytest.fixture(scope="session")
def gns3_computes_22(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ComputePair]:
    """Two gns3-server 2.2.61 processes: a controller and a remote compute registered on it.

    They listen on two loopback addresses, 127.0.0.2 and 127.0.0.3, not both on 127.0.0.1:
    to tunnel a link between two computes, GNS3 needs an address of each that the other can
    send UDP to. It trusts the computes' own addresses unless one is 127.0.0.1 or 0.0.0.0, and
    otherwise looks for two *different* interface addresses on a common subnet, which one host
    never has (``Compute.get_ip_on_same_subnet``: "No common subnet for compute ...").
    """
    controller_run = _run_server("2.2", tmp_path_factory, "-controller", host="127.0.0.2")
    compute_run = _run_server("2.2", tmp_path_factory, "-compute", host="127.0.0.3")
    controller = next(controller_run)
    try:
        compute = next(compute_run)
        try:
            register_compute(controller, compute, REMOTE_COMPUTE)
            yield ComputePair(controller, compute, REMOTE_COMPUTE)
        finally:
            next(compute_run, None)
    finally:
        next(controller_run, None)


@pytest.fixture(scope="session")
def gns3_computes_30(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ComputePair]:
    """Two gns3-server 3.0.6 processes, controller (127.0.0.4) and remote compute (127.0.0.5)
    registered on it as ``remote1`` with the compute's credentials: the same set-up as
    :func:`gns3_computes_22` (two loopback addresses, for the UDP tunnels)."""
    yield from _compute_pair("3.0", tmp_path_factory, "127.0.0.4", "127.0.0.5")


def _compute_pair(version: str, tmp_path_factory: pytest.TempPathFactory, controller_host: str,
                  compute_host: str) -> Iterator[ComputePair]:
    controller_run = _run_server(version, tmp_path_factory, "-controller", host=controller_host)
    compute_run = _run_server(version, tmp_path_factory, "-compute", host=compute_host)
    controller = next(controller_run)
    try:
        compute = next(compute_run)
        try:
            compute_id = register_compute(controller, compute, REMOTE_COMPUTE)
            yield ComputePair(controller, compute, compute_id)
        finally:
            next(compute_run, None)
    finally:
        next(controller_run, None)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo
                              ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Flag the servers a failing test used, so their logs are kept at teardown."""
    report = yield
    if report.failed:
        for name in (*SERVER_FIXTURES, "gns3_computes_22", "gns3_computes_30"):
            value = getattr(item, "funcargs", {}).get(name)
            servers = value.servers.values() if isinstance(value, ComputePair) else [value]
            for server in servers:
                if isinstance(server, Gns3Server):
                    server.failed = True
    return report
