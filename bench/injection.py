"""Figures 1, 2 and 4: injecting builds against the floor and the naive pipeline, growth with
the lab's size, and archive bytes per VM."""

from __future__ import annotations

import shutil
import subprocess
import zipfile
from pathlib import Path

from .baseimages import SERVER, SWITCH
from .labs import split, write_lab
from .naive import plan, render_script
from .procs import Figure, repeat, run_command, run_job


def make_overlays(folder: Path, vms: int, images: Path) -> list[Path]:
    """Fresh overlays (absolute backing path) on the lab's bases, one per VM, as the build
    makes them: the controller and servers on the server base, switches on the switch base."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    switches, _ = split(vms)
    disks = []
    for i in range(vms):
        base = images / (SWITCH.filename if 1 <= i <= switches else SERVER.filename)
        disk = folder / f"vm{i:03d}.qcow2"
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b",
                        str(base), str(disk)], check=True)
        disks.append(disk)
    return disks


def measure_floor(scratch: Path, vms: int, runs: int, images: Path, log: Path) -> Figure:
    """One bare launch with the lab's ``vms`` overlays, each mounted, then shutdown."""
    folder = scratch / f"floor{vms}"

    def once(_i: int):
        return run_job("floor", make_overlays(folder, vms, images), log)

    try:
        return repeat(runs, once)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def measure_build(scratch: Path, vms: int, runs: int, images: Path, log: Path,
                  keep: Path | None = None, timeout: float | None = None) -> Figure:
    """``gns3lab build`` of the ``vms``-VM lab; with ``keep`` the last archive is moved there."""
    bp = write_lab(scratch / "labs", vms, images)
    out = scratch / f"out{vms}"
    env = {"GNS3LAB_IMAGES": str(images)}

    def after(i: int) -> None:
        if keep is not None and i == runs - 1:
            shutil.move(out / f"bench{vms}.gns3project", keep)
        shutil.rmtree(out, ignore_errors=True)

    argv = ["build", bp, "-o", out, "--no-include-images"]  # figure 3 measures bundling
    return repeat(runs, lambda _i: run_job("build", argv, log, env, timeout), after)


def measure_naive(scratch: Path, archive: Path, runs: int, images: Path, log: Path
                  ) -> tuple[Figure, int, int]:
    """The naive script for the 15-VM lab; (figure, zip bytes, seed ISO bytes)."""
    work = scratch / "naive"
    nodes = plan(archive, scratch / "labs" / "bench15", images, work / "inputs")
    script = work / "naive.sh"
    script.write_text(render_script(nodes, work / "out"))
    sizes: list[int] = []

    def after(_i: int) -> None:
        sizes.append((work / "naive.zip").stat().st_size)
        sizes.append(sum(p.stat().st_size for p in (work / "out").glob("*-seed.iso")))
        shutil.rmtree(work / "out", ignore_errors=True)
        (work / "naive.zip").unlink(missing_ok=True)

    try:
        figure = repeat(runs, lambda _i: run_command(["bash", script], log), after)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return figure, sizes[-2], sizes[-1]


def archive_sizes(archive: Path, vms: int, images: Path, scratch: Path,
                  injected_bytes: int) -> dict:
    """Bytes per VM of the archive (no images) against the floor: one empty overlay header
    per VM + the bytes injected + the seed ISOs as built."""
    probe = scratch / "header.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b",
                    str(images / SERVER.filename), str(probe)], check=True)
    header = probe.stat().st_size
    probe.unlink()
    with zipfile.ZipFile(archive) as zf:
        infos = zf.infolist()
    seeds = sum(i.file_size for i in infos if i.filename.endswith(".iso"))
    overlays = [i for i in infos if i.filename.endswith("hda_disk.qcow2")]
    floor = vms * header + injected_bytes + seeds
    total = archive.stat().st_size
    return {"archive_bytes": total, "bytes_per_vm": total // vms,
            "floor_bytes_per_vm": floor // vms, "overlay_header_bytes": header,
            "injected_bytes": injected_bytes, "seed_iso_bytes": seeds,
            "overlay_bytes_uncompressed": sum(i.file_size for i in overlays),
            "overlay_bytes_compressed": sum(i.compress_size for i in overlays),
            "ratio": round(total / floor, 3)}


def injected_bytes(archive: Path, blueprint: Path) -> int:
    """What the build writes into the overlays: the controller's bootstrap tree and key, each
    switch's two files, sudoers line, hostname and key line, each server's two files."""
    with zipfile.ZipFile(archive) as zf:
        tree = sum(i.file_size for i in zf.infolist()
                   if i.filename.startswith("gns3lab/bootstrap/"))
    key = (blueprint / "keys" / "id_ed25519").stat().st_size
    pub = (blueprint / "keys" / "id_ed25519.pub").stat().st_size
    files = sum(p.stat().st_size for p in (blueprint / "files").iterdir())
    vms = int(blueprint.name.removeprefix("bench"))
    switches, servers = split(vms)
    switch = files + len("cumulus ALL=(ALL) NOPASSWD:ALL\n") + len("sw1\n") + pub
    server = len("gns3lab benchmark server\n") + len("timeout 300;\n")
    return tree + key + switches * switch + servers * server
