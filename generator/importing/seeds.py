"""A node's NoCloud seed ISO (its CD-ROM, in the archive or beside the ``.gns3``) -> the node's
``cloud_init:``. The keys the blueprint has (packages, write_files, bootcmd, runcmd) map; every
other user-data key is kept verbatim under ``user_data:``; the network-config is kept as a file
of the blueprint folder (``notes/``) and reported, since its addresses name no lab network."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from generator.errors import GeneratorError
from generator.importing.source import MAX_SEED, ProjectSource
from generator.read.bounded import parse_yaml
from generator.write.iso import read_seed_iso

#: Keys gns3lab writes itself into every seed (hostname, the lab user and key): a rebuild
#: writes them again, so they are not kept.
OWN_KEYS = frozenset({"hostname", "fqdn", "preserve_hostname", "manage_etc_hosts", "users",
                      "ssh_pwauth", "chpasswd", "disable_root", "ssh_authorized_keys"})
MAPPED = ("packages", "bootcmd", "runcmd")


@dataclass
class Seed:
    spec: dict[str, Any] = field(default_factory=dict)
    files: dict[str, bytes] = field(default_factory=dict)
    lost: list[str] = field(default_factory=list)


class SeedReader:
    def __init__(self, source: ProjectSource) -> None:
        self.source = source

    def read(self, node_id: str, cdrom: str, name: str) -> Seed | None:
        """The node's seed when its CD-ROM is a NoCloud seed (label ``cidata``), else None.
        A seed named like gns3lab's (``<node>-seed.iso``) whose file is not here is still a
        seed: the rebuild writes it again."""
        member = self.source.node_file(node_id, "qemu", cdrom)
        if member is None:
            return Seed() if cdrom.endswith("-seed.iso") else None
        try:
            with self.source.as_file(member, MAX_SEED) as path:
                contents = read_seed_iso(path)
        except GeneratorError as exc:
            return Seed(lost=[f"seed {cdrom[:60]} cannot be read ({exc.message[:120]}); "
                              "a new one is written"])
        if contents.label.lower() != "cidata":
            return None
        seed = Seed()
        user = contents.files.get("user-data", b"")
        try:
            data = parse_yaml(user) if user.strip() else {}
        except (ValueError, UnicodeDecodeError) as exc:
            seed.lost.append(f"its user-data is not YAML ({str(exc)[:80]}): not carried over")
            data = {}
        if isinstance(data, dict):
            seed.spec.update(self.cloud_init(data, seed))
        network = contents.files.get("network-config")
        if network and network.strip():
            path = f"notes/{name}-network-config.yaml"
            seed.files[path] = network
            seed.lost.append(f"its network-config is kept verbatim in {path}, not as "
                             "interfaces: (it names no lab network)")
        return seed

    def cloud_init(self, data: dict[str, Any], seed: Seed) -> dict[str, Any]:
        out: dict[str, Any] = {}
        raw: dict[str, Any] = {}
        for key, value in data.items():
            if not isinstance(key, str) or key in OWN_KEYS:
                continue
            if key in MAPPED and isinstance(value, list) and all(
                    isinstance(v, str | list) for v in value):
                out[key] = value
            else:
                raw[key] = value
        if raw:
            out["user_data"] = raw
            seed.lost.append(f"user-data keys kept verbatim (user_data:): {', '.join(sorted(raw))}")
        return {"cloud_init": out} if out else {}
