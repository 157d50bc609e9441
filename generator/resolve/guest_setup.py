"""Resolution step: what a guest is set up with at first boot: its cloud-init users (console
passwords hashed), keys, packages, files and commands, and the files injected into its disk."""

from __future__ import annotations

import re
from typing import Any

from generator import model as m
from generator.blueprint import schema as bp
from generator.blueprint.confine import confined
from generator.errors import Refused
from generator.passwords import derived_salt, sha512_crypt
from generator.resolve.state import Draft, ResolverBase

UNIT_RE = re.compile(r"^[A-Za-z0-9:_.@-]{1,200}\.(service|socket|timer|path|target|mount)$")


class GuestSetupSteps(ResolverBase):
    """Cloud-init and injects; mixed into :class:`generator.resolve.lab.Resolver`."""

    def cloud_init(self, d: Draft) -> m.CloudInitSpec:
        layers: list[bp.CloudInit] = d.settings.get("cloud_init", [])
        users: list[m.CloudInitUser] = []
        extra_keys: list[str] = []
        packages, files, bootcmd, runcmd = [], [], [], []
        raw: dict[str, Any] = {}
        for layer in layers:
            for u in layer.users or []:
                users = [x for x in users if x.name != u.name]
                users.append(m.CloudInitUser(u.name, u.sudo, u.shell, tuple(u.ssh_keys),
                                             self.password_hash(d, u), tuple(u.groups)))
            extra_keys += layer.ssh_keys or []
            packages += layer.packages or []
            files += [(f.path, f.content, f.permissions, f.owner) for f in layer.write_files or []]
            bootcmd += layer.bootcmd or []
            runcmd += layer.runcmd or []
            raw.update(layer.user_data or {})
        if not users:
            users = [m.CloudInitUser("lab", True, "/bin/bash", (), None, ())]
        first = users[0]
        users[0] = m.CloudInitUser(first.name, first.sudo, first.shell,
                                   first.ssh_keys + tuple(extra_keys), first.password_hash,
                                   first.groups)
        # The raw data is frozen here so no later stage can edit it; the seed renderer thaws it.
        return m.CloudInitSpec(tuple(users), tuple(dict.fromkeys(packages)), tuple(files),
                               frozen_commands(bootcmd), frozen_commands(runcmd),
                               m.FrozenMap.of(dict(sorted(raw.items()))))

    def password_hash(self, d: Draft, user: bp.Users) -> str | None:
        """The user's console password as SHA-512 crypt, salted by lab, node and user."""
        if user.password is not None and user.password_hash is not None:
            self.problem(d.path + ("cloud_init",), f"user '{user.name}' gives both password "
                         "and password_hash", "keep one of them")
        if user.password is None:
            return user.password_hash
        return sha512_crypt(user.password, derived_salt(self.bp.name, d.name, user.name))

    def injects(self, d: Draft) -> tuple[m.GuestFile, ...]:
        out = []
        for layer in d.settings.get("inject", []):
            for i, item in enumerate(layer):
                path = d.path + ("inject", i)
                given = [k for k in ("content", "source", "symlink")
                         if getattr(item, k) is not None]
                if len(given) != 1:
                    self.problem(path, f"inject of {item.path} gives "
                                 f"{' and '.join(given) or 'none of content, source, symlink'}",
                                 "give exactly one of content:, source: or symlink:")
                source = None
                if item.source is not None:
                    try:
                        source = confined(self.src.folder, item.source, "any")
                    except Refused as exc:
                        self.problem(path + ("source",), exc.message, exc.fix)
                if ".." in item.path.split("/"):
                    self.problem(path + ("path",), f"guest path '{item.path}' must stay inside "
                                 "the guest root", "write e.g. /etc/motd")
                if item.enable and not UNIT_RE.match(item.path.rsplit("/", 1)[-1]):
                    self.problem(path + ("enable",), f"'{item.path}' is not a systemd unit file "
                                 "to enable", "name a file like /etc/systemd/system/x.service")
                out.append(m.GuestFile(
                    path=item.path, content=item.content.encode() if item.content is not None
                    else None, source=source, mode=int(item.mode, 8) if item.mode else 0o644,
                    owner=item.owner, group=item.group,
                    kind="symlink" if item.symlink is not None else "file",
                    target=item.symlink, enable=item.enable))
        return tuple(out)


def frozen_commands(commands: list[str | list[str]]) -> tuple[m.Command, ...]:
    """``bootcmd``/``runcmd`` entries as written, each argv list frozen as a tuple."""
    return tuple(c if isinstance(c, str) else tuple(c) for c in commands)
