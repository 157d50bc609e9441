"""Which libguestfs launch failures mean KVM cannot run guests (and so earn one TCG retry)."""

from __future__ import annotations

import pytest

from generator.write.inject_session import kvm_unusable

GENERIC = ("guestfs_launch failed.\nThis usually means the libguestfs appliance failed to start "
           "or crashed.\nDo:\n  export LIBGUESTFS_DEBUG=1 LIBGUESTFS_TRACE=1\nand run the "
           "command again.")

KVM_FAILURES = {
    # qemu 7.2, target/i386/kvm/kvm.c kvm_buf_set_msrs, on a nested/cloud host
    "qemu-system-x86_64: error: failed to set MSR 0x10a to 0x2000c6b\nqemu-system-x86_64: "
    "../../target/i386/kvm/kvm.c:3008: kvm_buf_set_msrs: Assertion `ret == cpu->kvm_msr_buf->"
    "nmsrs' failed.": "failed to set MSR 0x10a to 0x2000c6b",
    "qemu-system-x86_64: ../target/i386/kvm/kvm.c:2980: kvm_buf_set_msrs: Assertion `ret == "
    "cpu->kvm_msr_buf->nmsrs' failed.":
    "kvm_buf_set_msrs: Assertion `ret == cpu->kvm_msr_buf->nmsrs' failed.",
    "Could not access KVM kernel module: Permission denied\nqemu-system-x86_64: failed to "
    "initialize kvm: Permission denied": "Could not access KVM kernel module: Permission denied",
    "qemu-system-x86_64: failed to initialize kvm: Operation not supported":
    "failed to initialize kvm: Operation not supported",
    "KVM internal error. Suberror: 1\nemulation failure": "KVM internal error. Suberror: 1",
    "error: kvm run failed Bad address": "kvm run failed Bad address",
    "libvirt: error : internal error: qemu unexpectedly closed the monitor: 2026-12-06T20:00:00"
    " qemu-system-x86_64: error: failed to set MSR 0x10a to 0x2000c6b":
    "failed to set MSR 0x10a to 0x2000c6b",
}

OTHER_FAILURES = (
    GENERIC,
    'qemu-system-x86_64: -drive file=/tmp/a.qcow2: Failed to get "write" lock\nIs another '
    "process using the image [/tmp/a.qcow2]?",
    "could not open disk image /tmp/a.qcow2: Could not open backing file: Permission denied",
    "write: No space left on device",
    "supermin exited with error status 1",
    "qemu-system-x86_64: cannot set up guest memory 'pc.ram': Cannot allocate memory",
)


@pytest.mark.parametrize("text", sorted(KVM_FAILURES))
def test_kvm_failures_are_recognised_with_their_reason(text: str) -> None:
    assert kvm_unusable(text) == KVM_FAILURES[text]


@pytest.mark.parametrize("text", OTHER_FAILURES)
def test_other_launch_failures_are_not_taken_for_kvm(text: str) -> None:
    assert kvm_unusable(text) is None


def test_the_reason_is_one_short_line() -> None:
    reason = kvm_unusable("Could not access KVM kernel module: " + "x" * 500)
    assert reason is not None and "\n" not in reason and len(reason) <= 120
