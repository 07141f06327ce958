#!/bin/bash
# Captures what the commands the worker runs on the login node, and GridFTP, print when
# scratch is full (ENOSPC) or the cluster account's quota is exhausted (EDQUOT).
# Run as root on the all-in-one appliance (its stand-in cluster is this host), here:
#   bash disk_full.sh [SSH_ALIAS]     (default raycrafter-standin, the worker's, from Salt)
# writes NAME.rc/.stdout/.stderr for the commands and gridftp/NAME.* for globus-url-copy.
# A full file system is a small tmpfs made and removed here. The kernel this ran on has no
# disk quotas, so EDQUOT is injected into the same commands' system calls with strace -P:
# the message around the error's text is still each command's own.
set -u
alias=${1:-raycrafter-standin}
scratch=/srv/raycrafter/scratch
here=$PWD
work=$(mktemp -d "$scratch/capture.XXXXXX")
chown render: "$work"
full=$work/full  # no block left
few=$work/few  # no inode left
quota=$work/quota
trust=$work/.x509
su render -s /bin/sh -c "mkdir $full $few $quota $quota/t $trust"
mount -t tmpfs -o size=64k,uid=render,gid=render,mode=0700 tmpfs "$full"
mount -t tmpfs -o nr_inodes=2,uid=render,gid=render,mode=0700 tmpfs "$few"
trap 'umount "$full" "$few"; rm -rf "$work"' EXIT
su render -s /bin/sh -c "head -c 64k /dev/zero > $full/filler 2>/dev/null"
tar -cf "$work/scene.tar" -C /etc services && chmod 0644 "$work/scene.tar"

capture() {  # NAME COMMAND: run as the cluster user, as the worker's commands are
    su render -s /bin/sh -c "$2" > "$here/$1.stdout" 2> "$here/$1.stderr"
    echo $? > "$here/$1.rc"
}
inject() {  # SYSCALLS PATH...: strace's prefix failing SYSCALLS on the PATHs with EDQUOT
    local syscalls=$1 paths=""
    shift
    for path; do paths="$paths -P $path"; done
    echo "strace -f -o /dev/null$paths -e inject=$syscalls:error=EDQUOT"
}
# What make_dirs and the submission command run (cat of stdin into the batch script).
capture mkdir_no_space "cd $few && mkdir -p -m 0700 -- $few/a $few/b"
capture write_no_space "head -c 100k /etc/services | cat > $full/script"
capture tar_no_space "tar -C $full -xf $work/scene.tar"
# mkdir -p makes the last folder by its name relative to its parent.
capture mkdir_quota "cd $quota && $(inject mkdir,mkdirat "$quota/a" a) mkdir -p -m 0700 -- $quota/a"
capture write_quota "head -c 100k /etc/services | $(inject write,copy_file_range,splice \
    "$quota/script") sh -c 'cat > $quota/script'"
capture tar_quota "$(inject write "$quota/t/services") tar -C $quota/t -xf $work/scene.tar"

mkdir -p "$here/gridftp" "$work/certs"
head -c 1M /dev/urandom > "$work/upload.bin"
gridftp() {  # NAME TARGET [PREFIX OF THE REMOTE SERVER]: an upload as the worker makes it
    X509_CERT_DIR=$work/certs GLOBUS_REMOTE_SSHFTP="X509_CERT_DIR=$trust ${3:-}/etc/grid-security/sshftp" \
        globus-url-copy -dcpriv -data-cred auto -stall-timeout 120 -cd "file://$work/upload.bin" \
        "sshftp://$alias$2" > "$here/gridftp/$1.stdout" 2> "$here/gridftp/$1.stderr" < /dev/null
    echo $? > "$here/gridftp/$1.rc"
}
gridftp upload_no_space "$full/upload.bin"
gridftp upload_quota "$quota/upload.bin" "$(inject write "$quota/upload.bin") "
gridftp create_quota "$quota/created.bin" "$(inject openat "$quota/created.bin") "
