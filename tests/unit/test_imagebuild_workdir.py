"""The image build's work folder: locked while its build lives, swept once it is dead, and
removed without following a symlink out of it (issue 17, finding 8). Pure: no program runs."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

import pytest

from generator.images import workdir


def _stale_folder(images_dir: Path, name: str = "debian-12-abc-x1") -> Path:
    """What a SIGKILLed build leaves: a nested tree with a raw disk."""
    folder = images_dir / f"{workdir.PREFIX}{name}"
    (folder / "rootfs" / "etc" / "deep").mkdir(parents=True)
    (folder / "rootfs" / "etc" / "deep" / "file").write_text("x")
    (folder / "disk.raw").write_bytes(b"\0" * 4096)
    (folder / "rootfs" / "etc" / "ro").mkdir()
    (folder / "rootfs" / "etc" / "ro" / "f").write_text("y")
    return folder


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A host folder with a canary: symlinks in the build folder point here."""
    canary = tmp_path / "host" / "canary"
    canary.parent.mkdir()
    canary.write_text("must survive")
    return canary.parent


def test_a_dead_builds_folder_is_swept_without_following_symlinks(tmp_path: Path,
                                                                   outside: Path) -> None:
    images = tmp_path / "images"
    images.mkdir()
    folder = _stale_folder(images)
    (folder / "rootfs" / "host-dir").symlink_to(outside)
    (folder / "rootfs" / "host-file").symlink_to(outside / "canary")
    (folder / "rootfs" / "abs-root").symlink_to("/")
    keep = images / "gns3lab-debian-12-0123456789ab.qcow2"
    keep.write_bytes(b"image")
    (images / ".gns3lab-builds.json").write_text("{}")

    assert workdir.sweep(images) == [folder]
    assert not folder.exists()
    assert sorted(p.name for p in images.iterdir()) == [".gns3lab-builds.json", keep.name]
    assert (outside / "canary").read_text() == "must survive"


def test_a_live_builds_folder_is_not_swept(tmp_path: Path) -> None:
    """A build holds the flock on its folder while it runs (another open file description
    here, so the lock conflicts as between two processes)."""
    images = tmp_path / "images"
    images.mkdir()
    live, dead = _stale_folder(images, "live"), _stale_folder(images, "dead")
    fd = os.open(live, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        assert workdir.sweep(images) == [dead]
        assert (live / "rootfs" / "etc" / "deep" / "file").read_text() == "x"
    finally:
        os.close(fd)
    assert workdir.sweep(images) == [live]  # its build has ended without cleaning up
    assert list(images.iterdir()) == []


def test_work_folder_is_locked_while_in_use_and_gone_after(tmp_path: Path) -> None:
    with workdir.work_folder(tmp_path, "tiny-key") as work:
        assert work.parent == tmp_path and work.name.startswith(".gns3lab-build-tiny-key-")
        (work / "rootfs" / "boot").mkdir(parents=True)
        assert workdir.sweep(tmp_path) == []
        assert work.is_dir()
    assert list(tmp_path.iterdir()) == []


def test_work_folder_is_removed_on_an_exception(tmp_path: Path) -> None:
    with pytest.raises(KeyboardInterrupt), workdir.work_folder(tmp_path, "x") as work:
        (work / "half").write_text("half-written")
        raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []


def test_a_symlink_or_file_with_the_prefix_is_not_a_build_folder(tmp_path: Path,
                                                                 outside: Path) -> None:
    images = tmp_path / "images"
    images.mkdir()
    (images / f"{workdir.PREFIX}link").symlink_to(outside)
    (images / f"{workdir.PREFIX}file").write_text("not a folder")
    assert workdir.sweep(images) == []
    assert (outside / "canary").read_text() == "must survive"
    assert sorted(p.name for p in images.iterdir()) == [f"{workdir.PREFIX}file",
                                                        f"{workdir.PREFIX}link"]


def test_remove_tree_removes_a_symlink_not_its_target(tmp_path: Path, outside: Path) -> None:
    tree = tmp_path / "tree"
    (tree / "a").mkdir(parents=True)
    (tree / "a" / "out").symlink_to(outside)
    workdir.remove_tree(tree)
    assert not tree.exists() and (outside / "canary").exists()
    workdir.remove_tree(tree)  # already gone: nothing to do


def test_mountinfo_paths_are_unescaped() -> None:
    assert workdir._unescape("/a\\040b\\011c\\134d") == "/a b\tc\\d"


def test_mounts_under_names_only_that_folder(tmp_path: Path) -> None:
    assert workdir.mounts_under(tmp_path) == []
    assert "/proc" in workdir.mounts_under(Path("/proc"))
