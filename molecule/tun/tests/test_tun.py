"""Verify of the tun scenario: LVS-TUN, the director and the client on the front LAN, the real servers
on a remote LAN one routed hop away (the lab namespace routes), each holding the VIP on tunl0.

Runs against the lab named by LVS_LAB_NAME, else the `lab_name` of the inventory given to pytest, else
molecule-tun. By hand, against a lab of your own:
    pytest -rA --ansible-inventory=/var/tmp/lvs-lab/vt-tun/inventory.yml molecule/tun/tests/test_tun.py
"""
import ipaddress
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
    return lvs.Lab(*lvs.lab_name("molecule-tun", request.config))


def test_director_table_is_the_contract(lab):
    lvs.check_table(lab, VIP, "Tunnel", SERVICES)


def test_realservers_are_a_routed_hop_away(lab):
    """Not on any LAN of the director: it reaches them only through a gateway."""
    director = lab.directors[0]
    director_nets = [ipaddress.ip_interface(f"{n['address']}/{n['prefix']}").network
                     for n in lab.hostvars[director]["lab_nics"].values() if n["address"]]
    for rs in lab.realservers:
        address = lab.address(rs)
        assert not any(ipaddress.ip_address(address) in net for net in director_nets), \
            f"{rs} {address} is on a LAN of the director {director_nets}"
        route = lab.director.check_output(f"ip -4 route get {address}")
        assert " via " in route, f"the director reaches {rs} without a gateway: {route!r}"


def test_rr_spreads_new_connections_evenly(lab):
    print(lvs.check_distribution(lab, VIP, CLIENT, 80, SERVICES[80][1]))


def test_wrr_follows_the_weights(lab):
    print(lvs.check_distribution(lab, VIP, CLIENT, 81, SERVICES[81][1]))


def test_persistence_keeps_the_client_on_one_realserver(lab):
    print(lvs.check_persistence(lab, VIP, CLIENT, 8080))


def test_realservers_hold_the_vip_on_tunl0(lab):
    print(lvs.check_vip_on(lab, VIP, "tunl0"))
    print(lvs.check_rp_filter_off(lab, "tunl0"))
    print(lvs.check_arp_sysctls(lab, lambda rs: [n["interface"] for n in lab.hostvars[rs]["lab_nics"].values()]))


def test_the_director_owns_the_vip(lab):
    print(lvs.check_vip_owned_by_director(lab, VIP, CLIENT, flush_on_realservers=False))


def test_requests_arrive_through_the_tunnel(lab):
    print(lvs.check_tunnel_carries(lab, VIP, CLIENT))


def test_replies_bypass_the_director(lab):
    fig = lvs.check_replies_bypass_director(lab, VIP, CLIENT, encap=lvs.IPIP_OVERHEAD)
    rs_macs = {lab.mac(rs, n["interface"]) for rs in lab.realservers for n in lab.hostvars[rs]["lab_nics"].values()}
    assert set(fig["reply_src_macs"]) == rs_macs, f"replies from {fig['reply_src_macs']}, want the real servers {rs_macs}"
    print(fig)


def test_director_counts_no_outgoing_packets(lab):
    print(lvs.check_outpkts(lab, VIP, CLIENT, 80, through_director=False))


def test_cluster_comes_back_after_reboot(lab):
    """Last, because it reboots every guest: with no Ansible run in between, the director's table
    comes back whole (its ipip destinations included: a rules file that ipvsadm -R refused half-way
    once left the VIP with no real server), and each real server holds the VIP on tunl0 with
    reverse-path filtering off."""
    figures = lvs.check_reboot(lab, VIP, CLIENT)
    for rs in lab.realservers:
        out = lvs.guest_run(lab, rs, f"ip -o -4 address show dev tunl0 to {VIP}/32; "
                                     "sysctl -n net.ipv4.conf.all.rp_filter net.ipv4.conf.tunl0.rp_filter").stdout
        assert f"inet {VIP}/32" in out, f"{rs} after the reboot: no VIP on tunl0: {out!r}"
        assert max(int(v) for v in out.split()[-2:]) in (0, 2), f"{rs} after the reboot: rp_filter {out!r}"
    print(figures)
