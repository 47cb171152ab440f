"""Property test (Hypothesis) of the keepalived renderer: whatever string a user puts in a free-form
field, rendering either fails with the validation error (AnsibleFilterError) or produces exactly the
text a harmless marker value produces, with the value (addresses: in their normal form) in the marker's
place: no extra line, no directive the input did not ask for, no comment that cuts one short. The sync
daemon's interface goes into a systemd unit's command line instead: it is refused or is one plain word."""
import ipaddress
import re

import pytest
from ansible.errors import AnsibleFilterError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ansible_collections.lvs.cluster.plugins.filter.keepalived import lvs_keepalived_conf, lvs_keepalived_sync

GROUPS = {"directors": ["lb1"], "realservers": ["rs1", "rs2"]}
HOSTVARS = {"lb1": {"lvs_address": "198.51.100.10"}, "rs1": {"lvs_address": "198.51.100.11"},
            "rs2": {"lvs_address": "198.51.100.12"}}
FACTS = {"interfaces": ["eth1"], "eth1": {"ipv4": {"address": "198.51.100.10", "netmask": "255.255.255.0"}}}
BENIGN = "/ok"


def render(field, value):
    services = [{"address": "198.51.100.100", "port": 80, "forwarding": "dr", "scheduler": "rr",
                 "healthcheck": {"type": "http", "path": "/"}},
                {"address": "198.51.100.100", "port": 81, "forwarding": "dr", "scheduler": "rr",
                 "healthcheck": {"type": "misc", "misc_path": "/bin/true"},
                 "sorry_server": {"address": "198.51.100.30"}}]
    kw = {"facts": FACTS, "instances": [{"name": "VI", "virtual_router_id": 9}], "auth_pass": "secret"}
    host = "lb1"
    if field == "path":
        services[0]["healthcheck"]["path"] = value
    elif field == "misc_path":
        services[1]["healthcheck"]["misc_path"] = value
    elif field == "sorry":
        services[1]["sorry_server"]["address"] = value
    elif field == "vip":
        services[0]["address"] = value
    elif field == "interface":
        kw["instances"][0]["interface"] = value
    elif field == "auth_pass":
        kw["auth_pass"] = value
    elif field == "instance":
        kw["instances"][0]["name"] = value
    elif field == "host":
        host = value
    return lvs_keepalived_conf(services, HOSTVARS, GROUPS, host, **kw)


# A marker per field: valid, and found nowhere else in the rendered text.
MARKER = {"path": "/zqmark", "misc_path": "/bin/zqmark", "sorry": "198.51.100.31", "vip": "198.51.100.101",
          "interface": "zqif0", "auth_pass": "zqpass", "instance": "ZQINST",
          "host": "zqhost"}
ADDRESS_FIELDS = ("sorry", "vip")
HOSTILE = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=st.sampled_from(list('\n\r\t {}"\'#!\\/;:.,@$*()=+-_~%&?<>|`\x00\x7f\u00e9\u2028')),
            max_size=30),
    st.sampled_from(["\n}", "x\nrouter_id evil", "/a b", "/#", "eth1 ", "../x", "a" * 2000, "\u00e9th0"]),
)


def written_as(field, value):
    return ipaddress.ip_address(value.strip()).compressed if field in ADDRESS_FIELDS else value


@pytest.mark.parametrize("field", sorted(MARKER))
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=HOSTILE)
def test_a_hostile_value_is_refused_or_stays_one_word_in_its_line(field, value):
    if field == "auth_pass" and value == "":
        return  # documented: empty means no authentication
    try:
        text = render(field, value)
    except AnsibleFilterError:
        return
    marked = render(field, MARKER[field])
    assert marked.count(MARKER[field]) >= 1
    assert text == marked.replace(MARKER[field], written_as(field, value)), (field, value)
    for line in text.splitlines():
        assert not set(line) & {"\r", "\x00", "\x7f", "#", "!"}, (field, value, line)


# What systemd's command line and ipvsadm take as one plain argument: no whitespace, no quote, no "%"
# specifier, no "$" variable, no ";" or "\\" that the unit parser reads.
UNIT_WORD = re.compile(r"^[A-Za-z0-9_.@+-]{1,15}$")


@settings(max_examples=300, deadline=None)
@given(value=HOSTILE)
def test_a_hostile_sync_interface_is_refused_or_one_plain_word(value):
    services = [{"address": "198.51.100.100", "port": 80, "forwarding": "dr"}]
    try:
        daemons = lvs_keepalived_sync(services, HOSTVARS, GROUPS, facts=FACTS,
                                      sync_daemon={"interface": value})["daemons"]
    except AnsibleFilterError:
        return
    if value == "":
        assert [d["interface"] for d in daemons] == ["eth1", "eth1"]  # documented: the instance's interface
        return
    assert [d["interface"] for d in daemons] == [value, value]
    assert UNIT_WORD.match(value) and value not in (".", ".."), value
