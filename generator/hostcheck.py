"""Honesty about resources: compare a lab's totals with this host."""

from __future__ import annotations

import os
import shutil
from pathlib import Path


def host_resources(path: Path = Path(".")) -> dict[str, int]:
    """This host's RAM (MB), CPUs and free disk (bytes) where the lab would run."""
    pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    return {"ram_mb": pages // 2**20, "cpus": os.cpu_count() or 1,
            "disk_bytes": shutil.disk_usage(path).free}


def resource_warnings(totals: dict[str, int], host: dict[str, int] | None = None) -> list[str]:
    """One warning per resource the lab needs more of than this host has."""
    host = host or host_resources()
    out = []
    if totals["ram_mb"] > host["ram_mb"]:
        out.append(f"the lab's VMs want {totals['ram_mb']} MB RAM; this host has "
                   f"{host['ram_mb']} MB")
    if totals["vcpus"] > host["cpus"]:
        out.append(f"the lab's VMs want {totals['vcpus']} vCPUs; this host has {host['cpus']} "
                   "CPUs (they will share them)")
    if totals["disk_bytes"] > host["disk_bytes"]:
        out.append(f"the lab's disks may grow to {totals['disk_bytes'] / 2**30:.1f} GiB; "
                   f"{host['disk_bytes'] / 2**30:.1f} GiB is free here")
    return out
