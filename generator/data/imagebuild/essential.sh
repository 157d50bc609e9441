#!/bin/sh
# mmdebstrap essential hook ($1 = chroot). Runs before the kernel package is configured, so the
# initramfs that linux-image's postinst builds already uses this module list: the cloud kernel
# has virtio and ext4 as modules, and MODULES=list keeps the initramfs small.
set -e
R=$1
mkdir -p "$R/etc/initramfs-tools/conf.d"
echo "MODULES=list" > "$R/etc/initramfs-tools/conf.d/modules"
printf 'virtio_pci\nvirtio_blk\nvirtio_net\next4\n' >> "$R/etc/initramfs-tools/modules"
