# -*- coding: utf-8 -*-
# Copyright (c) the lvs.cluster authors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""IpvsClient over a scripted transport: dumps, batching, ack matching."""

from __future__ import annotations

import errno

import pytest

from ansible_collections.lvs.cluster.tests.unit import ipvs_replies as kr  # importable under ansible-test too
from ansible_collections.lvs.cluster.plugins.module_utils import _ipvs_codec as codec
from ansible_collections.lvs.cluster.plugins.module_utils import _ipvs_layout as layout
from ansible_collections.lvs.cluster.plugins.module_utils import _netlink as nl
from ansible_collections.lvs.cluster.plugins.module_utils._diff import Op, diff_table
from ansible_collections.lvs.cluster.plugins.module_utils._errors import KernelError
from ansible_collections.lvs.cluster.plugins.module_utils._model import (
    Dest,
    Service,
    ServiceKey,
    Table,
    parse_table,
)

K80 = ServiceKey(family='ipv4', protocol='tcp', address='192.0.2.10', port=80)
K443 = ServiceKey(family='ipv4', protocol='tcp', address='192.0.2.10', port=443)


def dest_op(i, action='add'):
    dest = Dest(address='198.51.%d.%d' % (100 + i // 250, i % 250 + 1), port=80, family='ipv4')
    return Op(action, 'dest', key=K80, dest=dest)


def client_with(responder, **kwargs):
    transport = kr.ScriptedTransport(responder)
    return nl.IpvsClient(transport, **kwargs), transport


def test_one_change_is_one_message_one_send_one_mutation():
    client, transport = client_with(kr.acking())
    result = client.apply([dest_op(0, 'set')])
    assert result.ok and len(result.applied) == 1
    assert client.mutations == 1
    assert len(transport.sent) == 1
    ((mtype, flags, _seq, cmd, _payload),) = kr.requests_in(transport.sent[0])
    assert (mtype, flags, cmd) == (kr.FAMILY_ID, codec.NLM_F_REQUEST | codec.NLM_F_ACK, layout.CMD.SET_DEST)


def test_plan_is_batched_by_message_count():
    client, transport = client_with(kr.acking())
    result = client.apply([dest_op(i) for i in range(600)])
    assert [len(kr.requests_in(b)) for b in transport.sent] == [256, 256, 88]
    assert len(result.applied) == 600 and client.mutations == 600
    seqs = [r[2] for b in transport.sent for r in kr.requests_in(b)]
    assert len(set(seqs)) == 600  # every request has its own sequence number


def test_batch_is_capped_by_bytes():
    client, transport = client_with(kr.acking(), batch_messages=10_000, batch_bytes=1000)
    client.apply([dest_op(i) for i in range(30)])
    assert all(len(b) <= 1000 for b in transport.sent)
    assert sum(len(kr.requests_in(b)) for b in transport.sent) == 30
    assert len(transport.sent) > 1


def test_error_ack_maps_to_the_operation_that_caused_it():
    # op 3 fails; the kernel goes on with the rest of the batch; acks arrive out of order
    def respond(data):
        acks = [kr.ack(r[2], errno.EEXIST if i == 3 else 0) for i, r in enumerate(kr.requests_in(data))]
        return list(reversed(acks))
    client, _transport = client_with(respond)
    plan = [dest_op(i) for i in range(6)]
    result = client.apply(plan)
    assert [op for op, _err in result.failed] == [plan[3]]
    assert result.failed[0][1].errno == errno.EEXIST
    assert '198.51.100.4:80' in str(result.failed[0][1])
    assert result.applied == plan[:3] + plan[4:]
    assert not result.ok


def test_batches_after_a_failed_batch_are_not_sent():
    client, transport = client_with(kr.acking({1: errno.ESRCH}), batch_messages=4)
    plan = [dest_op(i) for i in range(10)]
    result = client.apply(plan)
    assert len(transport.sent) == 1
    assert len(result.applied) == 3 and len(result.failed) == 1
    assert result.not_attempted == plan[4:]
    assert client.mutations == 4
    report = result.to_dict()
    assert report['failed'][0]['errno'] == errno.ESRCH
    assert len(report['not_attempted']) == 6


def test_lost_acks_are_unknown_not_applied():
    def respond(data):
        reqs = kr.requests_in(data)
        return [kr.ack(reqs[0][2]), KernelError(errno.ENOBUFS)]
    client, _transport = client_with(respond)
    result = client.apply([dest_op(0), dest_op(1)])
    assert len(result.applied) == 1 and len(result.unknown) == 1
    assert result.first_error().errno == errno.ENOBUFS


def test_stale_acks_are_ignored():
    def respond(data):
        return [kr.ack(5), kr.ack(kr.requests_in(data)[0][2])]
    client, _transport = client_with(respond)
    assert client.apply([dest_op(0)]).ok


def test_scheduler_enoent_names_the_scheduler():
    client, _transport = client_with(kr.acking({0: errno.ENOENT}))
    op = Op('add', 'service', key=K80, service=Service(key=K80, scheduler='twos'))
    error = client.apply([op]).failed[0][1]
    assert 'twos' in str(error) and 'ip_vs_twos' in str(error)


def dump_responder(services, dests):
    """Answer service and destination dumps like the kernel, one datagram per message."""
    def respond(data):
        ((_t, flags, seq, cmd, payload),) = kr.requests_in(data)
        assert flags & codec.NLM_F_DUMP == codec.NLM_F_DUMP
        if cmd == layout.CMD.GET_SERVICE:
            out = [kr.service_reply(seq, **s) for s in services]
        else:
            assert cmd == layout.CMD.GET_DEST
            svc = codec.attr_table(payload, 4, len(payload))[layout.TOP.SERVICE]
            inner = codec.attr_table(payload, *svc)
            port = int.from_bytes(payload[inner[layout.SVC.PORT][0]:inner[layout.SVC.PORT][1]], 'big')
            out = [kr.dest_reply(seq, **d) for d in dests.get(port, [])]
        return out + [kr.done(seq)]
    return respond


def test_dump_table_is_one_service_dump_plus_one_dest_dump_per_service():
    services = [dict(port=80), dict(port=443, sched='rr')]
    dests = {80: [dict(address='198.51.100.1', weight=2, active=9), dict(address='198.51.100.2')],
             443: [dict(address='198.51.100.1', port=443)]}
    client, transport = client_with(dump_responder(services, dests))
    table = client.dump_table()
    assert len(transport.sent) == 3
    assert client.mutations == 0
    assert set(table.services) == {K80, K443}
    assert table.dests[K80][('198.51.100.1', 80)].weight == 2
    desired = parse_table([
        {'address': '192.0.2.10', 'port': 80, 'destinations': [
            {'address': '198.51.100.1', 'weight': 2}, {'address': '198.51.100.2'}]},
        {'address': '192.0.2.10', 'port': 443, 'scheduler': 'rr',
         'destinations': [{'address': '198.51.100.1'}]}])
    # decoded kernel state equals the declaration: the re-apply plan is empty
    assert diff_table(desired, table, purge=True) == []


def test_dump_with_stats():
    responder = dump_responder([dict(port=80, conns=4)],
                               {80: [dict(address='198.51.100.1', active=9, inbytes=7)]})
    client, _transport = client_with(responder)
    table, stats = client.dump_table(with_stats=True)
    assert stats[K80]['service']['conns'] == 4
    assert stats[K80]['dests'][('198.51.100.1', 80)]['active_connections'] == 9
    assert isinstance(table, Table)


def test_interrupted_dump_is_retried():
    calls = {'n': 0}

    def respond(data):
        ((_t, _f, seq, _cmd, _p),) = kr.requests_in(data)
        calls['n'] += 1
        msg = bytearray(kr.service_reply(seq))
        if calls['n'] == 1:
            msg[6] |= codec.NLM_F_DUMP_INTR  # nlmsg_flags, low byte
        return [bytes(msg), kr.done(seq)]
    client, transport = client_with(respond)
    assert list(client.dump_services()) == [K80]
    assert len(transport.sent) == 2


def test_dump_error_raises_kernel_error():
    def respond(data):
        seq = kr.requests_in(data)[0][2]
        return [kr.ack(seq, errno.EPERM)]
    client, _transport = client_with(respond)
    with pytest.raises(KernelError) as info:
        client.dump_services()
    assert 'CAP_NET_ADMIN' in str(info.value)


def test_get_service_missing_is_none():
    def respond(data):
        return [kr.ack(kr.requests_in(data)[0][2], errno.ESRCH)]
    client, _transport = client_with(respond)
    assert client.get_service(K80) is None


def test_get_service_found():
    def respond(data):
        seq = kr.requests_in(data)[0][2]
        return [kr.service_reply(seq, sched='rr'), kr.ack(seq)]
    client, _transport = client_with(respond)
    assert client.get_service(K80).scheduler == 'rr'


def test_flush_and_zero_count_as_mutations():
    client, transport = client_with(kr.acking())
    client.flush()
    client.zero(K80)
    assert client.mutations == 2
    assert [kr.requests_in(b)[0][3] for b in transport.sent] == [layout.CMD.FLUSH, layout.CMD.ZERO]


def test_require_pyroute2_version(monkeypatch):
    from importlib import metadata
    from ansible_collections.lvs.cluster.plugins.module_utils._errors import DependencyError
    monkeypatch.setattr(metadata, 'version', lambda name: '0.9.5')
    with pytest.raises(DependencyError) as info:
        nl.require_pyroute2()
    assert 'pip install' in str(info.value) and '0.9.6' in str(info.value)


def test_stopping_a_daemon_that_does_not_run_names_the_daemon():
    # Seen in the lab: the kernel answers ESRCH, whose generic text is about virtual services.
    def responder(data):
        return [kr.ack(kr.requests_in(data)[0][2], errno.ESRCH)]
    client, _transport = client_with(responder)
    with pytest.raises(KernelError) as info:
        client.stop_daemon('master')
    assert info.value.errno == errno.ESRCH
    assert 'no master sync daemon is running' in str(info.value)
    assert 'virtual service' not in str(info.value)


def test_the_family_lookup_is_our_own_and_asks_the_real_generic_netlink_controller():
    # Any Linux kernel has the controller family itself ("nlctrl", id 0x10); IPVS is only in the guests.
    family_id, sock = nl._lookup_family('nlctrl', timeout=5)
    sock.close()
    assert family_id == nl.GENL_ID_CTRL
    with pytest.raises(nl.FamilyLookupError) as info:
        nl._lookup_family('lvs-no-family', timeout=5)  # names are at most 15 bytes (EINVAL past that)
    assert info.value.code == errno.ENOENT


def test_require_pyroute2_finds_it_without_importing_it(monkeypatch):
    import sys
    from importlib import util
    from ansible_collections.lvs.cluster.plugins.module_utils._errors import DependencyError
    monkeypatch.delitem(sys.modules, 'pyroute2', raising=False)
    assert nl.require_pyroute2() >= nl.MIN_PYROUTE2
    assert 'pyroute2' not in sys.modules
    # a host the roles have not prepared (the check-mode preview starts from this error)
    monkeypatch.setattr(util, 'find_spec', lambda name: None)
    with pytest.raises(DependencyError) as info:
        nl.require_pyroute2()
    assert 'cannot be imported' in str(info.value) and 'pip install' in str(info.value)


def test_the_socket_transport_returns_each_datagram_whole_and_apart():
    """recv reads into one buffer kept for the socket's life: each datagram must still come back whole, at
    its own length, and stay as it was after the next one (a copy, not a view of the buffer)."""
    import socket

    ours, kernel = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    transport = nl.SocketTransport(ours, family_id=0x20)
    try:
        sent = [b'\x01' * 36, bytes(range(256)) * 40, b'', b'\x02' * 60000]
        for datagram in sent:
            kernel.send(datagram)
        received = [transport.recv() for _datagram in sent]
        assert received == sent and all(isinstance(r, bytes) for r in received)
    finally:
        transport.close()
        kernel.close()
