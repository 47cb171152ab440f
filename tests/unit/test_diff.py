# -*- coding: utf-8 -*-
# Copyright (c) the lvs.cluster authors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

from dataclasses import replace

from ansible_collections.lvs.cluster.plugins.module_utils._diff import (
    apply_to_table,
    diff_dest,
    diff_output,
    diff_service,
    diff_table,
    diff_timeouts,
    plan_all,
    quiesced,
)
from ansible_collections.lvs.cluster.plugins.module_utils._model import (
    ServiceKey,
    SyncDaemon,
    Timeouts,
    dest_key_from_params,
    dest_from_kernel,
    parse_table,
    service_from_kernel,
)

K80 = ServiceKey(family='ipv4', protocol='tcp', address='192.0.2.10', port=80)
K443 = ServiceKey(family='ipv4', protocol='tcp', address='192.0.2.10', port=443)


def declared(*services):
    return parse_table(list(services))


def web(*dests, **extra):
    svc = {'address': '192.0.2.10', 'port': 80, 'destinations': [{'address': a} for a in dests]}
    svc.update(extra)
    return svc


def names(plan):
    return [str(op) for op in plan]


def test_no_op_gives_empty_plan():
    desired = declared(web('198.51.100.1', '198.51.100.2'))
    assert diff_table(desired, desired) == []
    assert diff_table(desired, desired, purge=True) == []


def test_from_empty_adds_services_before_their_dests():
    plan = diff_table(declared(web('198.51.100.1')), declared())
    assert [op.name for op in plan] == ['add_service', 'add_dest']


def test_weight_change_is_one_set():
    current = declared(web('198.51.100.1', '198.51.100.2'))
    desired = declared({'address': '192.0.2.10', 'port': 80, 'destinations': [
        {'address': '198.51.100.1', 'weight': 5}, {'address': '198.51.100.2'}]})
    plan = diff_table(desired, current)
    assert names(plan) == ['set_dest tcp 192.0.2.10:80 -> 198.51.100.1:80 (weight: 1 -> 5)']


def test_forwarding_and_scheduler_changes_are_set_not_readd():
    current = declared(web('198.51.100.1'))
    desired = declared({'address': '192.0.2.10', 'port': 80, 'scheduler': 'rr', 'destinations': [
        {'address': '198.51.100.1', 'forwarding': 'tun'}]})
    plan = diff_table(desired, current, purge=True)
    assert [op.name for op in plan] == ['set_service', 'set_dest']
    assert plan[1].changes[0][:3] == ('forwarding', 'dr', 'tun')


def test_without_purge_undeclared_objects_stay():
    current = declared(web('198.51.100.1', '198.51.100.9'), {'address': '192.0.2.10', 'port': 443})
    desired = declared(web('198.51.100.1'))
    assert diff_table(desired, current) == []


def test_purge_deletes_dests_then_services_last():
    current = declared(web('198.51.100.1', '198.51.100.9'),
                       {'address': '192.0.2.10', 'port': 443, 'destinations': [{'address': '198.51.100.1'}]})
    desired = declared(web('198.51.100.1', '198.51.100.2'))
    plan = diff_table(desired, current, purge=True)
    assert names(plan) == [
        'add_dest tcp 192.0.2.10:80 -> 198.51.100.2:80',
        'del_dest tcp 192.0.2.10:80 -> 198.51.100.9:80',
        'del_service tcp 192.0.2.10:443',  # its destination goes with it: no del_dest
    ]


def test_changed_port_is_a_new_dest_not_a_set():
    current = declared({'address': '192.0.2.10', 'port': 80, 'destinations': [
        {'address': '10.0.0.1', 'port': 8080, 'forwarding': 'nat'}]})
    desired = declared({'address': '192.0.2.10', 'port': 80, 'destinations': [
        {'address': '10.0.0.1', 'port': 8081, 'forwarding': 'nat'}]})
    assert [op.name for op in diff_table(desired, current, purge=True)] == ['add_dest', 'del_dest']


def test_counters_never_count_as_difference():
    # what the netlink client builds from a dump: counters are not part of Dest
    desired = declared(web('198.51.100.1'))
    kernel = dest_from_kernel('198.51.100.1', 80, 'ipv4', fwd=3 | 0x100, weight=1, u_thresh=0,
                              l_thresh=0, tun_type=0, tun_port=0, tun_flags=0)
    assert diff_dest(K80, desired.dests[K80][('198.51.100.1', 80)], kernel) == []


def test_kernel_values_that_do_not_apply_are_ignored():
    # hashed flag, a stray netmask on a non-persistent service, tunnel fields on a DR dest
    svc = service_from_kernel(K80, 'wlc', flags=0x2, timeout=0, netmask='255.255.0.0', pe_name=None)
    assert diff_service(K80, declared(web()).services[K80], svc) == []
    dest = dest_from_kernel('198.51.100.1', 80, 'ipv4', 3, 1, 0, 0, tun_type=1, tun_port=99, tun_flags=1)
    assert dest.tunnel_type is None and dest.tunnel_port == 0


def test_quiesce_is_weight_zero_set():
    dest = declared(web('198.51.100.1')).dests[K80][('198.51.100.1', 80)]
    plan = diff_dest(K80, quiesced(dest), dest)
    assert names(plan) == ['set_dest tcp 192.0.2.10:80 -> 198.51.100.1:80 (weight: 1 -> 0)']


def test_service_absent_and_present():
    svc = declared(web()).services[K80]
    assert [op.name for op in diff_service(K80, None, svc)] == ['del_service']
    assert diff_service(K80, None, None) == []
    assert [op.name for op in diff_service(K80, svc, None)] == ['add_service']


def test_timeouts_only_declared_and_different():
    assert diff_timeouts(Timeouts(tcp=900), Timeouts(tcp=900, tcpfin=120, udp=300)) == []
    plan = diff_timeouts(Timeouts(tcp=600, udp=300), Timeouts(tcp=900, tcpfin=120, udp=300))
    assert len(plan) == 1 and plan[0].timeouts == Timeouts(tcp=600)


def test_daemons_stop_before_and_start_after_table_changes():
    have = {'master': SyncDaemon(role='master', interface='ens3', sync_id=1, max_len=1472,
                                 group='224.0.0.81', port=8848, ttl=1)}
    want = {'master': SyncDaemon(role='master', interface='ens4', sync_id=1)}
    plan = plan_all(declared(web('198.51.100.1')), declared(), desired_daemons=want, current_daemons=have)
    assert [op.name for op in plan] == ['del_daemon', 'add_service', 'add_dest', 'add_daemon']
    same = {'master': SyncDaemon(role='master', interface='ens3', sync_id=1)}
    assert plan_all(declared(), declared(), desired_daemons=same, current_daemons=have) == []


def test_diff_output_shows_only_touched_services_stably():
    current = declared(web('198.51.100.1'), {'address': '192.0.2.10', 'port': 443})
    desired = declared({'address': '192.0.2.10', 'port': 80, 'destinations': [
        {'address': '198.51.100.1', 'weight': 0}]})
    plan = diff_table(desired, current)
    out = diff_output(current, plan)
    assert list(out['before']['services']) == ['tcp 192.0.2.10:80']
    before = out['before']['services']['tcp 192.0.2.10:80']['destinations']['198.51.100.1:80']
    after = out['after']['services']['tcp 192.0.2.10:80']['destinations']['198.51.100.1:80']
    assert (before['weight'], after['weight']) == (1, 0)
    assert diff_output(current, []) == {'before': {'services': {}}, 'after': {'services': {}}}


def test_apply_to_table_matches_desired_after_full_plan():
    current = declared(web('198.51.100.1', '198.51.100.9'), {'address': '192.0.2.10', 'port': 443})
    desired = declared({'address': '192.0.2.10', 'port': 80, 'scheduler': 'rr', 'destinations': [
        {'address': '198.51.100.1', 'weight': 3}, {'address': '198.51.100.2'}]})
    after = apply_to_table(current, diff_table(desired, current, purge=True))
    assert after.services == desired.services and after.dests == desired.dests


def test_dest_key_for_removal():
    assert dest_key_from_params({'address': '2001:DB8::1'}, K443) == ('2001:db8::1', 443)


def test_op_dict_is_reportable():
    op = diff_dest(K80, replace(declared(web('198.51.100.1')).dests[K80][('198.51.100.1', 80)], weight=2),
                   declared(web('198.51.100.1')).dests[K80][('198.51.100.1', 80)])[0]
    assert op.to_dict() == {'op': 'set_dest', 'target': 'tcp 192.0.2.10:80 -> 198.51.100.1:80',
                            'changes': {'weight': {'before': 1, 'after': 2}}}
