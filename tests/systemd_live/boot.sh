#!/bin/bash
# Boots a real systemd (252+) as PID 1 of new PID, mount, cgroup, UTS, IPC and network
# namespaces, on a throw-away overlay of the host's root: the way systemd-nspawn would, for a
# machine that has systemd installed but does not run it (a container). Used by
# tests/systemd_live.rs; nothing it does outlives the namespace but the cgroup directory
# SDLIVE_CG, which the caller removes.
#
#   SDLIVE_BASE=DIR SDLIVE_CG=/sys/fs/cgroup/.../NAME SDLIVE_BIN=statmgr SDLIVE_CONTRIB=contrib/ \
#     boot.sh
#
# The host is protected the way systemd-nspawn protects it: every write to / lands in a
# tmpfs (the overlay's upper layer), /tmp and /run are private, /proc/sys and /sys are
# read-only (so systemd-sysctl, systemd-binfmt and udev leave the kernel alone), CAP_SYS_TIME
# and CAP_SYS_MODULE are dropped, and a network namespace keeps ports (127.0.0.1:7470) apart.
set -euo pipefail

if [ "${1:-}" != --inner ]; then
    mkdir -p "$SDLIVE_CG"
    echo $$ > "$SDLIVE_CG/cgroup.procs"
    exec unshare --pid --fork --mount --cgroup --uts --ipc --net --propagation private \
        bash "$0" --inner
fi

# PID 1 of the new namespaces from here on.
B=$SDLIVE_BASE
mount --make-rprivate /
mkdir -p "$B/t"
mount -t tmpfs -o mode=755 sdlive "$B/t"
mkdir -p "$B/t/up" "$B/t/work" "$B/t/root"
mount -t overlay overlay -o "lowerdir=/,upperdir=$B/t/up,workdir=$B/t/work" "$B/t/root"
R=$B/t/root
mount --rbind /dev "$R/dev"
mount -t proc proc "$R/proc"
mount --bind "$R/proc/sys" "$R/proc/sys"
mount -o remount,bind,ro "$R/proc/sys"
mount -t sysfs -o ro sysfs "$R/sys"
# The cgroup namespace's root is SDLIVE_CG: systemd gets its own delegated subtree.
mount -t cgroup2 cgroup2 "$R/sys/fs/cgroup"
mount -t tmpfs -o mode=1777 tmpfs "$R/tmp"
mount -t tmpfs -o mode=755 tmpfs "$R/run"

# What the test installs, copied in while the host's paths are still reachable.
install -m 0755 "$SDLIVE_BIN" "$R/usr/local/bin/statmgr"
rm -rf "$R/opt/statmgr-contrib"
cp -r "$SDLIVE_CONTRIB" "$R/opt/statmgr-contrib"
# Periodic jobs of the host's image (apt, fstrim, ...) have no business here.
for u in apt-daily.timer apt-daily-upgrade.timer dpkg-db-backup.timer e2scrub_all.timer \
         fstrim.timer man-db.timer logrotate.timer; do
    ln -sf /dev/null "$R/etc/systemd/system/$u"
done

hostname statmgr-live
cd "$R"
mkdir -p sdlive-oldroot
pivot_root . sdlive-oldroot
umount -l /sdlive-oldroot
rmdir /sdlive-oldroot
export container=statmgr-live
# basic.target, not the host image's default: only what `systemctl start` pulls in runs.
exec setpriv --bounding-set -sys_time,-sys_module,-wake_alarm \
    /lib/systemd/systemd --system --unit=basic.target
