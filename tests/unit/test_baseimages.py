"""Base-image naming (images/baseimages.py) and the KVM launch classifier, pure.

The names an archive stores images by, whether gns3lab builds an image, and which libguestfs
launch failures mean "KVM cannot run guests here". The real tools are in
tests/integration/test_image_collision.py and tests/integration/test_kvm_fallback.py.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from generator.errors import ImageError
from generator.images.baseimages import by_filename, content_name, name_by_content
from generator.model import BaseImage
from generator.write.inject_session import kvm_unusable

SHA = "0123456789abcdef" * 4
GENERIC = ("guestfs_launch failed.\nThis usually means the libguestfs appliance failed to start "
           "or crashed.")


def image(filename: str, url: str | None = None) -> BaseImage:
    return BaseImage("A", "1", filename, "m" * 32, 10, 20, download_url=url, sha256=SHA)


@pytest.mark.parametrize("published, stored", [
    ("cumulus-vx-4.3.0-qemu.qcow2", "cumulus-vx-4.3.0-qemu.0123456789ab.qcow2"),
    ("disk.img", "disk.0123456789ab.img"),
    ("noext", "noext.0123456789ab"),
    (".hidden", ".hidden.0123456789ab"),
    ("gns3lab-debian-12-0123456789ab.qcow2", "gns3lab-debian-12-0123456789ab.qcow2"),
])
def test_the_content_name_carries_the_digest_once(published: str, stored: str) -> None:
    assert content_name(image(published)) == stored


def test_an_unchecked_image_has_no_content_name() -> None:
    with pytest.raises(ImageError, match="no sha256 yet"):
        content_name(replace(image("a.qcow2"), sha256=""))


def test_only_bundled_images_are_renamed_and_keep_their_published_name() -> None:
    found = {"ours.qcow2": image("ours.qcow2"),
             "public.qcow2": image("public.qcow2", url="https://example.org/public.qcow2")}
    named = name_by_content(found, lambda i: not i.download_url)
    assert set(named) == set(found)  # keyed by the published name, as attach_images wants
    assert (named["ours.qcow2"].filename, named["ours.qcow2"].original_filename) == \
        ("ours.0123456789ab.qcow2", "ours.qcow2")
    assert named["public.qcow2"] == found["public.qcow2"]
    assert sorted(by_filename(named)) == ["ours.0123456789ab.qcow2", "public.qcow2"]


@pytest.mark.parametrize("filename, recipe", [
    ("gns3lab-debian-12-0123456789ab.qcow2", "debian-12"),
    ("gns3lab-debian-12-netplan-0123456789ab.qcow2", "debian-12-netplan"),
    ("gns3lab-frr-0123456789ab.qcow2", "frr"),
    ("cumulus-linux-4.3.0-vx-amd64-qemu.qcow2", None),
    ("gns3lab-frr.qcow2", None),
])
def test_whether_gns3lab_builds_an_image(filename: str, recipe: str | None) -> None:
    assert image(filename).recipe == recipe


@pytest.mark.parametrize("console, reason", [
    ("qemu-system-x86_64: error: failed to set MSR 0x10a to 0x0\n", "failed to set MSR 0x10a"),
    ("qemu-system-x86_64: ../target/i386/kvm/kvm.c:2955: kvm_buf_set_msrs: Assertion `ret' "
     "failed.\n", "kvm_buf_set_msrs: Assertion"),
    ("error: kvm run failed Invalid argument\nRAX=0\n", "kvm run failed Invalid argument"),
    ("qemu-system-x86_64: Could not access KVM kernel module: No such file or directory\n",
     "Could not access KVM kernel module"),
    ("KVM: entry failed, hardware error 0x80000021\n", "KVM: entry failed"),
    ("qemu-system-x86_64: Host doesn't support requested feature: CPUID.80000001H:ECX.svm\n",
     "qemu exited before the appliance started: Host doesn't support"),
])
def test_kvm_deaths_are_read_from_the_console(console: str, reason: str) -> None:
    found = kvm_unusable(GENERIC, console)
    assert found is not None and found.startswith(reason), found


@pytest.mark.parametrize("console", [
    "",  # nothing seen: no guess
    'qemu-system-x86_64: -drive file=/x: Failed to get "write" lock\n',
    "qemu-system-x86_64: -drive file=/x: Could not open '/x': Permission denied\n",
    "supermin: mounting /proc\r\nStarting /init script ...\r\nFailed to resolve group 'kvm'.\n",
])
def test_other_launch_failures_are_not_kvm(console: str) -> None:
    assert kvm_unusable(GENERIC, console) is None
