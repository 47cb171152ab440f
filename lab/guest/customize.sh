#!/bin/sh
# mmdebstrap customize hook: turns the bootstrapped tree ($1) into a fast-booting lab guest.
# $2 is the folder with the files to copy in, $3 the folder of Python wheels to hand over.
set -eu
root=$1 files=$2 wheels=$3

install -m 755 "$files/lab-init" "$root/usr/local/sbin/lab-init"
install -m 644 "$files/lab-init.service" "$root/etc/systemd/system/lab-init.service"
install -m 644 "$files/lab-net.service" "$root/etc/systemd/system/lab-net.service"
install -m 644 "$files/sshd-lab.conf" "$root/etc/ssh/sshd_config.d/lab.conf"
# sshd checks its configuration once per boot before starting (ExecStartPre=sshd -t): a second parse of
# config and keys on the way to SSH-ready; the lab's configuration is fixed, so it starts directly.
mkdir -p "$root/etc/systemd/system/ssh.service.d"
printf '[Service]\nExecStartPre=\n' > "$root/etc/systemd/system/ssh.service.d/lab.conf"
ln -sf /etc/systemd/system/lab-init.service "$root/etc/systemd/system/sysinit.target.wants/lab-init.service"
mkdir -p "$root/etc/systemd/system/multi-user.target.wants" "$root/etc/systemd/system/network-online.target.wants"
ln -sf /etc/systemd/system/lab-net.service "$root/etc/systemd/system/multi-user.target.wants/lab-net.service"
ln -sf /etc/systemd/system/lab-net.service "$root/etc/systemd/system/network-online.target.wants/lab-net.service"

# Wheels the guests cannot download themselves (they have no network): pyroute2 for our modules.
mkdir -p "$root/opt/lvs-lab/wheels"
cp "$wheels"/*.whl "$root/opt/lvs-lab/wheels/"
# ...and installed where the pyroute2 role puts it, by the role's own installer: a converge finds it
# ready (each install costs a guest about 10 s under TCG). The module integration targets remove it
# and install it with the role.
chroot "$root" python3 -m venv --without-pip --system-site-packages /opt/lvs-cluster/venv
cp "$wheels/install_wheel.py" "$root/tmp/install_wheel.py"
for wheel in "$root"/opt/lvs-lab/wheels/pyroute2-*.whl; do
    chroot "$root" /opt/lvs-cluster/venv/bin/python /tmp/install_wheel.py "/opt/lvs-lab/wheels/${wheel##*/}" >/dev/null
done
rm "$root/tmp/install_wheel.py"

# Ansible's module payloads are zip archives that Python compiles again on every task; under TCG that is
# about a quarter of a task's guest time. The hook keeps the bytecode (lab guests only; see the file).
install -m 644 "$files/lab_zipimport_cache.py" "$root/usr/lib/python3/dist-packages/lab_zipimport_cache.py"
echo "import lab_zipimport_cache" > "$root/usr/lib/python3/dist-packages/lab_zipimport_cache.pth"
# ...and importing ansible-core's module_utils is most of what remains (2.7 s of a 3.3 s ping): tasks
# start from a warm zygote per interpreter, each module still imported fresh (lab guests only; see the file).
install -m 644 "$files/lab_module_zygote.py" "$root/usr/lib/python3/dist-packages/lab_module_zygote.py"
echo "import lab_module_zygote; lab_module_zygote.install()" > "$root/usr/lib/python3/dist-packages/lab_module_zygote.pth"

# Root is mounted read-write by the kernel (root=/dev/vda rw): no fstab entry, so systemd waits for no
# disk device unit at boot.
: > "$root/etc/fstab"

# Nothing in the lab may wait for a network that never answers, nor run maintenance during tests.
# keepalived and nginx are installed for the roles to enable; they stay off until then.
for unit in systemd-networkd-wait-online.service systemd-timesyncd.service apt-daily.timer \
    apt-daily-upgrade.timer man-db.timer e2scrub_all.timer e2scrub_reap.service fstrim.timer \
    getty@tty1.service serial-getty@ttyS0.service keepalived.service nginx.service \
    systemd-pstore.service ipvsadm.service; do
    ln -sf /dev/null "$root/etc/systemd/system/$unit"
done
# Masked above so the image boots quiet; a role that wants them unmasks them (systemd masked: false).
rm -f "$root/etc/systemd/system/keepalived.service" "$root/etc/systemd/system/nginx.service"
chroot "$root" systemctl disable keepalived.service nginx.service >/dev/null 2>&1 || true

# Boot work a disposable guest does not need, each unit seconds under TCG (systemd-analyze blame on a
# 3-guest boot: userspace 25 s before, 7 s after). No udev in the booted system: the NICs' driver is in
# the initramfs and lab-init names them, devtmpfs makes the device nodes, the kernel loads ipip itself
# when a tunnel is asked for, and nothing in the lab waits for a device unit. The root is mounted rw by the
# kernel, the journal is volatile (nothing to flush), and nothing here uses fuse, configfs, loop,
# device-mapper, binfmt, hugepages, tracing or utmp. modules-load and sysctl stay: the roles use both.
for unit in systemd-udev-trigger.service systemd-udevd.service systemd-udevd-control.socket \
    systemd-udevd-kernel.socket systemd-udev-settle.service modprobe@configfs.service modprobe@dm_mod.service \
    modprobe@fuse.service modprobe@loop.service sys-kernel-tracing.mount sys-kernel-debug.mount \
    dev-hugepages.mount sys-fs-fuse-connections.mount sys-kernel-config.mount \
    proc-sys-fs-binfmt_misc.automount systemd-binfmt.service systemd-update-utmp.service \
    systemd-journal-flush.service systemd-random-seed.service getty-static.service \
    systemd-remount-fs.service; do
    ln -sf /dev/null "$root/etc/systemd/system/$unit"
done

# systemd runs every generator at each boot and each daemon-reload (which every `systemctl enable`
# does): each is a process start under TCG (a reload took 1.1-1.7 s with these masked, 3.1-4.4 s without,
# in one guest, runs taken in turn). None of these has
# anything to generate in a lab guest (no encrypted, verity or GPT-discovered disks, no hibernation, no
# rc.local, no getty, no systemd.run, no SysV script without a native unit); fstab's stays.
mkdir -p "$root/etc/systemd/system-generators"
for generator in systemd-cryptsetup-generator systemd-debug-generator systemd-getty-generator \
    systemd-gpt-auto-generator systemd-hibernate-resume-generator systemd-integritysetup-generator \
    systemd-rc-local-generator systemd-run-generator systemd-system-update-generator \
    systemd-sysv-generator systemd-veritysetup-generator; do
    ln -sf /dev/null "$root/etc/systemd/system-generators/$generator"
done
# `systemctl enable` of a unit that also has a SysV script runs update-rc.d for it (5 s under TCG, each
# time a role enables nginx or keepalived); both have native units, which are what the roles manage.
rm -f "$root/etc/init.d/nginx" "$root/etc/init.d/keepalived"

echo "root:!" | chroot "$root" chpasswd -e
echo lvs-lab > "$root/etc/hostname"

# A small initramfs: only what mounting the virtio root needs (the full one costs ~10 s more under TCG),
# started by the lab's own /init instead of initramfs-tools' udev and hook scripts (see the file).
printf 'MODULES=list\nCOMPRESS=zstd\n' > "$root/etc/initramfs-tools/conf.d/lab.conf"
printf 'virtio_pci\nvirtio_blk\nvirtio_net\next4\ncrc32c_generic\n' > "$root/etc/initramfs-tools/modules"
install -D -m 755 "$files/lab-initramfs-init" "$root/usr/local/share/lab/initramfs-init"
install -m 755 "$files/lab-initramfs-hook" "$root/etc/initramfs-tools/hooks/lab-initramfs"
chroot "$root" update-initramfs -u -k all >/dev/null
# Stored uncompressed: QEMU loads it from the host in no time, while unpacking zstd costs the guest ~0.4 s.
for initrd in "$root"/boot/initrd.img-*; do
    chroot "$root" zstd -dqf "/boot/${initrd##*/}" -o "/boot/${initrd##*/}.raw"
    mv "$initrd.raw" "$initrd"
done

# The journal stays in memory: the guests are disposable and the disk writes cost time under TCG.
mkdir -p "$root/etc/systemd/journald.conf.d"
printf '[Journal]\nStorage=volatile\n' > "$root/etc/systemd/journald.conf.d/lab.conf"
