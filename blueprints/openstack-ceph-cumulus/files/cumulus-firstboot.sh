#!/bin/sh
# gns3lab first boot on Cumulus Linux, which has no cloud-init. The build has already written
# /etc/hostname, the lab key for `cumulus` and a sudoers drop-in; this script makes that key
# usable by Ansible without anybody at the console. It runs once (see the unit's condition).
set -eu

# Cumulus 4.2+ ships `cumulus` with an expired password: even a key login would be stopped at a
# "change your password" prompt. Mark it as changed today.
chage -d "$(date +%Y-%m-%d)" cumulus

# eth0 is the management port. Keep it on DHCP (the Cumulus default), where the lab controller
# hands out this switch's reserved address by MAC.
if ! grep -Eq '^iface eth0 inet dhcp' /etc/network/interfaces; then
    vrf=""
    if grep -Eq '^iface mgmt' /etc/network/interfaces; then vrf="    vrf mgmt\n"; fi
    printf "\nauto eth0\niface eth0 inet dhcp\n${vrf}" >> /etc/network/interfaces
    ifreload -a || true
fi

mkdir -p /var/lib/gns3lab
touch /var/lib/gns3lab/firstboot.done
