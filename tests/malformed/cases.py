"""Malformed inputs, one table for the modules and one for the roles' variables and filters.

Each case is wrong in one place, otherwise valid against the baseline that harness.py sets up in a guest
(a DR service on VIP and a real server, below), so that a case that slipped through validation would
change the host and be caught by comparing the host before and after.

A module case: (id, module, arguments, field, host). `field` (or each of a tuple) must appear in the
failure message; `host`
marks a case that can only be judged on a real host (it reads the host to decide, e.g. whether an
interface exists): the unit test skips those, the guest runs every case, in normal and check mode.

A role case: (id, filter, keyword arguments, fields). Every field in `fields` must appear in the message.
Used by tests/unit/test_malformed_inputs.py and tests/integration/targets/malformed_input.
"""

VIP = "198.51.100.180"
RS = "198.51.100.11"
SERVICE = {"address": VIP, "port": 80}
BASE_SERVICE = {"address": VIP, "port": 80, "scheduler": "rr", "destinations": [{"address": RS}]}
HUGE = 2 ** 31


def _table(*extra, **options):
    return dict({"services": [BASE_SERVICE] + list(extra), "purge": True}, **options)


def _dest(**values):
    return dict({"service": SERVICE, "address": RS}, **values)


def _svc(**values):
    return dict({"address": VIP, "port": 80, "scheduler": "rr"}, **values)


def _tun(**values):
    return _dest(forwarding="tun", **values)


MODULE_CASES = [
    # ipvs_service
    ("service-address-not-ip", "ipvs_service", _svc(address="198.51.100.300"), "address", False),
    ("service-address-multicast", "ipvs_service", _svc(address="224.0.0.1"), "address", False),
    ("service-address-broadcast", "ipvs_service", _svc(address="255.255.255.255"), "address", False),
    ("service-address-prefix", "ipvs_service", _svc(address="2001:db8::1/64"), "address", False),
    ("service-address-link-local6", "ipvs_service", _svc(address="fe80::1"), "address", False),
    ("service-address-injected", "ipvs_service", _svc(address=VIP + "\n-A -t 203.0.113.9:80"), "address", False),
    ("service-port-high", "ipvs_service", _svc(port=70000), "port", False),
    ("service-port-negative", "ipvs_service", _svc(port=-1), "port", False),
    ("service-port-text", "ipvs_service", _svc(port="http"), "port", False),
    ("service-port-superscript", "ipvs_service", _svc(port="\u00b2"), "port", False),
    ("service-port-zero", "ipvs_service", _svc(port=0), "port", False),
    ("service-protocol", "ipvs_service", _svc(protocol="icmp"), "protocol", False),
    ("service-scheduler", "ipvs_service", _svc(scheduler="fastest"), "scheduler", False),
    ("service-scheduler-injected", "ipvs_service", _svc(scheduler="rr -p 1"), "scheduler", False),
    ("service-fwmark-zero", "ipvs_service", {"fwmark": 0}, "fwmark", False),
    ("service-fwmark-high", "ipvs_service", {"fwmark": HUGE * 2}, "fwmark", False),
    ("service-fwmark-and-address", "ipvs_service", _svc(fwmark=5), "fwmark", False),
    ("service-no-key", "ipvs_service", {"scheduler": "rr"}, "fwmark", False),
    ("service-persistence-negative", "ipvs_service", _svc(persistence_timeout=-5), "persistence_timeout", False),
    ("service-persistence-high", "ipvs_service", _svc(persistence_timeout=3000000), "persistence_timeout", False),
    ("service-netmask-holes", "ipvs_service", _svc(persistence_timeout=300, persistence_netmask="255.0.255.0"),
     "persistence_netmask", False),
    ("service-netmask-not-persistent", "ipvs_service", _svc(persistence_netmask="255.255.255.0"),
     "persistence_netmask", False),
    ("service-netmask-v6-prefix", "ipvs_service",
     _svc(address="2001:db8:100::180", persistence_timeout=60, persistence_netmask=129), "persistence_netmask", False),
    ("service-engine-not-persistent", "ipvs_service", _svc(persistence_engine="sip"), "persistence_engine", False),
    ("service-engine-unknown", "ipvs_service", _svc(persistence_timeout=60, persistence_engine="rtp"),
     "persistence_engine", False),
    ("service-sh-flag-with-rr", "ipvs_service", _svc(sh_port=True), "sh_port", False),
    ("service-mh-flag-with-sh", "ipvs_service", _svc(scheduler="sh", mh_fallback=True), "mh_fallback", False),
    ("service-one-packet-tcp", "ipvs_service", _svc(one_packet=True), "one_packet", False),
    ("service-bool-text", "ipvs_service", _svc(one_packet="perhaps"), "one_packet", False),
    ("service-family-mismatch", "ipvs_service", _svc(family="ipv6"), "family", False),
    ("service-state", "ipvs_service", _svc(state="gone"), "state", False),
    ("service-unknown-option", "ipvs_service", _svc(wieght=3), "wieght", False),
    # ipvs_dest
    ("dest-weight-negative", "ipvs_dest", _dest(weight=-1), "weight", False),
    ("dest-weight-huge", "ipvs_dest", _dest(weight=HUGE), "weight", False),
    ("dest-weight-float", "ipvs_dest", _dest(weight=1.5), "weight", False),
    ("dest-port-mapped-dr", "ipvs_dest", _dest(port=8080), "port", False),
    ("dest-port-high-nat", "ipvs_dest", _dest(forwarding="nat", port=65536), "port", False),
    ("dest-forwarding", "ipvs_dest", _dest(forwarding="gre"), "forwarding", False),
    ("dest-thresholds-crossed", "ipvs_dest", _dest(upper_threshold=10, lower_threshold=20), "lower_threshold", False),
    ("dest-threshold-high", "ipvs_dest", _dest(upper_threshold=70000), "upper_threshold", False),
    ("dest-tunnel-without-tun", "ipvs_dest", _dest(tunnel_type="gue"), "tunnel_type", False),
    ("dest-gue-without-port", "ipvs_dest", _tun(tunnel_type="gue"), "tunnel_port", False),
    ("dest-ipip-with-port", "ipvs_dest", _tun(tunnel_type="ipip", tunnel_port=6080), "tunnel_port", False),
    ("dest-ipip-csum", "ipvs_dest", _tun(tunnel_type="ipip", tunnel_checksum="csum"), "tunnel_checksum", False),
    ("dest-gre-remcsum", "ipvs_dest", _tun(tunnel_type="gre", tunnel_checksum="remcsum"), "tunnel_checksum", False),
    ("dest-tunnel-type", "ipvs_dest", _tun(tunnel_type="vxlan"), "tunnel_type", False),
    ("dest-address-network", "ipvs_dest", _dest(address="198.51.100.0/24"), "address", False),
    ("dest-address-name", "ipvs_dest", _dest(address="rs1"), "address", False),
    ("dest-address-family-dr", "ipvs_dest", _dest(address="2001:db8:100::11"), "address", False),
    ("dest-address-unspecified", "ipvs_dest", _dest(address="0.0.0.0"), "address", False),
    ("dest-drain-timeout-negative", "ipvs_dest", _dest(state="absent", drain=True, drain_timeout=-1),
     "drain_timeout", False),
    ("dest-service-fwmark-zero", "ipvs_dest", dict(_dest(), service={"fwmark": 0}), "service.fwmark", False),
    ("dest-service-address", "ipvs_dest", dict(_dest(), service={"address": "web", "port": 80}),
     "service.address", False),
    ("dest-service-no-key", "ipvs_dest", dict(_dest(), service={"port": 80}), "service.address", False),
    ("dest-service-unknown-key", "ipvs_dest", dict(_dest(), service=dict(SERVICE, sched="rr")), "sched", False),
    ("dest-state", "ipvs_dest", _dest(state="drained"), "state", False),
    ("dest-on-drain-timeout", "ipvs_dest", _dest(on_drain_timeout="wait"), "on_drain_timeout", False),
    # ipvs_table: a bad entry beside the baseline, with purge: applied, it would change the table
    ("table-weight-text", "ipvs_table", _table(dict(BASE_SERVICE, port=81, destinations=[{"address": RS,
                                                                                          "weight": "heavy"}])),
     "services[1].destinations[0].weight", False),
    ("table-duplicate-service", "ipvs_table", _table(BASE_SERVICE), "services[1]", False),
    ("table-duplicate-dest", "ipvs_table",
     {"services": [dict(BASE_SERVICE, destinations=[{"address": RS}, {"address": RS}])], "purge": True},
     "services[0].destinations[1]", False),
    ("table-scheduler", "ipvs_table", _table(dict(BASE_SERVICE, port=81, scheduler="x")), "services[1].scheduler",
     False),
    ("table-port", "ipvs_table", _table(dict(BASE_SERVICE, port=70000)), "services[1].port", False),
    ("table-fwmark-zero", "ipvs_table", _table({"fwmark": 0, "destinations": []}), "services[1].fwmark", False),
    ("table-dest-forwarding", "ipvs_table",
     _table(dict(BASE_SERVICE, port=81, destinations=[{"address": RS, "forwarding": "gre"}])),
     "forwarding", False),
    ("table-dest-address", "ipvs_table", _table(dict(BASE_SERVICE, port=81, destinations=[{"address": "rs1"}])),
     "services[1].destinations[0].address", False),
    ("table-gue-port", "ipvs_table", _table(dict(BASE_SERVICE, port=81, destinations=[
        {"address": RS, "forwarding": "tun", "tunnel_type": "gue", "tunnel_port": 70000}])),
     "services[1].destinations[0].tunnel_port", False),
    ("table-unknown-key", "ipvs_table", _table(dict(BASE_SERVICE, port=81, sorry_server={"address": RS})),
     "sorry_server", False),
    ("table-services-not-list", "ipvs_table", {"services": "web", "purge": True}, "services", False),
    ("table-timeout-negative", "ipvs_table", _table(timeouts={"tcp": -1}), "timeouts.tcp", False),
    ("table-timeout-high", "ipvs_table", _table(timeouts={"udp": 9999999}), "timeouts.udp", False),
    ("table-timeout-unknown", "ipvs_table", _table(timeouts={"tcpp": 5}), "tcpp", False),
    ("table-sync-interface-path", "ipvs_table", _table(sync_daemons=[{"role": "master", "interface": "../eth0"}]),
     "sync_daemons[0].interface", False),
    ("table-sync-interface-space", "ipvs_table",
     _table(sync_daemons=[{"role": "master", "interface": "eth0 --syncid 9"}]), "sync_daemons[0].interface", False),
    ("table-sync-role-twice", "ipvs_table", _table(sync_daemons=[{"role": "master", "interface": "eth0"},
                                                                 {"role": "master", "interface": "eth0"}]),
     "sync_daemons[1].role", False),
    ("table-sync-role", "ipvs_table", _table(sync_daemons=[{"role": "primary", "interface": "eth0"}]), "role", False),
    ("table-sync-group", "ipvs_table",
     _table(sync_daemons=[{"role": "master", "interface": "eth0", "group": "198.51.100.9"}]),
     "sync_daemons[0].group", False),
    ("table-sync-ttl", "ipvs_table", _table(sync_daemons=[{"role": "master", "interface": "eth0", "ttl": 0}]),
     "sync_daemons[0].ttl", False),
    ("table-sync-id", "ipvs_table", _table(sync_daemons=[{"role": "backup", "interface": "eth0", "sync_id": 256}]),
     "sync_daemons[0].sync_id", False),
    # noarp_vip
    ("noarp-address-prefix", "noarp_vip", {"address": VIP + "/33"}, "address", False),
    ("noarp-address-multicast", "noarp_vip", {"address": "224.0.0.5"}, "address", False),
    ("noarp-address-loopback", "noarp_vip", {"address": "127.0.0.5"}, "address", False),
    ("noarp-address-empty", "noarp_vip", {"address": ""}, "address", False),
    ("noarp-tunl0-ipv6", "noarp_vip", {"address": "2001:db8:100::180", "device": "tunl0"}, "device", False),
    ("noarp-interface-traversal", "noarp_vip", {"address": VIP, "interfaces": ["../../../../etc"]},
     "interfaces[0]", False),
    ("noarp-interface-absolute", "noarp_vip", {"address": VIP, "interfaces": ["/tmp/x"]}, "interfaces[0]", False),
    ("noarp-interface-space", "noarp_vip", {"address": VIP, "interfaces": ["eth0", "eth0 "]}, "interfaces[1]", False),
    ("noarp-interface-long", "noarp_vip", {"address": VIP, "interfaces": ["x" * 16]}, "interfaces[0]", False),
    ("noarp-interface-missing", "noarp_vip", {"address": VIP, "interfaces": ["nosuchif0"]}, "interfaces[0]", True),
    ("noarp-dummy-slash", "noarp_vip", {"address": VIP, "device": "dummy", "dummy_name": "a/b"}, "dummy_name", False),
    ("noarp-dummy-dotdot", "noarp_vip", {"address": VIP, "device": "dummy", "dummy_name": ".."}, "dummy_name", False),
    ("noarp-device", "noarp_vip", {"address": VIP, "device": "eth0"}, "device", False),
    ("noarp-state", "noarp_vip", {"address": VIP, "state": "up"}, "state", False),
    # vip
    ("vip-multicast", "vip", {"address": "224.0.0.18"}, "address", False),
    ("vip-unspecified", "vip", {"address": "0.0.0.0"}, "address", False),
    ("vip-loopback", "vip", {"address": "127.0.0.2"}, "address", False),
    ("vip-prefix", "vip", {"address": VIP + "/24"}, "address", False),
    ("vip-device-traversal", "vip", {"address": VIP, "device": "../eth1"}, "device", False),
    ("vip-device-space", "vip", {"address": VIP, "device": "eth1 "}, "device", False),
    ("vip-device-long", "vip", {"address": VIP, "device": "x" * 16}, "device", False),
    ("vip-device-missing", "vip", {"address": VIP, "device": "nosuchif0"}, "device", True),
    ("vip-routed-no-device", "vip", {"address": "192.0.2.150"}, "device", True),
    ("vip-state", "vip", {"address": VIP, "state": "maybe"}, "state", False),
    # ipvs_info
    ("info-unknown-option", "ipvs_info", {"stats": True}, "stats", False),
]

# --- the roles' variables, through the filters the roles call --------------------------------------
GROUPS = {"directors": ["lb1"], "realservers": ["rs1", "rs2"], "all": ["lb1", "rs1", "rs2", "nowhere"]}
HOSTVARS = {"lb1": {"lvs_address": "198.51.100.10"}, "rs1": {"lvs_address": RS},
            "rs2": {"lvs_address": "198.51.100.12"}, "nowhere": {}}
FACTS = {"interfaces": ["lo", "eth1"], "lo": {"ipv4": {"address": "127.0.0.1", "netmask": "255.0.0.0"}},
         "eth1": {"ipv4": {"address": "198.51.100.10", "netmask": "255.255.255.0"}}}
WEB = {"address": "198.51.100.100", "port": 80, "forwarding": "dr", "scheduler": "rr"}


def _web(**values):
    return [dict(WEB, **values)]


def _hc(**values):
    return _web(healthcheck=values)


def _inst(**values):
    return {"instances": [dict({"name": "VI", "virtual_router_id": 9}, **values)]}


ROLE_CASES = [
    # lvs_table (both roles and site.yml)
    ("services-not-list", "lvs_table", {"services": "web"}, ["services"]),
    ("service-not-dict", "lvs_table", {"services": ["web"]}, ["services[0]"]),
    ("dests-not-list", "lvs_table", {"services": _web(destinations="rs1")}, ["services[0].destinations"]),
    ("dest-not-dict", "lvs_table", {"services": _web(destinations=[RS])}, ["services[0].destinations[0]"]),
    ("dest-host-unknown", "lvs_table", {"services": _web(destinations=[{"host": "rs9"}])},
     ["services[0].destinations[0].host"]),
    ("dest-host-no-address", "lvs_table", {"services": _web(destinations=[{"host": "nowhere"}])},
     ["services[0].destinations[0].host"]),
    ("dest-host-and-address", "lvs_table", {"services": _web(destinations=[{"host": "rs1", "address": RS}])},
     ["services[0].destinations[0]"]),
    ("dest-unknown-key", "lvs_table", {"services": _web(destinations=[{"host": "rs1", "wieght": 2}])}, ["wieght"]),
    ("forwarding", "lvs_table", {"services": _web(forwarding="gre")}, ["services[0].forwarding"]),
    ("weight-role-limit", "lvs_table", {"services": _web(destinations=[{"host": "rs1", "weight": 65536}])},
     ["services[0].destinations[0].weight"]),
    ("weight-role-limit-text", "lvs_table", {"services": _web(destinations=[{"host": "rs1", "weight": "70000"}])},
     ["services[0].destinations[0].weight"]),
    ("group-typo", "lvs_table", {"services": _web(), "realserver_group": "realserver"}, ["services[0]", "realserver"]),
    ("address-injected", "lvs_table", {"services": _web(address="198.51.100.100\n}")}, ["services[0].address"]),
    ("port-text", "lvs_table", {"services": _web(port="8o")}, ["services[0].port"]),
    ("port-superscript", "lvs_table", {"services": _web(port="8\u00b2")}, ["services[0].port"]),
    ("netmask-superscript", "lvs_table", {"services": _web(persistence_timeout=60, persistence_netmask="/\u00b2")},
     ["services[0].persistence_netmask"]),
    ("name-not-text", "lvs_table", {"services": _web(name=5)}, ["services[0].name"]),
    ("fwmark-zero", "lvs_table", {"services": [{"fwmark": 0, "forwarding": "dr"}]}, ["services[0].fwmark"]),
    ("dest-port-dr", "lvs_table", {"services": _web(destinations=[{"host": "rs1", "port": 8080}])},
     ["services[0].destinations[0].port"]),
    ("sorry-not-address", "lvs_table", {"services": _web(sorry_server={"address": "sorry.example"})},
     ["services[0].sorry_server.address"]),
    ("sorry-not-dict", "lvs_table", {"services": _web(sorry_server="198.51.100.30")}, ["services[0].sorry_server"]),
    ("sorry-unknown-key", "lvs_table", {"services": _web(sorry_server={"address": "198.51.100.30", "prt": 80})},
     ["services[0].sorry_server", "prt"]),
    ("sorry-fwmark-no-port", "lvs_table",
     {"services": [{"fwmark": 3, "forwarding": "dr", "sorry_server": {"address": "198.51.100.30"},
                    "destinations": [{"host": "rs1"}]}]}, ["services[0].sorry_server.port"]),
    ("sorry-port", "lvs_table", {"services": _web(sorry_server={"address": "198.51.100.30", "port": 0})},
     ["services[0].sorry_server.port"]),
    ("inhibit-not-bool", "lvs_table", {"services": _web(inhibit_on_failure="sometimes")},
     ["services[0].inhibit_on_failure"]),
    ("two-errors-both-named", "lvs_table",
     {"services": [dict(WEB, scheduler="x"), dict(WEB, port=81, destinations=[{"host": "rs1", "weight": -1}])]},
     ["services[0].scheduler", "services[1].destinations[0].weight"]),
    ("error-after-non-dict", "lvs_table", {"services": ["web", dict(WEB, scheduler="x")]},
     ["services[0]", "services[1].scheduler"]),
    # lvs_keepalived_conf: VRRP, health checks, password, router_id
    ("instances-not-list", "lvs_keepalived_conf", {"services": _web(), "instances": "VI"}, ["director_vrrp_instances"]),
    ("instances-empty", "lvs_keepalived_conf", {"services": _web(), "instances": []}, ["director_vrrp_instances"]),
    ("instance-not-dict", "lvs_keepalived_conf", {"services": _web(), "instances": ["VI"]},
     ["director_vrrp_instances[0]"]),
    ("instance-no-vrid", "lvs_keepalived_conf", {"services": _web(), "instances": [{"name": "VI"}]},
     ["director_vrrp_instances[0].virtual_router_id"]),
    ("instance-vrid-high", "lvs_keepalived_conf", dict(_inst(virtual_router_id=256), services=_web()),
     ["director_vrrp_instances[0].virtual_router_id"]),
    ("priority-float", "lvs_keepalived_conf", {"services": _web(), "priority": 100.5}, ["director_vrrp_priority"]),
    ("instance-priority-zero", "lvs_keepalived_conf", dict(_inst(priority=0), services=_web()),
     ["director_vrrp_instances[0].priority"]),
    ("instance-advert-zero", "lvs_keepalived_conf", dict(_inst(advert_int=0), services=_web()),
     ["director_vrrp_instances[0].advert_int"]),
    ("instance-advert-fraction-v2", "lvs_keepalived_conf", dict(_inst(advert_int=0.5), services=_web()),
     ["director_vrrp_instances[0].advert_int"]),
    ("instance-advert-thousandths-v3", "lvs_keepalived_conf",
     dict(_inst(advert_int="0.015"), services=_web(), vrrp_version=3), ["director_vrrp_instances[0].advert_int"]),
    ("vrrp-version-five", "lvs_keepalived_conf", {"services": _web(), "vrrp_version": 5}, ["director_vrrp_version"]),
    ("auth-pass-under-v3", "lvs_keepalived_conf", {"services": _web(), "auth_pass": "secret", "vrrp_version": 3},
     ["director_vrrp_auth_pass", "director_vrrp_version"]),
    ("instance-preempt-delay", "lvs_keepalived_conf", dict(_inst(preempt_delay=-1), services=_web()),
     ["director_vrrp_instances[0].preempt_delay"]),
    ("instance-preempt-text", "lvs_keepalived_conf", dict(_inst(preempt="maybe"), services=_web()),
     ["director_vrrp_instances[0].preempt"]),
    ("instance-vip-not-ip", "lvs_keepalived_conf", dict(_inst(vips=["web"]), services=_web()),
     ["director_vrrp_instances[0].vips[0]"]),
    ("instance-vip-no-service", "lvs_keepalived_conf", dict(_inst(vips=["198.51.100.99"]), services=_web()),
     ["director_vrrp_instances[0].vips"]),
    ("instance-name-space", "lvs_keepalived_conf", dict(_inst(name="VI 2"), services=_web()),
     ["director_vrrp_instances[0].name"]),
    ("instance-interface-newline", "lvs_keepalived_conf", dict(_inst(interface="eth1\n"), services=_web()),
     ["director_vrrp_instances[0].interface"]),
    ("instance-unknown-key", "lvs_keepalived_conf", dict(_inst(vip=["198.51.100.100"]), services=_web()),
     ["director_vrrp_instances[0]", "vip"]),
    ("auth-pass-space", "lvs_keepalived_conf", {"services": _web(), "auth_pass": "a b"}, ["director_vrrp_auth_pass"]),
    ("auth-pass-long", "lvs_keepalived_conf", {"services": _web(), "auth_pass": "ninechars"},
     ["director_vrrp_auth_pass"]),
    ("check-default-type", "lvs_keepalived_conf", {"services": _web(), "healthcheck": {"type": "icmp"}},
     ["director_healthcheck.type"]),
    ("check-default-delay", "lvs_keepalived_conf", {"services": _web(), "healthcheck": {"delay_loop": 0}},
     ["director_healthcheck.delay_loop"]),
    ("check-default-not-dict", "lvs_keepalived_conf", {"services": _web(), "healthcheck": "tcp"},
     ["director_healthcheck"]),
    ("check-retry", "lvs_keepalived_conf", {"services": _hc(retry=101)}, ["services[0].healthcheck.retry"]),
    ("check-status", "lvs_keepalived_conf", {"services": _hc(type="http", status_code=600)},
     ["services[0].healthcheck.status_code"]),
    ("check-path-space", "lvs_keepalived_conf", {"services": _hc(type="http", path="/a b")},
     ["services[0].healthcheck.path"]),
    ("check-misc-relative", "lvs_keepalived_conf", {"services": _hc(type="misc", misc_path="check.sh")},
     ["services[0].healthcheck.misc_path"]),
    ("check-misc-timeout", "lvs_keepalived_conf", {"services": _hc(type="misc", misc_path="/bin/true",
                                                                   misc_timeout=0)},
     ["services[0].healthcheck.misc_timeout"]),
    ("check-not-dict", "lvs_keepalived_conf", {"services": _web(healthcheck="tcp")}, ["services[0].healthcheck"]),
    ("check-key-of-other-type", "lvs_keepalived_conf", {"services": _hc(type="tcp", status_code=200)},
     ["services[0].healthcheck", "status_code"]),
    ("check-inherited-bad-key", "lvs_keepalived_conf",
     {"services": _hc(port=8080), "healthcheck": {"type": "tcp", "retry": "often"}}, ["director_healthcheck.retry"]),
    ("router-id", "lvs_keepalived_conf", {"services": _web(), "host": "lb 1"}, ["inventory_hostname"]),
    ("router-id-trailing-newline", "lvs_keepalived_conf", {"services": _web(), "host": "lb1\n"},
     ["inventory_hostname"]),
    ("check-path-trailing-newline", "lvs_keepalived_conf", {"services": _hc(type="http", path="/x\n")},
     ["services[0].healthcheck.path"]),
    ("priority-null", "lvs_keepalived_conf", {"services": _web(), "priority": None}, ["director_vrrp_priority"]),
    ("priority-superscript", "lvs_keepalived_conf", {"services": _web(), "priority": "\u00b2"},
     ["director_vrrp_priority"]),
    ("forwarding-local", "lvs_keepalived_conf", {"services": _web(forwarding="local")}, ["services[0]", "local"]),
    # lvs_keepalived_sync
    ("sync-not-dict", "lvs_keepalived_sync", {"services": _web(), "sync_daemon": "on"}, ["director_sync_daemon"]),
    ("sync-id-text", "lvs_keepalived_sync", {"services": _web(), "sync_daemon": {"id": "one"}},
     ["director_sync_daemon.id"]),
    ("sync-enabled", "lvs_keepalived_sync", {"services": _web(), "sync_daemon": {"enabled": "maybe"}},
     ["director_sync_daemon.enabled"]),
    ("sync-interface", "lvs_keepalived_sync", {"services": _web(), "sync_daemon": {"interface": "eth0;reboot"}},
     ["director_sync_daemon.interface"]),
    ("sync-instance", "lvs_keepalived_sync", {"services": _web(), "sync_daemon": {"instance": "NOPE"}},
     ["director_sync_daemon.instance"]),
    ("sync-refresh", "lvs_keepalived_sync", {"services": _web(), "sync_daemon": {"refresh_period": 3601}},
     ["director_sync_daemon.refresh_period"]),
    # lvs_realserver (the realserver role; the gateway goes into a root shell script)
    ("nat-gateway-injected", "lvs_realserver",
     {"services": _web(forwarding="nat", port=8080), "nat_gateway": "198.51.100.10; touch /tmp/x"},
     ["realserver_nat_gateway"]),
    ("nat-gateway-name", "lvs_realserver", {"services": _web(forwarding="nat"), "nat_gateway": "lb1"},
     ["realserver_nat_gateway"]),
    ("nat-gateway-missing", "lvs_realserver", {"services": _web(forwarding="nat")}, ["realserver_nat_gateway"]),
    ("realserver-own-address", "lvs_realserver", {"services": _web(), "host": "rs9", "hostvars_extra": {
        "rs9": {"lvs_address": "rs9.example"}}}, ["lvs_address (of rs9)"]),
    # lvs_ipvsadm_rules (the boot-time rules file)
    ("rules-timeout", "lvs_ipvsadm_rules", {"services": [], "timeouts": {"tcp": -1}}, ["timeouts.tcp"]),
    ("rules-timeout-key", "lvs_ipvsadm_rules", {"services": [], "timeouts": {"fin": 5}}, ["fin"]),
]
