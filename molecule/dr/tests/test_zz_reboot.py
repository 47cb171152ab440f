"""Reboot survival (runs after the traffic checks: files are collected in name order).

Reboots the director and rs1, then checks that what the roles set comes back without Ansible:
the director's IPVS table (compared with `ipvsadm -Sn` from before) and VIP, the real server's
silent VIP and ARP settings, and traffic through the VIP reaching both real servers.
"""
import json
import os
import subprocess
import time
from pathlib import Path

import pytest


LAB = os.environ.get("LVS_LAB_NAME", "molecule-dr")
STATE = Path(os.environ.get("LVS_LAB_STATE", "/var/tmp/lvs-lab")) / LAB
VIP = "198.51.100.100"


def ssh(host, command, timeout=60):
    hostvars = json.loads((STATE / "inventory.script.json").read_text())["_meta"]["hostvars"][host]
    cmd = ["ssh", "-p", str(hostvars["ansible_port"]), "-i", str(STATE / "id_ed25519"), "-o", "BatchMode=yes",
           "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
           "-o", "ConnectTimeout=10", "-o", "ControlMaster=no", "-o", "ControlPath=none", "root@127.0.0.1", command]
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return subprocess.CompletedProcess(cmd, 255, "", "timeout")


def reboot_and_wait(hosts, deadline_s=600):
    boot_ids = {h: ssh(h, "cat /proc/sys/kernel/random/boot_id").stdout.strip() for h in hosts}
    for h in hosts:
        ssh(h, "systemd-run --on-active=1 systemctl reboot")
    deadline = time.monotonic() + deadline_s
    pending = set(hosts)
    while pending:
        for h in sorted(pending):
            out = ssh(h, "systemctl is-system-running --wait >/dev/null; cat /proc/sys/kernel/random/boot_id",
                      timeout=120)
            if out.returncode == 0 and out.stdout.strip() and out.stdout.strip() != boot_ids[h]:
                pending.discard(h)
        if pending and time.monotonic() > deadline:
            pytest.fail(f"{sorted(pending)} did not come back from reboot within {deadline_s} s")
        time.sleep(2)


def fetch_many(count):
    seen = []
    for _attempt in range(count):
        out = subprocess.run(["ip", "netns", "exec", f"lvslab-{LAB}", "curl", "-s", "-m", "10",
                              f"http://{VIP}/"], capture_output=True, text=True, check=False)
        seen.append(out.stdout.strip())
    return seen


def test_cluster_comes_back_after_reboot():
    table_before = ssh("director", "ipvsadm -Sn").stdout
    assert "-A -t" in table_before
    reboot_and_wait(["director", "rs1"])
    assert ssh("director", "ipvsadm -Sn").stdout == table_before
    assert f"inet {VIP}/32" in ssh("director", "ip -4 -o address show dev eth1").stdout
    rs1 = ssh("rs1", "ip -4 -o address show dev lo; sysctl -n net.ipv4.conf.all.arp_ignore "
                     "net.ipv4.conf.all.arp_announce").stdout
    assert f"inet {VIP}/32" in rs1 and rs1.split()[-2:] == ["1", "2"], rs1
    answers = fetch_many(6)
    assert set(answers) == {"rs1", "rs2"}, answers
