# -*- coding: utf-8 -*-
# Copyright (c) the lvs.cluster authors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Module run() logic with an injected stub client (no kernel, no AnsibleModule)."""

from __future__ import annotations

import errno
from types import SimpleNamespace

import pytest
import yaml

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.lvs.cluster.plugins.doc_fragments.ipvs import ModuleDocFragment
from ansible_collections.lvs.cluster.plugins.module_utils._ansible import table_service_spec
from ansible_collections.lvs.cluster.plugins.module_utils._diff import apply_to_table
from ansible_collections.lvs.cluster.plugins.module_utils._errors import (
    ApplyError,
    KernelError,
    ValidationError,
    ValidationErrors,
)
from ansible_collections.lvs.cluster.plugins.module_utils._model import (
    ServiceKey,
    SyncDaemon,
    Timeouts,
    parse_table,
    service_from_params,
)
from ansible_collections.lvs.cluster.plugins.module_utils._netlink import ApplyResult
from ansible_collections.lvs.cluster.plugins.modules import (
    ipvs_dest,
    ipvs_info,
    ipvs_service,
    ipvs_table,
    noarp_vip,
    vip,
)

K80 = ServiceKey(family='ipv4', protocol='tcp', address='192.0.2.10', port=80)


class StubClient:
    """Stands in for IpvsClient: returns prepared state, records mutations."""

    def __init__(self, table=None, counters=None, timeouts=None, daemons=None, fail_index=None):
        self.table = table or parse_table([])
        self.counters = counters or []
        self.timeouts = timeouts or Timeouts(tcp=900, tcpfin=120, udp=300)
        self.daemons = daemons or {}
        self.fail_index = fail_index
        self.applied = []
        self.mutations = 0
        self.closed = False

    def get_service(self, key):
        return self.table.services.get(key)

    def dump_dests(self, key, with_stats=False):
        dests = dict(self.table.dests.get(key, {}))
        if not with_stats:
            return dests
        active = self.counters.pop(0) if self.counters else 0
        return dests, {k: {'active_connections': active} for k in dests}

    def dump_table(self, with_stats=False):
        if with_stats:
            return self.table, {}
        return self.table

    def get_timeouts(self):
        return self.timeouts

    def get_daemons(self):
        return self.daemons

    def apply(self, plan):
        result = ApplyResult()
        for index, op in enumerate(plan):
            self.mutations += 1
            if index == self.fail_index:
                result.failed.append((op, KernelError(errno.EINVAL, operation=str(op))))
                result.not_attempted.extend(plan[index + 1:])
                break
            result.applied.append(op)
        self.applied.extend(plan)
        return result

    def close(self):
        self.closed = True


def module(params, check_mode=False, diff=False):
    return SimpleNamespace(params=params, check_mode=check_mode, _diff=diff,
                           run_command=lambda argv: (0, '', ''))


def params_for(mod, **values):
    """Module params as AnsibleModule would pass them (defaults filled in)."""
    result = ArgumentSpecValidator(mod.argument_spec()).validate(values)
    assert not result.error_messages, result.error_messages
    return result.validated_parameters


def never_connect():
    raise AssertionError('the kernel must not be contacted when validation fails')


# --- ipvs_service ------------------------------------------------------------

def test_service_created_then_idempotent():
    stub = StubClient()
    params = params_for(ipvs_service, address='192.0.2.10', port=80, scheduler='rr')
    result = ipvs_service.run(module(params), lambda: stub)
    assert result['changed'] and [o['op'] for o in result['operations']] == ['add_service']
    assert stub.closed
    stub.table.add_service(service_from_params({'address': '192.0.2.10', 'port': 80, 'scheduler': 'rr'}))
    again = ipvs_service.run(module(params), lambda: stub)
    assert not again['changed'] and again['operations'] == []


def test_service_check_mode_does_not_mutate_and_diff_is_reported():
    table = parse_table([{'address': '192.0.2.10', 'port': 80}])
    stub = StubClient(table)
    params = params_for(ipvs_service, address='192.0.2.10', port=80, scheduler='rr')
    result = ipvs_service.run(module(params, check_mode=True, diff=True), lambda: stub)
    assert result['changed'] and stub.applied == [] and stub.mutations == 0
    before = result['diff']['before']['services']['tcp 192.0.2.10:80']
    after = result['diff']['after']['services']['tcp 192.0.2.10:80']
    assert (before['scheduler'], after['scheduler']) == ('wlc', 'rr')


def test_service_validation_error_before_any_kernel_contact():
    params = params_for(ipvs_service, address='192.0.2.10', port=80, sh_port=True)
    with pytest.raises(ValidationError) as info:
        ipvs_service.run(module(params), never_connect)
    assert info.value.field == 'sh_port'
    assert info.value.fail_kwargs()['accepted']


def test_service_absent_reads_key_only():
    table = parse_table([{'address': '192.0.2.10', 'port': 80}])
    stub = StubClient(table)
    params = params_for(ipvs_service, address='192.0.2.10', port=80, state='absent', sh_port=True)
    result = ipvs_service.run(module(params), lambda: stub)
    assert [op.name for op in stub.applied] == ['del_service'] and result['changed']


def test_partial_failure_is_reported_with_applied_ops():
    stub = StubClient(fail_index=0)
    params = params_for(ipvs_service, address='192.0.2.10', port=80)
    with pytest.raises(ApplyError) as info:
        ipvs_service.run(module(params), lambda: stub)
    kwargs = info.value.fail_kwargs()
    assert kwargs['failed'][0]['op'] == 'add_service' and kwargs['applied'] == []
    assert 'Nothing was rolled back' in kwargs['msg']


# --- ipvs_dest ---------------------------------------------------------------

def table_with_dest(weight=1):
    return parse_table([{'address': '192.0.2.10', 'port': 80, 'destinations': [
        {'address': '198.51.100.1', 'weight': weight}]}])


def dest_params(**values):
    values.setdefault('service', {'address': '192.0.2.10', 'port': 80})
    values.setdefault('address', '198.51.100.1')
    return params_for(ipvs_dest, **values)


def test_dest_weight_change_is_one_set():
    stub = StubClient(table_with_dest())
    result = ipvs_dest.run(module(dest_params(weight=5)), lambda: stub)
    assert [str(op) for op in stub.applied] == [
        'set_dest tcp 192.0.2.10:80 -> 198.51.100.1:80 (weight: 1 -> 5)']
    assert result['mutations'] == 1


def test_dest_quiesced_sets_weight_zero_and_is_idempotent():
    stub = StubClient(table_with_dest())
    ipvs_dest.run(module(dest_params(state='quiesced', weight=7)), lambda: stub)
    assert stub.applied[0].dest.weight == 0
    assert not ipvs_dest.run(module(dest_params(state='quiesced')),
                             lambda: StubClient(table_with_dest(0)))['changed']


def test_dest_missing_service_is_an_error():
    with pytest.raises(KernelError) as info:
        ipvs_dest.run(module(dest_params()), StubClient)
    assert info.value.errno == errno.ESRCH and 'create it first' in str(info.value)


def test_dest_bad_port_for_dr_fails_before_kernel():
    with pytest.raises(ValidationError) as info:
        ipvs_dest.run(module(dest_params(port=8080)), never_connect)
    assert info.value.field == 'port'


def test_dest_bad_service_key_names_nested_field():
    with pytest.raises(ValidationError) as info:
        ipvs_dest.run(module(dest_params(service={'address': '192.0.2.999', 'port': 80})), never_connect)
    assert info.value.field == 'service.address'


def test_drain_waits_for_active_connections_then_deletes():
    stub = StubClient(table_with_dest(), counters=[3, 1, 0])
    clock = iter(range(100))
    sleeps = []
    result = ipvs_dest.run(module(dest_params(state='absent', drain=True, drain_timeout=60)),
                           lambda: stub, clock=lambda: next(clock), sleep=sleeps.append)
    assert [op.name for op in stub.applied] == ['set_dest', 'del_dest']
    assert stub.applied[0].dest.weight == 0
    assert result['drain']['finished'] is True and len(sleeps) == 2


def test_drain_timeout_fails_and_leaves_dest_quiesced():
    stub = StubClient(table_with_dest(), counters=[5] * 10)
    clock = iter(range(0, 1000, 10))
    with pytest.raises(ipvs_dest.DrainTimeout) as info:
        ipvs_dest.run(module(dest_params(state='absent', drain=True, drain_timeout=20)),
                      lambda: stub, clock=lambda: next(clock), sleep=lambda s: None)
    assert [op.name for op in stub.applied] == ['set_dest']
    kwargs = info.value.fail_kwargs()
    assert kwargs['drain']['finished'] is False and kwargs['drain']['active_connections'] == 5


def test_drain_timeout_delete_anyway():
    stub = StubClient(table_with_dest(), counters=[5] * 10)
    clock = iter(range(0, 1000, 10))
    result = ipvs_dest.run(module(dest_params(state='absent', drain=True, drain_timeout=20,
                                              on_drain_timeout='delete')),
                           lambda: stub, clock=lambda: next(clock), sleep=lambda s: None)
    assert [op.name for op in stub.applied] == ['set_dest', 'del_dest']
    assert result['drain']['finished'] is False


def test_drain_in_check_mode_waits_for_nothing():
    stub = StubClient(table_with_dest())
    result = ipvs_dest.run(module(dest_params(state='absent', drain=True), check_mode=True),
                           lambda: stub, clock=never_connect, sleep=never_connect)
    assert stub.applied == [] and [o['op'] for o in result['operations']] == ['set_dest', 'del_dest']


# --- ipvs_table ----------------------------------------------------------------

TABLE = [{'address': '192.0.2.10', 'port': 80, 'destinations': [
    {'address': '198.51.100.1'}, {'address': '198.51.100.2', 'weight': 3}]}]


def test_table_from_empty_then_no_op():
    stub = StubClient()
    params = params_for(ipvs_table, services=TABLE)
    result = ipvs_table.run(module(params), lambda: stub)
    assert result['summary'] == {'add_service': 1, 'add_dest': 2}
    stub.table = parse_table(TABLE)
    stub.applied = []
    again = ipvs_table.run(module(params), lambda: stub)
    assert not again['changed'] and stub.applied == []
    # the arguments echoed, but the table only counted (echoing thousands of entries cost seconds)
    assert again['invocation']['module_args'] == dict(params, services='1 services, 2 destinations (not echoed)')


def test_table_validation_reports_all_paths_before_kernel():
    bad = [{'address': '192.0.2.10', 'port': 80, 'destinations': [{'address': '198.51.100.1', 'port': 81}]},
           {'address': '192.0.2.11', 'port': 80, 'scheduler': 'bogus'}]
    params = params_for(ipvs_table, services=bad, timeouts={'tcp': -1})
    with pytest.raises(ValidationErrors) as info:
        ipvs_table.run(module(params), never_connect)
    fields = [e['field'] for e in info.value.fail_kwargs()['errors']]
    assert fields == ['services[0].destinations[0].port', 'services[1].scheduler', 'timeouts.tcp']


def test_table_check_mode_and_diff_with_timeouts_and_daemons():
    stub = StubClient(parse_table(TABLE), daemons={})
    params = params_for(ipvs_table, services=TABLE, purge=True, timeouts={'tcp': 600},
                        sync_daemons=[{'role': 'master', 'interface': 'ens4'}])
    result = ipvs_table.run(module(params, check_mode=True, diff=True), lambda: stub)
    assert result['summary'] == {'set_timeouts': 1, 'add_daemon': 1}
    assert stub.applied == []
    assert result['diff']['before']['timeouts']['tcp'] == 900
    assert result['diff']['after']['timeouts']['tcp'] == 600
    assert result['diff']['after']['sync_daemons']['master']['interface'] == 'ens4'


def test_table_partial_failure_report():
    stub = StubClient(fail_index=1)
    params = params_for(ipvs_table, services=TABLE)
    with pytest.raises(ApplyError) as info:
        ipvs_table.run(module(params), lambda: stub)
    kwargs = info.value.fail_kwargs()
    assert len(kwargs['applied']) == 1 and len(kwargs['failed']) == 1
    assert len(kwargs['not_attempted']) == 1 and kwargs['changed'] is True


# --- drained removal (ipvs_table drain, ipvs_dest quiesced + drain) ----------------

class ApplyingStub(StubClient):
    """A StubClient whose table follows what it was sent, as the kernel's would."""

    def apply(self, plan):
        result = super().apply(plan)
        self.table = apply_to_table(self.table, result.applied)
        for op in result.applied:
            if op.kind == 'daemon':
                self.daemons = dict(self.daemons)
                if op.action == 'del':
                    self.daemons.pop(op.daemon.role, None)
                else:
                    self.daemons[op.daemon.role] = op.daemon
        return result


KEPT = [{'address': '192.0.2.10', 'port': 80, 'destinations': [{'address': '198.51.100.1', 'weight': 5}]}]


def drained_run(services, counters, check_mode=False, clock_step=1, **options):
    stub = ApplyingStub(parse_table(TABLE), counters=list(counters))
    clock = iter(range(0, 10000, clock_step))
    sleeps = []
    params = params_for(ipvs_table, services=services, purge=True, drain=True, **options)
    result = ipvs_table.run(module(params, check_mode=check_mode), lambda: stub,
                            clock=lambda: next(clock), sleep=sleeps.append)
    return stub, result, sleeps


def test_table_drain_quiesces_with_the_other_changes_waits_then_removes():
    stub, result, sleeps = drained_run(KEPT, counters=[2, 1, 0])
    assert [str(op) for op in stub.applied] == [
        'set_dest tcp 192.0.2.10:80 -> 198.51.100.1:80 (weight: 1 -> 5)',
        'set_dest tcp 192.0.2.10:80 -> 198.51.100.2:80 (weight: 3 -> 0)',
        'del_dest tcp 192.0.2.10:80 -> 198.51.100.2:80']
    assert result['drain'] == {'finished': True, 'waited': 3, 'active_connections': 0, 'busy': {}}
    assert len(sleeps) == 2 and result['changed']


def test_table_drain_of_a_removed_service_quiesces_all_its_destinations():
    stub, _result, _sleeps = drained_run([], counters=[0])
    assert [op.name for op in stub.applied] == ['set_dest', 'set_dest', 'del_service']
    assert {op.dest.weight for op in stub.applied[:2]} == {0}
    assert stub.table.services == {}


def test_table_drain_timeout_fails_before_removing_anything():
    with pytest.raises(ipvs_table.DrainTimeout) as info:
        drained_run(KEPT, counters=[4] * 10, clock_step=10, drain_timeout=20)
    kwargs = info.value.fail_kwargs()
    assert kwargs['drain']['finished'] is False and kwargs['drain']['active_connections'] == 4
    assert kwargs['drain']['busy'] == {'tcp 192.0.2.10:80 -> 198.51.100.2:80': 4}
    assert 'on_drain_timeout=delete' in kwargs['msg'] and 'nothing was removed' in kwargs['msg']


def test_table_drain_timeout_delete_removes_anyway():
    stub, result, _sleeps = drained_run(KEPT, counters=[4] * 10, clock_step=10, drain_timeout=20,
                                        on_drain_timeout='delete')
    assert stub.applied[-1].name == 'del_dest' and result['drain']['finished'] is False


def test_table_drain_in_check_mode_shows_the_weight_zero_step_and_waits_for_nothing():
    stub = StubClient(parse_table(TABLE))
    params = params_for(ipvs_table, services=KEPT, purge=True, drain=True)
    result = ipvs_table.run(module(params, check_mode=True), lambda: stub, clock=never_connect,
                            sleep=never_connect)
    assert result['summary'] == {'set_dest': 2, 'del_dest': 1} and stub.applied == []
    assert result['drain']['finished'] is False


def test_table_drain_stops_a_changed_daemon_before_the_table_and_starts_it_after_the_removals():
    stub = ApplyingStub(parse_table(TABLE), counters=[0],
                        daemons={'master': SyncDaemon(role='master', interface='ens4')})
    params = params_for(ipvs_table, services=KEPT, purge=True, drain=True,
                        sync_daemons=[{'role': 'master', 'interface': 'ens5'}])
    ipvs_table.run(module(params), lambda: stub, clock=iter(range(100)).__next__, sleep=lambda s: None)
    assert [op.name for op in stub.applied] == ['del_daemon', 'set_dest', 'set_dest', 'del_dest', 'add_daemon']


def test_table_drain_without_removals_is_a_plain_apply():
    stub = ApplyingStub(parse_table(TABLE))
    params = params_for(ipvs_table, services=TABLE + KEPT[:0], purge=True, drain=True)
    result = ipvs_table.run(module(params), lambda: stub, clock=never_connect, sleep=never_connect)
    assert not result['changed'] and 'drain' not in result


def test_dest_quiesced_with_drain_waits_and_keeps_the_destination():
    stub = ApplyingStub(table_with_dest(), counters=[1, 0])
    clock = iter(range(100))
    result = ipvs_dest.run(module(dest_params(state='quiesced', drain=True)), lambda: stub,
                           clock=lambda: next(clock), sleep=lambda s: None)
    assert [op.name for op in stub.applied] == ['set_dest']
    assert result['drain']['finished'] is True
    assert list(stub.table.dests.values())[0]


# --- ipvs_info -------------------------------------------------------------------

def test_info_describes_table():
    stub = StubClient(parse_table(TABLE), daemons={'master': SyncDaemon(role='master', interface='ens4')})
    result = ipvs_info.run(module({}), lambda: stub)
    assert result['changed'] is False
    assert result['services'][0]['name'] == 'tcp 192.0.2.10:80'
    assert [d['address'] for d in result['services'][0]['destinations']] == ['198.51.100.1', '198.51.100.2']
    assert result['timeouts'] == {'tcp': 900, 'tcpfin': 120, 'udp': 300}
    assert result['sync_daemons'][0]['role'] == 'master'
    assert stub.applied == []


# --- documentation and argument_spec agree ------------------------------------

def _doc_options(mod):
    """The options as ansible-doc shows them: a fragment's option, with what the module's own entry for it says
    on top (ipvs_dest's address is required with `service` only, for instance)."""
    doc = yaml.safe_load(mod.DOCUMENTATION)
    own = dict(doc.get('options') or {})
    options = {}
    for fragment in doc.get('extends_documentation_fragment', []):
        if not fragment.startswith('lvs.cluster.'):
            continue
        attr = fragment.split('.')[-1].upper() if fragment.count('.') == 3 else 'DOCUMENTATION'
        options.update(yaml.safe_load(getattr(ModuleDocFragment, attr)).get('options') or {})
    for name, entry in own.items():
        options[name] = dict(options.get(name, {}), **entry)
    return options


def _compare(doc, spec, path):
    assert sorted(doc) == sorted(spec), path
    for name, entry in spec.items():
        documented = doc[name]
        where = '%s.%s' % (path, name)
        assert documented.get('type', 'str') == entry.get('type', 'str'), where
        assert documented.get('default') == entry.get('default'), where
        assert sorted(documented.get('choices') or []) == sorted(entry.get('choices') or []), where
        assert bool(documented.get('required')) == bool(entry.get('required')), where
        sub = entry.get('options') or entry.get('suboptions')
        if sub:
            _compare(documented['suboptions'], sub, where)


@pytest.mark.parametrize('mod', [ipvs_service, ipvs_dest, ipvs_table, noarp_vip, vip])
def test_documentation_matches_argument_spec(mod):
    _compare(_doc_options(mod), mod.argument_spec(), mod.__name__.rsplit('.', 1)[-1])


def test_table_documents_the_options_its_parse_takes():
    """ipvs_table's spec leaves the services' options to the model (no 'options' for ansible-core, so
    validate-modules does not compare them): its documentation must still be table_service_spec()."""
    assert 'options' not in ipvs_table.argument_spec()['services']
    _compare(_doc_options(ipvs_table)['services']['suboptions'], table_service_spec(), 'ipvs_table.services')


@pytest.mark.parametrize('mod', [ipvs_service, ipvs_dest, ipvs_info, ipvs_table, noarp_vip, vip])
def test_examples_and_return_are_yaml(mod):
    assert yaml.safe_load(mod.EXAMPLES)
    assert yaml.safe_load(mod.RETURN) is not None
