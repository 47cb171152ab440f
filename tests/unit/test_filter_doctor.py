"""The doctor's filters (plugins/filter/doctor.py) on the methods example inventory: which probes a director
runs, and the findings of a whole cluster from every host's state (states written by hand, as lvs_doctor
returns them)."""
from __future__ import annotations

import copy
from pathlib import Path

import yaml

from ansible_collections.lvs.cluster.plugins.filter.doctor import (
    judge,
    lvs_doctor_findings,
    lvs_doctor_probes,
    lvs_doctor_text,
)

REPO = Path(__file__).resolve().parents[2]
SERVICES = yaml.safe_load((REPO / "playbooks/inventories/methods/group_vars/all.yml").read_text())["lvs_services"]
ADDRESSES = {"director": "198.51.100.10", "dr1": "198.51.100.11", "dr2": "198.51.100.12", "nat1": "192.0.2.11",
             "nat2": "192.0.2.12", "tun1": "203.0.113.11", "tun2": "203.0.113.12"}
GROUPS = {"directors": ["director"], "realservers": ["dr1", "dr2", "nat1", "nat2", "tun1", "tun2"]}
HOSTVARS = {h: {"lvs_address": a} for h, a in ADDRESSES.items()}
for _h in ("nat1", "nat2"):
    HOSTVARS[_h]["realserver_nat_gateway"] = "192.0.2.1"
DR_VIP, NAT_VIP, TUN_VIP, MARKED = "198.51.100.100", "198.51.100.110", "198.51.100.120", "198.51.100.130"


def nic(mac, *addresses, kind="", arp=True):
    return {"mac": mac, "mtu": 1500, "up": True, "arp": arp, "kind": kind, "addresses": list(addresses)}


def lo(*vips):
    return nic("00:00:00:00:00:00", "127.0.0.1/8", *[v + "/32" for v in vips], kind="loopback", arp=False)


SYSCTL_RS = {"net.ipv4.ip_forward": 0, "net.ipv4.conf.all.arp_ignore": 1, "net.ipv4.conf.all.arp_announce": 2,
             "net.ipv4.conf.all.rp_filter": 0, "net.ipv4.conf.tunl0.rp_filter": 0}


def healthy():
    vips = [v + "/32" for v in (DR_VIP, MARKED, NAT_VIP, TUN_VIP)]
    states = {"director": {
        "interfaces": {"lo": lo(), "eth1": nic("52:54:00:00:01:01", "198.51.100.10/24", *vips),
                       "eth2": nic("52:54:00:00:01:02", "192.0.2.1/24")},
        "sysctl": {"net.ipv4.ip_forward": 1}, "modules": ["ip_vs"], "default_route": None, "listening": [], "plan": [],
        "probes": {"connect": [{"address": ADDRESSES[h], "port": p, "ok": True, "error": None}
                               for h in GROUPS["realservers"] for p in (80, 81, 8080)],
                   "arp": [{"vip": v, "interface": "eth1", "sent": True, "replies": [], "error": None}
                           for v in (DR_VIP, MARKED, NAT_VIP, TUN_VIP)]}}}
    for i, host in enumerate(GROUPS["realservers"]):
        mac = "52:54:00:00:02:%02x" % i
        state = {"sysctl": dict(SYSCTL_RS), "modules": [], "listening": [["0.0.0.0", p] for p in (22, 80, 81, 8080)],
                 "default_route": None, "interfaces": {"lo": lo(), "eth1": nic(mac, ADDRESSES[host] + "/24")}}
        if host.startswith("dr"):
            state["interfaces"]["lo"] = lo(DR_VIP, MARKED)
        elif host.startswith("nat"):
            state["default_route"] = {"via": "192.0.2.1", "dev": "eth1"}
        else:
            state["modules"] = ["ipip"]
            state["interfaces"]["tunl0"] = nic("", TUN_VIP + "/32", kind="ipip", arp=False)
            state["default_route"] = {"via": "203.0.113.1", "dev": "eth1"}
        states[host] = state
    return states


def codes(result):
    return sorted((f["host"], f["code"]) for f in result["findings"])


def test_a_director_probes_every_tcp_destination_and_every_ipv4_vip():
    probes = lvs_doctor_probes(SERVICES, HOSTVARS, GROUPS)
    assert {(p["address"], p["port"]) for p in probes["connect"]} == {
        (ADDRESSES[h], p) for h in GROUPS["realservers"] for p in (80, 81, 8080)}
    assert [p["vip"] for p in probes["arp"]] == [DR_VIP, MARKED, NAT_VIP, TUN_VIP]


def test_a_healthy_cluster_has_no_finding():
    result = judge(healthy(), SERVICES, HOSTVARS, GROUPS)
    assert result == {"findings": [], "summary": {"errors": 0, "warnings": 0, "findings": 0}}


def test_each_fault_on_its_host():
    faults = {
        ("dr2", "dr_arp_sysctls"): lambda s: s["dr2"]["sysctl"].update({"net.ipv4.conf.all.arp_ignore": 0}),
        ("nat1", "nat_return_path"): lambda s: s["nat1"].update(default_route={"via": "192.0.2.254", "dev": "eth1"}),
        ("tun2", "tun_rp_filter"): lambda s: s["tun2"]["sysctl"].update({"net.ipv4.conf.all.rp_filter": 1}),
        ("director", "forwarding_off"): lambda s: s["director"]["sysctl"].update({"net.ipv4.ip_forward": 0}),
        ("dr1", "arp_answered_by_other"): lambda s: s["director"]["probes"]["arp"][0].update(
            replies=["52:54:00:00:02:00"]),
    }
    for expected, fault in faults.items():
        states = healthy()
        fault(states)
        assert codes(judge(states, SERVICES, HOSTVARS, GROUPS)) == [expected], expected


def test_a_host_that_could_not_be_read_is_a_finding():
    states = healthy()
    states["tun1"] = None
    assert codes(judge(states, SERVICES, HOSTVARS, GROUPS)) == [("tun1", "not_read")]


def test_keepalived_directors_may_hold_a_vip_or_not_but_one_must():
    hostvars = copy.deepcopy(HOSTVARS)
    hostvars["director2"] = {"lvs_address": "198.51.100.9", "director_backend": "keepalived"}
    hostvars["director"]["director_backend"] = "keepalived"
    groups = dict(GROUPS, directors=["director", "director2"])
    states = healthy()
    states["director2"] = copy.deepcopy(states["director"])
    states["director2"]["interfaces"]["eth1"] = nic("52:54:00:00:09:01", "198.51.100.9/24")
    states["director2"]["interfaces"]["eth2"] = nic("52:54:00:00:09:02", "192.0.2.2/24")
    assert codes(judge(states, SERVICES, hostvars, groups)) == []
    states["director"]["interfaces"]["eth1"]["addresses"] = ["198.51.100.10/24"]
    assert ("director", "vip_held_nowhere") in codes(judge(states, SERVICES, hostvars, groups))


def test_states_come_from_each_hosts_registered_result():
    hostvars = copy.deepcopy(HOSTVARS)
    for host, state in healthy().items():
        hostvars[host]["lvs_doctor"] = {"changed": False, "state": state}
    hostvars["nat2"]["lvs_doctor"] = {"failed": True, "msg": "Module failed: boom"}
    result = lvs_doctor_findings(SERVICES, hostvars, GROUPS)
    assert codes(result) == [("nat2", "not_read")]
    assert result["findings"][0]["evidence"] == "Module failed: boom"  # why it could not be read


def test_text_names_severity_host_code_evidence_and_fix():
    text = lvs_doctor_text({"host": "dr1", "severity": "error", "code": "c", "what": "w", "evidence": "e", "fix": "f"})
    assert text == "ERROR dr1 c: w | seen: e | fix: f"
