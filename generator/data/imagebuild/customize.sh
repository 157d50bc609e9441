#!/bin/sh
# mmdebstrap customize hook ($1 = chroot): make the tree a generic cloud image.
set -e
R=$1
# Root on the first partition of the first virtio disk; rw on the kernel command line, so no
# fsck of / at boot.
echo "/dev/vda1 / ext4 defaults,noatime 0 1" > "$R/etc/fstab"
# Test image: root has an EMPTY password for serial-console debugging. sshd refuses empty
# passwords (PermitEmptyPasswords no), so this only opens the console.
chroot "$R" passwd -d root
# Every node must get its own identity: no host keys (cloud-init's ssh module makes them on first
# boot), no machine-id (systemd makes one), no hostname (cloud-init sets it from meta-data).
rm -f "$R"/etc/ssh/ssh_host_*
rm -f "$R/etc/hostname" "$R/etc/machine-id" "$R/var/lib/dbus/machine-id"
touch "$R/etc/machine-id"
# Nothing here may reach a network at boot: the labs run offline.
rm -rf "$R"/var/lib/apt/lists/* "$R"/var/cache/apt/*.bin "$R"/var/cache/apt/archives/*.deb
rm -rf "$R"/var/log/*.log "$R"/var/log/apt/* "$R"/tmp/* "$R"/var/tmp/*
