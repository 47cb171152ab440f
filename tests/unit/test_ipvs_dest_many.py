# -*- coding: utf-8 -*-
# Copyright (c) the lvs.cluster authors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""ipvs_dest's list form (`destinations`): several destinations of several services in one run."""

from __future__ import annotations

import errno

import pytest

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.lvs.cluster.plugins.module_utils._errors import KernelError, ValidationError, ValidationErrors
from ansible_collections.lvs.cluster.plugins.module_utils._model import parse_table
from ansible_collections.lvs.cluster.plugins.modules import ipvs_dest

# importable under ansible-test too
from ansible_collections.lvs.cluster.tests.unit.test_modules import (
    ApplyingStub,
    StubClient,
    module,
    never_connect,
    params_for,
)

WEB = {'address': '192.0.2.10', 'port': 80}
TLS = {'address': '192.0.2.10', 'port': 443}


def two_services(weight=4):
    return parse_table([dict(WEB, destinations=[{'address': '198.51.100.1', 'weight': weight},
                                                {'address': '198.51.100.2', 'weight': weight}]),
                        dict(TLS, destinations=[{'address': '198.51.100.1', 'weight': weight}])])


def mine(**extra):
    # fresh dicts: argument validation fills them in place, as it would a module's own JSON
    return [dict({'service': dict(WEB), 'address': '198.51.100.1'}, **extra),
            dict({'service': dict(TLS), 'address': '198.51.100.1'}, **extra)]


def many(destinations, **values):
    return params_for(ipvs_dest, destinations=destinations, **values)


def drained(stub, params, counters_step=1):
    clock = iter(range(0, 10000, counters_step))
    sleeps = []
    result = ipvs_dest.run(module(params), lambda: stub, clock=lambda: next(clock), sleep=sleeps.append)
    return result, sleeps


def test_quiesce_of_one_real_server_in_two_services_is_one_session_then_a_no_op():
    stub = ApplyingStub(two_services())
    result = ipvs_dest.run(module(many(mine(), state='quiesced')), lambda: stub)
    assert [str(op) for op in stub.applied] == [
        'set_dest tcp 192.0.2.10:80 -> 198.51.100.1:80 (weight: 4 -> 0)',
        'set_dest tcp 192.0.2.10:443 -> 198.51.100.1:443 (weight: 4 -> 0)']
    assert result['changed'] and result['mutations'] == 2
    assert [d['service']['port'] for d in result['dests']] == [80, 443] and 'dest' not in result
    # the other real server of the first service is left alone
    web = next(key for key in stub.table.services if key.port == 80)
    assert stub.table.dests[web][('198.51.100.2', 80)].weight == 4
    again = ipvs_dest.run(module(many(mine(), state='quiesced')), lambda: stub)
    assert not again['changed'] and again['operations'] == []


def test_present_gives_each_its_own_weight_back():
    stub = ApplyingStub(two_services(weight=0))
    ipvs_dest.run(module(many([dict(mine()[0], weight=7), dict(mine()[1], weight=9)])), lambda: stub)
    assert [op.dest.weight for op in stub.applied] == [7, 9]


def test_every_entry_is_checked_before_the_kernel_is_contacted():
    bad = [{'service': dict(WEB), 'address': '198.51.100.1', 'port': 8080},
           {'service': {'address': '192.0.2.999', 'port': 80}, 'address': '198.51.100.1'}]
    with pytest.raises(ValidationErrors) as info:
        ipvs_dest.run(module(many(bad)), never_connect)
    fields = [error.field for error in info.value.errors]
    assert fields == ['destinations[0].port', 'destinations[1].service.address']


def test_a_destination_given_twice_is_refused_naming_both_entries():
    twice = [mine()[0], dict(mine()[0], weight=3, service=dict(WEB))]
    with pytest.raises(ValidationError) as info:
        ipvs_dest.run(module(many(twice)), never_connect)
    assert info.value.field == 'destinations[1]' and 'destinations[0]' in str(info.value)


def test_a_missing_service_fails_before_any_change():
    only_web = parse_table([dict(WEB, destinations=[{'address': '198.51.100.1', 'weight': 4}])])
    stub = StubClient(only_web)
    with pytest.raises(KernelError) as info:
        ipvs_dest.run(module(many(mine(), state='quiesced')), lambda: stub)
    assert info.value.errno == errno.ESRCH and '443' in str(info.value)
    assert stub.applied == []


def test_drains_wait_together_and_an_entry_can_opt_out():
    # the web service's destination drains (2 polls busy), the TLS one is quiesced without a wait
    stub = ApplyingStub(two_services(), counters=[2, 1, 0])
    result, sleeps = drained(stub, many([mine()[0], dict(mine()[1], drain=False)], state='quiesced', drain=True))
    assert [op.name for op in stub.applied] == ['set_dest', 'set_dest']
    assert result['drain']['finished'] is True and len(sleeps) == 2


def test_absent_with_drain_quiesces_all_waits_once_then_removes_all():
    stub = ApplyingStub(two_services(), counters=[1, 1, 0, 0])
    result, sleeps = drained(stub, many(mine(), state='absent', drain=True))
    assert [op.name for op in stub.applied] == ['set_dest', 'set_dest', 'del_dest', 'del_dest']
    assert result['drain']['finished'] is True and len(sleeps) == 1
    assert result['dests'] == []


def test_absent_drain_timeout_fails_with_both_left_quiesced():
    stub = ApplyingStub(two_services(), counters=[5] * 40)
    with pytest.raises(ipvs_dest.DrainTimeout) as info:
        drained(stub, many(mine(), state='absent', drain=True, drain_timeout=20), counters_step=10)
    assert [op.name for op in stub.applied] == ['set_dest', 'set_dest']
    assert '2 destinations' in str(info.value) and info.value.fail_kwargs()['changed'] is True


def test_check_mode_changes_nothing_and_shows_the_plan():
    stub = StubClient(two_services())
    result = ipvs_dest.run(module(many(mine(), state='absent', drain=True), check_mode=True, diff=True),
                           lambda: stub, clock=never_connect, sleep=never_connect)
    assert stub.applied == []
    assert [o['op'] for o in result['operations']] == ['set_dest', 'set_dest', 'del_dest', 'del_dest']
    assert result['diff']['before'] != result['diff']['after']


@pytest.mark.parametrize('values, wanted', [
    ({'destinations': mine(), 'service': dict(WEB)}, 'mutually exclusive'),
    ({'destinations': mine(), 'address': '198.51.100.1'}, 'mutually exclusive'),
    ({}, 'one of the following is required'),
    ({'service': dict(WEB)}, 'address'),
])
def test_the_two_forms_do_not_mix(values, wanted):
    # the rules build_module gives AnsibleModule, checked as it checks them
    result = ArgumentSpecValidator(ipvs_dest.argument_spec(), **ipvs_dest.FORM_RULES).validate(values)
    assert any(wanted in message for message in result.error_messages), result.error_messages


class VanishingStub(ApplyingStub):
    """Someone else (a health checker) removes the web destination while the drain waits."""

    def dump_dests(self, key, with_stats=False):
        if with_stats and key.port == 80:
            self.table.dests[key].pop(('198.51.100.1', 80), None)
        return super().dump_dests(key, with_stats)


def test_a_destination_removed_by_someone_else_during_the_drain_is_not_removed_again():
    stub = VanishingStub(two_services(), counters=[0, 0])
    result, _sleeps = drained(stub, many(mine(), state='absent', drain=True))
    assert [str(op) for op in stub.applied][-1:] == ['del_dest tcp 192.0.2.10:443 -> 198.51.100.1:443']
    assert [op.name for op in stub.applied] == ['set_dest', 'set_dest', 'del_dest']
    assert result['changed'] is True


def test_quiesced_with_drain_applies_the_whole_declared_change_not_only_the_weight():
    stub = ApplyingStub(two_services(), counters=[0])
    params = params_for(ipvs_dest, service=dict(TLS), address='198.51.100.1', forwarding='nat',
                        state='quiesced', drain=True)
    drained(stub, params)
    assert [str(op) for op in stub.applied] == [
        'set_dest tcp 192.0.2.10:443 -> 198.51.100.1:443 (forwarding: dr -> nat, weight: 4 -> 0)']


def test_absent_with_drain_quiesces_every_destination_of_one_service():
    both = [{'service': dict(WEB), 'address': '198.51.100.1'}, {'service': dict(WEB), 'address': '198.51.100.2'}]
    stub = ApplyingStub(two_services(), counters=[0])
    drained(stub, many(both, state='absent', drain=True))
    assert [str(op) for op in stub.applied] == [
        'set_dest tcp 192.0.2.10:80 -> 198.51.100.1:80 (weight: 4 -> 0)',
        'set_dest tcp 192.0.2.10:80 -> 198.51.100.2:80 (weight: 4 -> 0)',
        'del_dest tcp 192.0.2.10:80 -> 198.51.100.1:80',
        'del_dest tcp 192.0.2.10:80 -> 198.51.100.2:80']
