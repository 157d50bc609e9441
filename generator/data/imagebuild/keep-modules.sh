#!/bin/sh
# mmdebstrap customize hook ($1 = chroot, $2 = the recipe's staging folder, $3 = save|restore):
# keep the kernel modules a recipe names (and what they depend on) through prune-modules.sh.
# "save" runs before the pruning and copies them aside, "restore" after it puts them back.
# A module the kernel does not have fails the build here, not at the node's boot.
set -e
R=$1
S=$2
case $3 in
save)
  for kdir in "$R"/usr/lib/modules/*; do
    kver=$(basename "$kdir")
    while read -r m; do
      chroot "$R" modprobe -S "$kver" --show-depends "$m" > "$S/deps" 2>/dev/null || {
        echo "keep-modules: kernel $kver has no module $m" >&2; exit 1; }
      awk '$1=="insmod"{sub("^/usr","",$2); print $2}' "$S/deps" | while read -r f; do
        mkdir -p "$S/kept$(dirname "$f")"
        cp -p "$R/usr$f" "$S/kept$f"
      done
    done < "$S/modules"
  done
  rm -f "$S/deps"
  ;;
restore)
  if [ -d "$S/kept/lib/modules" ]; then
    cp -a "$S/kept/lib/modules/." "$R/usr/lib/modules/"
    for kdir in "$R"/usr/lib/modules/*; do
      chroot "$R" depmod "$(basename "$kdir")"
    done
  fi
  ;;
*)
  echo "keep-modules: save or restore" >&2; exit 2 ;;
esac
