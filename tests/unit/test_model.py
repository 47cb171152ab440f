# -*- coding: utf-8 -*-
# Copyright (c) the lvs.cluster authors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import pytest

from ansible_collections.lvs.cluster.plugins.module_utils._errors import (
    ValidationError,
    ValidationErrors,
)
from ansible_collections.lvs.cluster.plugins.module_utils._model import (
    Dest,
    Service,
    built_dest,
    ServiceKey,
    dest_from_params,
    parse_table,
    service_from_params,
    service_key_from_params,
    sync_daemons_from_params,
    table_to_dict,
    timeouts_from_params,
)

V4 = ServiceKey(family='ipv4', protocol='tcp', address='192.0.2.10', port=80)
V6 = ServiceKey(family='ipv6', protocol='tcp', address='2001:db8::10', port=80)
FWM = ServiceKey(family='ipv4', fwmark=7)


def service_error(params):
    with pytest.raises(ValidationError) as info:
        service_from_params(params)
    return info.value


def dest_error(params, key=V4):
    with pytest.raises(ValidationError) as info:
        dest_from_params(params, key)
    return info.value


# --- normalisation ---------------------------------------------------------

def test_service_normalised():
    svc = service_from_params({'address': ' 2001:DB8:0:0::10 ', 'port': '443',
                               'scheduler': 'WRR', 'protocol': 'TCP'})
    assert svc.key == ServiceKey(family='ipv6', protocol='tcp', address='2001:db8::10', port=443)
    assert svc.scheduler == 'wrr'
    assert svc.persistence_netmask == 128
    assert str(svc.key) == 'tcp [2001:db8::10]:443'


def test_service_defaults():
    svc = service_from_params({'address': '192.0.2.10', 'port': 80})
    assert svc.key.protocol == 'tcp'
    assert svc.scheduler == 'wlc'
    assert svc.flags == 0
    assert svc.persistence_netmask == '255.255.255.255'


def test_persistence_netmask_prefix_and_flags():
    svc = service_from_params({'address': '192.0.2.10', 'port': 80, 'persistence_timeout': 300,
                               'persistence_netmask': 24, 'scheduler': 'sh',
                               'sh_fallback': True, 'sh_port': True})
    assert svc.persistence_netmask == '255.255.255.0'
    assert svc.flags == 0x1 | 0x8 | 0x10


def test_ipv6_netmask_prefix_string():
    svc = service_from_params({'address': '2001:db8::1', 'port': 80, 'persistence_timeout': 60,
                               'persistence_netmask': '/64'})
    assert svc.persistence_netmask == 64


def test_fwmark_service_key():
    svc = service_from_params({'fwmark': 7, 'family': 'ipv6'})
    assert svc.key == ServiceKey(family='ipv6', fwmark=7)
    assert str(svc.key) == 'fwmark 7 ipv6'


def test_dest_defaults_to_service_port_and_dr():
    dest = dest_from_params({'address': '198.51.100.011'.replace('011', '11')}, V4)
    assert dest == Dest(address='198.51.100.11', port=80, family='ipv4', forwarding='dr', weight=1)


def test_dest_nat_maps_port_and_tun_defaults():
    assert dest_from_params({'address': '10.0.0.1', 'port': 8080, 'forwarding': 'NAT'}, V4).port == 8080
    tun = dest_from_params({'address': '198.51.100.1', 'forwarding': 'tun'}, V6)
    assert (tun.tunnel_type, tun.tunnel_port, tun.tunnel_checksum, tun.family) == ('ipip', 0, 'nocsum', 'ipv4')


def test_string_ints_from_templates_are_accepted():
    dest = dest_from_params({'address': '198.51.100.1', 'weight': '7', 'upper_threshold': '10'}, V4)
    assert (dest.weight, dest.upper_threshold) == (7, 10)


# --- one ValidationError per bad input, naming the field ------------------

@pytest.mark.parametrize('params, field, accepted_part', [
    ({'address': '192.0.2.300', 'port': 80}, 'address', 'IPv4 or IPv6'),
    ({'address': '224.0.0.1', 'port': 80}, 'address', 'unicast'),
    ({'address': '192.0.2.10', 'port': 70000}, 'port', '0..65535'),
    ({'address': '192.0.2.10', 'port': -1}, 'port', '0..65535'),
    ({'address': '192.0.2.10'}, 'port', '1..65535'),
    ({'address': '192.0.2.10', 'port': 0}, 'port', 'persistence_timeout > 0'),
    ({'address': '192.0.2.10', 'port': 80, 'scheduler': 'fastest'}, 'scheduler', 'wlc'),
    ({'address': '192.0.2.10', 'port': 80, 'sh_port': True}, 'sh_port', 'scheduler: sh'),
    ({'address': '192.0.2.10', 'port': 80, 'scheduler': 'sh', 'mh_fallback': True}, 'mh_fallback',
     'scheduler: mh'),
    ({'address': '192.0.2.10', 'port': 80, 'one_packet': True}, 'one_packet', 'udp'),
    ({'fwmark': 3, 'port': 80}, 'port', 'fwmark'),
    ({'fwmark': 3, 'address': '192.0.2.10'}, 'address', 'fwmark'),
    ({'address': '192.0.2.10', 'port': 80, 'family': 'ipv6'}, 'family', 'ipv4'),
    ({'address': '192.0.2.10', 'port': 80, 'persistence_timeout': 3000000}, 'persistence_timeout',
     '0..2678400'),
    ({'address': '192.0.2.10', 'port': 80, 'persistence_netmask': '255.255.255.0'},
     'persistence_netmask', 'persistence_timeout > 0'),
    ({'address': '192.0.2.10', 'port': 80, 'persistence_timeout': 60,
      'persistence_netmask': '255.0.255.0'}, 'persistence_netmask', 'dotted netmask'),
    ({'address': '2001:db8::1', 'port': 80, 'persistence_timeout': 60, 'persistence_netmask': 129},
     'persistence_netmask', '1..128'),
    ({'address': '192.0.2.10', 'port': 80, 'persistence_engine': 'sip'}, 'persistence_engine',
     'persistence_timeout > 0'),
    ({'address': '192.0.2.10', 'port': 80, 'persistence_timeout': 60, 'persistence_engine': 'ftp'},
     'persistence_engine', 'sip'),
    ({'address': '192.0.2.10', 'port': 80, 'protocol': 'icmp'}, 'protocol', 'tcp'),
    ({'address': '192.0.2.10', 'port': 80, 'schedular': 'rr'}, 'schedular', 'scheduler'),
])
def test_service_validation_names_field_and_accepted(params, field, accepted_part):
    error = service_error(params)
    assert error.field == field
    assert accepted_part in str(error.accepted)
    assert str(error).startswith(field + ':')
    assert 'accepted' in str(error)


@pytest.mark.parametrize('params, key, field, accepted_part', [
    ({'address': 'rs1'}, V4, 'address', 'IPv4 or IPv6'),
    ({'address': '2001:db8::5'}, V4, 'address', 'forwarding: tun'),
    ({'address': '198.51.100.5'}, V6, 'address', 'forwarding: tun'),
    ({'address': 'fe80::1'}, V6, 'address', 'unicast'),
    ({'address': '198.51.100.5', 'port': 8080}, V4, 'port', '80 (the service port)'),
    ({'address': '198.51.100.5', 'port': 8080, 'forwarding': 'tun'}, V4, 'port', '80'),
    ({'address': '198.51.100.5', 'port': 0, 'forwarding': 'nat'}, V4, 'port', '1..65535'),
    ({'address': '198.51.100.5', 'port': 65536, 'forwarding': 'nat'}, V4, 'port', '0..65535'),
    ({'address': '198.51.100.5', 'weight': -1}, V4, 'weight', '0..2147483647'),
    ({'address': '198.51.100.5', 'weight': 2 ** 31}, V4, 'weight', '0..2147483647'),
    ({'address': '198.51.100.5', 'upper_threshold': 70000}, V4, 'upper_threshold', '0..65535'),
    ({'address': '198.51.100.5', 'upper_threshold': 10, 'lower_threshold': 20}, V4,
     'lower_threshold', 'lower_threshold <= upper_threshold'),
    ({'address': '198.51.100.5', 'lower_threshold': 5}, V4, 'lower_threshold', '0..0'),
    ({'address': '198.51.100.5', 'tunnel_type': 'gue'}, V4, 'tunnel_type', 'forwarding: tun'),
    ({'address': '10.0.0.5', 'forwarding': 'nat', 'tunnel_checksum': 'csum'}, V4, 'tunnel_checksum',
     'forwarding: tun'),
    ({'address': '198.51.100.5', 'forwarding': 'tun', 'tunnel_type': 'gue'}, V4, 'tunnel_port',
     '1..65535'),
    ({'address': '198.51.100.5', 'forwarding': 'tun', 'tunnel_port': 6080}, V4, 'tunnel_port',
     'tunnel_type: gue'),
    ({'address': '198.51.100.5', 'forwarding': 'tun', 'tunnel_checksum': 'csum'}, V4,
     'tunnel_checksum', 'nocsum'),
    ({'address': '198.51.100.5', 'forwarding': 'tun', 'tunnel_type': 'gre',
      'tunnel_checksum': 'remcsum'}, V4, 'tunnel_checksum', 'csum'),
    ({'address': '198.51.100.5', 'forwarding': 'route'}, V4, 'forwarding', 'dr'),
])
def test_dest_validation_names_field_and_accepted(params, key, field, accepted_part):
    error = dest_error(params, key)
    assert error.field == field
    assert accepted_part in str(error.accepted)


def test_fwmark_service_dest_may_use_any_port():
    assert dest_from_params({'address': '198.51.100.5', 'port': 443}, FWM).port == 443


def test_service_key_only_for_absent_ignores_settings():
    key = service_key_from_params({'address': '192.0.2.10', 'port': 80, 'scheduler': None})
    assert key == V4


# --- whole table -------------------------------------------------------------

TABLE = [
    {'address': '192.0.2.10', 'port': 80, 'destinations': [
        {'address': '198.51.100.11'}, {'address': '198.51.100.12', 'weight': 5}]},
    {'fwmark': 9, 'scheduler': 'rr', 'destinations': [{'address': '198.51.100.11'}]},
]


def test_parse_table():
    table = parse_table(TABLE)
    assert set(table.services) == {V4, ServiceKey(family='ipv4', fwmark=9)}
    assert table.dests[V4][('198.51.100.12', 80)].weight == 5
    assert table.dest_count() == 3


def test_parse_table_collects_every_error_with_its_path():
    bad = [
        {'address': '192.0.2.10', 'port': 80, 'destinations': [{'address': '198.51.100.1', 'port': 81}]},
        {'address': '192.0.2.11', 'port': 80, 'scheduler': 'nope', 'destinations': []},
        {'address': '192.0.2.12', 'port': 80, 'destinations': [
            {'address': '198.51.100.1'}, {'address': '198.51.100.1', 'weight': 3}]},
        {'address': '192.0.2.10', 'port': 80},
    ]
    with pytest.raises(ValidationErrors) as info:
        parse_table(bad)
    fields = [e.field for e in info.value.errors]
    assert fields == ['services[0].destinations[0].port', 'services[1].scheduler',
                      'services[2].destinations[1]', 'services[3]']
    assert 'duplicate' in str(info.value)


def test_duplicate_dest_differs_only_in_case_of_ipv6_spelling():
    table = [{'address': '2001:db8::10', 'port': 80, 'destinations': [
        {'address': '2001:DB8::1'}, {'address': '2001:db8:0::1'}]}]
    with pytest.raises(ValidationError) as info:
        parse_table(table)
    assert info.value.field == 'services[0].destinations[1]'


def test_table_to_dict_is_sorted_and_readable():
    view = table_to_dict(parse_table(TABLE))
    assert list(view) == ['tcp 192.0.2.10:80', 'fwmark 9 ipv4']
    assert list(view['tcp 192.0.2.10:80']['destinations']) == ['198.51.100.11:80', '198.51.100.12:80']


def test_timeouts_and_daemons():
    assert timeouts_from_params({'tcp': 900, 'tcpfin': None, 'udp': 300}).to_dict() == \
        {'tcp': 900, 'tcpfin': 0, 'udp': 300}
    with pytest.raises(ValidationError) as info:
        timeouts_from_params({'tcp': -5})
    assert info.value.field == 'timeouts.tcp'
    daemons = sync_daemons_from_params([{'role': 'master', 'interface': 'ens4', 'sync_id': 3}])
    assert daemons['master'].sync_id == 3
    with pytest.raises(ValidationError) as info:
        sync_daemons_from_params([{'role': 'master', 'interface': 'ens4', 'group': '192.0.2.1'}])
    assert info.value.field == 'sync_daemons[0].group'


def test_service_settings_exclude_key():
    svc = Service(key=V4)
    assert 'key' not in svc.settings()
    assert svc.to_dict()['address'] == '192.0.2.10'


def test_a_built_dest_is_the_dest_its_constructor_makes():
    """built_dest skips Dest's generated __init__ for speed: it must know every field, and there must be no
    __post_init__ it would skip."""
    import dataclasses
    import inspect

    assert [f.name for f in dataclasses.fields(Dest)] == list(inspect.signature(built_dest).parameters)
    assert not hasattr(Dest, '__post_init__')
    made = Dest(address='2001:db8::11', port=80, family='ipv6', forwarding='tun', weight=3, upper_threshold=9,
                lower_threshold=2, tunnel_type='gue', tunnel_port=5555, tunnel_checksum='remcsum')
    built = built_dest('2001:db8::11', 80, 'ipv6', 'tun', 3, 9, 2, 'gue', 5555, 'remcsum')
    assert built == made and hash(built) == hash(made) and repr(built) == repr(made)
    assert built_dest('192.0.2.1', 80, 'ipv4', 'dr', 1, 0, 0) == Dest(address='192.0.2.1', port=80, family='ipv4')
    with pytest.raises(dataclasses.FrozenInstanceError):
        built.weight = 4
