"""Verify of the doctor scenario: playbooks/doctor.yml against the `methods` cluster (one director, a pair
of DR, NAT and TUN real servers). On the healthy cluster it finds nothing; then each fault is made by hand
on one host, one at a time, and the doctor must name exactly that fault on that host (and nothing else);
then every fault at once, fixed the way the doctor says (site.yml), after which it finds nothing again.

By hand, against a lab of your own (group_vars linked as the scenario does):
    LVS_LAB_NAME=NAME pytest -rA -s molecule/doctor/tests/test_doctor.py
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "molecule" / "resources" / "verify"))
pytest.register_assert_rewrite("lvs_checks")
import lvs_checks as lvs  # noqa: E402

INVENTORY = ROOT / "playbooks" / "inventories" / "methods"
DR_VIP = "198.51.100.100"
ARP_SETTINGS = " ".join(f"net.ipv4.conf.{i}.arp_ignore={{ignore}} net.ipv4.conf.{i}.arp_announce={{announce}}"
                        for i in ("all", "eth1"))
ARP_SETTINGS = "sysctl -qw " + ARP_SETTINGS
# host, what breaks it (a shell command on the host), what undoes it by hand, the findings it must give
FAULTS = {
    # the role sets `all` and each interface; the kernel takes the larger of the two, so both go
    "dr_answers_arp": ("dr1", ARP_SETTINGS.format(ignore=0, announce=0), ARP_SETTINGS.format(ignore=1, announce=2),
                       {("dr1", "dr_arp_sysctls"), ("dr1", "arp_answered_by_other")}),
    "nat_route_elsewhere": ("nat2", "ip route replace default via 192.0.2.254",
                            "ip route replace default via 192.0.2.1",
                            {("nat2", "nat_return_path")}),
    "tun_rp_filter_on": ("tun1", "sysctl -qw net.ipv4.conf.tunl0.rp_filter=1",
                         "sysctl -qw net.ipv4.conf.tunl0.rp_filter=0",
                         {("tun1", "tun_rp_filter")}),
    "director_forwarding_off": ("director", "sysctl -qw net.ipv4.ip_forward=0", "sysctl -qw net.ipv4.ip_forward=1",
                                {("director", "forwarding_off")}),
    "weight_changed_by_hand": ("director", f"ipvsadm -e -t {DR_VIP}:80 -r 198.51.100.11:80 -g -w 7",
                               f"ipvsadm -e -t {DR_VIP}:80 -r 198.51.100.11:80 -g -w 1",
                               {("director", "table_drift")}),
    "web_server_stopped": ("dr2", "systemctl stop nginx", "systemctl start nginx",
                           {("director", "realserver_not_answering"), ("dr2", "nothing_listening")}),
}


@pytest.fixture(scope="module")
def lab(request):
    return lvs.Lab(*lvs.lab_name("molecule-doctor", request.config))


def run_playbook(lab, playbook, *extra):
    """ansible-playbook against the lab with the methods inventory's variables, as an operator runs it."""
    with tempfile.TemporaryDirectory() as tmp:
        inventory = Path(tmp) / "inventory.yml"
        shutil.copy(lvs.STATE_ROOT / lab.name / "inventory.yml", inventory)
        (Path(tmp) / "group_vars").symlink_to(INVENTORY / "group_vars")
        env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(ROOT / ".build" / "collections"))
        return subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(inventory),
                               str(ROOT / "playbooks" / playbook), *extra], stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, env=env, timeout=1800, check=False)


def doctor(lab) -> dict:
    """One run of playbooks/doctor.yml: its JSON report, with the run's status and wall time."""
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        started = time.monotonic()
        proc = run_playbook(lab, "doctor.yml", "-e", f"doctor_report={report}")
        seconds = time.monotonic() - started
        assert report.is_file(), f"no report (status {proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-2000:]}"
        result = json.loads(report.read_text())
    result.update(rc=proc.returncode, seconds=round(seconds, 1), output=proc.stdout)
    return result


def named(result) -> set:
    return {(f["host"], f["code"]) for f in result["findings"]}


def on(lab, host, command):
    out = lvs.guest_run(lab, host, command)
    assert out.returncode == 0, f"{host}: {command}: {out.stderr}"


def test_a_healthy_cluster_has_no_finding_and_the_play_passes(lab):
    result = doctor(lab)
    print(f"FIGURES doctor_healthy {json.dumps({'seconds': result['seconds']})}")
    assert result["findings"] == [] and result["rc"] == 0, result["output"][-3000:]


@pytest.mark.parametrize("fault", list(FAULTS))
def test_each_fault_is_named_on_its_host(lab, fault):
    host, breaks, mends, expected = FAULTS[fault]
    on(lab, host, breaks)
    try:
        result = doctor(lab)
    finally:
        on(lab, host, mends)
    print(f"FIGURES doctor_{fault} {json.dumps({'seconds': result['seconds'], 'findings': sorted(named(result))})}")
    assert named(result) == expected, [f for f in result["findings"]]
    assert result["rc"] != 0, "the doctor's play passed with errors found"
    for f in result["findings"]:
        assert f["evidence"] and f["fix"], f


def test_every_fault_at_once_is_fixed_as_the_doctor_says(lab):
    """All the faults on their hosts together: the doctor names each; its fixes (one site.yml run, and the
    boot unit restarted where a route went astray) clear them all."""
    for host, breaks, _mends, _expected in FAULTS.values():
        on(lab, host, breaks)
    found = doctor(lab)
    expected = set().union(*(e for _h, _b, _m, e in FAULTS.values()))
    assert named(found) == expected, found["findings"]
    for f in found["findings"]:
        if f["fix"].startswith("systemctl restart lvs-realserver"):
            on(lab, f["host"], "systemctl restart lvs-realserver")
        else:
            assert f["fix"].startswith(("run playbooks/site.yml", "start the service")), f
    fixed = run_playbook(lab, "site.yml")
    assert fixed.returncode == 0, fixed.stdout[-3000:]
    after = doctor(lab)
    print(f"FIGURES doctor_all_at_once {json.dumps({'found': len(found['findings']), 'after_fix': len(after['findings'])})}")
    assert after["findings"] == [], after["findings"]
