"""Verify of the dr scenario: LVS-DR on one LAN, the lab namespace as the client.

Runs against the lab named by LVS_LAB_NAME, else the `lab_name` of the inventory given to pytest, else
molecule-dr. By hand, against a lab of your own:
    pytest -rA --ansible-inventory=/var/tmp/lvs-lab/vt-dr/inventory.yml molecule/dr/tests/test_dr.py
"""
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "resources" / "verify"))
pytest.register_assert_rewrite("lvs_checks")
import lvs_checks as lvs  # noqa: E402

VIP = "198.51.100.100"
CLIENT = "198.51.100.1"
SERVICES = lvs.CONTRACT_SERVICES


@pytest.fixture(scope="module")
def lab(request):
    return lvs.Lab(*lvs.lab_name("molecule-dr", request.config))


def test_director_table_is_the_contract(lab):
    lvs.check_table(lab, VIP, "Route", SERVICES)


def test_realservers_share_the_directors_lan(lab):
    director_nic = lab.nic_towards(lab.directors[0], CLIENT)
    for rs in lab.realservers:
        assert lab.nic_towards(rs, CLIENT), f"{rs} is not on the client's LAN"
    assert director_nic["interface"]


def test_rr_spreads_new_connections_evenly(lab):
    print(lvs.check_distribution(lab, VIP, CLIENT, 80, SERVICES[80][1]))


def test_wrr_follows_the_weights(lab):
    print(lvs.check_distribution(lab, VIP, CLIENT, 81, SERVICES[81][1]))


def test_persistence_keeps_the_client_on_one_realserver(lab):
    print(lvs.check_persistence(lab, VIP, CLIENT, 8080))


def test_realservers_hold_the_vip_without_answering_arp(lab):
    print(lvs.check_vip_on(lab, VIP))
    print(lvs.check_arp_sysctls(lab, lambda rs: [lab.nic_towards(rs, CLIENT)["interface"]]))


def test_no_false_load_balancing(lab):
    print(lvs.check_vip_owned_by_director(lab, VIP, CLIENT))


def test_replies_bypass_the_director(lab):
    fig = lvs.check_replies_bypass_director(lab, VIP, CLIENT)
    rs_macs = {lab.mac(rs, lab.nic_towards(rs, CLIENT)["interface"]) for rs in lab.realservers}
    assert set(fig["reply_src_macs"]) == rs_macs, f"replies from {fig['reply_src_macs']}, want the real servers {rs_macs}"
    print(fig)


def test_director_counts_no_outgoing_packets(lab):
    print(lvs.check_outpkts(lab, VIP, CLIENT, 80, through_director=False))


def test_cluster_comes_back_after_reboot(lab):
    """Last, because it reboots every guest: with no Ansible run in between, the director's table
    (ipvsadm -Sn) and VIP come back, each real server holds the VIP on lo with the ARP settings that
    keep it silent, and traffic reaches both real servers."""
    figures = lvs.check_reboot(lab, VIP, CLIENT)
    nic = lab.nic_towards(lab.directors[0], CLIENT)["interface"]
    assert f"inet {VIP}/32" in lvs.guest_run(lab, lab.directors[0], f"ip -o -4 address show dev {nic}").stdout
    for rs in lab.realservers:
        out = lvs.guest_run(lab, rs, f"ip -o -4 address show dev lo to {VIP}/32; "
                                     "sysctl -n net.ipv4.conf.all.arp_ignore net.ipv4.conf.all.arp_announce").stdout
        assert f"inet {VIP}/32" in out and out.split()[-2:] == ["1", "2"], f"{rs} after the reboot: {out!r}"
    print(figures)
