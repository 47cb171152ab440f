"""Firewall-mark services that say what they match: the rules the director loads, the VIPs each side
holds for them, and the inputs refused before anything reaches a file (plugins/plugin_utils/fwmark.py).
Whether nft and the kernel take the rules is proven in the lab (the methods scenario)."""
import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.lvs.cluster.plugins.filter.keepalived import lvs_keepalived_conf
from ansible_collections.lvs.cluster.plugins.filter.lvs import (
    lvs_director_vips,
    lvs_fwmark_rules,
    lvs_realserver,
    lvs_table,
)

GROUPS = {"directors": ["lb"], "realservers": ["rs1", "rs2"]}
HOSTVARS = {"lb": {"lvs_address": "198.51.100.10"},
            "rs1": {"lvs_address": ["198.51.100.11", "2001:db8::11"]},
            "rs2": {"lvs_address": ["198.51.100.12", "2001:db8::12"]}}


def web_both(**extra):
    """HTTP and HTTPS of one VIP as one persistent DR service."""
    return dict({"name": "web-both", "fwmark": 10, "forwarding": "dr", "persistence_timeout": 300,
                 "match": {"addresses": ["198.51.100.130"], "ports": [80, 443]}}, **extra)


def rules(services):
    return lvs_fwmark_rules(services, HOSTVARS, GROUPS)


def refused(services):
    with pytest.raises(AnsibleFilterError) as err:
        rules(services)
    return str(err.value)


def test_rules_replace_the_collections_own_table_in_one_file():
    text = rules([web_both()])
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    assert lines == [
        "table inet lvs_cluster",
        "delete table inet lvs_cluster",
        "table inet lvs_cluster {",
        "chain prerouting {",
        "type filter hook prerouting priority mangle; policy accept;",
        "ip daddr 198.51.100.130 tcp dport { 80, 443 } meta mark set 0x0000000a",
        "}",
        "}",
    ]


def test_ipv6_ranges_every_port_and_several_matches():
    text = rules([
        {"fwmark": 11, "family": "ipv6", "forwarding": "dr",
         "match": [{"addresses": ["2001:DB8::130", "2001:db8::131"], "protocol": "udp", "ports": ["5060-5070", 5080]},
                   {"addresses": "2001:db8::130", "protocol": "sctp"}]},
        {"fwmark": 11, "forwarding": "dr", "match": {"addresses": ["198.51.100.131"], "ports": "8000-8099"}},
    ])
    assert "ip6 daddr { 2001:db8::130, 2001:db8::131 } udp dport { 5060-5070, 5080 } meta mark set 0x0000000b" in text
    assert "ip6 daddr 2001:db8::130 meta l4proto sctp meta mark set 0x0000000b" in text
    # the same mark in the other family is another IPVS service (the kernel keys them by family and mark)
    assert "ip daddr 198.51.100.131 tcp dport 8000-8099 meta mark set 0x0000000b" in text


def test_no_match_no_rules():
    assert rules([{"fwmark": 3, "forwarding": "dr"}, {"address": "198.51.100.100", "port": 80}]) == ""
    assert rules([]) == ""


def test_the_table_module_never_sees_match():
    (service,) = lvs_table([web_both()], HOSTVARS, GROUPS)
    assert "match" not in service and service["fwmark"] == 10


def test_director_and_real_servers_hold_the_matched_addresses():
    services = [web_both(), {"address": "198.51.100.100", "port": 80, "forwarding": "dr"}]
    plan = lvs_director_vips(services, HOSTVARS, GROUPS)
    assert plan["place"] == [{"address": "198.51.100.130", "device": ""}, {"address": "198.51.100.100", "device": ""}]
    real = lvs_realserver(services, HOSTVARS, GROUPS, "rs1")
    assert real["dr"] == ["198.51.100.130", "198.51.100.100"]
    # a VIP that only a removed fwmark service held is given up
    real = lvs_realserver(services[1:], HOSTVARS, GROUPS, "rs1",
                          held='{"addresses": {"198.51.100.130": "lo", "198.51.100.100": "lo"}}')
    assert real["remove"] == [{"address": "198.51.100.130", "device": "lo"}]


def test_keepalived_holds_the_matched_addresses_by_vrrp():
    conf = lvs_keepalived_conf([web_both()], HOSTVARS, GROUPS, "lb",
                               facts={"interfaces": ["eth1"],
                                      "eth1": {"ipv4": {"address": "198.51.100.10", "netmask": "255.255.255.0"}}})
    assert "virtual_server fwmark 10 {" in conf
    assert "198.51.100.130" in conf.split("virtual_ipaddress", 1)[1].split("}", 1)[0]


@pytest.mark.parametrize("service, field, words", [
    (web_both(match={"addresses": ["198.51.100.130"], "ports": [0]}), "services[0].match.ports[0]", "not a port"),
    (web_both(match={"addresses": ["198.51.100.130"], "ports": ["90-80"]}), "services[0].match.ports[0]", "not a port"),
    (web_both(match={"addresses": ["198.51.100.130"], "ports": [80, "70-90"]}), "services[0].match.ports", "overlap"),
    (web_both(match={"addresses": ["198.51.100.130"], "ports": []}), "services[0].match.ports", "is empty"),
    (web_both(match={"addresses": ["198.51.100.130"], "ports": ["80;flush ruleset"]}), "services[0].match.ports",
     "not a port"),
    (web_both(match={"addresses": ["2001:db8::130"]}), "services[0].match.addresses[0]", "not ipv4"),
    (web_both(match={"addresses": ["198.51.100.130\nflush ruleset"]}), "services[0].match.addresses[0]",
     "not an IPv4 or IPv6 address"),
    (web_both(match={"addresses": ["127.0.0.1"]}), "services[0].match.addresses[0]", "cannot be a VIP"),
    # the rule of a service's own address
    (web_both(match={"addresses": ["255.255.255.255"]}), "services[0].match.addresses[0]", "the broadcast address"),
    (web_both(match={"addresses": []}), "services[0].match.addresses", "is required"),
    (web_both(match={"addresses": ["198.51.100.130"], "protocol": "icmp"}), "services[0].match.protocol", "tcp, udp, sctp"),
    (web_both(match={"addresses": ["198.51.100.130"], "port": 80}), "services[0].match", "unknown key(s) port"),
    (web_both(match="198.51.100.130"), "services[0].match", "must be a dict"),
    ({"address": "198.51.100.100", "port": 80, "match": {"addresses": ["198.51.100.100"]}}, "services[0].match",
     "only for a fwmark service"),
])
def test_bad_matches_are_refused_by_field(service, field, words):
    message = refused([service])
    assert field in message and words in message, message


def test_a_port_an_address_service_serves_is_refused_naming_both():
    message = refused([{"name": "web", "address": "198.51.100.130", "port": 443, "forwarding": "dr"}, web_both()])
    assert "services[1].match" in message and "198.51.100.130 tcp port 443" in message, message
    assert "services[0] (web, tcp 198.51.100.130:443)" in message, message
    # an all-ports service takes every port of its VIP and protocol
    message = refused([{"address": "198.51.100.130", "port": 0, "persistence_timeout": 60}, web_both()])
    assert "services[1].match" in message and "port 80-443" not in message and "port 80" in message, message
    # another protocol, or another VIP, is another packet
    assert rules([{"address": "198.51.100.130", "port": 443, "protocol": "udp"}, web_both()])
    assert rules([{"address": "198.51.100.131", "port": 443}, web_both()])


def test_two_matches_of_one_packet_are_refused():
    message = refused([web_both(), {"fwmark": 12, "match": {"addresses": "198.51.100.130", "ports": ["440-450"]}}])
    assert "services[1].match" in message and "port 443 is also taken by services[0].match (web-both, fwmark 10 ipv4)" in message, message
    message = refused([{"fwmark": 12, "match": [{"addresses": "198.51.100.130"},
                                                {"addresses": "198.51.100.130", "ports": [22]}]}])
    assert "services[0].match[1]" in message and "port 22" in message, message


def test_keepalived_checks_a_fwmark_service_on_its_first_matched_port():
    facts = {"interfaces": ["eth1"], "eth1": {"ipv4": {"address": "198.51.100.10", "netmask": "255.255.255.0"}}}
    conf = lvs_keepalived_conf([web_both(match={"addresses": ["198.51.100.130"], "ports": ["443-444", 80]})],
                               HOSTVARS, GROUPS, "lb", facts=facts)
    assert conf.count("connect_port 80\n") == 2, conf  # one check per real server, on the lowest matched port
    # a port of its own wins; without a match with ports, the check has nothing to connect to
    conf = lvs_keepalived_conf([web_both(healthcheck={"port": 443})], HOSTVARS, GROUPS, "lb", facts=facts)
    assert conf.count("connect_port 443\n") == 2, conf
    with pytest.raises(AnsibleFilterError) as err:
        lvs_keepalived_conf([{"fwmark": 3, "forwarding": "dr"}], HOSTVARS, GROUPS, "lb", facts=facts)
    assert "services[0].healthcheck.port: is required: fwmark 3 ipv4 has real servers on port 0" in str(err.value)
    # a check that connects nowhere needs none
    assert "MISC_CHECK" in lvs_keepalived_conf(
        [{"fwmark": 3, "forwarding": "dr", "healthcheck": {"type": "misc", "misc_path": "/bin/true"}}],
        HOSTVARS, GROUPS, "lb", facts=facts)


def test_marks_are_non_zero_and_one_service_each_per_family():
    message = refused([web_both(), web_both(match={"addresses": ["198.51.100.131"]})])
    assert "services[1]: duplicate of services[0] (fwmark 10 ipv4)" in message, message
    message = refused([web_both(fwmark=0)])
    assert "services[0].fwmark: 0 is out of range" in message, message


def test_preflight_sees_matched_vips_held_by_two_static_directors():
    from ansible_collections.lvs.cluster.plugins.filter.lvs import lvs_preflight
    facts = {"interfaces": ["eth1"], "eth1": {"ipv4": {"address": "198.51.100.10", "netmask": "255.255.255.0"}}}
    hostvars = dict(HOSTVARS, lb={"ansible_facts": facts}, lb2={"ansible_facts": facts})
    services = [web_both()]
    table = lvs_table(services, hostvars, GROUPS)
    assert lvs_preflight(table, hostvars, ["lb", "lb2"], ["rs1", "rs2"]) == []  # the table alone has no VIP
    vips = [v["address"] for v in lvs_director_vips(services, hostvars, GROUPS)["place"]]
    (problem,) = lvs_preflight(table, hostvars, ["lb", "lb2"], ["rs1", "rs2"], vips=vips)
    assert problem.startswith("directors lb and lb2 all run the ipvs backend and would all hold VIP(s) 198.51.100.130")
