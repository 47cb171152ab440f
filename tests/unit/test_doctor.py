"""The doctor's rules (module_utils/_doctor.py) on plain states: a healthy host has no finding, and each
fault, made on an otherwise healthy state, gives exactly its own finding on its own host."""
from __future__ import annotations

import copy

import pytest

from ansible_collections.lvs.cluster.plugins.module_utils import _doctor as doctor

VIP, TUN_VIP, NAT_VIP = "198.51.100.100", "198.51.100.120", "198.51.100.110"


def nic(mac, *addresses, kind="", up=True, mtu=1500):
    return {"mac": mac, "mtu": mtu, "up": up, "kind": kind, "addresses": list(addresses)}


def sysctls(**values):
    base = {"net.ipv4.ip_forward": 0, "net.ipv4.conf.all.arp_ignore": 1, "net.ipv4.conf.all.arp_announce": 2,
            "net.ipv4.conf.all.rp_filter": 0, "net.ipv4.conf.eth1.arp_ignore": 0, "net.ipv4.conf.eth1.arp_announce": 0,
            "net.ipv4.conf.eth1.rp_filter": 0, "net.ipv4.conf.tunl0.rp_filter": 0}
    base.update({k.replace("__", "."): v for k, v in values.items()})
    return base


DR_RS = {"interfaces": {"lo": nic("00:00:00:00:00:00", "127.0.0.1/8", VIP + "/32", kind="loopback"),
                        "eth1": nic("52:54:00:01:01:01", "198.51.100.11/24")},
         "sysctl": sysctls(), "modules": [], "default_route": None, "listening": [["0.0.0.0", 80]]}
TUN_RS = {"interfaces": {"lo": nic("00:00:00:00:00:00", "127.0.0.1/8", kind="loopback"),
                         "eth1": nic("52:54:00:01:02:01", "203.0.113.11/25"),
                         "tunl0": nic("", TUN_VIP + "/32", kind="ipip", mtu=1480)},
          "sysctl": sysctls(), "modules": ["ipip", "tunnel4"], "default_route": {"via": "203.0.113.1", "dev": "eth1"},
          "listening": [["0.0.0.0", 80]], "mss_clamps": [{"table": "ip lvs_realserver", "chain": "tun_mss", "mss": 1440}]}
NAT_RS = {"interfaces": {"lo": nic("00:00:00:00:00:00", "127.0.0.1/8", kind="loopback"),
                         "eth1": nic("52:54:00:01:03:01", "192.0.2.11/24")},
          "sysctl": sysctls(), "modules": [], "default_route": {"via": "192.0.2.1", "dev": "eth1"},
          "listening": [["::", 80]]}
DIRECTOR = {"interfaces": {"lo": nic("00:00:00:00:00:00", "127.0.0.1/8", kind="loopback"),
                           "eth1": nic("52:54:00:01:00:01", "198.51.100.10/24", VIP + "/32", NAT_VIP + "/32"),
                           "eth2": nic("52:54:00:01:00:02", "192.0.2.1/24")},
            "sysctl": sysctls(net__ipv4__ip_forward=1), "modules": ["ip_vs"], "plan": [],
            "probes": {"connect": [{"address": "198.51.100.11", "port": 80, "ok": True, "error": None}],
                       "arp": [{"vip": VIP, "interface": "eth1", "replies": []}]}}
DECLARED = {"dr1": {"dr": [VIP], "tun": [], "nat": [], "nat_gateway": "", "ports": [80], "directors": ["198.51.100.10"]},
            "tun1": {"dr": [], "tun": [TUN_VIP], "nat": [], "nat_gateway": "", "ports": [80], "directors": [],
                     "tun_paths": [{"director": "director", "address": "203.0.113.11", "dev": "eth1", "mtu": 1500,
                                    "pmtu_disc": 1}]},
            "nat1": {"dr": [], "tun": [], "nat": [NAT_VIP], "nat_gateway": "192.0.2.1", "ports": [80],
                     "directors": ["192.0.2.1"]}}
DIRECTOR_DECLARED = {"vips": [VIP, NAT_VIP], "nat": True, "dests": {"198.51.100.11:80": "dr1"}}


def healthy():
    return {"director": copy.deepcopy(DIRECTOR), "dr1": copy.deepcopy(DR_RS), "tun1": copy.deepcopy(TUN_RS),
            "nat1": copy.deepcopy(NAT_RS)}


def every_finding(reports, directors=("director",)):
    out = []
    for host, state in reports.items():
        if host in directors:
            out += doctor.director_findings(host, state, DIRECTOR_DECLARED)
        else:
            out += doctor.realserver_findings(host, state, DECLARED[host])
    return out + doctor.cluster_findings(reports, list(directors), [VIP, NAT_VIP, TUN_VIP])


def test_a_healthy_cluster_has_no_finding():
    assert every_finding(healthy()) == []


def dr_answers_arp(r):
    r["dr1"]["sysctl"]["net.ipv4.conf.all.arp_ignore"] = 0


def dr_vip_gone(r):
    r["dr1"]["interfaces"]["lo"]["addresses"].remove(VIP + "/32")


def dr_vip_on_lan(r):
    r["dr1"]["interfaces"]["lo"]["addresses"].remove(VIP + "/32")
    r["dr1"]["interfaces"]["eth1"]["addresses"].append(VIP + "/32")


def tun_rp_filter(r):
    r["tun1"]["sysctl"]["net.ipv4.conf.all.rp_filter"] = 1  # the larger of all and tunl0 counts


def tun_no_ipip(r):
    r["tun1"]["modules"] = []
    del r["tun1"]["interfaces"]["tunl0"]


def nat_route(r):
    r["nat1"]["default_route"] = {"via": "192.0.2.254", "dev": "eth1"}


def forwarding_off(r):
    r["director"]["sysctl"]["net.ipv4.ip_forward"] = 0


def drift(r):
    r["director"]["plan"] = ["edit_dest tcp 198.51.100.100:80 -> 198.51.100.11:80 (weight: 5 -> 1)"]


def down(r):
    r["director"]["probes"]["connect"][0].update(ok=False, error="connection refused")
    r["dr1"]["listening"] = []


def tun_mss_unclamped(r):
    r["tun1"]["mss_clamps"] = []


def arp_reply_from_rs(r):
    r["director"]["probes"]["arp"][0]["replies"] = ["52:54:00:01:01:01"]


def vip_lost(r):
    r["director"]["interfaces"]["eth1"]["addresses"].remove(VIP + "/32")


@pytest.mark.parametrize("fault, expected", [
    (dr_answers_arp, {("dr1", "dr_arp_sysctls")}),
    (dr_vip_gone, {("dr1", "dr_vip_missing")}),
    (dr_vip_on_lan, {("dr1", "dr_vip_missing")}),
    (tun_rp_filter, {("tun1", "tun_rp_filter")}),
    (tun_no_ipip, {("tun1", "tun_no_tunnel"), ("tun1", "tun_vip_missing")}),
    (nat_route, {("nat1", "nat_return_path")}),
    (forwarding_off, {("director", "forwarding_off")}),
    (drift, {("director", "table_drift")}),
    (down, {("director", "realserver_not_answering"), ("dr1", "nothing_listening")}),
    (tun_mss_unclamped, {("tun1", "tun_mss")}),
    (arp_reply_from_rs, {("dr1", "arp_answered_by_other")}),
    (vip_lost, {("director", "vip_not_held")}),
], ids=lambda v: v.__name__ if callable(v) else "")
def test_each_fault_is_named_on_its_host(fault, expected):
    reports = healthy()
    fault(reports)
    found = every_finding(reports)
    assert {(f["host"], f["code"]) for f in found} == expected, found
    for f in found:
        # a TUN real server without the clamp works wherever ICMP reaches the clients: a warning
        assert f["severity"] == ("warning" if f["code"] == "tun_mss" else "error"), f
        assert f["what"] and f["evidence"] and f["fix"], f


def tun_mss(state, declared):
    return [f for f in doctor.realserver_findings("tun1", state, declared) if f["code"] == "tun_mss"]


def test_tun_mss_what_clients_may_send_against_what_fits_the_tunnel():
    state, declared = copy.deepcopy(TUN_RS), copy.deepcopy(DECLARED["tun1"])
    state["mss_clamps"] = []
    (found,) = tun_mss(state, declared)
    assert "1460" in found["what"] and "1440" in found["what"] and found["fix"].startswith("run playbooks/site.yml")
    declared["tun_paths"][0]["pmtu_disc"] = 0  # the director fragments instead: nothing hangs
    assert tun_mss(state, declared) == []
    declared["tun_paths"][0]["pmtu_disc"] = None  # ip_vs not loaded there yet: the kernel's default, on
    assert len(tun_mss(state, declared)) == 1
    state["default_route"]["advmss"] = 1400  # a route's advmss lowers what this host advertises too
    assert tun_mss(state, declared) == []


def test_tun_mss_a_smaller_path_names_the_clamp_it_needs():
    state, declared = copy.deepcopy(TUN_RS), copy.deepcopy(DECLARED["tun1"])
    declared["tun_paths"][0]["mtu"] = 1400  # a WAN link: the role's 1440 is too large for it
    (found,) = tun_mss(state, declared)
    assert found["fix"].startswith("set realserver_tun_mss to 1340 or less"), found
    assert "nft ip lvs_realserver chain tun_mss sets 1440" in found["evidence"]
    declared["tun_paths"] = []  # no director read: nothing to compare with
    assert tun_mss(state, declared) == []


def test_a_vip_on_two_directors():
    reports = healthy()
    reports["director2"] = copy.deepcopy(DIRECTOR)
    reports["director2"]["interfaces"]["eth1"]["mac"] = "52:54:00:02:00:01"
    reports["director2"]["interfaces"]["eth2"]["mac"] = "52:54:00:02:00:02"
    found = doctor.cluster_findings(reports, ["director", "director2"], [VIP])
    assert [(f["host"], f["code"]) for f in found] == [("director2", "vip_on_two_directors")]
    assert "director (eth1)" in found[0]["evidence"] and "director2 (eth1)" in found[0]["evidence"]
    assert found[0]["fix"].startswith("on director2: ip -4 address del %s/32 dev eth1 (it stays on director;" % VIP)


def test_of_two_directors_holding_a_vip_the_one_not_heard_as_vrrp_master_gives_it_up():
    reports = healthy()
    reports["director2"] = copy.deepcopy(DIRECTOR)
    reports["director2"]["interfaces"]["eth1"]["addresses"][0] = "198.51.100.20/24"
    reports["director"]["vrrp"] = {"adverts": [{"source": "198.51.100.20", "vrid": 51, "priority": 150}], "error": None}
    reports["director2"]["vrrp"] = {"adverts": [], "error": None}
    (found,) = doctor.cluster_findings(reports, ["director", "director2"], [VIP], floating=True)
    assert found["host"] == "director" and found["code"] == "vip_on_two_directors", found
    assert "director2 is the VRRP master: its adverts (VRID 51, from 198.51.100.20) heard by director" in found["evidence"]
    assert found["fix"].startswith("on director: ip -4 address del %s/32 dev eth1 (it stays on director2, the VRRP master;"
                                   % VIP), found["fix"]


def test_a_vip_a_director_holds_on_lo_is_not_a_second_owner():
    reports = healthy()
    reports["director2"] = copy.deepcopy(DR_RS)  # holds the VIP on lo, as a real server would
    assert doctor.cluster_findings(reports, ["director", "director2"], [VIP]) == []


def test_an_arp_reply_from_outside_the_inventory_names_the_mac():
    reports = healthy()
    reports["director"]["probes"]["arp"][0]["replies"] = ["52:54:00:99:99:99"]
    (found,) = doctor.cluster_findings(reports, ["director"], [VIP])
    assert found["host"] == "director" and "52:54:00:99:99:99" in found["fix"]


def test_the_larger_of_all_and_the_interface_counts():
    state = {"sysctl": {"net.ipv4.conf.all.arp_ignore": 0, "net.ipv4.conf.eth1.arp_ignore": 1}}
    assert doctor.effective(state, "arp_ignore", "eth1") == 1
    assert doctor.effective(state, "arp_ignore", "eth2") == 0
    assert doctor.effective({}, "arp_ignore", "eth1") is None


def test_summary_counts_by_severity():
    found = [doctor.finding("h", "error", "c", "w", "e", "f"), doctor.finding("h", "warning", "c", "w", "e", "f")]
    assert doctor.summary(found) == {"errors": 1, "warnings": 1, "findings": 2}
