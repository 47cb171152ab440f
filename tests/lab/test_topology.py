"""The topology reader: shipped topologies load, and each mistake names its place in the file."""
import ipaddress

import pytest

from lab import inventory, topology

SHIPPED = ["dr", "nat", "tun", "ha", "methods"]


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_topologies_load_with_documentation_addresses(name):
    topo = topology.load(name)
    doc_ranges = [ipaddress.ip_network(n) for n in
                  ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32")]
    for host in topo.hosts.values():
        for nic in host.nics:
            for addr in nic.addresses:
                assert any(addr.ip in net for net in doc_ranges if net.version == addr.version), addr


def test_tun_real_servers_sit_behind_a_routed_hop():
    topo = topology.load("tun")
    assert topo.router
    director_lans = {nic.lan for nic in topo.hosts["director"].nics}
    for rs in ("rs1", "rs2"):
        assert not director_lans & {nic.lan for nic in topo.hosts[rs].nics}
        assert ("default", "203.0.113.1") in topo.hosts[rs].routes


def test_nat_client_is_on_another_subnet_and_namespace_does_not_route():
    topo = topology.load("nat")
    assert not topo.router
    rs_lans = {nic.lan for nic in topo.hosts["rs1"].nics}
    assert "outside" not in rs_lans


def base():
    return {"lans": {"lan": {"subnet": "198.51.100.0/24", "namespace": "198.51.100.1"}},
            "hosts": {"h1": {"role": "director", "nics": {"lan": "198.51.100.10"}}}}


@pytest.mark.parametrize("mutate, message", [
    (lambda d: d["hosts"]["h1"].update(role="boss"), "hosts.h1.role"),
    (lambda d: d["hosts"]["h1"]["nics"].update(lan="192.0.2.5"), "not inside LAN lan"),
    (lambda d: d["hosts"]["h1"]["nics"].update(lan="198.51.100.1"), "already used"),
    (lambda d: d["hosts"]["h1"]["nics"].update({"wan": "192.0.2.5"}), "hosts.h1.nics.wan: no such LAN"),
    (lambda d: d["hosts"]["h1"].update(routes={"default": "192.0.2.1"}), "on none of the host's LANs"),
    (lambda d: d.update(routes={"203.0.113.0/24": "192.0.2.1"}), "routes.203.0.113.0/24: gateway 192.0.2.1 is on none of the namespace's LANs"),
    (lambda d: d.update(routes=["203.0.113.0/24"]), "routes: expected a mapping"),
    (lambda d: d["lans"]["lan"].update(subnet="not-a-net"), "lans.lan.subnet"),
    (lambda d: d.update(extra=1), "unknown keys ['extra']"),
    (lambda d: d["hosts"].update({"Bad_Name": {}}), "names are lowercase"),
    (lambda d: d["hosts"]["h1"]["nics"].update(lan="198.51.100.255"), "broadcast"),
    (lambda d: d["hosts"]["h1"].update(groups="web"), "hosts.h1.groups: a list"),
    (lambda d: d["hosts"]["h1"].update(groups=["Web-1"]), "'Web-1': group names are lowercase"),
    (lambda d: d["hosts"]["h1"].update(groups=["realservers"]), "'realservers' is Ansible's or a role's own group"),
])
def test_mistakes_are_reported_with_their_place(mutate, message):
    data = base()
    mutate(data)
    with pytest.raises(topology.TopologyError, match=None) as err:
        topology.parse(data, name="t")
    assert message in str(err.value)


def test_the_namespace_routes_a_vip_to_a_director():
    data = base()
    data["routes"] = {"203.0.113.10/32": "198.51.100.10"}
    assert topology.parse(data, name="t").routes == (("203.0.113.10/32", "198.51.100.10"),)
    assert topology.parse(base(), name="t").routes == ()


def test_inventory_groups_by_role_and_carries_lan_facts(tmp_path):
    topo = topology.load("nat")
    inv = inventory.build(topo, "x", {"director": 2201, "rs1": 2202, "rs2": 2203}, tmp_path / "key")
    groups = inv["all"]["children"]
    assert set(groups) == {"directors", "realservers"}
    director = groups["directors"]["hosts"]["director"]
    assert director["ansible_port"] == 2201
    assert director["lab_nics"]["inside"] == {"interface": "eth2", "address": "198.51.100.1", "prefix": 24,
                                              "address6": None, "prefix6": None}
    script = inventory.to_script_json(inv)
    assert script["_meta"]["hostvars"]["rs2"]["lab_address"] == "198.51.100.12"
    assert sorted(script["all"]["children"]) == ["directors", "realservers"]


def test_extra_groups_list_their_hosts_whose_variables_stay_in_the_role_group(tmp_path):
    topo = topology.load("methods")
    inv = inventory.build(topo, "x", {name: 2200 + i for i, name in enumerate(topo.hosts)}, tmp_path / "key")
    groups = inv["all"]["children"]
    assert groups["nat_realservers"]["hosts"] == {"nat1": None, "nat2": None}
    assert groups["realservers"]["hosts"]["nat1"]["lab_address"] == "192.0.2.11"
    script = inventory.to_script_json(inv)
    assert script["tun_realservers"] == {"hosts": ["tun1", "tun2"]}
    assert script["_meta"]["hostvars"]["tun1"]["lab_address"] == "203.0.113.11"
    assert sorted(script["all"]["children"]) == ["directors", "dr_realservers", "nat_realservers", "realservers",
                                                 "tun_realservers"]


def test_each_host_lists_the_addresses_of_its_first_nic_ipv4_then_ipv6(tmp_path):
    topo = topology.load("ha")
    inv = inventory.build(topo, "x", {name: 2200 + i for i, name in enumerate(topo.hosts)}, tmp_path / "key")
    hostvars = inventory.to_script_json(inv)["_meta"]["hostvars"]
    assert hostvars["rs1"]["lab_addresses"] == ["198.51.100.11", "2001:db8:100::11"]
    assert hostvars["director2"]["lab_addresses"] == ["198.51.100.20", "2001:db8:100::20"]
    assert hostvars["nat1"]["lab_addresses"] == ["192.0.2.11"]
