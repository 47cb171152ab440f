"""Runs inside the guest (shipped beside the other guest scripts): shell commands, and the kernel reset
that every run "from empty" starts from.

`ipvsadm -C` moves each deleted destination to the kernel's destination trash for a minute or two, and
every destination added meanwhile scans that trash: an apply right after a flush of 110,000 entries
took minutes instead of about 35 s (the same for ipvsadm -R). Reloading ip_vs empties the trash, so each
run from empty meets a kernel that never held a table."""
import subprocess

EMPTY = ("ipvsadm -C && for m in $(lsmod | awk '/^ip_vs_/ {print $1}'); do rmmod $m; done"
         " && rmmod ip_vs && modprobe ip_vs")


def sh(cmd, stdin=None):
    subprocess.run(cmd, shell=True, check=True, stdin=stdin, stdout=subprocess.DEVNULL)


def empty_kernel():
    sh(EMPTY)
