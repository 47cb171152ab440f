"""keepalived.conf rendered from the director role's services: what each input becomes, and that bad
input fails naming its field. The scenarios and the integration target run the output through
`keepalived --config-test` and a real keepalived; this file covers the mapping."""
import re

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.lvs.cluster.plugins.filter.keepalived import lvs_keepalived_conf, lvs_keepalived_sync
from ansible_collections.lvs.cluster.plugins.filter.lvs import lvs_table

GROUPS = {"directors": ["lb1", "lb2"], "realservers": ["rs1", "rs2"]}
HOSTVARS = {"lb1": {"lvs_address": "198.51.100.10"}, "lb2": {"lvs_address": "198.51.100.20"},
            "rs1": {"lvs_address": "198.51.100.11"}, "rs2": {"lvs_address": "198.51.100.12"}}
FACTS = {"interfaces": ["lo", "eth0", "eth1"],
         "lo": {"ipv4": {"address": "127.0.0.1", "netmask": "255.0.0.0"}},
         "eth0": {"ipv4": {"address": "203.0.113.242", "netmask": "255.255.255.240"}},
         "eth1": {"ipv4": {"address": "198.51.100.10", "netmask": "255.255.255.0"}}}
WEB = {"address": "198.51.100.100", "port": 80, "forwarding": "dr", "scheduler": "rr"}


def render(services, **kw):
    kw.setdefault("facts", FACTS)
    return lvs_keepalived_conf(services, HOSTVARS, GROUPS, "lb1", **kw)


def daemons(services, **kw):
    kw.setdefault("facts", FACTS)
    return lvs_keepalived_sync(services, HOSTVARS, GROUPS, **kw)["daemons"]


def block(text, header):
    """The lines of the block opened by `header`, up to its closing brace."""
    lines = text.splitlines()
    start = lines.index(header)
    depth, out = 0, []
    for line in lines[start:]:
        out.append(line.strip())
        depth += line.count("{") - line.count("}")
        if depth == 0:
            return out
    raise AssertionError("unclosed block " + header)


def test_default_instance_holds_the_vip_on_the_interface_of_its_network():
    inst = block(render([WEB]), "vrrp_instance VI_LVS {")
    assert "interface eth1" in inst and "virtual_router_id 51" in inst and "state BACKUP" in inst
    assert "198.51.100.100/32 dev eth1" in inst
    assert "priority 100" in inst and "advert_int 1" in inst
    assert not any("authentication" in line for line in inst)


def test_virtual_server_and_real_servers_follow_the_expanded_table():
    text = render([dict(WEB, persistence_timeout=300, healthcheck={"type": "http", "path": "/health"})],
                  healthcheck={"type": "tcp", "delay_loop": 2, "connect_timeout": 1})
    vs = block(text, "virtual_server 198.51.100.100 80 {")
    for line in ("delay_loop 2", "lb_algo rr", "lvs_method DR", "protocol TCP", "persistence_timeout 300",
                 "real_server 198.51.100.11 80 {", "real_server 198.51.100.12 80 {", "HTTP_GET {",
                 "path /health", "status_code 200"):
        assert line in vs, line
    # the service's own check type replaced the default's keys except how often it runs
    assert "connect_timeout 1" not in vs and "connect_timeout 3" in vs
    table = lvs_table([WEB], HOSTVARS, GROUPS)
    assert len([line for line in vs if line.startswith("real_server")]) == len(table[0]["destinations"])


def test_every_check_type_inhibit_and_sorry_server():
    services = [
        dict(WEB, inhibit_on_failure=True, sorry_server={"address": "198.51.100.20"}),
        dict(WEB, port=81, healthcheck={"type": "misc", "misc_path": "/usr/local/bin/check --port 81"}),
        dict(WEB, port=82, healthcheck={"type": "none"}),
    ]
    text = render(services)
    first = block(text, "virtual_server 198.51.100.100 80 {")
    assert "sorry_server 198.51.100.20 80" in first
    assert first.count("inhibit_on_failure") == 2 and first.count("TCP_CHECK {") == 2
    misc = block(text, "virtual_server 198.51.100.100 81 {")
    assert 'misc_path "/usr/local/bin/check --port 81"' in misc
    none = block(text, "virtual_server 198.51.100.100 82 {")
    assert not any(line.endswith("_CHECK {") or line == "HTTP_GET {" for line in none)
    assert "enable_script_security" in text  # MISC_CHECK as root without a config-test warning


def test_mixed_methods_name_the_method_per_real_server():
    svc = dict(WEB, destinations=[{"host": "rs1"}, {"host": "rs2", "forwarding": "tun", "tunnel_type": "ipip"}])
    vs = block(render([svc]), "virtual_server 198.51.100.100 80 {")
    assert "lvs_method DR" in vs and "lvs_method TUN type ipip" in vs


def test_fwmark_service_has_no_protocol_line():
    vs = block(render([{"fwmark": 7, "scheduler": "wlc", "forwarding": "nat", "destinations": [
        {"host": "rs1", "port": 80}]}]), "virtual_server fwmark 7 {")
    assert "lvs_method NAT" in vs and not any(line.startswith("protocol") for line in vs)


def test_auth_priority_preempt():
    text = render([WEB], priority=150, auth_pass="s3cret",
                  instances=[{"name": "VI_WEB", "virtual_router_id": 60, "preempt": False}])
    inst = block(text, "vrrp_instance VI_WEB {")
    assert "priority 150" in inst and "nopreempt" in inst and "auth_pass s3cret" in inst
    delay = block(render([WEB], instances=[{"name": "V", "virtual_router_id": 5, "preempt_delay": 30}]),
                  "vrrp_instance V {")
    assert "preempt_delay 30" in delay


def test_sync_daemons_run_beside_keepalived_master_and_backup_on_every_director():
    """keepalived must not switch the daemons (its lvs_sync_daemon can hang its VRRP process)."""
    assert "lvs_sync_daemon" not in render([WEB])
    instances = [{"name": "VI_WEB", "virtual_router_id": 60}]
    assert daemons([WEB], instances=instances, sync_daemon={"id": 9}) == [
        {"role": "master", "interface": "eth1", "sync_id": 9}, {"role": "backup", "interface": "eth1", "sync_id": 9}]
    assert daemons([WEB], sync_daemon={"interface": "eth0"})[0]["interface"] == "eth0"
    assert daemons([WEB], sync_daemon={"enabled": False}) == []
    assert daemons([WEB], sync_daemon={"enabled": "no"}) == []
    assert daemons([], sync_daemon={}) == [], "no instance holds a VIP: nothing to sync"


def test_active_connections_are_resent_every_refresh_period_and_preemption_waits_for_them():
    sync = lvs_keepalived_sync([WEB], HOSTVARS, GROUPS, facts=FACTS, sync_daemon={"refresh_period": 4})
    assert sync["sysctls"] == {"net.ipv4.vs.sync_threshold": "3 0", "net.ipv4.vs.sync_refresh_period": 4}
    assert "preempt_delay 10" in block(render([WEB], sync_daemon={"refresh_period": 4}), "vrrp_instance VI_LVS {")
    # defaults: a 10 s refresh, so a 22 s delay; an explicit delay, nopreempt or no sync are kept as given
    assert "preempt_delay 22" in render([WEB])
    explicit = [{"name": "VI", "virtual_router_id": 9, "preempt_delay": 0}]
    assert "preempt_delay" not in render([WEB], instances=explicit)
    assert "preempt_delay" not in render([WEB], instances=[{"name": "VI", "virtual_router_id": 9, "preempt": False}])
    assert "preempt_delay" not in render([WEB], sync_daemon={"enabled": False})
    off = lvs_keepalived_sync([WEB], HOSTVARS, GROUPS, facts=FACTS, sync_daemon={"refresh_period": 0})
    assert off["sysctls"] == {} and len(off["daemons"]) == 2
    assert "preempt_delay" not in render([WEB], sync_daemon={"refresh_period": 0})
    assert lvs_keepalived_sync([WEB], HOSTVARS, GROUPS, facts=FACTS, sync_daemon={"enabled": False}) == {
        "daemons": [], "sysctls": {}}


@pytest.mark.parametrize("sync, message", [
    ({"instance": "NOPE"}, "director_sync_daemon.instance: NOPE is not an instance; instances: VI_LVS"),
    ({"interface": "eth1 id 9"}, "director_sync_daemon.interface: invalid interface name"),
    ({"interface": "../eth1"}, "director_sync_daemon.interface: invalid interface name"),
    ({"enabled": "perhaps"}, "director_sync_daemon.enabled: must be a boolean"),
    ({"id": 256}, "director_sync_daemon.id: must be an integer from 0 to 255"),
    ({"refresh_period": -1}, "director_sync_daemon.refresh_period: must be an integer from 0 to 3600"),
    ({"refresh_period": "often"}, "director_sync_daemon.refresh_period: must be an integer"),
    ({"group": "224.0.0.81"}, "director_sync_daemon: unknown key(s) group; accepted: enabled, interface, instance, id, refresh_period"),
    ("yes", "director_sync_daemon: must be a dict"),
])
def test_bad_sync_daemon_settings_fail_naming_the_field(sync, message):
    with pytest.raises(AnsibleFilterError) as err:
        daemons([WEB], sync_daemon=sync)
    assert message in str(err.value), str(err.value)


def test_vips_split_across_instances():
    services = [WEB, dict(WEB, address="198.51.100.101")]
    text = render(services, instances=[{"name": "A", "virtual_router_id": 1, "vips": ["198.51.100.101"]},
                                       {"name": "B", "virtual_router_id": 2}])
    assert "198.51.100.101/32 dev eth1" in block(text, "vrrp_instance A {")
    assert "198.51.100.100/32 dev eth1" in block(text, "vrrp_instance B {")


@pytest.mark.parametrize("kw, services, message", [
    ({"auth_pass": "toolongpass"}, [WEB], "director_vrrp_auth_pass: 1 to 8 printable"),
    ({"priority": 255}, [WEB], "priority: must be an integer from 1 to 254"),
    ({"instances": [{"name": "A", "virtual_router_id": 0}]}, [WEB], "virtual_router_id: must be an integer from 1"),
    ({"instances": [{"name": "A", "virtual_router_id": 1}, {"name": "A", "virtual_router_id": 2}]}, [WEB],
     "must be unique"),
    ({"instances": [{"name": "A", "virtual_router_id": 1, "vips": ["192.0.2.1"]}]}, [WEB],
     "is the address of no service"),
    ({"instances": [{"name": "A", "virtual_router_id": 1, "weird": 1}]}, [WEB], "unknown key(s) weird; accepted"),
    ({"facts": {"interfaces": []}}, [WEB], "director_vrrp_instances[0].interface: instance VI_LVS names no interface"),
    ({}, [dict(WEB, healthcheck={"type": "icmp"})], "services[0].healthcheck.type: must be one of tcp, http, misc, none"),
    ({}, [dict(WEB, healthcheck={"type": "misc"})], "misc_path: required"),
    ({}, [dict(WEB, healthcheck={"type": "tcp", "path": "/"})], "unknown key(s) path"),
    ({}, [dict(WEB, forwarding="local")], "forwarding local has no keepalived equivalent"),
    ({}, [dict(WEB, scheduler="nope")], "scheduler"),
])
def test_bad_input_names_the_field(kw, services, message):
    with pytest.raises(AnsibleFilterError) as err:
        render(services, **kw)
    assert message in str(err.value)
    assert "toolongpass" not in str(err.value)  # a secret is never echoed


# --- issue 9: nothing reaches keepalived.conf unchecked ---------------------------------------------
HTTP = dict(WEB, healthcheck={"type": "http", "path": "/health"})
MISC = dict(WEB, healthcheck={"type": "misc", "misc_path": "/usr/local/bin/check"})
INJECTED = "\n}\nvirtual_server 203.0.113.66 80 {\n  real_server 203.0.113.66 80 {\n  }\n"


@pytest.mark.parametrize("kw, services, message", [
    ({}, [dict(HTTP, healthcheck={"type": "http", "path": "/" + INJECTED})], "services[0].healthcheck.path"),
    ({}, [dict(HTTP, healthcheck={"type": "http", "path": "/a b"})], "healthcheck.path"),
    ({}, [dict(HTTP, healthcheck={"type": "http", "path": "/#x"})], "healthcheck.path"),
    ({}, [dict(HTTP, healthcheck={"type": "http", "path": "health"})], "healthcheck.path"),
    ({}, [dict(MISC, healthcheck={"type": "misc", "misc_path": "/bin/true" + INJECTED})], "healthcheck.misc_path"),
    ({}, [dict(MISC, healthcheck={"type": "misc", "misc_path": '/bin/echo "x"'})], "healthcheck.misc_path"),
    ({}, [dict(MISC, healthcheck={"type": "misc", "misc_path": "/bin/true ! x"})], "healthcheck.misc_path"),
    ({}, [dict(WEB, sorry_server={"address": "198.51.100.30" + INJECTED})], "services[0].sorry_server.address"),
    ({}, [dict(WEB, sorry_server={"address": "sorry.example"})], "services[0].sorry_server.address"),
    ({"instances": [{"name": "A", "virtual_router_id": 1, "interface": "eth1\n  router_id x"}]}, [WEB],
     "director_vrrp_instances[0].interface: invalid interface name"),
    ({"instances": [{"name": "A", "virtual_router_id": 1, "interface": "../eth1"}]}, [WEB], "[0].interface"),
    ({"instances": [{"name": "A\nB", "virtual_router_id": 1}]}, [WEB], "director_vrrp_instances[0].name"),
    ({"instances": [{"name": "A", "virtual_router_id": 1, "vips": "198.51.100.100"}]}, [WEB], "[0].vips: must be a list"),
    ({"instances": [{"name": "A", "virtual_router_id": 1, "preempt": "maybe"}]}, [WEB], "[0].preempt: must be a boolean"),
    ({"auth_pass": "ab#cd"}, [WEB], "director_vrrp_auth_pass"),
    ({"auth_pass": "ab\ncd"}, [WEB], "director_vrrp_auth_pass"),
    ({}, [dict(WEB, inhibit_on_failure="sometimes")], "services[0].inhibit_on_failure: must be a boolean"),
    ({}, [dict(WEB, sorry_server={"address": "2001:db8::30"})],
     "services[0].sorry_server.address: 2001:db8::30 is ipv6, the service is ipv4"),
    ({}, [dict(WEB, destinations=["198.51.100.11"])], "services[0].destinations[0]: must be a dict"),
    ({}, [dict(WEB, destinations={"host": "rs1"})], "services[0].destinations: must be a list"),
    ({}, [dict(WEB, forwarding="gre", destinations=[])], "services[0].forwarding: 'gre' is not a forwarding method"),
    ({}, [dict(WEB, destinations=[{"host": "rs1", "address": "198.51.100.11"}])], "give host or address, not both"),
    ({}, [dict(WEB, destinations=[{"host": "rs1", "weight": 65536}])], "services[0].destinations[0].weight: 65536"),
])
def test_hostile_or_malformed_input_fails_naming_the_field(kw, services, message):
    with pytest.raises(AnsibleFilterError) as err:
        render(services, **kw)
    assert message in str(err.value), str(err.value)


def test_a_typo_in_the_real_server_group_is_an_error_not_an_empty_service():
    with pytest.raises(AnsibleFilterError, match="no group 'realserver'"):
        lvs_keepalived_conf([WEB], HOSTVARS, GROUPS, "lb1", realserver_group="realserver", facts=FACTS)


def test_router_id_is_one_word():
    with pytest.raises(AnsibleFilterError, match="inventory_hostname"):
        lvs_keepalived_conf([WEB], HOSTVARS, GROUPS, "lb1\n  router_id evil", facts=FACTS)


def test_booleans_follow_ansible_rules():
    """The strings "false" and "no" were read as true."""
    text = render([dict(WEB, inhibit_on_failure="no")],
                  instances=[{"name": "VI", "virtual_router_id": 9, "preempt": "false"}])
    assert "inhibit_on_failure" not in text and "nopreempt" in text
    assert "inhibit_on_failure" in render([dict(WEB, inhibit_on_failure="yes")])


def test_addresses_are_written_in_their_normal_form():
    text = render([dict(WEB, address="198.51.100.100\n", sorry_server={"address": " 198.51.100.30"})])
    assert "virtual_server 198.51.100.100 80 {" in text.splitlines()
    assert "  sorry_server 198.51.100.30 80" in text.splitlines()


def test_a_routed_vip_lives_on_its_device_and_the_adverts_on_the_lan():
    """A VIP in no LAN's subnet, routed to the directors: held on lo, advertised on the shared LAN."""
    routed = dict(WEB, address="203.0.113.10", vip_device="lo")
    inst = block(render([routed], instances=[{"name": "VI", "virtual_router_id": 9, "interface": "eth1"}]),
                 "vrrp_instance VI {")
    assert "interface eth1" in inst and "203.0.113.10/32 dev lo" in inst
    assert "203.0.113.10/32 dev lo" in render([dict(WEB, address="203.0.113.10")], vip_device="lo",
                                              instances=[{"name": "VI", "virtual_router_id": 9, "interface": "eth1"}])


def test_keepalived_never_advertises_on_a_loopback():
    """Found by an operator: a routed VIP held on lo made the role render `interface lo`."""
    on_lo = dict(FACTS, lo={"ipv4": {"address": "127.0.0.1", "netmask": "255.0.0.0"},
                            "ipv4_secondaries": [{"address": "203.0.113.10", "netmask": "255.255.255.255"}]})
    with pytest.raises(AnsibleFilterError, match=r"director_vrrp_instances\[0\].interface: instance VI_LVS names no"):
        render([dict(WEB, address="203.0.113.10")], facts=on_lo)
    with pytest.raises(AnsibleFilterError, match=r"director_vrrp_instances\[0\].interface: lo cannot carry"):
        render([WEB], instances=[{"name": "VI", "virtual_router_id": 9, "interface": "lo"}])


def test_vrrp_version_is_written_and_vrrpv3_takes_hundredths_of_a_second():
    text = render([WEB], vrrp_version=3, instances=[{"name": "VI", "virtual_router_id": 51, "advert_int": 0.2}])
    assert "vrrp_version 3" in block(text, "global_defs {")
    assert "advert_int 0.2" in block(text, "vrrp_instance VI {")
    # the same value written as text, and whole seconds, under VRRPv3
    for given, written in (("0.05", "0.05"), (2, "2"), ("40.95", "40.95")):
        text = render([WEB], vrrp_version=3, instances=[{"name": "VI", "virtual_router_id": 51, "advert_int": given}])
        assert "advert_int %s" % written in block(text, "vrrp_instance VI {"), given
    assert "vrrp_version 2" in block(render([WEB]), "global_defs {")


@pytest.mark.parametrize("kw, message", [
    # keepalived would round these with a log line only: refused instead
    ({"instances": [{"name": "VI", "virtual_router_id": 51, "advert_int": 0.5}]},
     "advert_int: VRRPv2 cannot advertise every 0.5 seconds (accepted: whole seconds from 1 to 255"),
    ({"instances": [{"name": "VI", "virtual_router_id": 51, "advert_int": "1.5"}]},
     "advert_int: VRRPv2 cannot advertise every '1.5' seconds"),
    ({"vrrp_version": 3, "instances": [{"name": "VI", "virtual_router_id": 51, "advert_int": "0.015"}]},
     "advert_int: VRRPv3 cannot advertise every '0.015' seconds (accepted: seconds from 0.01 to 40.95"),
    ({"vrrp_version": 3, "instances": [{"name": "VI", "virtual_router_id": 51, "advert_int": 41}]},
     "VRRPv3 cannot advertise every 41 seconds"),
    ({"vrrp_version": 3, "instances": [{"name": "VI", "virtual_router_id": 51, "advert_int": 0}]},
     "VRRPv3 cannot advertise every 0 seconds"),
    ({"vrrp_version": 3, "instances": [{"name": "VI", "virtual_router_id": 51, "advert_int": float("nan")}]},
     "VRRPv3 cannot advertise every nan seconds"),
    ({"vrrp_version": 4}, "director_vrrp_version: must be an integer from 2 to 3"),
    ({"vrrp_version": None}, "director_vrrp_version: is required"),
    # VRRPv3 has no authentication: keepalived drops the password with a log line only
    ({"vrrp_version": 3, "auth_pass": "secret"}, "director_vrrp_auth_pass: VRRPv3 has no authentication"),
])
def test_an_advert_interval_or_version_the_protocol_cannot_carry_is_refused(kw, message):
    with pytest.raises(AnsibleFilterError, match=re.escape(message)):
        render([WEB], **kw)


V6_FACTS = dict(FACTS, eth1=dict(FACTS["eth1"], ipv6=[{"address": "2001:db8:100::10", "prefix": "64", "scope": "global"}]))
WEB6 = {"address": "2001:db8:100::100", "port": 80, "forwarding": "dr", "scheduler": "rr",
        "destinations": [{"address": "2001:db8:100::11"}, {"address": "2001:db8:100::12"}]}


def test_an_instance_holds_one_address_family_and_ipv6_takes_vrrpv3():
    # keepalived drops a VIP of the other family from an instance, with only a configuration error
    for version in (2, 3):
        with pytest.raises(AnsibleFilterError, match=re.escape(
                "director_vrrp_instances[0].vips: instance VI_LVS would hold IPv4 VIPs (198.51.100.100) and IPv6 "
                "VIPs (2001:db8:100::100); VRRP advertises one address family per instance")):
            render([WEB, WEB6], facts=V6_FACTS, vrrp_version=version)
    with pytest.raises(AnsibleFilterError, match=re.escape(
            "director_vrrp_version: instance VI_LVS holds IPv6 VIPs (2001:db8:100::100), which VRRPv2 cannot "
            "advertise (accepted: 3)")):
        render([WEB6], facts=V6_FACTS)
    text = render([WEB, WEB6], facts=V6_FACTS, vrrp_version=3, instances=[
        {"name": "VI4", "virtual_router_id": 51}, {"name": "VI6", "virtual_router_id": 52, "vips": [WEB6["address"]]}])
    assert "2001:db8:100::100/128 dev eth1" in block(text, "vrrp_instance VI6 {")
    assert "198.51.100.100/32 dev eth1" in block(text, "vrrp_instance VI4 {")


NAT_FACTS = dict(FACTS, interfaces=FACTS["interfaces"] + ["eth2"],
                 eth2={"ipv4": {"address": "192.0.2.10", "netmask": "255.255.255.0"}})
NAT_WEB = {"address": "198.51.100.101", "port": 80, "forwarding": "nat", "scheduler": "rr",
           "destinations": [{"address": "192.0.2.11"}, {"address": "192.0.2.12"}]}
GATEWAY_INSTANCES = [{"name": "VI_LVS", "virtual_router_id": 51, "sync_group": "VG"},
                     {"name": "VI_GW", "virtual_router_id": 53, "addresses": ["192.0.2.1"], "sync_group": "VG"}]


def test_a_nat_gateway_floats_on_its_own_lan_in_one_sync_group_with_the_vips():
    text = render([NAT_WEB], facts=NAT_FACTS, instances=GATEWAY_INSTANCES)
    assert block(text, "vrrp_sync_group VG {") == ["vrrp_sync_group VG {", "group {", "VI_LVS", "VI_GW", "}", "}"]
    gateway = block(text, "vrrp_instance VI_GW {")
    # the instance advertises on the LAN of its address, and holds it there
    assert "interface eth2" in gateway and "192.0.2.1/32 dev eth2" in gateway
    assert not any("198.51.100.101" in line for line in gateway)
    # the catch-all is the instance without vips and addresses: it takes the service's VIP
    assert "198.51.100.101/32 dev eth1" in block(text, "vrrp_instance VI_LVS {")
    # keepalived reads the group's members by name: it comes before the instances it names
    assert text.index("vrrp_sync_group VG {") < text.index("vrrp_instance VI_LVS {")


def test_no_sync_group_is_written_when_no_instance_names_one():
    text = render([NAT_WEB], facts=NAT_FACTS, instances=[
        {"name": "VI_LVS", "virtual_router_id": 51}, {"name": "VI_GW", "virtual_router_id": 53, "addresses": ["192.0.2.1"]}])
    assert "vrrp_sync_group" not in text and "192.0.2.1/32 dev eth2" in text


@pytest.mark.parametrize("instances, message", [
    # a group of one moves nothing with anything: keepalived drops it with a log line
    ([{"name": "VI_LVS", "virtual_router_id": 51, "sync_group": "VG"}],
     "director_vrrp_instances[0].sync_group: sync group VG would hold VI_LVS: a sync group moves two or more "
     "instances together (accepted: the same sync_group on two or more instances"),
    # an instance that ends up holding nothing is left out, so its group would be short of it
    ([{"name": "VI_LVS", "virtual_router_id": 51, "sync_group": "VG"},
      {"name": "EMPTY", "virtual_router_id": 52, "vips": [], "sync_group": "VG"},
      {"name": "REST", "virtual_router_id": 53, "vips": ["198.51.100.101"]}],
     "director_vrrp_instances[0].sync_group: sync group VG would hold VI_LVS: a sync group"),
    ([{"name": "VI_LVS", "virtual_router_id": 51, "sync_group": "VG 1"}, GATEWAY_INSTANCES[1]],
     "director_vrrp_instances[0].sync_group: letters, digits, \"_\" and \"-\" only, got 'VG 1'"),
    ([GATEWAY_INSTANCES[0], dict(GATEWAY_INSTANCES[1], addresses=["198.51.100.101"])],
     "director_vrrp_instances[1].addresses: 198.51.100.101 is the VIP of a service: list it in vips"),
    ([GATEWAY_INSTANCES[0], GATEWAY_INSTANCES[1], dict(GATEWAY_INSTANCES[1], name="VI_GW2", virtual_router_id=54)],
     "director_vrrp_instances[2].addresses: 192.0.2.1 is already held by instance VI_GW; one holder per address"),
    ([GATEWAY_INSTANCES[0], dict(GATEWAY_INSTANCES[1], addresses=["192.0.2.300"])],
     "director_vrrp_instances[1].addresses[0]: '192.0.2.300' is not an IPv4 or IPv6 address"),
    ([GATEWAY_INSTANCES[0], dict(GATEWAY_INSTANCES[1], addresses="192.0.2.1")],
     "director_vrrp_instances[1].addresses: must be a list of addresses"),
    ([GATEWAY_INSTANCES[0], dict(GATEWAY_INSTANCES[1], addresses=["192.0.2.1", "2001:db8:2::1"])],
     "instance VI_GW would hold IPv4 VIPs (192.0.2.1) and IPv6 VIPs (2001:db8:2::1)"),
])
def test_bad_floating_addresses_and_sync_groups_name_the_field(instances, message):
    services = [NAT_WEB, dict(NAT_WEB, address="198.51.100.102")]
    with pytest.raises(AnsibleFilterError) as err:
        render(services, facts=NAT_FACTS, instances=instances)
    assert message in str(err.value)


def test_a_host_with_an_ipv4_and_an_ipv6_address_serves_each_family_with_its_own():
    hostvars = dict(HOSTVARS, rs1={"lvs_address": ["198.51.100.11", "2001:db8:100::11"]},
                    rs2={"lvs_address": ["2001:db8:100::12", "198.51.100.12"]})
    web6 = {"address": "2001:db8:100::100", "port": 80, "forwarding": "dr", "scheduler": "rr"}
    text = lvs_keepalived_conf([WEB, web6], hostvars, GROUPS, "lb1", facts=V6_FACTS, vrrp_version=3, instances=[
        {"name": "VI4", "virtual_router_id": 51}, {"name": "VI6", "virtual_router_id": 52, "vips": [web6["address"]]}])
    assert "real_server 198.51.100.11 80 {" in block(text, "virtual_server 198.51.100.100 80 {")
    assert "real_server 198.51.100.12 80 {" in block(text, "virtual_server 198.51.100.100 80 {")
    v6 = block(text, "virtual_server 2001:db8:100::100 80 {")
    assert "real_server 2001:db8:100::11 80 {" in v6 and "real_server 2001:db8:100::12 80 {" in v6
