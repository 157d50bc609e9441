"""Resolution step: a finished draft -> its frozen :class:`generator.model.Node`: symbol,
console, base image, RAM/CPUs, disks, NICs, guest interfaces, cloud-init and injects."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any

from generator import model as m
from generator.blueprint import schema as bp
from generator.blueprint.appliances import DEFAULT_VIRTUAL_SIZE, Appliance
from generator.naming import derive_id, mac_add
from generator.resolve.addresses import AddressSteps
from generator.resolve.canvas import symbol_for
from generator.resolve.guest_setup import GuestSetupSteps
from generator.resolve.state import Draft

#: GNS3's built-in symbols: a VM is a server (tower) unless its role or appliance says more.
SYMBOLS = {"qemu": ":/symbols/classic/server.svg", "cloud": ":/symbols/classic/cloud.svg",
           "nat": ":/symbols/classic/nat.svg",
           "ethernet_switch": ":/symbols/classic/ethernet_switch.svg"}
CATEGORY_SYMBOLS = {"multilayer_switch": ":/symbols/classic/multilayer_switch.svg",
                    "switch": ":/symbols/classic/ethernet_switch.svg",
                    "router": ":/symbols/classic/router.svg",
                    "firewall": ":/symbols/classic/firewall.svg"}
MIN_DISK, MAX_DISK = 1 << 20, 64 << 40
DATA_SLOTS = ("hdb", "hdd")  # the seed ISO is -cdrom, which takes hdc's place


class FreezeSteps(AddressSteps, GuestSetupSteps):
    """Node freezing; mixed into :class:`generator.resolve.lab.Resolver`."""

    def freeze_nodes(self, nets: dict[str, m.Network]) -> list[m.Node]:
        taken: dict[ipaddress.IPv4Address, str] = {}  # the router node may claim a gateway
        plans = {d.name: self.plan_interfaces(d, nets, taken) for d in self.drafts.values()}
        self.allocate_auto(plans, nets, taken)
        return [self.freeze(d, plans[d.name], nets) for d in self.drafts.values()]

    def freeze(self, d: Draft, plan: list[dict[str, Any]], nets: dict[str, m.Network]
               ) -> m.Node:
        s = d.settings
        kind = d.spec.type
        role = s.get("role") or ("external" if kind in ("cloud", "nat") else
                                 "switch" if kind == "ethernet_switch" else "server")
        pos = d.spec.position
        common = dict(name=d.name, node_id=derive_id(self.bp.name, "node", d.name), type=kind,
                      role=role, groups=d.groups, tier=s.get("tier", -1),
                      x=pos.x if pos else 0, y=pos.y if pos else 0, pinned=pos is not None,
                      name_at=(lab.x, lab.y) if (lab := d.spec.label) else (0, 0),
                      name_pinned=d.spec.label is not None)
        if kind != "qemu":
            return m.Node(**common, symbol=s.get("symbol") or SYMBOLS[kind], console_type="none",
                          ports=tuple(sorted(d.builtin_ports.values(), key=lambda p: p.port)))
        app = d.appliance
        assert app is not None and d.base_mac is not None
        nics = tuple(m.Nic(i, d.adapter_names[i], mac_add(d.base_mac, i))
                     for i in range(d.adapters))
        image = self.base_image(d, app)
        disk_size = 0  # 0: as large as the base image
        if s.get("disk") is not None:
            disk_size = self.size(d.path + ("disk",), s["disk"]) or 0
        qemu = app.qemu

        def pick(key: str, appliance_value: Any, fallback: Any) -> Any:
            return self.setting(d, key, appliance_value, fallback)

        return m.Node(
            **common,
            symbol=symbol_for(role, d.name == getattr(self.bp.controller, "node", None),
                              pick("symbol", None, None), CATEGORY_SYMBOLS.get(app.category),
                              SYMBOLS["qemu"]),
            console_type=pick("console", qemu.get("console_type"), "telnet"),
            image=image, ram=pick("ram", qemu.get("ram"), 512),
            cpus=pick("cpus", qemu.get("cpus"), 1), adapters=d.adapters,
            adapter_type=pick("adapter_type", qemu.get("adapter_type"), "virtio-net-pci"),
            disk_interface=pick("disk_interface", qemu.get("hda_disk_interface"), "virtio"),
            disk_size=disk_size, options=pick("options", qemu.get("options"), ""),
            boot_priority=pick("boot_priority", qemu.get("boot_priority"), "c"),
            custom_adapters=tuple((c.adapter, c.adapter_type, c.mac and c.mac.lower())
                                  for c in s.get("custom_adapters") or ()),
            port_name_format=pick("port_name_format", app.port_name_format, "Ethernet{0}"),
            first_port_name=pick("first_port_name", app.first_port_name, None), nics=nics,
            data_disks=self.data_disks(d), interfaces=self.guest_interfaces(d, plan, nics, nets),
            cloud_init=self.cloud_init(d) if self.wants_seed(d) else None,
            injects=self.injects(d))

    def wants_seed(self, d: Draft) -> bool:
        """A seed ISO when the blueprint says so, else when the appliance reads one."""
        return bool(self.setting(d, "seed", d.appliance.cloud_init if d.appliance else None,
                                 False))

    def base_image(self, d: Draft, app: Appliance) -> m.BaseImage:
        version = app.version(d.settings.get("version"))
        filename = version.images.get("hda_disk_image", "")
        info = app.images.get(filename)
        if info is None:
            self.problem(d.path + ("appliance",), f"appliance '{app.name}' version "
                         f"'{version.name}' lists no hda_disk_image file",
                         "fix the appliance's images/versions")
            return m.BaseImage(app.name, version.name, filename, "", 0, DEFAULT_VIRTUAL_SIZE)
        return m.BaseImage(appliance=app.name, appliance_version=version.name,
                           filename=filename, md5sum=info.md5sum, filesize=info.filesize,
                           virtual_size=info.virtual_size or DEFAULT_VIRTUAL_SIZE,
                           download_url=info.direct_download_url or info.download_url,
                           first_boot=app.first_boot, login=app.login, system=app.system,
                           download_page=info.download_url or info.direct_download_url,
                           direct_url=info.direct_download_url, compression=info.compression,
                           appliance_file=self.appliance_shown(app.path))

    def appliance_shown(self, path: Path) -> str:
        """How messages name an appliance file: relative to the blueprint folder when it is in
        it, else by its name (the model stays the same on every machine: ``show``'s output)."""
        if path.is_relative_to(self.src.folder):
            return str(path.relative_to(self.src.folder))
        return path.name

    def size(self, path: tuple, value: str | int) -> int | None:
        try:
            size = bp.parse_size(value)
        except ValueError as exc:
            self.problem(path, str(exc), "write e.g. 20G")
            return None
        if not MIN_DISK <= size <= MAX_DISK:
            self.problem(path, f"disk size {value} is out of range", "give between 1M and 64T")
            return None
        return size

    def data_disks(self, d: Draft) -> tuple[m.DataDisk, ...]:
        disks = [disk for layer in d.settings.get("disks", []) for disk in layer]
        free = DATA_SLOTS if self.wants_seed(d) else ("hdb", "hdc", "hdd")
        if len(disks) > len(free):
            self.problem(d.path + ("disks",), f"node '{d.name}' asks for {len(disks)} extra "
                         f"disks; GNS3 QEMU nodes have {len(free)} free slots",
                         f"use at most {len(free)} extra disks")
            disks = disks[:len(free)]
        out = []
        for i, (disk, slot) in enumerate(zip(disks, free, strict=False)):
            size = self.size(d.path + ("disks", i, "size"), disk.size) or 0
            out.append(m.DataDisk(slot=slot, size=size, interface=disk.interface,
                                  filename=f"{d.name}-{slot}.qcow2"))
        return tuple(out)
