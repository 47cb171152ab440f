"""Verify of the doctor scenario: playbooks/doctor.yml against the `methods` cluster (one director, a pair
of DR, NAT and TUN real servers). On the cluster as converge built it, with one warning made (a TUN server's
MSS clamp gone), it names that warning and nothing else, and the play passes: so the cluster was healthy
otherwise (a run on it untouched proved nothing more, for 25 s). Then every fault is made by hand on its
host, all at once (one doctor run of about 40 s instead of one per fault), and the doctor must name each
fault on its host and nothing else; fixed the way the doctor says (site.yml), it finds nothing and the play
passes.
Each rule alone, on read state, is in tests/unit/test_doctor.py.
test_methods.py (the methods scenario's checks, linked here) then runs on the cluster the fixes left.
The VIP held by a second director is checked in the ha scenario, which has two (test_doctor_ha.py).

By hand, against a lab of your own (group_vars linked as the scenario does):
    LVS_LAB_NAME=NAME pytest -rA -s molecule/doctor/tests/test_doctor.py
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "molecule" / "resources" / "verify"))
pytest.register_assert_rewrite("lvs_checks", "doctor_run")
import doctor_run  # noqa: E402
import lvs_checks as lvs  # noqa: E402
from doctor_run import named  # noqa: E402

EXAMPLE = ROOT / "playbooks" / "inventories" / "methods"
DR_VIP = "198.51.100.100"
ARP_SETTINGS = " ".join(f"net.ipv4.conf.{i}.arp_ignore={{ignore}} net.ipv4.conf.{i}.arp_announce={{announce}}"
                        for i in ("all", "eth1"))
ARP_SETTINGS = "sysctl -qw " + ARP_SETTINGS
# host, what breaks it (a shell command on the host), the findings it must give
FAULTS = {
    # the role sets `all` and each interface; the kernel takes the larger of the two, so both go
    "dr_answers_arp": ("dr1", ARP_SETTINGS.format(ignore=0, announce=0),
                       {("dr1", "dr_arp_sysctls"), ("dr1", "arp_answered_by_other")}),
    "nat_route_elsewhere": ("nat2", "ip route replace default via 192.0.2.254", {("nat2", "nat_return_path")}),
    "tun_rp_filter_on": ("tun1", "sysctl -qw net.ipv4.conf.tunl0.rp_filter=1", {("tun1", "tun_rp_filter")}),
    "director_forwarding_off": ("director", "sysctl -qw net.ipv4.ip_forward=0", {("director", "forwarding_off")}),
    "weight_changed_by_hand": ("director", f"ipvsadm -e -t {DR_VIP}:80 -r 198.51.100.11:80 -g -w 7",
                               {("director", "table_drift")}),
    "web_server_stopped": ("dr2", "systemctl stop nginx",
                           {("director", "realserver_not_answering"), ("dr2", "nothing_listening")}),
    # the MSS clamp gone: clients are told a segment size that no longer fits the director's IPIP header
    "tun_mss_unclamped": ("tun2", "nft delete table ip lvs_realserver", {("tun2", "tun_mss")}),
}


CLIENT = "198.51.100.1"
TUN_VIP = "198.51.100.120"
LARGE = 6000  # bytes of padding: a request of five full-size segments
# A network that drops the director's ICMP "fragmentation needed" on its way to the client, as firewalls do.
BLACK_HOLE = ("nft add table ip lab_black_hole && nft add chain ip lab_black_hole out "
              "'{ type filter hook output priority 0; policy accept; }' && nft add rule ip lab_black_hole out "
              "icmp type destination-unreachable icmp code frag-needed counter drop")


@pytest.fixture(scope="module")
def lab(request):
    return lvs.Lab(*lvs.lab_name("molecule-doctor", request.config))


def doctor(lab) -> dict:
    return doctor_run.doctor(lab.name, EXAMPLE)


def on(lab, host, command):
    out = lvs.guest_run(lab, host, command)
    assert out.returncode == 0, f"{host}: {command}: {out.stderr}"


@pytest.fixture
def icmp_black_hole(lab):
    on(lab, "director", BLACK_HOLE)
    try:
        yield
    finally:
        lvs.guest_run(lab, "director", "nft delete table ip lab_black_hole")


def large_requests(lab) -> dict:
    """{real server, or the error: count} of four large requests through the TUN VIP (each path MTU the
    client learnt forgotten first)."""
    fig = lab.client(TUN_VIP, 80, CLIENT, 4, timeout=5.0, deadline=60.0, pad=LARGE, max_errors=4)
    out: dict = {}
    for result in fig["results"]:
        key = result["bodies"][0].strip() if result["error"] is None and result["bodies"] else \
            "timed out" if "timed out" in (result["error"] or "") else result["error"]
        out[key] = out.get(key, 0) + 1
    return out


def test_a_warning_alone_is_named_and_the_play_passes(lab):
    """The one fault that is only a warning (a TUN server without its MSS clamp), alone, on the cluster as
    converge built it: named on its host and nothing else (so the cluster was otherwise healthy), and the
    play passes (errors fail it; the run with every fault shows that)."""
    host, breaks, expected = FAULTS["tun_mss_unclamped"]
    on(lab, host, breaks)
    try:
        result = doctor(lab)
    finally:
        on(lab, host, "systemctl restart lvs-realserver")  # the boot unit loads the clamp again
    print(f"FIGURES doctor_tun_mss_unclamped {json.dumps({'seconds': result['seconds'], 'findings': sorted(named(result))})}")
    assert named(result) == expected, result["findings"]
    assert {f["severity"] for f in result["findings"]} == {"warning"} and result["rc"] == 0, result["output"][-3000:]


def test_a_tun_server_without_the_clamp_takes_large_requests_that_never_arrive(lab, icmp_black_hole):
    """The TUN MTU fault on the wire, where the director's ICMP does not reach the client: the real server
    without the MSS clamp (what tun_mss names) is told full-size segments that no longer fit once the
    director adds its IPIP header, and its large requests hang; the clamped one serves every one."""
    assert large_requests(lab) == {"tun1": 2, "tun2": 2}
    on(lab, "tun2", "nft delete table ip lvs_realserver")
    try:
        broken = large_requests(lab)
    finally:
        on(lab, "tun2", "systemctl restart lvs-realserver")  # the boot unit loads the clamp again
    print(f"FIGURES doctor_tun_black_hole {json.dumps({'unclamped': broken})}")
    assert broken == {"tun1": 2, "timed out": 2}
    assert large_requests(lab) == {"tun1": 2, "tun2": 2}


def test_every_fault_at_once_is_fixed_as_the_doctor_says(lab, icmp_black_hole):
    """All the faults on their hosts together: the doctor names each; its fixes (one site.yml run, and the
    boot unit restarted where a route went astray) clear them all, and large requests through the TUN VIP
    arrive again where ICMP is dropped."""
    for host, breaks, _expected in FAULTS.values():
        on(lab, host, breaks)
    found = doctor(lab)
    print(f"FIGURES doctor_all_faults {json.dumps({'seconds': found['seconds'], 'findings': sorted(named(found))})}")
    # each fault named on its host, and nothing else (each rule alone: tests/unit/test_doctor.py)
    for fault, (_host, _breaks, expected) in FAULTS.items():
        assert expected <= named(found), (fault, found["findings"])
    assert named(found) == set().union(*(e for _h, _b, e in FAULTS.values())), found["findings"]
    for f in found["findings"]:
        assert f["evidence"] and f["fix"], f
    assert found["rc"] != 0, "errors fail the play"
    for f in found["findings"]:
        if f["fix"].startswith("systemctl restart lvs-realserver"):
            on(lab, f["host"], "systemctl restart lvs-realserver")
        else:
            assert f["fix"].startswith(("run playbooks/site.yml", "start the service")), f
    fixed = doctor_run.run_playbook(lab.name, EXAMPLE, "site.yml")
    assert fixed.returncode == 0, fixed.stdout[-3000:]
    after = doctor(lab)
    print(f"FIGURES doctor_healthy {json.dumps({'seconds': after['seconds']})}")
    print(f"FIGURES doctor_all_at_once {json.dumps({'found': len(found['findings']), 'after_fix': len(after['findings'])})}")
    assert after["findings"] == [] and after["rc"] == 0, (after["findings"], after["output"][-3000:])
    assert large_requests(lab) == {"tun1": 2, "tun2": 2}, "the clamp site.yml put back carries large requests"
