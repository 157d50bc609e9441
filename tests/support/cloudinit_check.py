"""Check seed documents the way the guest's cloud-init (Debian 12, cloud-init 22.4) will read them.

``user-data`` goes through the real ``cloud-init schema --config-file FILE`` (the only flags 22.4
has are ``-c/--config-file``, ``--system``, ``--docs`` and ``--annotate``). It exits 1 on schema
errors and prints them on stderr; deprecations are printed on stdout with exit 0. We treat
deprecations as problems too, unless ``allow_deprecated``. ``--annotate`` is not used, because
with it 22.4 exits 0 even on errors. 22.4 does *not* flag unknown top-level keys (``foo_bar: 1``
passes); wrong types do (``runcmd: 5``, ``users: 5``), and so do a missing ``#cloud-config``
header and bad YAML.

``network-config`` (v2) is parsed with Debian's own ``cloudinit.net.network_state
.parse_net_config_data`` and rendered with ``cloudinit.net.eni.Renderer`` using the Debian
distro's renderer settings (``/etc/network/interfaces.d/50-cloud-init`` plus
``/etc/udev/rules.d/70-persistent-net.rules``), which is what runs in a bookworm guest with
ifupdown and without netplan. cloud-init 22.4 itself rejects little: a ``version`` other than 1/2,
an unknown top-level section, a bond/bridge parameter it has no mapping for (``KeyError``), an
invalid address or route, ``stp`` values other than booleans/on/off/0/1, and sections or
devices that are not mappings (it crashes). Everything else it silently ignores or renders into
something that does not work. So before calling it, this module also rejects what 22.4 would
drop or mangle; the generator should emit only what is listed here as working.

Findings for Debian cloud-init 22.4 (v2 -> ENI), confirmed by parsing and rendering:

* Top level: ``version: 2``; optional ``network:`` wrapper (cloud-init strips it); sections
  ``ethernets``, ``bonds``, ``bridges``, ``vlans`` (``wifis`` only logs a warning; ``renderer``
  is ignored). Section order does not matter.
* Common device keys honoured: ``addresses`` (give a prefix: a bare address silently becomes
  /24), ``dhcp4``, ``dhcp6``, ``dhcp4-overrides``/``dhcp6-overrides`` (``route-metric`` only),
  ``gateway4``, ``gateway6``, ``routes`` (``to`` and ``via`` only; ``metric``, ``table``,
  ``on-link`` are dropped; ``to: default`` is rejected, write ``0.0.0.0/0``; ``via`` is
  required or rendering crashes), ``nameservers`` (``addresses``, ``search``), ``mtu``.
  Unknown keys (``optional``, ``macaddress``, ``link-local``, ...) are silently ignored.
* ``ethernets``: also ``match: {macaddress}`` + ``set-name``, ``wakeonlan``, ``accept-ra``.
  The renamed interface is named by ``set-name``, while bonds/bridges/vlans reference names
  literally, so keep ``set-name`` equal to the key. The MAC must be lower case: it is compared
  with sysfs as is (``wait_for_physdevs`` waits, then fails) and written as is into the udev
  rule ``ATTR{address}=="..."``. Without ``set-name`` a ``match`` renames nothing (the key then
  names whatever NIC has the MAC). ``match`` by ``name`` is ignored. An ethernet with no
  addresses gets ``iface X inet manual`` without ``auto`` (fine for bond members and bridge
  ports, which are brought up by them).
* ``bonds.<name>``: ``interfaces`` + ``parameters`` with exactly these keys (22.4's mapping
  table): ``mode`` -> bond-mode (``802.3ad``, ``active-backup``, ...), ``lacp-rate`` ->
  bond-lacp-rate, ``mii-monitor-interval`` -> bond-miimon, ``transmit-hash-policy`` ->
  bond-xmit-hash-policy, ``min-links``, ``up-delay``/``down-delay`` -> bond-updelay/downdelay,
  ``ad-select``, ``arp-interval``, ``arp-ip-target``, ``arp-validate``,
  ``fail-over-mac-policy``, ``gratuitous-arp`` (or ``gratuitious-arp``) -> bond-num-grat-arp,
  ``primary``, ``primary-reselect-policy``. Any other key (e.g. ``xmit_hash_policy``) is a
  KeyError. ENI (ifenslave style): ``auto bond0`` / ``bond-slaves none`` on the bond, and each
  member gets ``auto ethN`` / ``bond-master bond0`` plus a copy of all bond options; member
  names need not be declared (placeholders are made), but we require them in ``ethernets``.
* ``bridges.<name>``: ``interfaces`` (-> ``bridge_ports``; must be non-empty: an empty list
  renders no ``bridge_ports`` and bridge-utils then creates no bridge) + ``parameters``:
  ``stp`` (bool -> ``bridge_stp on/off``), ``forward-delay`` -> bridge_fd, ``priority`` ->
  bridge_bridgeprio, ``hello-time``, ``max-age``, ``ageing-time``. ``path-cost`` and
  ``port-priority`` (per-port maps) render as ``bridge_pathcost eth1`` without the value:
  broken, rejected here.
* ``vlans.<name>``: ``id`` + ``link`` (-> ``vlan-raw-device``, ``vlan_id``), ``mtu``, addresses.
  22.4 accepts a missing ``id``, a string ``id`` and a ``link`` to nothing; we reject them.
  Debian's ifupdown (0.8, no ``vlan`` package) creates VLANs from the *name* ``<link>.<id>``
  only (``vlan-raw-device`` is informational), so the name must be exactly ``<link>.<id>``
  (e.g. ``bond0.10``). A VLAN without addresses gets no ``auto`` line; it only comes up as a
  bridge port (bridge-utils creates ``<dev>.<id>`` ports), so anything else is rejected.
* Pitfalls in the rendered ENI: option values that are 0 are dropped (``forward-delay: 0``,
  ``up-delay: 0``), so we reject 0; ``false`` survives as ``off``. Interface ``nameservers``
  also produce a junk line ``dns {'nameservers': [...], ...}`` in that stanza (harmless to
  ifupdown, which exports it as IF_DNS) and are copied to ``lo`` as ``dns-nameservers``/
  ``dns-search``, which only take effect with ``resolvconf`` installed in the guest. The guest
  needs ``ifenslave`` for bonds and ``bridge-utils`` for bridges. Names are limited to 15
  characters (IFNAMSIZ).

Parsing is hermetic: 22.4 looks up the build host's NICs by MAC (``get_interfaces_by_mac``,
which can even raise on duplicate MACs); during the parse those two lookups are replaced, in the
``network_state`` module only and under a lock, by ones that find nothing. Warnings cloud-init
logs while parsing or rendering are reported as problems.
"""

from __future__ import annotations

import ipaddress
import logging
import re
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from generator import tools
from generator.errors import ToolError
from generator.write.iso import SeedError

__all__ = ["SeedError", "check_network_config", "check_user_data"]

#: Where Debian's cloud-init writes the rendered files (relative to the guest root).
ENI_PATH = "etc/network/interfaces.d/50-cloud-init"
UDEV_PATH = "etc/udev/rules.d/70-persistent-net.rules"

_COMMON_KEYS = frozenset({
    "addresses", "dhcp4", "dhcp6", "dhcp4-overrides", "dhcp6-overrides", "gateway4", "gateway6",
    "nameservers", "routes", "mtu",
})
_SECTION_KEYS = {
    "ethernets": _COMMON_KEYS | {"match", "set-name", "wakeonlan", "accept-ra"},
    "bonds": _COMMON_KEYS | {"interfaces", "parameters"},
    "bridges": _COMMON_KEYS | {"interfaces", "parameters"},
    "vlans": _COMMON_KEYS | {"id", "link"},
}
_TOP_KEYS = frozenset({"version", "renderer", *_SECTION_KEYS})
_L3_KEYS = ("addresses", "dhcp4", "dhcp6", "gateway4", "gateway6", "routes", "nameservers")
_BOND_MODES = frozenset({"balance-rr", "active-backup", "balance-xor", "broadcast", "802.3ad",
                         "balance-tlb", "balance-alb"})
_BROKEN_BRIDGE_PARAMS = frozenset({"path-cost", "port-priority"})
_IFNAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$")
_MAC_RE = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")
_DEPRECATIONS = "Cloud config schema deprecations:"
_PARSE_LOCK = threading.Lock()


# --------------------------------------------------------------------------------------------
# user-data


def check_user_data(text: str, *, source: str, allow_deprecated: bool = False) -> None:
    """Validate a ``#cloud-config`` document with the real ``cloud-init schema``.

    Raises :class:`ToolError` when ``cloud-init`` is not installed and :class:`SeedError`, naming
    ``source``, when the schema check reports errors (or deprecations, unless allowed).
    """
    tools.require("cloud-init")
    with tempfile.TemporaryDirectory(prefix="gns3lab-userdata-") as tmp:
        path = Path(tmp) / "user-data"
        path.write_text(text, encoding="utf-8")
        try:
            proc = tools.run(["cloud-init", "schema", "--config-file", path], timeout=120)
        except ToolError as exc:
            problems = _schema_problems(exc.stderr_tail, str(path), source)
            raise SeedError(f"{source}: cloud-init schema rejects the user-data:\n{problems}",
                            hint="see `cloud-init schema --docs all`") from exc
    stdout = proc.stdout.decode(errors="replace")
    if "Valid cloud-config:" not in stdout:
        raise ToolError(f"unexpected output of cloud-init schema for {source}: {stdout.strip()!r}")
    deprecations = _deprecations(stdout)
    if deprecations and not allow_deprecated:
        raise SeedError(f"{source}: user-data uses deprecated cloud-config:\n"
                        + "\n".join(f"  {d}" for d in deprecations))


def _schema_problems(stderr_tail: str, tmp_path: str, source: str) -> str:
    """The problem lines of a failed ``cloud-init schema`` run, with the temp path replaced."""
    lines = stderr_tail.splitlines()
    kept = [ln.replace(tmp_path, source) for ln in lines if ln.strip() and ln.strip() != "Error:"]
    return "\n".join(f"  {ln}" for ln in kept) or f"  {stderr_tail}"


def _deprecations(stdout: str) -> list[str]:
    """The deprecation notes ``cloud-init schema`` printed (it prints an empty line if none)."""
    out: list[str] = []
    for line in stdout.splitlines():
        if line.startswith(_DEPRECATIONS):
            rest = line[len(_DEPRECATIONS):].strip()
            if rest:
                out.append(rest)
    return out


# --------------------------------------------------------------------------------------------
# network-config: our own checks (what 22.4 would silently drop or mangle)


def check_network_config(text: str, *, source: str) -> dict[str, Any]:
    """Parse and render a network-config v2 document exactly as Debian's cloud-init 22.4 does.

    Returns a summary: ``{"interfaces": {name: {"type", "auto", "dhcp4", "dhcp6", "addresses",
    "gateway4", "gateway6", "routes", "mtu", "mac_address", "parameters"}}, "dns": {...},
    "eni": <rendered 50-cloud-init>, "udev_rules": <rendered 70-persistent-net.rules>}``.
    ``parameters`` holds the ENI options of the interface other than addresses, gateways,
    routes, DNS, mtu and hwaddress (``bond-mode``, ``bond-master``, ``bridge_ports``,
    ``vlan-raw-device``, ...), as the strings written. Raises :class:`SeedError` naming
    ``source`` on anything cloud-init rejects, drops or renders unusably (see module doc).
    """
    cfg = _load_yaml(text, source)
    problems = _structure_problems(cfg)
    if problems:
        raise SeedError(_problem_message(source, problems))
    rendered = _cloudinit_render(cfg, source)
    summary = _summarise(*rendered)
    problems = _rendering_problems(cfg, summary)
    if problems:
        raise SeedError(_problem_message(source, problems))
    return summary


def _problem_message(source: str, problems: list[str]) -> str:
    """One error message: the source, then one problem per line."""
    return f"{source}: network-config rejected:\n" + "\n".join(f"  {p}" for p in problems)


def _load_yaml(text: str, source: str) -> dict[str, Any]:
    """Load the document like cloud-init (its safeyaml loader) and strip a ``network:`` wrapper."""
    from cloudinit import safeyaml

    try:
        data = safeyaml.load(text)
    except Exception as exc:  # yaml.YAMLError and friends; cloud-init would fall back to DHCP
        raise SeedError(f"{source}: network-config is not valid YAML: {exc}") from exc
    if isinstance(data, dict) and set(data) == {"network"}:
        data = data["network"]
    if not isinstance(data, dict):
        raise SeedError(f"{source}: network-config must be a mapping, "
                        f"not {type(data).__name__} (cloud-init would fall back to DHCP)")
    return data


def _structure_problems(cfg: dict[str, Any]) -> list[str]:
    """Problems found before cloud-init sees the document (each a one-line message)."""
    if cfg.get("version") != 2:
        return [f"version: must be 2 (network-config v2), got {cfg.get('version')!r}"]
    problems = [f"{key}: unknown top-level key (cloud-init 22.4 has no handler for it)"
                for key in cfg if key not in _TOP_KEYS]
    devices: dict[str, tuple[str, dict[str, Any]]] = {}
    for section in _SECTION_KEYS:
        problems += _section_problems(cfg, section, devices)
    problems += _membership_problems(devices)
    for name, (section, dev) in devices.items():
        problems += _device_problems(section, name, dev, devices)
    return problems


def _section_problems(cfg: dict[str, Any], section: str,
                      devices: dict[str, tuple[str, dict[str, Any]]]) -> list[str]:
    """Shape of one section; fills ``devices`` with name -> (section, config)."""
    body = cfg.get(section)
    if body is None:
        return [] if section not in cfg else [f"{section}: must be a mapping, not empty"]
    if not isinstance(body, dict):
        return [f"{section}: must be a mapping of interface name to settings"]
    problems: list[str] = []
    for name, dev in body.items():
        where = f"{section}.{name}"
        if not isinstance(name, str) or not _IFNAME_RE.match(name):
            problems.append(f"{where}: invalid interface name (1-15 of A-Z a-z 0-9 _ . -)")
        elif name in devices:
            problems.append(f"{where}: also defined in {devices[name][0]}")
        if not isinstance(dev, dict):
            problems.append(f"{where}: must be a mapping (write `{{}}` for no settings); "
                            "cloud-init 22.4 crashes on anything else")
            continue
        unknown = sorted(set(dev) - _SECTION_KEYS[section])
        if unknown:
            problems.append(f"{where}: keys {', '.join(unknown)} are ignored by cloud-init 22.4")
        if isinstance(name, str):
            devices.setdefault(name, (section, dev))
    return problems


def _members(dev: dict[str, Any]) -> list[Any]:
    """The ``interfaces`` list of a bond or bridge (empty when absent or malformed)."""
    members = dev.get("interfaces")
    return members if isinstance(members, list) else []


def _membership_problems(devices: dict[str, tuple[str, dict[str, Any]]]) -> list[str]:
    """Each bond member / bridge port must exist and belong to one bond or bridge only."""
    problems: list[str] = []
    owner: dict[str, str] = {}
    for name, (section, dev) in devices.items():
        if section not in ("bonds", "bridges"):
            continue
        where = f"{section}.{name}.interfaces"
        members = dev.get("interfaces")
        if not isinstance(members, list) or not members:
            problems.append(f"{where}: must be a non-empty list of interface names")
            continue
        for member in members:
            problems += _member_problems(where, name, section, member, devices, owner)
    return problems


def _member_problems(where: str, name: str, section: str, member: Any,
                     devices: dict[str, tuple[str, dict[str, Any]]],
                     owner: dict[str, str]) -> list[str]:
    """Problems of one member of a bond or bridge."""
    if not isinstance(member, str) or member not in devices:
        return [f"{where}: {member!r} is not defined in ethernets/bonds/vlans"]
    member_section, member_dev = devices[member]
    problems: list[str] = []
    if section == "bonds" and member_section != "ethernets":
        problems.append(f"{where}: {member} must be an ethernet (bond members are NICs)")
    if member == name or member_section == "bridges":
        problems.append(f"{where}: {member} cannot be a member of {name}")
    if member in owner:
        problems.append(f"{where}: {member} is already a member of {owner[member]}")
    owner[member] = name
    l3 = [k for k in _L3_KEYS if member_dev.get(k)]
    if l3:
        problems.append(f"{where}: member {member} must not have {', '.join(l3)}")
    return problems


def _device_problems(section: str, name: str, dev: dict[str, Any],
                     devices: dict[str, tuple[str, dict[str, Any]]]) -> list[str]:
    """Problems of one device: addresses, routes, then its section's own keys."""
    where = f"{section}.{name}"
    problems = _address_problems(where, dev) + _route_problems(where, dev)
    if section == "ethernets":
        problems += _ethernet_problems(where, name, dev)
    elif section == "bonds":
        problems += _param_problems(where, dev, _bond_params(), _bond_value_problem)
    elif section == "bridges":
        problems += _param_problems(where, dev, _bridge_params(), _bridge_value_problem)
    else:
        problems += _vlan_problems(where, name, dev, devices)
    return problems


def _address_problems(where: str, dev: dict[str, Any]) -> list[str]:
    """Addresses must be a list of ``ip/prefix`` (a bare ip silently becomes /24)."""
    addresses = dev.get("addresses", [])
    if not isinstance(addresses, list):
        return [f"{where}.addresses: must be a list"]
    problems: list[str] = []
    for addr in addresses:
        try:
            ipaddress.ip_interface(str(addr))
        except ValueError:
            problems.append(f"{where}.addresses: {addr!r} is not an ip/prefix")
            continue
        if "/" not in str(addr):
            problems.append(f"{where}.addresses: {addr!r} needs a /prefix "
                            "(cloud-init 22.4 silently assumes /24)")
    return problems


def _route_problems(where: str, dev: dict[str, Any]) -> list[str]:
    """Routes: a list of ``{to: net/prefix, via: ip}``; other keys are dropped by 22.4."""
    routes = dev.get("routes", [])
    if not isinstance(routes, list):
        return [f"{where}.routes: must be a list"]
    problems: list[str] = []
    for i, route in enumerate(routes):
        here = f"{where}.routes[{i}]"
        if not isinstance(route, dict) or "to" not in route or "via" not in route:
            problems.append(f"{here}: needs `to` and `via`")
            continue
        extra = sorted(set(route) - {"to", "via"})
        if extra:
            problems.append(f"{here}: keys {', '.join(extra)} are ignored by cloud-init 22.4")
        if route["to"] == "default":
            problems.append(f"{here}: `to: default` is rejected by cloud-init 22.4; "
                            "write 0.0.0.0/0 or ::/0")
    return problems


def _ethernet_problems(where: str, name: str, dev: dict[str, Any]) -> list[str]:
    """``match`` only by lower-case ``macaddress``, always with ``set-name`` equal to the key."""
    match, set_name = dev.get("match"), dev.get("set-name")
    if match is None:
        if set_name is not None:
            return [f"{where}.set-name: needs match.macaddress (22.4 renames by MAC only)"]
        return []
    if not isinstance(match, dict) or set(match) != {"macaddress"}:
        return [f"{where}.match: only `macaddress` is supported by cloud-init 22.4"]
    problems: list[str] = []
    mac = match["macaddress"]
    if not isinstance(mac, str) or not _MAC_RE.match(mac):
        problems.append(f"{where}.match.macaddress: {mac!r} must be a lower-case MAC "
                        "like 0c:aa:bb:00:00:01 (udev and cloud-init compare it as written)")
    if set_name != name:
        problems.append(f"{where}.set-name: must be {name!r} (equal to the key), "
                        "since bonds, bridges and vlans name interfaces literally")
    return problems


def _param_problems(where: str, dev: dict[str, Any], allowed: frozenset[str],
                    value_problem: Callable[[str, Any], str | None]) -> list[str]:
    """The ``parameters`` of a bond or bridge: only mapped keys, no values ENI would drop."""
    params = dev.get("parameters", {})
    if not isinstance(params, dict):
        return [f"{where}.parameters: must be a mapping"]
    problems: list[str] = []
    for key, value in params.items():
        here = f"{where}.parameters.{key}"
        if key not in allowed:
            problems.append(f"{here}: not supported by cloud-init 22.4 "
                            f"(supported: {', '.join(sorted(allowed))})")
        elif value is None or (value == 0 and not isinstance(value, bool)):
            problems.append(f"{here}: {value!r} is dropped by the ENI renderer; omit it")
        else:
            problem = value_problem(key, value)
            if problem:
                problems.append(f"{here}: {problem}")
    return problems


def _bond_params() -> frozenset[str]:
    """The bond parameter names cloud-init maps to ENI options (read from cloud-init)."""
    from cloudinit.net.network_state import NET_CONFIG_TO_V2

    return frozenset(NET_CONFIG_TO_V2["bond"].values()) | {"gratuitious-arp"}


def _bridge_params() -> frozenset[str]:
    """The bridge parameter names cloud-init maps and renders correctly."""
    from cloudinit.net.network_state import NET_CONFIG_TO_V2

    mapped = {v for v in NET_CONFIG_TO_V2["bridge"].values() if v}
    return frozenset(mapped - _BROKEN_BRIDGE_PARAMS)


def _bond_value_problem(key: str, value: Any) -> str | None:
    """A bond parameter value ifenslave would refuse."""
    if key == "mode" and value not in _BOND_MODES:
        return f"{value!r} is not one of {', '.join(sorted(_BOND_MODES))}"
    if key == "lacp-rate" and value not in ("slow", "fast"):
        return f"{value!r} must be slow or fast"
    return None


def _bridge_value_problem(key: str, value: Any) -> str | None:
    """A bridge parameter value that would not render as intended."""
    if key == "stp" and not isinstance(value, bool):
        return f"{value!r} must be true or false"
    return None


def _vlan_problems(where: str, name: str, dev: dict[str, Any],
                   devices: dict[str, tuple[str, dict[str, Any]]]) -> list[str]:
    """A VLAN needs an integer id, an existing link, and the name ``<link>.<id>``."""
    vid, link = dev.get("id"), dev.get("link")
    problems: list[str] = []
    if not isinstance(vid, int) or isinstance(vid, bool) or not 1 <= vid <= 4094:
        problems.append(f"{where}.id: must be an integer 1-4094, got {vid!r}")
    if not isinstance(link, str) or link not in devices:
        problems.append(f"{where}.link: {link!r} is not defined in ethernets/bonds/bridges")
    elif devices[link][0] == "vlans":
        problems.append(f"{where}.link: {link} is a vlan (stacked VLANs are not supported)")
    if not problems and name != f"{link}.{vid}":
        problems.append(f"{where}: must be named {link}.{vid} (Debian's ifupdown creates a "
                        "VLAN from a <link>.<id> name only)")
    return problems


def _rendering_problems(cfg: dict[str, Any], summary: dict[str, Any]) -> list[str]:
    """Problems only visible in the rendered ENI: a VLAN that nothing would bring up."""
    ports = {p for dev in (cfg.get("bridges") or {}).values() for p in _members(dev)}
    return [f"vlans.{name}: has no addresses and is no bridge port, so cloud-init renders it "
            "without `auto` and it is never created"
            for name in (cfg.get("vlans") or {})
            if not summary["interfaces"][name]["auto"] and name not in ports]


# --------------------------------------------------------------------------------------------
# network-config: cloud-init's own parser and ENI renderer


class _Collect(logging.Handler):
    """Collects the warnings cloud-init logs."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage().splitlines()[0])


@contextmanager
def _hermetic_parse() -> Iterator[_Collect]:
    """Hide the build host's NICs from the parser and collect cloud-init's warnings."""
    from cloudinit.net import network_state

    saved = (network_state.get_interfaces_by_mac, network_state.find_interface_name_from_mac)
    handler = _Collect()
    logger = logging.getLogger("cloudinit")
    with _PARSE_LOCK:
        network_state.get_interfaces_by_mac = lambda *a, **k: {}
        network_state.find_interface_name_from_mac = lambda *a, **k: None
        logger.addHandler(handler)
        try:
            yield handler
        finally:
            logger.removeHandler(handler)
            network_state.get_interfaces_by_mac, network_state.find_interface_name_from_mac = saved


def _renderer_config() -> dict[str, Any]:
    """Debian's ENI renderer settings, paths made relative to the render target."""
    try:
        from cloudinit.distros.debian import Distro

        config = dict(Distro.renderer_configs["eni"])
    except (ImportError, AttributeError, KeyError):  # pragma: no cover - other cloud-init
        config = {}
    config["eni_path"] = ENI_PATH
    config["netrules_path"] = UDEV_PATH
    return config


def _cloudinit_render(cfg: dict[str, Any], source: str) -> tuple[Any, str, str]:
    """Parse with ``parse_net_config_data`` and render with the ENI renderer, in a temp dir."""
    from cloudinit.net import eni, network_state

    with _hermetic_parse() as warnings, tempfile.TemporaryDirectory(prefix="gns3lab-eni-") as tmp:
        try:
            state = network_state.parse_net_config_data(cfg, skip_broken=False)
            eni.Renderer(_renderer_config()).render_network_state(state, target=tmp)
        except Exception as exc:  # cloud-init raises ValueError, KeyError, RuntimeError, ...
            detail = f"{type(exc).__name__}: {exc}".splitlines()[0]
            problem = f"cloud-init 22.4 rejects it: {detail}"
            raise SeedError(_problem_message(source, [problem])) from exc
        eni_text = (Path(tmp) / ENI_PATH).read_text(encoding="utf-8")
        udev_path = Path(tmp) / UDEV_PATH
        udev = udev_path.read_text(encoding="utf-8") if udev_path.exists() else ""
    if warnings.messages:
        raise SeedError(_problem_message(
            source, [f"cloud-init 22.4 warns: {m}" for m in warnings.messages]))
    return state, eni_text, udev


# --------------------------------------------------------------------------------------------
# summary

_NOT_PARAMETERS = frozenset({"address", "gateway", "dns", "dns-nameservers", "dns-search",
                             "post-up", "pre-down", "mtu", "hwaddress", "metric"})


def _parse_eni(text: str) -> tuple[set[str], dict[str, dict[str, str]]]:
    """The ``auto`` interfaces and each interface's options, from rendered ENI text."""
    auto: set[str] = set()
    options: dict[str, dict[str, str]] = {}
    current: str | None = None
    for line in text.splitlines():
        if line.startswith("auto "):
            auto.update(line.split()[1:])
        elif line.startswith("iface "):
            current = line.split()[1]
            options.setdefault(current, {})
        elif line.startswith("    ") and current is not None:
            key, _, value = line.strip().partition(" ")
            options[current].setdefault(key, value)
        elif not line.strip():
            current = None
    return auto, options


def _interface_summary(iface: dict[str, Any], auto: set[str],
                       options: dict[str, dict[str, str]]) -> dict[str, Any]:
    """One interface of the summary, from cloud-init's network state and the ENI text."""
    name = iface["name"]
    subnets = iface.get("subnets") or []
    static = [s for s in subnets if s.get("type") in ("static", "static6")]
    gateways = {4: None, 6: None}
    for s in static:
        if s.get("gateway"):
            gateways[ipaddress.ip_address(s["address"]).version] = s["gateway"]
    routes = [{"to": f"{r['network']}/{r['prefix']}", "via": r.get("gateway")}
              for s in subnets for r in s.get("routes", [])]
    eni_opts = options.get(name, {})
    return {
        "type": iface["type"],
        "auto": name in auto,
        "dhcp4": any(s.get("type") == "dhcp4" for s in subnets),
        "dhcp6": any(s.get("type") == "dhcp6" for s in subnets),
        "addresses": [f"{s['address']}/{s['prefix']}" for s in static],
        "gateway4": gateways[4],
        "gateway6": gateways[6],
        "routes": routes,
        "mtu": iface.get("mtu"),
        "mac_address": iface.get("mac_address"),
        "parameters": {k: v for k, v in eni_opts.items() if k not in _NOT_PARAMETERS},
    }


def _summarise(state: Any, eni_text: str, udev: str) -> dict[str, Any]:
    """The summary dict :func:`check_network_config` returns."""
    auto, options = _parse_eni(eni_text)
    interfaces = {iface["name"]: _interface_summary(iface, auto, options)
                  for iface in state.iter_interfaces()}
    return {
        "interfaces": dict(sorted(interfaces.items())),
        "dns": {"nameservers": list(state.dns_nameservers),
                "search": list(state.dns_searchdomains)},
        "eni": eni_text,
        "udev_rules": udev,
    }
