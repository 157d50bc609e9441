"""The floor of an injecting build: one bare libguestfs launch with the same disks, each disk
mounted once, then shutdown. Nothing is written; no tool can inject with less."""

from __future__ import annotations

from pathlib import Path


def run_floor(disks: list[Path]) -> None:
    """add_drive every overlay, launch, mount each disk's root (whole-disk ext4), shutdown."""
    import guestfs

    g = guestfs.GuestFS(python_return_dict=True)
    try:
        for disk in disks:
            g.add_drive_opts(str(disk), format="qcow2", readonly=False)
        g.launch()
        for dev in g.list_devices():
            g.mount(dev, "/")
            g.umount_all()
        g.shutdown()
    finally:
        g.close()
