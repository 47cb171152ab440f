"""Property test (Hypothesis) of the whole role schema and the files written from it.

Whole clusters are drawn: services, destinations, health checks, sorry servers, VRRP instances, the sync
daemon, the password, the host name, each key either a valid value or anything at all (hostile strings,
huge and negative numbers, floats, booleans, lists, dicts, None) and now and then an unknown key. Then:

- the filters the roles call raise nothing but the validation error (AnsibleFilterError);
- what is rendered is made only of lines of keepalived.conf's grammar as this collection writes it, with
  one virtual_server per service and one real_server per destination of the expanded table;
- the table handed to the modules parses back to the same typed table (nothing reinterpreted on the
  way), and the boot rules file holds one -A per service and one -a per destination, each one line.
"""
import re

from ansible.errors import AnsibleFilterError
from hypothesis import event, given, settings
from hypothesis import strategies as st

from ansible_collections.lvs.cluster.plugins.filter.keepalived import lvs_keepalived_conf, lvs_keepalived_sync
from ansible_collections.lvs.cluster.plugins.filter.lvs import lvs_ipvsadm_rules, lvs_table, lvs_vips_for
from ansible_collections.lvs.cluster.plugins.module_utils._model import parse_table

GROUPS = {"directors": ["lb1"], "realservers": ["rs1", "rs2"]}
HOSTVARS = {"lb1": {"lvs_address": "198.51.100.10"}, "rs1": {"lvs_address": "198.51.100.11"},
            "rs2": {"lvs_address": "198.51.100.12"}}
FACTS = {"interfaces": ["eth1"], "eth1": {"ipv4": {"address": "198.51.100.10", "netmask": "255.255.255.0"}}}

TEXT = st.one_of(
    st.text(max_size=30),
    st.text(alphabet=st.sampled_from(list('\n\r\t {}"\'#!\\/;:.,@$*()=+-_~%&?<>|`\x00\x7f\u00e9\u2028')), max_size=20),
    st.sampled_from(["\n}", "x\nrouter_id evil", "/a b", "/#", "eth1 ", "../x", "a" * 300, "198.51.100.100\n",
                     " 198.51.100.11", "1e3", "0x10", "-0", "80.0", "yes", "off"]),
)
JUNK = st.one_of(TEXT, st.integers(-2 ** 33, 2 ** 33), st.floats(), st.booleans(), st.none(),
                 st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=4), st.integers(), max_size=2))


def rarely(strategy, otherwise):
    """`strategy` one time in twelve, else `otherwise`: most drawn clusters are valid but for a key or two,
    so that both the refusals and the rendered files are exercised."""
    return st.integers(0, 11).flatmap(lambda n: strategy if n == 6 else otherwise)  # 6: no boundary bias


def either(*valid):
    """A valid value, or (rarely) anything at all."""
    return rarely(JUNK, st.sampled_from(valid))


def record(required=None, **optional):
    """A dict of the given keys, each there or not, and (rarely) an unknown key too."""
    base = st.fixed_dictionaries(required or {}, optional=optional)
    return rarely(st.tuples(base, JUNK).map(lambda pair: dict(pair[0], wieght=pair[1])), base)


COMMON_CHECK = dict(delay_loop=either(1, 3), retry=either(0, 1), delay_before_retry=either(1))
TCP_CHECK = dict(COMMON_CHECK, port=either(8080), connect_timeout=either(2))
CHECK = st.one_of(
    record({"type": either("tcp")}, **TCP_CHECK),
    record({"type": either("http")}, path=either("/", "/health"), status_code=either(200, 204), **TCP_CHECK),
    record({"type": either("misc"), "misc_path": either("/bin/true", "/usr/bin/check --port 80")},
           misc_timeout=either(5), **COMMON_CHECK),
    record({"type": either("none")}, delay_loop=either(2)))
DEST = st.one_of(
    record({"host": either("rs1", "rs2")}, weight=either(0, 1, 65535), upper_threshold=either(0, 10),
           lower_threshold=either(0, 5), forwarding=either("dr")),
    record({"address": either("198.51.100.11", "198.51.100.12")}, port=either(8080), forwarding=either("nat"),
           weight=either(2)),
    record({"host": either("rs2"), "forwarding": either("tun")}, tunnel_type=either("ipip", "gre"),
           tunnel_checksum=either("nocsum")),
    record({"address": either("2001:db8::11"), "forwarding": either("tun"), "tunnel_type": either("gue"),
            "tunnel_port": either(6080)}, tunnel_checksum=either("csum", "remcsum")))
ROLE_KEYS = dict(
    forwarding=either("dr", "nat", "tun"), name=either("web"), healthcheck=CHECK,
    sorry_server=record({"address": either("198.51.100.30")}, port=either(8080)),
    inhibit_on_failure=either(True, "no"),
    destinations=st.one_of(st.none(), st.lists(DEST, max_size=3), rarely(JUNK, st.none())))
SERVICE = st.one_of(
    record({"address": either("198.51.100.100", "198.51.100.101"), "port": either(80, 81)},
           protocol=either("tcp", "udp"), scheduler=either("rr", "wlc", "mh"), **ROLE_KEYS),
    record({"address": either("198.51.100.102"), "port": either(443), "persistence_timeout": either(300)},
           persistence_netmask=either("255.255.255.0", 24), scheduler=either("sh"), sh_port=either(True), **ROLE_KEYS),
    record({"fwmark": either(7)}, scheduler=either("rr"), **ROLE_KEYS))
INSTANCE = record({"name": either("VI", "VI_2"), "virtual_router_id": either(1, 51)}, vips=either(["198.51.100.100"]),
                  interface=either("eth1"), priority=either(100, 150), advert_int=either(1, 0.2, "0.05", 40.95), preempt=either(True, "no"),
                  preempt_delay=either(0, 30))
CLUSTER = st.fixed_dictionaries({
    "services": rarely(JUNK, st.lists(SERVICE, max_size=3)),
    "instances": rarely(JUNK, st.one_of(st.none(), st.lists(INSTANCE, min_size=1, max_size=2))),
    "healthcheck": rarely(JUNK, CHECK),
    "sync_daemon": rarely(JUNK, record(enabled=either(True, "no"), interface=either("eth1"), instance=either("VI"),
                                       id=either(0, 9), refresh_period=either(0, 10))),
    "auth_pass": rarely(TEXT, st.sampled_from(["", "secret"])),
    "priority": either(100, 200),
    "vrrp_version": either(2, 3),
    "host": rarely(TEXT, st.just("lb1")),
})

N, ADDR, WORD = r"\d+", r"[0-9a-f.:]+", r"[A-Za-z0-9_.@+-]+"
GRAMMAR = [re.compile("^%s$" % line) for line in [
    r"global_defs \{", r"  router_id [A-Za-z0-9_.-]+", r"  vrrp_version [23]", r"  vrrp_garp_master_delay 1",
    r"  enable_script_security", r"  script_user root", r"\}",
    r"vrrp_instance [A-Za-z0-9_-]+ \{", r"  state BACKUP", r"  interface " + WORD, r"  virtual_router_id " + N,
    r"  priority " + N, r"  advert_int (%s|%s\.[0-9]{1,2})" % (N, N), r"  nopreempt", r"  preempt_delay " + N, r"  authentication \{",
    r"    auth_type PASS", r"    auth_pass [\x21-\x7e]{1,8}", r"  \}", r"  virtual_ipaddress \{",
    r"    %s/%s dev %s" % (ADDR, N, WORD),
    r"virtual_server (fwmark %s|%s %s) \{" % (N, ADDR, N), r"  delay_loop " + N, r"  lb_algo [a-z]+",
    r"  lvs_method (NAT|DR|TUN)", r"  protocol (TCP|UDP|SCTP)", r"  persistence_timeout " + N,
    r"  persistence_granularity [0-9.]+", r"  persistence_engine sip", r"  (ops|sh-port|sh-fallback|mh-port|mh-fallback)",
    r"  sorry_server %s %s" % (ADDR, N), r"  real_server %s %s \{" % (ADDR, N), r"    weight " + N,
    r"    lvs_method (NAT|DR|TUN)( type (ipip|gue|gre))?", r"    uthreshold " + N, r"    lthreshold " + N,
    r"    inhibit_on_failure", r"    (TCP_CHECK|HTTP_GET|MISC_CHECK) \{", r"      url \{",
    r"        path /[A-Za-z0-9._~%/?&=+,;:@$*()-]*", r"        status_code " + N, r"      \}",
    r'      misc_path "/[\x20-\x7e]*"', r"      misc_timeout " + N, r"      connect_port " + N,
    r"      connect_timeout " + N, r"      retry " + N, r"      delay_before_retry " + N, r"    \}",
]]


def conf(cluster):
    return lvs_keepalived_conf(cluster["services"], HOSTVARS, GROUPS, cluster["host"], instances=cluster["instances"],
                               priority=cluster["priority"], auth_pass=cluster["auth_pass"],
                               vrrp_version=cluster["vrrp_version"],
                               healthcheck=cluster["healthcheck"], sync_daemon=cluster["sync_daemon"], facts=FACTS)


@settings(max_examples=1500, deadline=None)
@given(cluster=CLUSTER)
def test_keepalived_conf_is_refused_or_only_lines_of_the_grammar(cluster):
    try:
        text = conf(cluster)
    except AnsibleFilterError:
        event("refused")
        return
    event("rendered")
    for line in text.splitlines():
        assert any(rule.match(line) for rule in GRAMMAR), repr(line)
    assert text.count("{") == text.count("}")
    table = lvs_table(cluster["services"], HOSTVARS, GROUPS)
    assert text.count("\nvirtual_server ") == len(table)
    assert text.count("  real_server ") == sum(len(s["destinations"]) for s in table)
    sync = lvs_keepalived_sync(cluster["services"], HOSTVARS, GROUPS, instances=cluster["instances"],
                               sync_daemon=cluster["sync_daemon"], facts=FACTS, vrrp_version=cluster["vrrp_version"])
    assert all(re.match("^%s$" % WORD, d["interface"]) for d in sync["daemons"])


@settings(max_examples=1500, deadline=None)
@given(services=rarely(JUNK, st.lists(SERVICE, max_size=3)))
def test_the_modules_table_is_refused_or_parses_back_unchanged(services):
    try:
        table = lvs_table(services, HOSTVARS, GROUPS)
    except AnsibleFilterError:
        event("refused")
        return
    event("expanded")
    typed = parse_table(table)
    assert parse_table([dict(s) for s in table]) == typed
    rules = lvs_ipvsadm_rules(table).splitlines()
    assert len([r for r in rules if r.startswith("-A ")]) == len(typed.services)
    assert len([r for r in rules if r.startswith("-a ")]) == typed.dest_count()
    assert all(re.match(r"^-[Aa] [-\w.:\[\], ]+$", r) for r in rules), rules
    vips = lvs_vips_for(table, ["198.51.100.11"])
    assert {v["address"] for v in vips} <= {k.address for k in typed.services}
