#!/bin/sh
# mmdebstrap customize hook ($1 = chroot, $2 = the recipe's staging folder, written by
# generator/images/build.py): place the recipe's files, set its sysctl keys, load its modules at
# boot, pick cloud-init's network renderer and enable its services. Runs after every package is
# installed, so no file can change where packages come from. Every write goes through chroot, so
# a path is resolved inside the image (an absolute symlink there never reaches the host).
set -e
R=$1
S=$2
if [ -s "$S/files.list" ]; then
  while read -r n mode owner dest; do
    chroot "$R" mkdir -p "$(dirname "$dest")"
    chroot "$R" sh -c 'cat > "$1"' - "$dest" < "$S/files/$n"
    chroot "$R" chown "$owner" "$dest"
    chroot "$R" chmod "$mode" "$dest"
  done < "$S/files.list"
fi
if [ -s "$S/sysctl.conf" ]; then
  chroot "$R" mkdir -p /etc/sysctl.d
  chroot "$R" sh -c 'cat > /etc/sysctl.d/60-gns3lab-recipe.conf' < "$S/sysctl.conf"
fi
if [ -s "$S/modules" ]; then
  chroot "$R" mkdir -p /etc/modules-load.d
  chroot "$R" sh -c 'cat > /etc/modules-load.d/gns3lab-recipe.conf' < "$S/modules"
fi
if [ "$(cat "$S/network")" = netplan ]; then
  # cloud-init writes netplan YAML and netplan generates systemd-networkd units, as on
  # Ubuntu's cloud images; ifupdown (if a package pulled it in) must not fight networkd.
  printf 'system_info:\n  network:\n    renderers: [netplan]\n    activators: [netplan]\n' |
    chroot "$R" sh -c 'cat > /etc/cloud/cloud.cfg.d/91-gns3lab-netplan.cfg'
  chroot "$R" systemctl enable systemd-networkd.service
  if [ -e "$R/lib/systemd/system/networking.service" ]; then
    chroot "$R" systemctl disable networking.service
  fi
fi
if [ -s "$S/services" ]; then
  while read -r unit; do
    chroot "$R" systemctl enable "$unit"
  done < "$S/services"
fi
