#!/bin/sh
# mmdebstrap customize hook ($1 = chroot): keep only the kernel modules a lab node needs (plus
# their dependencies) and delete the rest, about 90 MB. KEEP names modules; KEEP_GLOBS keeps every
# module whose file name matches (the netfilter families that nftables NAT/masquerade loads).
set -e
R=$1
KEEP="virtio virtio_ring virtio_pci virtio_blk virtio_net virtio_scsi virtio_console virtio_rng
virtio_balloon ata_piix ata_generic sr_mod sd_mod cdrom isofs ext4 vfat nls_ascii nls_cp437
nls_utf8 nls_iso8859_1 af_packet bonding 8021q garp mrp bridge br_netfilter stp llc veth tun
dummy macvlan vxlan loop autofs4 binfmt_misc vmxnet3 crc32c_intel crc32c_generic sch_netem sch_htb sch_tbf
nfnetlink ip_tables ip6_tables iptable_filter iptable_nat ip6table_filter ip6table_nat x_tables
xt_MASQUERADE xt_conntrack xt_nat xt_tcpudp xt_addrtype"
KEEP_GLOBS="nf_* nft_*"
for kdir in "$R"/usr/lib/modules/*; do
  kver=$(basename "$kdir")
  names=$KEEP
  for g in $KEEP_GLOBS; do
    names="$names $(find "$kdir/kernel" -name "$g.ko*" -printf '%f\n' | sed 's/\.ko.*$//')"
  done
  : > "$R/tmp/keep"
  for m in $names; do   # modprobe prints /lib/modules/... paths: normalise away /usr
    chroot "$R" modprobe -S "$kver" --show-depends "$m" 2>/dev/null |
      awk '$1=="insmod"{sub("^/usr","",$2); print $2}' >> "$R/tmp/keep" || true
  done
  sort -u "$R/tmp/keep" -o "$R/tmp/keep"
  find "$kdir/kernel" -name '*.ko*' | sed "s|^$R||; s|^/usr||" | sort > "$R/tmp/all"
  [ -s "$R/tmp/keep" ] || { echo "prune: empty keep list" >&2; exit 1; }
  comm -23 "$R/tmp/all" "$R/tmp/keep" | sed "s|^|$R/usr|" | xargs rm -f
  find "$kdir/kernel" -type d -empty -delete
  chroot "$R" depmod "$kver"
  rm -f "$R/tmp/keep" "$R/tmp/all"
done
