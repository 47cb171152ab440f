"""Verify of the nat scenario: LVS-NAT, the client on the outside LAN, the real servers on the inside
LAN behind the director (their default gateway).

Runs against the lab named by LVS_LAB_NAME, else the `lab_name` of the inventory given to pytest, else
molecule-nat. By hand, against a lab of your own:
    pytest -rA --ansible-inventory=/var/tmp/lvs-lab/vt-nat/inventory.yml molecule/nat/tests/test_nat.py
"""
import ipaddress
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "resources" / "verify"))
pytest.register_assert_rewrite("lvs_checks")
import lvs_checks as lvs  # noqa: E402

VIP = "192.0.2.100"
CLIENT = "192.0.2.1"
SERVICES = lvs.CONTRACT_SERVICES


@pytest.fixture(scope="module")
def lab(request):
    return lvs.Lab(*lvs.lab_name("molecule-nat", request.config))


def test_director_table_is_the_contract(lab):
    lvs.check_table(lab, VIP, "Masq", SERVICES)


def test_realservers_sit_behind_the_director(lab):
    """Another subnet than the client's, default route via the director's inside address."""
    director = lab.directors[0]
    client_net = ipaddress.ip_interface(
        "{address}/{prefix}".format(**lab.nic_towards(director, CLIENT))).network
    for rs in lab.realservers:
        address = lab.address(rs)
        assert ipaddress.ip_address(address) not in client_net, f"{rs} {address} is on the client's LAN {client_net}"
        dip = lab.nic_towards(director, address)["address"]
        route = lab.hosts[rs].check_output("ip -4 route show default")
        assert f"default via {dip} " in route + " ", f"{rs}: default route {route!r}, want via {dip}"


def test_rr_spreads_new_connections_evenly(lab):
    print(lvs.check_distribution(lab, VIP, CLIENT, 80, SERVICES[80][1]))


def test_wrr_follows_the_weights(lab):
    print(lvs.check_distribution(lab, VIP, CLIENT, 81, SERVICES[81][1]))


def test_persistence_keeps_the_client_on_one_realserver(lab):
    print(lvs.check_persistence(lab, VIP, CLIENT, 8080))


def test_the_director_owns_the_vip(lab):
    print(lvs.check_vip_owned_by_director(lab, VIP, CLIENT, flush_on_realservers=False))


def test_replies_come_back_through_the_director_from_the_vip(lab):
    print(lvs.check_replies_through_director(lab, VIP, CLIENT))


def test_director_counts_outgoing_packets(lab):
    print(lvs.check_outpkts(lab, VIP, CLIENT, 80, through_director=True))


def test_cluster_comes_back_after_reboot(lab):
    """Last, because it reboots every guest: with no Ansible run in between, the director's table
    comes back and each real server's default route goes through the director again. The lab sets no
    route on the real servers and brings their LAN up where a host's own network configuration would
    (lab-net.service): the route is the role's work, done once the gateway is reachable."""
    figures = lvs.check_reboot(lab, VIP, CLIENT)
    for rs in lab.realservers:
        gateway = lab.nic_towards(lab.directors[0], lab.address(rs))["address"]
        route = lvs.guest_run(lab, rs, "ip -4 route show default").stdout
        assert f"default via {gateway} " in route, f"{rs} after the reboot: {route!r}, want via {gateway}"
    print(figures)
