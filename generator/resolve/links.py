"""Resolution step: links as written (text, records, generated ``each:`` sets) -> model links
on allocated ports, built-in node ports included."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from generator import model as m
from generator.blueprint import schema as bp
from generator.naming import closest_fix, derive_id, fill_template
from generator.resolve.state import ResolverBase


class LinkSteps(ResolverBase):
    """Link resolution; mixed into :class:`generator.resolve.lab.Resolver`."""

    def resolve_links(self) -> list[m.Link]:
        self.prepare_builtins()
        links: list[m.Link] = []
        for i, item in enumerate(self.bp.links):
            for path, spec in self.expand_link(("links", i), item):
                link = self.resolve_link(path, spec)
                if link is not None:
                    links.append(link)
        return links

    def expand_link(self, path: tuple, item: Any) -> Iterable[tuple[tuple, bp.LinkSpec]]:
        if isinstance(item, str):
            spec = self.parse_link_text(path, item)
            return [(path, spec)] if spec else []
        if isinstance(item, bp.LinkSpec):
            return [(path, item)]
        members = self.members(path + ("each",), item.each)
        out = []
        for index, node in enumerate(members):
            for j, template in enumerate(item.links):
                tpath = path + ("links", j)
                try:
                    if isinstance(template, str):
                        spec = self.parse_link_text(tpath, fill_template(template, node, index))
                    else:
                        spec = template.model_copy(update={
                            "a": fill_template(template.a, node, index),
                            "b": fill_template(template.b, node, index)})
                except ValueError as exc:
                    self.problem(tpath, str(exc), "use {node}, {i}, {n} or {num}")
                    continue
                if spec:
                    out.append((tpath, spec))
        return out

    def members(self, path: tuple, each: str | list[str]) -> list[str]:
        """Nodes of a group (in declaration order), or an explicit list of node names."""
        if isinstance(each, list):
            names = [n for item in each for n in self.expand(path, item)]
            for n in names:
                if n not in self.drafts:
                    self.problem(path, f"unknown node '{n}'", closest_fix(n, self.drafts))
            return [n for n in names if n in self.drafts]
        if each in self.bp.groups:
            return [d.name for d in self.drafts.values() if each in d.groups]
        if each in self.drafts:
            return [each]
        self.problem(path, f"unknown group or node '{each}'",
                     closest_fix(each, list(self.bp.groups) + list(self.drafts)))
        return []

    def parse_link_text(self, path: tuple, text: str) -> bp.LinkSpec | None:
        parts = [p.strip() for p in text.split("--")]
        if len(parts) != 2 or not all(parts):
            self.problem(path, f"cannot read link '{text}'",
                         "write 'node:interface -- node:interface'")
            return None
        return bp.LinkSpec.model_validate({"a": parts[0], "b": parts[1]})

    def resolve_link(self, path: tuple, spec: bp.LinkSpec) -> m.Link | None:
        ends = [self.resolve_end(path + (side,), text, spec)
                for side, text in (("a", spec.a), ("b", spec.b))]
        if None in ends:
            return None
        a, b = ends
        assert a is not None and b is not None
        if a.node == b.node and (a.adapter, a.port) == (b.adapter, b.port):
            self.problem(path, "a link cannot join a port to itself", "pick two different ports")
            return None
        builtin_kinds = {self.drafts[a.node].spec.type, self.drafts[b.node].spec.type}
        if builtin_kinds <= {"cloud", "nat"}:
            self.problem(path, "GNS3 cannot link a cloud or NAT node to another cloud or NAT",
                         "put a VM or switch between them")
            return None
        filters: list[tuple[str, tuple[int | float, ...]]] = []
        if spec.delay is not None or spec.jitter is not None:
            filters.append(("delay", (spec.delay or 0, spec.jitter or 0)))
        if spec.loss is not None:
            filters.append(("packet_loss", (spec.loss,)))
        if spec.corrupt is not None:
            filters.append(("corrupt", (spec.corrupt,)))
        first, second = sorted([a, b], key=lambda e: (e.node, e.adapter, e.port))
        link_id = derive_id(self.bp.name, "link", f"{first.node}:{first.port_name}",
                            f"{second.node}:{second.port_name}")
        return m.Link(link_id=link_id, a=a, b=b, filters=tuple(sorted(filters)))

    def resolve_end(self, path: tuple, text: str, spec: bp.LinkSpec) -> m.Endpoint | None:
        node_name, sep, iface = text.partition(":")
        node_name, iface = node_name.strip(), iface.strip()
        if not sep or not iface:
            self.problem(path, f"link end '{text}' has no interface",
                         "write 'node:interface', e.g. 'leaf01:swp3'")
            return None
        draft = self.drafts.get(node_name)
        if draft is None:
            self.problem(path, f"unknown node '{node_name}'", closest_fix(node_name, self.drafts))
            return None
        if draft.spec.type == "qemu":
            adapter = draft.port_names.get(iface)
            if adapter is None:
                examples = ", ".join(draft.adapter_names[i] for i in range(3))
                self.problem(path, f"node '{node_name}' has no interface '{iface}'",
                             f"its ports are named like {examples}")
                return None
            port = 0
        else:
            if draft.spec.type == "cloud" and draft.spec.ports is None \
                    and iface not in draft.builtin_ports:  # the link names the host interface
                draft.builtin_ports[iface] = m.SwitchPort(iface, len(draft.builtin_ports),
                                                          "access", 1)
            sp = draft.builtin_ports.get(iface)
            if sp is None:
                self.problem(path, f"{draft.spec.type} node '{node_name}' has no port '{iface}'",
                             closest_fix(iface, draft.builtin_ports))
                return None
            adapter, port = (0, sp.port)
        key = (adapter, port)
        if key in draft.used:
            self.problem(path, f"port {node_name}:{iface} is already used by {draft.used[key]}",
                         "each port takes one link; pick a free port")
            return None
        draft.used[key] = f"{spec.a} -- {spec.b}"
        return m.Endpoint(node=node_name, adapter=adapter, port=port, port_name=iface)

    def prepare_builtins(self) -> None:
        for d in self.drafts.values():
            kind = d.spec.type
            if kind == "nat":
                d.builtin_ports = {"nat0": m.SwitchPort("nat0", 0, "access", 1)}
            elif kind == "cloud":
                # Host interface names are the host's (Windows has no eth0): never guessed.
                # Without ``ports:`` a cloud exposes the interfaces its links name (resolve_end).
                names = d.spec.ports or []
                d.builtin_ports = {n: m.SwitchPort(n, i, "access", 1) for i, n in enumerate(names)}
            elif kind == "ethernet_switch":
                vlans = d.spec.vlans or {f"Ethernet{i}": 1 for i in range(8)}
                ports = {}
                for i, (name, vlan) in enumerate(vlans.items()):
                    trunk = vlan == "trunk"
                    if not trunk and not isinstance(vlan, int):
                        self.problem(d.path + ("vlans", name), f"bad VLAN '{vlan}'",
                                     "give a VLAN number (1-4094) or 'trunk'")
                        continue
                    ports[name] = m.SwitchPort(name, i, "dot1q" if trunk else "access",
                                               1 if trunk else int(vlan))
                d.builtin_ports = ports
