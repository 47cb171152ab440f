"""The roles' filters: one schema expanded against the inventory, rendered for ipvsadm -R, and the
preflight that stops site.yml before any change."""
import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.lvs.cluster.plugins.filter.lvs import (
    lvs_dest_entries,
    lvs_dests_missing,
    lvs_dests_of,
    lvs_ipvsadm_rules,
    lvs_preflight,
    lvs_realserver,
    lvs_table,
    lvs_vips_for,
)

GROUPS = {"directors": ["lb"], "realservers": ["rs1", "rs2"]}


def three_services():
    """A DR service on every real server, a TUN one behind an IPv6 VIP and a fwmark one on rs2 only."""
    return lvs_table([
        {"address": "198.51.100.100", "port": 80, "forwarding": "dr"},
        {"address": "2001:db8::100", "port": 443, "forwarding": "tun", "destinations": [{"address": "198.51.100.12"}]},
        {"fwmark": 7, "forwarding": "dr", "destinations": [{"host": "rs2", "weight": 4}]},
    ], hostvars(), GROUPS)


def hostvars(**extra):
    hv = {
        "lb": {"lvs_address": "198.51.100.10", "ansible_facts": facts(eth1=("198.51.100.10", "255.255.255.0"))},
        "rs1": {"lvs_address": "198.51.100.11"},
        "rs2": {"lvs_address": "198.51.100.12"},
    }
    for host, values in extra.items():
        hv[host].update(values)
    return hv


def facts(**ifaces):
    out = {"interfaces": list(ifaces) + ["lo"], "lo": {"ipv4": {"address": "127.0.0.1", "netmask": "255.0.0.0"}}}
    for name, (address, netmask) in ifaces.items():
        out[name] = {"ipv4": {"address": address, "netmask": netmask}}
    return out


def test_service_without_destinations_gets_every_real_server_on_its_port():
    table = lvs_table([{"address": "198.51.100.100", "port": 80, "forwarding": "dr", "scheduler": "rr"}],
                      hostvars(), GROUPS)
    # written back from the typed values: the key in full, every destination with its forwarding
    assert table == [{"protocol": "tcp", "address": "198.51.100.100", "port": 80, "family": "ipv4",
                      "scheduler": "rr", "destinations": [
                          {"address": "198.51.100.11", "forwarding": "dr", "port": 80, "weight": 1},
                          {"address": "198.51.100.12", "forwarding": "dr", "port": 80, "weight": 1}]}]


def test_destinations_by_host_keep_their_own_settings():
    table = lvs_table([{"address": "192.0.2.100", "port": 80, "forwarding": "nat",
                        "destinations": [{"host": "rs2", "weight": 3, "port": 8080}]}], hostvars(), GROUPS)
    assert table[0]["destinations"] == [{"address": "198.51.100.12", "weight": 3, "port": 8080,
                                         "forwarding": "nat"}]


@pytest.mark.parametrize("services, message", [
    ([{"address": "198.51.100.100", "port": 80, "destinations": [{"host": "nope"}]}], "destinations\\[0\\].host: 'nope' is not in the inventory"),
    ([{"address": "198.51.100.100", "port": 80, "scheduler": "fastest"}], "scheduler"),
    ([{"address": "198.51.100.100", "port": 80, "forwarding": "dr",
       "destinations": [{"host": "rs1", "port": 8080}]}], "port"),
])
def test_bad_services_fail_on_the_controller_naming_the_field(services, message):
    with pytest.raises(AnsibleFilterError, match=message):
        lvs_table(services, hostvars(), GROUPS)


def test_a_real_server_holds_the_vips_of_its_services_only():
    table = lvs_table([
        {"address": "198.51.100.100", "port": 80, "forwarding": "dr"},
        {"address": "198.51.100.101", "port": 80, "forwarding": "tun", "destinations": [{"host": "rs2"}]},
    ], hostvars(), GROUPS)
    assert lvs_vips_for(table, ["198.51.100.11"]) == [{"address": "198.51.100.100", "forwarding": "dr"}]
    assert lvs_vips_for(table, ["198.51.100.12"]) == [
        {"address": "198.51.100.100", "forwarding": "dr"}, {"address": "198.51.100.101", "forwarding": "tun"}]


def test_a_drain_touches_every_destination_of_the_host_and_nothing_else():
    table = three_services()
    assert lvs_dests_of(table, ["198.51.100.11"]) == [
        {"service": {"protocol": "tcp", "address": "198.51.100.100", "port": 80},
         "destination": table[0]["destinations"][0]}]
    mine = lvs_dests_of(table, [" 198.51.100.12"])
    assert [d["service"] for d in mine] == [
        {"protocol": "tcp", "address": "198.51.100.100", "port": 80},
        {"protocol": "tcp", "address": "2001:db8::100", "port": 443},
        {"fwmark": 7, "family": "ipv4"}]
    assert [d["destination"]["forwarding"] for d in mine] == ["dr", "tun", "dr"]
    assert mine[2]["destination"]["weight"] == 4
    assert lvs_dests_of(table, None) == [] and lvs_dests_of(None, ["198.51.100.11"]) == []
    with pytest.raises(AnsibleFilterError, match="port"):
        lvs_dests_of([{"address": "198.51.100.100", "port": "http"}], ["198.51.100.11"])


def test_a_real_server_gets_its_vips_by_method_and_a_checked_gateway():
    services = [{"address": "198.51.100.100", "port": 80, "forwarding": "dr"},
                {"address": "198.51.100.101", "port": 80, "forwarding": "tun", "destinations": [{"host": "rs2"}]},
                {"address": "198.51.100.102", "port": 80, "forwarding": "nat", "destinations": [{"host": "rs2"}]}]
    assert lvs_realserver(services, hostvars(), GROUPS, "rs1") == {
        "dr": ["198.51.100.100"], "tun": [], "nat": [], "nat_gateway": "", "remove": []}
    assert lvs_realserver(services, hostvars(), GROUPS, "rs2", nat_gateway=" 198.51.100.10") == {
        "dr": ["198.51.100.100"], "tun": ["198.51.100.101"], "nat": ["198.51.100.102"], "nat_gateway": "198.51.100.10",
        "remove": []}
    # a host without an address on the cluster LAN serves nothing
    assert lvs_realserver(services, dict(hostvars(), lb2={}), GROUPS, "lb2")["dr"] == []
    with pytest.raises(AnsibleFilterError, match="realserver_nat_gateway: rs2 serves NAT services"):
        lvs_realserver(services, hostvars(), GROUPS, "rs2")


def test_a_real_server_gives_up_what_no_service_needs_there_any_more():
    """noarp_vip's state file says what it placed: a VIP whose service went, or moved from DR to TUN."""
    services = [{"address": "198.51.100.101", "port": 80, "forwarding": "tun", "destinations": [{"host": "rs1"}]}]
    held = '{"addresses": {"198.51.100.100": "lo", "198.51.100.101": "lo"}, "sysctls": {}}'
    assert lvs_realserver(services, hostvars(), GROUPS, "rs1", held=held)["remove"] == [
        {"address": "198.51.100.100", "device": "lo"}, {"address": "198.51.100.101", "device": "lo"}]
    held = '{"addresses": {"198.51.100.101": "tunl0"}, "sysctls": {}}'
    assert lvs_realserver(services, hostvars(), GROUPS, "rs1", held=held)["remove"] == []
    assert lvs_realserver(services, hostvars(), GROUPS, "rs1", held="not json")["remove"] == []


def test_a_director_places_each_vip_once_and_gives_up_the_ones_no_service_holds():
    from ansible_collections.lvs.cluster.plugins.filter.lvs import lvs_director_vips

    services = [{"address": "198.51.100.100", "port": 80, "forwarding": "dr"},
                {"address": "198.51.100.100", "port": 81, "forwarding": "dr"},
                {"address": "203.0.113.10", "port": 80, "forwarding": "dr", "vip_device": "lo"}]
    previous = ("# comment\n198.51.100.100/32 eth1\n198.51.100.99/32 eth1\n203.0.113.10/32 eth1\n"
                "garbage line here\n")
    vips = lvs_director_vips(services, hostvars(), GROUPS, previous=previous)
    assert vips["place"] == [{"address": "198.51.100.100", "device": ""}, {"address": "203.0.113.10", "device": "lo"}]
    # gone: a VIP no service has, and one that moved to lo
    assert vips["remove"] == [{"address": "198.51.100.99", "device": "eth1"},
                              {"address": "203.0.113.10", "device": "eth1"}]
    assert lvs_director_vips(services, hostvars(), GROUPS, default_device="dummy0")["place"][0]["device"] == "dummy0"
    with pytest.raises(AnsibleFilterError, match=r"services\[1\].vip_device: 198.51.100.100 is held on"):
        lvs_director_vips([services[0], dict(services[1], vip_device="lo")], hostvars(), GROUPS)
    with pytest.raises(AnsibleFilterError, match="director_vip_device"):
        lvs_director_vips(services, hostvars(), GROUPS, default_device="../lo")


def test_rules_are_ipvsadm_save_format():
    table = lvs_table([
        {"address": "198.51.100.100", "port": 8080, "forwarding": "dr", "scheduler": "rr",
         "persistence_timeout": 300},
        {"fwmark": 7, "scheduler": "sh", "sh_port": True, "destinations": [
            {"address": "203.0.113.11", "port": 0, "forwarding": "tun", "tunnel_type": "gue", "tunnel_port": 6080}]},
    ], hostvars(), GROUPS)
    rules = lvs_ipvsadm_rules(table).splitlines()
    assert "-A -t 198.51.100.100:8080 -s rr -p 300" in rules  # ipvsadm -S omits the host mask
    assert "-a -t 198.51.100.100:8080 -r 198.51.100.11:8080 -g -w 1" in rules
    assert "-A -f 7 -s sh -b sh-port" in rules
    assert "-a -f 7 -r 203.0.113.11:0 -i -w 1 --tun-type gue --tun-port 6080 --tun-nocsum" in rules


def test_rules_say_only_what_ipvsadm_restore_accepts_in_its_save_order():
    """ipvsadm 1.31 refuses --tun-nocsum with ipip (the reboot bug of issue 18); -S prints -o before -b,
    a non-host mask, gue's port and checksum, gre's checksum; thresholds follow the weight."""
    table = lvs_table([
        {"address": "198.51.100.100", "port": 80, "scheduler": "rr", "destinations": [
            {"address": "203.0.113.11", "forwarding": "tun"},
            {"address": "203.0.113.12", "forwarding": "tun", "tunnel_type": "gre", "tunnel_checksum": "csum"},
            {"address": "203.0.113.13", "forwarding": "tun", "tunnel_type": "gue", "tunnel_port": 6080,
             "tunnel_checksum": "remcsum", "upper_threshold": 100, "lower_threshold": 10},
            {"address": "203.0.113.14", "forwarding": "tun", "tunnel_type": "gre"}]},
        {"address": "198.51.100.100", "port": 53, "protocol": "udp", "scheduler": "sh", "one_packet": True,
         "sh_fallback": True, "sh_port": True, "persistence_timeout": 60, "persistence_netmask": "255.255.255.0",
         "destinations": []},
        {"address": "2001:db8::100", "port": 80, "scheduler": "wlc", "persistence_timeout": 60,
         "persistence_netmask": 64, "destinations": []},
    ], hostvars(), GROUPS)
    rules = lvs_ipvsadm_rules(table, {"tcp": 900, "udp": 300})
    assert rules.splitlines() == [
        "--set 900 0 300",
        "-A -t 198.51.100.100:80 -s rr",
        "-a -t 198.51.100.100:80 -r 203.0.113.11:80 -i -w 1 --tun-type ipip",
        "-a -t 198.51.100.100:80 -r 203.0.113.12:80 -i -w 1 --tun-type gre --tun-csum",
        "-a -t 198.51.100.100:80 -r 203.0.113.13:80 -i -w 1 -x 100 -y 10 --tun-type gue --tun-port 6080 --tun-remcsum",
        "-a -t 198.51.100.100:80 -r 203.0.113.14:80 -i -w 1 --tun-type gre --tun-nocsum",
        "-A -t [2001:db8::100]:80 -s wlc -p 60 -M 64",
        "-A -u 198.51.100.100:53 -s sh -p 60 -M 255.255.255.0 -o -b sh-fallback,sh-port",
    ]
    assert "--tun-nocsum" not in rules.splitlines()[2]


def test_rules_without_timeouts_have_no_set_line():
    table = lvs_table([{"address": "198.51.100.100", "port": 80, "forwarding": "dr"}], hostvars(), GROUPS)
    assert not lvs_ipvsadm_rules(table, {}).startswith("--set")
    assert not lvs_ipvsadm_rules(table, {"tcp": 0}).startswith("--set")
    with pytest.raises(AnsibleFilterError, match="timeouts.tcp"):
        lvs_ipvsadm_rules(table, {"tcp": -1})


def expanded(forwarding, vip="198.51.100.100"):
    return lvs_table([{"address": vip, "port": 80, "forwarding": forwarding}], hostvars(), GROUPS)


def test_preflight_passes_a_sound_dr_cluster():
    assert lvs_preflight(expanded("dr"), hostvars(), ["lb"], ["rs1", "rs2"]) == []


def test_preflight_dr_real_server_on_another_lan():
    hv = hostvars(rs2={"lvs_address": "203.0.113.12"})
    table = lvs_table([{"address": "198.51.100.100", "port": 80, "forwarding": "dr"}], hv, GROUPS)
    assert lvs_preflight(table, hv, ["lb"], ["rs1", "rs2"]) == [
        "rs2 (DR) shares no LAN with director lb: direct routing only works on one layer-2 segment"]


def test_preflight_nat_gateway_must_be_the_director():
    hv = hostvars(rs1={"realserver_nat_gateway": "198.51.100.10"}, rs2={"realserver_nat_gateway": "198.51.100.1"})
    problems = lvs_preflight(expanded("nat", "192.0.2.100"), hv, ["lb"], ["rs1", "rs2"])
    assert len(problems) == 1 and problems[0].startswith("rs2 (NAT): its gateway '198.51.100.1' is not")


def test_preflight_tun_real_server_without_ipip():
    hv = hostvars(rs1={"__lvs_ipip": {"rc": 0}}, rs2={"__lvs_ipip": {"rc": 1}})
    assert lvs_preflight(expanded("tun"), hv, ["lb"], ["rs1", "rs2"]) == ["rs2 (TUN): its kernel has no ipip module"]


def test_preflight_leaves_out_what_this_run_did_not_read():
    """site.yml --limit: a host outside the run has no facts and no probe, which is no evidence of a fault
    (found when a --limit on the director and one real server failed on another TUN real server)."""
    assert lvs_preflight(expanded("tun"), hostvars(rs1={"__lvs_ipip": {"rc": 0}}), ["lb"], ["rs1", "rs2"]) == []
    unread = hostvars(lb={"ansible_facts": {}}, rs1={"realserver_nat_gateway": "198.51.100.1"})
    assert lvs_preflight(expanded("dr"), unread, ["lb"], ["rs1", "rs2"]) == []
    assert lvs_preflight(expanded("nat", "192.0.2.100"), unread, ["lb"], ["rs1", "rs2"]) == []
    # a probe that ran and failed is still a finding, and a director that was read still judges DR
    hv = hostvars(rs2={"__lvs_ipip": {"rc": 1}})
    assert lvs_preflight(expanded("tun"), hv, ["lb"], ["rs1", "rs2"]) == ["rs2 (TUN): its kernel has no ipip module"]
    hv = hostvars(rs2={"lvs_address": "203.0.113.12"})
    table = lvs_table([{"address": "198.51.100.100", "port": 80, "forwarding": "dr"}], hv, GROUPS)
    assert len(lvs_preflight(table, hv, ["lb"], ["rs1", "rs2"])) == 1


def test_preflight_dr_over_ipv6_shares_the_directors_v6_lan():
    hv = hostvars(rs1={"lvs_address": "2001:db8:100::11"}, rs2={"lvs_address": "2001:db8:200::12"})
    hv["lb"]["ansible_facts"]["eth1"]["ipv6"] = [
        {"address": "2001:db8:100::10", "prefix": "64", "scope": "global"},
        {"address": "fe80::5054:ff:fe00:1%eth1", "prefix": "64", "scope": "link"}]
    table = lvs_table([{"address": "2001:db8:100::100", "port": 80, "forwarding": "dr"}], hv, GROUPS)
    assert lvs_preflight(table, hv, ["lb"], ["rs1", "rs2"]) == [
        "rs2 (DR) shares no LAN with director lb: direct routing only works on one layer-2 segment"]


def test_preflight_refuses_two_ipvs_backend_directors_sharing_a_vip():
    hv = hostvars()
    hv["lb2"] = {"lvs_address": "198.51.100.20", "ansible_facts": facts(eth1=("198.51.100.20", "255.255.255.0"))}
    problems = lvs_preflight(expanded("dr"), hv, ["lb", "lb2"], ["rs1", "rs2"])
    assert len(problems) == 1 and problems[0].startswith(
        "directors lb and lb2 all run the ipvs backend and would all hold VIP(s) 198.51.100.100"), problems
    hv["lb2"]["director_backend"] = hv["lb"]["director_backend"] = "keepalived"
    assert lvs_preflight(expanded("dr"), hv, ["lb", "lb2"], ["rs1", "rs2"]) == []
    hv["lb2"]["director_backend"] = "ipvs"  # one static director beside a keepalived one: its own business
    assert lvs_preflight(expanded("dr"), hv, ["lb", "lb2"], ["rs1", "rs2"]) == []


def test_preflight_service_without_vip():
    with pytest.raises(AnsibleFilterError, match=r"services\[0\].address: is required"):
        lvs_preflight([{"port": 80, "destinations": []}], hostvars(), ["lb"], ["rs1", "rs2"])


def test_service_names_are_ipvs_info_names():
    from ansible_collections.lvs.cluster.plugins.filter.lvs import lvs_service_names

    table = lvs_table([{"address": "198.51.100.100", "port": 80, "forwarding": "dr"},
                       {"fwmark": 5, "forwarding": "dr", "destinations": [{"host": "rs1", "port": 80}]}],
                      hostvars(), GROUPS)
    assert lvs_service_names(table) == ["fwmark 5 ipv4", "tcp 198.51.100.100:80"]


def test_preflight_refuses_keepalived_directors_of_different_vrrp_versions():
    hv = hostvars()
    hv["lb2"] = {"lvs_address": "198.51.100.20", "ansible_facts": facts(eth1=("198.51.100.20", "255.255.255.0"))}
    hv["lb2"]["director_backend"] = hv["lb"]["director_backend"] = "keepalived"
    hv["lb2"]["director_vrrp_version"] = 3  # lb keeps the role's default, 2
    assert lvs_preflight(expanded("dr"), hv, ["lb", "lb2"], ["rs1", "rs2"]) == [
        "director_vrrp_version differs between the keepalived directors (2 on lb; 3 on lb2): VRRPv2 and VRRPv3 "
        "do not hear each other and both would hold the VIPs; set the same version on all"]
    hv["lb"]["director_vrrp_version"] = "3"  # as the inventory may give it, text
    assert lvs_preflight(expanded("dr"), hv, ["lb", "lb2"], ["rs1", "rs2"]) == []


def test_preflight_takes_a_floating_gateway_of_the_keepalived_directors():
    # on a first run no director holds the gateway yet: the instance declaring it is what counts
    hv = hostvars(rs1={"realserver_nat_gateway": "192.0.2.1"}, rs2={"realserver_nat_gateway": "192.0.2.1"})
    hv["lb"]["director_vrrp_instances"] = [{"name": "VI_LVS", "virtual_router_id": 51},
                                           {"name": "VI_GW", "virtual_router_id": 53, "addresses": ["192.0.2.1"]}]
    problems = lvs_preflight(expanded("nat", "198.51.100.101"), hv, ["lb"], ["rs1", "rs2"])
    assert len(problems) == 2 and problems[0].startswith("rs1 (NAT): its gateway '192.0.2.1' is not"), problems
    hv["lb"]["director_backend"] = "keepalived"
    assert lvs_preflight(expanded("nat", "198.51.100.101"), hv, ["lb"], ["rs1", "rs2"]) == []


def test_a_host_with_addresses_of_both_families_serves_each_family_with_its_own():
    hv = hostvars(rs1={"lvs_address": ["198.51.100.11", "2001:db8:100::11"]},
                  rs2={"lvs_address": ["2001:db8:100::12", "198.51.100.12"]})
    services = [{"address": "198.51.100.100", "port": 80, "forwarding": "dr"},
                {"address": "2001:db8:100::100", "port": 80, "forwarding": "dr"},
                {"address": "2001:db8:100::101", "port": 80, "forwarding": "tun",
                 "destinations": [{"host": "rs1"}, {"host": "rs2"}]}]
    table = lvs_table(services, hv, GROUPS)
    assert [[d["address"] for d in s["destinations"]] for s in table] == [
        ["198.51.100.11", "198.51.100.12"], ["2001:db8:100::11", "2001:db8:100::12"],
        ["2001:db8:100::11", "2001:db8:100::12"]]
    for host in ("rs1", "rs2"):
        assert lvs_realserver(services, hv, GROUPS, host) == {
            "dr": ["198.51.100.100", "2001:db8:100::100"], "tun": ["2001:db8:100::101"], "nat": [],
            "nat_gateway": "", "remove": []}
    # a host of one family in a service of the other keeps today's rule: the model says what the kernel takes
    hv["rs2"]["lvs_address"] = ["198.51.100.12"]
    with pytest.raises(AnsibleFilterError, match="destinations"):
        lvs_table(services[1:2], hv, GROUPS)
    with pytest.raises(AnsibleFilterError, match=r"rs1: '2001:db8::zz' in its lvs_address is not an IPv4 or IPv6"):
        lvs_table(services, hostvars(rs1={"lvs_address": ["2001:db8::zz"]}), GROUPS)


def test_dest_entries_drain_only_where_the_vip_is_held_and_fwmark_everywhere():
    table = three_services()
    mine = lvs_dests_of(table, ["198.51.100.12"])
    held = "2: eth1    inet 198.51.100.100/32 scope global eth1\n"
    entries = lvs_dest_entries(mine, drain=True, held=held)
    assert [e["drain"] for e in entries] == [True, False, True]
    assert entries[0]["service"] == {"protocol": "tcp", "address": "198.51.100.100", "port": 80}
    assert entries[2]["weight"] == 4 and entries[2]["address"] == "198.51.100.12"
    assert [e["drain"] for e in lvs_dest_entries(mine, drain=True)] == [True, True, True]
    assert [e["drain"] for e in lvs_dest_entries(mine, held=held)] == [False, False, False]
    # a VIP that only starts like a held one is not held
    assert not lvs_dest_entries(mine, drain=True, held="inet 198.51.100.1000/32")[0]["drain"]
    assert lvs_dest_entries(None) == []


def test_dests_missing_names_what_the_directors_table_lacks():
    table = three_services()
    mine = lvs_dests_of(table, ["198.51.100.12"])
    info = [{"name": "tcp 198.51.100.100:80", "destinations": [{"address": "198.51.100.12", "port": 80}]},
            {"name": "tcp [2001:db8::100]:443", "destinations": [{"address": "198.51.100.11", "port": 443}]},
            {"name": "fwmark 7 ipv4", "destinations": [{"address": "198.51.100.12", "port": 0}]}]
    assert [m["service"].get("port") for m in lvs_dests_missing(mine, info)] == [443]
    info[1]["destinations"].append({"address": "198.51.100.12", "port": 443})
    assert lvs_dests_missing(mine, info) == []
    assert lvs_dests_missing(mine, None) == mine and lvs_dests_missing(None, info) == []
