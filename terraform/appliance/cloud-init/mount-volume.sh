#!/bin/sh
# The host's data volume (terraform/appliance, the catalogue's `volume` of its role) at
# PATH, before Salt installs anything there. Usage: raycrafter-volume PATH LABEL
# - already a mount point (LXD mounts a custom volume itself): nothing to do;
# - a file system labelled LABEL (the volume, formatted at an earlier first boot of a host
#   it outlived): mounted;
# - else the attached disk with neither partitions nor a file system: formatted (ext4,
#   LABEL) and mounted. Mounted by label from /etc/fstab at every later boot.
set -eu
path=$1
label=$2
mountpoint -q "$path" && exit 0
device=
for attempt in $(seq 90); do
    device=$(blkid -L "$label" 2>/dev/null || true)
    [ -n "$device" ] && break
    blank=$(lsblk -dnpo NAME,TYPE | while read -r name type; do
        [ "$type" = disk ] || continue
        [ -z "$(lsblk -npo FSTYPE,MOUNTPOINT "$name" | tr -d ' \n')" ] && [ "$(lsblk -npo NAME "$name" | wc -l)" -eq 1 ] && echo "$name"
    done | head -n 1)
    if [ -n "$blank" ]; then
        mkfs.ext4 -q -L "$label" "$blank"
        device=$blank
        break
    fi
    # The cloud attaches the volume shortly after the host starts.
    sleep 2
done
[ -n "$device" ] || { echo "raycrafter-volume: no volume labelled $label and no blank disk for $path" >&2; exit 1; }
mkdir -p "$path"
grep -q "^LABEL=$label " /etc/fstab || echo "LABEL=$label $path ext4 defaults,nofail 0 2" >> /etc/fstab
mount "$path"
