"""Property test (Hypothesis): ipvs_table's lean validation against the one it replaced.

ipvs_table used to have ansible-core validate every service and destination against their suboptions and
then ran the model's parse; now core checks only that ``services`` is a list of dicts, and convert_table
does core's type conversions before the parse. Drawn tables (valid values, the other spellings core
converts, and anything at all, now and then an unknown key) must get the same verdict both ways, and the
same typed table when accepted. Two differences are allowed, where core refused and the model takes:
a choice spelled in another case or with spaces ("TCP", " dr"; the model already took "RR" for the
scheduler), and an option given as null, which takes its default as an omitted one does (core converted
a null scheduler to "" and refused a null bool or list). Such a table must be accepted by the old path
once its choices are written as core wants them and its nulls left out.
"""
import copy

import pytest

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from hypothesis import event, given, settings
from hypothesis import strategies as st

from ansible_collections.lvs.cluster.plugins.module_utils._ansible import convert_table, table_service_spec
from ansible_collections.lvs.cluster.plugins.module_utils._errors import ValidationError, ValidationErrors
from ansible_collections.lvs.cluster.plugins.module_utils import _model
from ansible_collections.lvs.cluster.plugins.module_utils._model import parse_table, table_to_dict
from ansible_collections.lvs.cluster.plugins.modules import ipvs_table

OLD_SPEC = {'services': {'type': 'list', 'elements': 'dict', 'required': True, 'options': table_service_spec()}}
NEW_SPEC = {'services': ipvs_table.argument_spec()['services']}
CHOICE_OPTIONS = {'protocol', 'family', 'persistence_engine', 'forwarding', 'tunnel_type', 'tunnel_checksum'}

JUNK = st.one_of(st.text(max_size=8), st.integers(-2 ** 33, 2 ** 33), st.floats(), st.booleans(), st.none(),
                 st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=3), st.integers(), max_size=1))


def rarely(strategy, otherwise):
    return st.integers(0, 7).flatmap(lambda n: strategy if n == 3 else otherwise)


def value(good, bad=()):
    """Mostly one of ``good`` (plain values and the other spellings core converts), now and then one of
    ``bad`` or anything at all."""
    return rarely(st.one_of(st.sampled_from(bad), JUNK) if bad else JUNK, st.sampled_from(good))


PORT = value([80, "80", " 80 ", "80.0", 80.0, "+80", "8_0", "8e1", 81], [0, 70000, -1, True, "http", "80.5"])
BOOL = value([True, False, "yes", "no", "y", "n", "on", "off", "true", "1", "0", 1, 0, 1.0], [2, "maybe"])


def record(required=None, **optional):
    base = st.fixed_dictionaries(required or {}, optional=optional)
    return rarely(st.tuples(base, JUNK).map(lambda pair: dict(pair[0], wieght=pair[1])), base)


DEST = rarely(
    st.one_of(st.sampled_from(["address=198.51.100.13", "address=198.51.100.14 weight=3", "x", ""]), JUNK),
    record({'address': value(["198.51.100.11", "198.51.100.12", " 198.51.100.13", "198.51.100.14"],
                             ["rs1", 3325256715, "2001:db8::11", "224.0.0.1"])},
           weight=value([1, 5, "5", 5.0, " 7", 0], [-1, 2 ** 31, "5.5", False, "heavy"]),
           upper_threshold=value([0, 100, "100"], [70000]), lower_threshold=value([0, "0"], [10, -1]),
           forwarding=value(["dr", "dr", "DR", "local"], ["gre"]),
           tunnel_checksum=value(["nocsum"], ["csum"])),
)
SERVICE = record(
    {'address': value(["192.0.2.10", "192.0.2.11"], ["2001:db8::10", "224.0.0.1"]), 'port': PORT},
    protocol=value(["tcp", "udp", "TCP", " tcp"], ["icmp"]),
    scheduler=value(["rr", "wlc", "RR"], ["fastest"]), family=value(["ipv4", "IPv4"], ["ipv6"]),
    sh_port=value([False, "no", 0, "off"], [True]), one_packet=value([False, "n", "false", 0.0], [2]),
    persistence_timeout=value([0, 300, "300", 300.0], [-5, "5m"]),
    persistence_engine=value(["sip", "SIP"], ["http"]),
    destinations=rarely(JUNK, st.lists(DEST, max_size=3)),
)
TABLE = rarely(JUNK, st.one_of(st.lists(SERVICE, max_size=2), st.lists(SERVICE, max_size=1).map(lambda s: s + s)))


def verdict(spec, services, convert):
    """The parsed table as a dict, or None when refused (by core's validation or by the model)."""
    try:
        result = ArgumentSpecValidator(spec).validate({'services': copy.deepcopy(services)})
    except OverflowError:  # core's own int check of an infinite float (a failed task either way)
        return None
    if result.error_messages:
        return None
    validated = result.validated_parameters['services']
    try:
        return table_to_dict(parse_table(convert_table(validated) if convert else validated))
    except (ValidationError, ValidationErrors):
        return None


def as_core_wants(services):
    """The same table with each choice written as core accepts it (lower case, no spaces), no nulls."""
    def fix(options):
        return {name: value.strip().lower() if name in CHOICE_OPTIONS and isinstance(value, str) else value
                for name, value in options.items() if value is not None}
    fixed = []
    for service in services:
        if isinstance(service, dict):
            service = fix(service)
            if isinstance(service.get('destinations'), list):
                service['destinations'] = [fix(d) if isinstance(d, dict) else d for d in service['destinations']]
        fixed.append(service)
    return fixed


@settings(max_examples=1000, deadline=None)
@given(TABLE)
def test_lean_validation_accepts_what_the_old_one_did_and_nothing_else(services):
    old = verdict(OLD_SPEC, services, convert=False)
    new = verdict(NEW_SPEC, services, convert=True)
    event('accepted' if new is not None else 'refused')
    if old is not None:
        assert new == old
    elif new is not None:
        event('accepted only by the lean path: a choice in another case, or a null')
        assert verdict(OLD_SPEC, as_core_wants(services), convert=False) == new


def test_examples_of_each_difference():
    """The cases the property is about, written out: core's conversions kept, the case of a choice taken."""
    converted = [{'address': '192.0.2.10', 'port': '80.0', 'one_packet': 'no',
                  'destinations': ['address=198.51.100.13', {'address': '198.51.100.11', 'weight': '5'}]}]
    old = verdict(OLD_SPEC, converted, False)
    assert old is not None and verdict(NEW_SPEC, converted, True) == old
    cased = [{'address': '192.0.2.10', 'port': 80, 'protocol': 'TCP', 'destinations': [{'address': '198.51.100.11'}]}]
    assert verdict(OLD_SPEC, cased, False) is None
    respelled = verdict(OLD_SPEC, as_core_wants(cased), False)
    assert respelled is not None and verdict(NEW_SPEC, cased, True) == respelled


def outcome(services):
    """(the parsed table, or the refusal's (field, message) pairs)."""
    try:
        return table_to_dict(parse_table(copy.deepcopy(services))), None
    except ValidationError as exc:
        return None, [(exc.field, str(exc))]
    except ValidationErrors as exc:
        return None, [(error.field, str(error)) for error in exc.errors]


# Tables where services share destinations: a destination and its twin, equal to it in Python but of
# another type (a weight of 1 and of true, 0 and false, a port of 80 and 80.0), behind services on two
# VIPs and ports, an IPv6 service, a fwmark service and a persistent service of port 0.
TWINS = st.sampled_from([('weight', 1, True), ('weight', 0, False), ('weight', 1, 1.0), ('port', 80, 80.0),
                         ('upper_threshold', 0, False), ('weight', 2, "2")])
POOL = st.tuples(st.sampled_from(["198.51.100.11", "198.51.100.12"]), TWINS).map(
    lambda pick: [{'address': pick[0], pick[1][0]: value} for value in pick[1][1:]]
    + [{'address': pick[0]}, {'address': pick[0], 'port': 80}])
KEYS = st.sampled_from([{'address': "192.0.2.10", 'port': 80}, {'address': "192.0.2.11", 'port': 80},
                        {'address': "192.0.2.10", 'port': 81}, {'address': "2001:db8::10", 'port': 80},
                        {'fwmark': 5}, {'address': "192.0.2.12", 'port': 0, 'persistence_timeout': 300}])
SHARING = POOL.flatmap(lambda pool: st.lists(st.tuples(KEYS, st.lists(st.sampled_from(pool), max_size=2)).map(
    lambda pair: dict(pair[0], destinations=pair[1])), min_size=2, max_size=4))


@settings(max_examples=1000, deadline=None)
@given(st.one_of(st.lists(SERVICE, max_size=4), SHARING, SHARING, SHARING))
def test_a_destination_parsed_once_for_many_services_gives_what_each_parse_would(services):
    """parse_table remembers clean destination parses across services of the same port and family: the
    table and every error (field and message) must be those of parsing each destination afresh."""
    remembered = outcome(services)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_model, '_cached_dest', lambda params, key, spath, index, errors, _parsed: _model.dest_from_params(
            params, key, '%sdestinations[%d].' % (spath, index), errors))
        afresh = outcome(services)
    assert remembered == afresh
