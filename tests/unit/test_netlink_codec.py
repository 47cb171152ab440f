# -*- coding: utf-8 -*-
# Copyright (c) the lvs.cluster authors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The struct codec against the pyroute2 message class (two independent
descriptions of include/uapi/linux/ip_vs.h must agree byte for byte)."""

from __future__ import annotations

import socket
import struct

import pytest

from ansible_collections.lvs.cluster.tests.unit import ipvs_reference  # importable under ansible-test too
from ansible_collections.lvs.cluster.tests.unit import ipvs_replies as kr  # importable under ansible-test too
from ansible_collections.lvs.cluster.plugins.module_utils import _ipvs_codec as codec
from ansible_collections.lvs.cluster.plugins.module_utils import _ipvs_layout as layout
from ansible_collections.lvs.cluster.plugins.module_utils import _netlink as nl
from ansible_collections.lvs.cluster.plugins.module_utils._diff import Op
from ansible_collections.lvs.cluster.plugins.module_utils._model import (
    Dest,
    Service,
    ServiceKey,
    SyncDaemon,
    Timeouts,
)

FID = kr.FAMILY_ID
REQ = codec.NLM_F_REQUEST | codec.NLM_F_ACK
V6 = ServiceKey(family='ipv6', protocol='tcp', address='2001:db8::10', port=443)
FWM6 = ServiceKey(family='ipv6', fwmark=42)
V4 = ServiceKey(family='ipv4', protocol='udp', address='192.0.2.10', port=53)


def reference(cmd, seq, attrs, flags=REQ):
    return kr.build(cmd, seq, attrs, flags=flags)


def decode_with_class(data):
    msg = ipvs_reference.message_class()(data)
    msg.decode()
    return msg


def test_service_ipv6_with_prefix_netmask_matches_class():
    svc = Service(key=V6, scheduler='mh', mh_port=True, persistence_timeout=300,
                  persistence_netmask=64, persistence_engine='sip')
    mine = codec.encode_message(FID, layout.CMD.NEW_SERVICE, 7, REQ, codec.encode_service_attrs(V6, svc))
    ref = reference(layout.CMD.NEW_SERVICE, 7, [['IPVS_CMD_ATTR_SERVICE', {'attrs': [
        ['IPVS_SVC_ATTR_AF', socket.AF_INET6],
        ['IPVS_SVC_ATTR_PROTOCOL', 6],
        ['IPVS_SVC_ATTR_ADDR', socket.inet_pton(socket.AF_INET6, '2001:db8::10')],
        ['IPVS_SVC_ATTR_PORT', 443],
        ['IPVS_SVC_ATTR_SCHED_NAME', 'mh'],
        ['IPVS_SVC_ATTR_PE_NAME', 'sip'],
        ['IPVS_SVC_ATTR_FLAGS', {'flags': 0x1 | 0x10, 'mask': 0xFFFFFFFF}],
        ['IPVS_SVC_ATTR_TIMEOUT', 300],
        ['IPVS_SVC_ATTR_NETMASK', 64],
    ]}]])
    assert mine == ref
    # The kernel reads the IPv6 prefix length as the host-order u32 of the attribute.
    svc_attrs = decode_with_class(mine).get_attr('IPVS_CMD_ATTR_SERVICE')
    assert svc_attrs.get_attr('IPVS_SVC_ATTR_NETMASK') == 64
    assert mine.endswith(struct.pack('=HHI', 8, layout.SVC.NETMASK, 64))


def test_ipv4_netmask_is_network_order_bytes():
    svc = Service(key=V4, persistence_timeout=60, persistence_netmask='255.255.255.0')
    attrs = codec.encode_service_attrs(V4, svc)
    assert attrs.endswith(struct.pack('=HH', 8, layout.SVC.NETMASK) + bytes([255, 255, 255, 0]))


def test_fwmark_service_sends_af_and_netmask():
    svc = Service(key=FWM6, scheduler='rr')
    mine = codec.encode_message(FID, layout.CMD.SET_SERVICE, 9, REQ, codec.encode_service_attrs(FWM6, svc))
    ref = reference(layout.CMD.SET_SERVICE, 9, [['IPVS_CMD_ATTR_SERVICE', {'attrs': [
        ['IPVS_SVC_ATTR_AF', socket.AF_INET6],
        ['IPVS_SVC_ATTR_FWMARK', 42],
        ['IPVS_SVC_ATTR_SCHED_NAME', 'rr'],
        ['IPVS_SVC_ATTR_FLAGS', {'flags': 0, 'mask': 0xFFFFFFFF}],
        ['IPVS_SVC_ATTR_TIMEOUT', 0],
        ['IPVS_SVC_ATTR_NETMASK', 128],
    ]}]])
    assert mine == ref


def test_dest_tun_gue_port_is_big_endian_and_flags_host_order():
    dest = Dest(address='198.51.100.7', port=443, family='ipv4', forwarding='tun', weight=3,
                upper_threshold=100, lower_threshold=10, tunnel_type='gue', tunnel_port=6080,
                tunnel_checksum='remcsum')
    op = Op('add', 'dest', key=V6, dest=dest)
    cmd, attrs = codec.encode_op(op)
    mine = codec.encode_message(FID, cmd, 11, REQ, attrs)
    ref = reference(layout.CMD.NEW_DEST, 11, [
        ['IPVS_CMD_ATTR_SERVICE', {'attrs': [
            ['IPVS_SVC_ATTR_AF', socket.AF_INET6], ['IPVS_SVC_ATTR_PROTOCOL', 6],
            ['IPVS_SVC_ATTR_ADDR', socket.inet_pton(socket.AF_INET6, '2001:db8::10')],
            ['IPVS_SVC_ATTR_PORT', 443]]}],
        ['IPVS_CMD_ATTR_DEST', {'attrs': [
            ['IPVS_DEST_ATTR_ADDR', kr.kernel_addr('198.51.100.7')],  # 16 bytes, as ipvsadm sends it
            ['IPVS_DEST_ATTR_PORT', 443],
            ['IPVS_DEST_ATTR_ADDR_FAMILY', socket.AF_INET],
            ['IPVS_DEST_ATTR_FWD_METHOD', 2],
            ['IPVS_DEST_ATTR_WEIGHT', 3],
            ['IPVS_DEST_ATTR_U_THRESH', 100],
            ['IPVS_DEST_ATTR_L_THRESH', 10],
            ['IPVS_DEST_ATTR_TUN_TYPE', 1],
            ['IPVS_DEST_ATTR_TUN_PORT', 6080],
            ['IPVS_DEST_ATTR_TUN_FLAGS', 2]]}]])
    assert mine == ref
    assert struct.pack('=HH', 6, layout.DEST.TUN_PORT) + struct.pack('>H', 6080) in mine
    decoded = decode_with_class(mine).get_attr('IPVS_CMD_ATTR_DEST')
    assert decoded.get_attr('IPVS_DEST_ATTR_TUN_PORT') == 6080


def test_del_dest_sends_identity_only():
    dest = Dest(address='198.51.100.7', port=53, family='ipv4')
    cmd, attrs = codec.encode_op(Op('del', 'dest', key=V4, dest=dest))
    decoded = decode_with_class(codec.encode_message(FID, cmd, 1, REQ, attrs))
    names = [a[0] for a in decoded.get_attr('IPVS_CMD_ATTR_DEST')['attrs']]
    assert cmd == layout.CMD.DEL_DEST
    assert names == ['IPVS_DEST_ATTR_ADDR', 'IPVS_DEST_ATTR_PORT', 'IPVS_DEST_ATTR_ADDR_FAMILY']


def test_daemon_nested_attributes_match_class():
    daemon = SyncDaemon(role='backup', interface='ens4', sync_id=9, max_len=1400,
                        group='ff02::81', port=8849, ttl=3)
    mine = codec.encode_message(FID, layout.CMD.NEW_DAEMON, 5, REQ, codec.encode_daemon_attrs(daemon))
    ref = reference(layout.CMD.NEW_DAEMON, 5, [['IPVS_CMD_ATTR_DAEMON', {'attrs': [
        ['IPVS_DAEMON_ATTR_STATE', 2],
        ['IPVS_DAEMON_ATTR_MCAST_IFN', 'ens4'],
        ['IPVS_DAEMON_ATTR_SYNC_ID', 9],
        ['IPVS_DAEMON_ATTR_SYNC_MAXLEN', 1400],
        ['IPVS_DAEMON_ATTR_MCAST_GROUP6', 'ff02::81'],
        ['IPVS_DAEMON_ATTR_MCAST_PORT', 8849],
        ['IPVS_DAEMON_ATTR_MCAST_TTL', 3]]}]])
    assert mine == ref
    assert codec.decode_daemon(mine, 16, len(mine)) == daemon


def test_daemon_ipv4_group_round_trip_and_stop_message():
    daemon = SyncDaemon(role='master', interface='ens3', sync_id=1, group='224.0.0.81')
    data = codec.encode_message(FID, layout.CMD.NEW_DAEMON, 5, REQ, codec.encode_daemon_attrs(daemon))
    decoded = decode_with_class(data).get_attr('IPVS_CMD_ATTR_DAEMON')
    assert decoded.get_attr('IPVS_DAEMON_ATTR_MCAST_GROUP') == '224.0.0.81'
    stop = codec.encode_daemon_attrs(daemon, full=False)
    assert stop == struct.pack('=HH', 12, layout.TOP.DAEMON) + struct.pack('=HHI', 8, 1, 1)


def test_timeouts_round_trip_and_zero_means_absent():
    data = codec.encode_message(FID, layout.CMD.SET_CONFIG, 3, REQ, codec.encode_timeouts_attrs(Timeouts(tcp=900, udp=60)))
    decoded = decode_with_class(data)
    assert decoded.get_attr('IPVS_CMD_ATTR_TIMEOUT_TCP') == 900
    assert decoded.get_attr('IPVS_CMD_ATTR_TIMEOUT_TCP_FIN') is None
    reply = reference(layout.CMD.SET_CONFIG, 3, [['IPVS_CMD_ATTR_TIMEOUT_TCP', 900],
                                                 ['IPVS_CMD_ATTR_TIMEOUT_TCP_FIN', 120],
                                                 ['IPVS_CMD_ATTR_TIMEOUT_UDP', 300]], flags=0)
    assert codec.decode_timeouts(reply, 16, len(reply)) == Timeouts(tcp=900, tcpfin=120, udp=300)


def test_decode_kernel_service_dump_entry():
    # as the kernel sends it: 16-byte address, hashed flag set, stats nests
    data = kr.service_reply(1, af=10, address='2001:db8::10', port=443, sched='sh',
                            flags=0x2 | 0x1 | 0x8, timeout=300, netmask=64, conns=5, inbytes=2 ** 40)
    service, stats = codec.decode_service(data, 16, len(data), with_stats=True)
    assert service == Service(key=V6, scheduler='sh', sh_fallback=True, persistence_timeout=300,
                              persistence_netmask=64)
    assert stats['conns'] == 5 and stats['inbytes'] == 2 ** 40


def test_decode_ipv4_netmask_and_fwmark():
    mask = struct.unpack('=I', socket.inet_aton('255.255.255.0'))[0]
    data = kr.service_reply(1, fwmark=42, flags=0x3, timeout=60, netmask=mask)
    service = codec.decode_service(data, 16, len(data))[0]
    assert service.key == ServiceKey(family='ipv4', fwmark=42)
    assert service.persistence_netmask == '255.255.255.0'


def test_decode_dest_masks_forwarding_and_reads_counters():
    data = kr.dest_reply(1, address='198.51.100.7', port=80, fwd=2 | 0x0100, weight=4, u=9, l=2,
                         active=3, inactive=7, persist=1, tun_type=2, tun_flags=1, conns=12)
    dest, counters = codec.decode_dest(data, 16, len(data), 'ipv6', with_stats=True)
    assert dest == Dest(address='198.51.100.7', port=80, family='ipv4', forwarding='tun', weight=4,
                        upper_threshold=9, lower_threshold=2, tunnel_type='gre', tunnel_port=0,
                        tunnel_checksum='csum')
    assert counters['active_connections'] == 3
    assert counters['inactive_connections'] == 7
    assert counters['stats']['conns'] == 12


@pytest.mark.parametrize('fwd, name', [(0, 'nat'), (1, 'local'), (2, 'tun'), (3, 'dr')])
def test_every_forwarding_method_is_reported(fwd, name):
    data = kr.dest_reply(1, fwd=fwd)
    assert codec.decode_dest(data, 16, len(data), 'ipv4')[0].forwarding == name


def test_error_ack_with_extended_message():
    # NLMSG_ERROR, capped, with an NLMSGERR_ATTR_MSG TLV
    text = b'Attribute failed policy validation\0'
    tlv = struct.pack('=HH', 4 + len(text), codec.NLMSGERR_ATTR_MSG) + text + b'\0' * (-len(text) % 4)
    body = struct.pack('=i', -22) + struct.pack('=IHHII', 40, FID, 5, 77, 0) + tlv
    data = struct.pack('=IHHII', 16 + len(body), codec.NLMSG_ERROR, 0x300, 77, 0) + body
    (mtype, flags, seq, start, end), = list(codec.iter_messages(data))
    assert codec.decode_error(data, start, end, flags) == (22, 'Attribute failed policy validation')


def test_version_tuple():
    assert nl._version_tuple('0.9.6') == (0, 9, 6)
    assert nl._version_tuple('0.9.7.post1') == (0, 9, 7)
    assert nl._version_tuple('0.10') == (0, 10, 0)
    assert nl._version_tuple('0.9.6rc1') >= nl.MIN_PYROUTE2
    assert nl._version_tuple('0.8.1') < nl.MIN_PYROUTE2


def _reordered(reply):
    """The same destination with WEIGHT and FWD_METHOD swapped in place: same length, another layout."""
    attrs = codec.attr_table(reply, codec.attr_table(reply, 20, len(reply))[layout.TOP.DEST][0], len(reply))
    fwd_start, weight_start = attrs[layout.DEST.FWD_METHOD][0], attrs[layout.DEST.WEIGHT][0]
    data = bytearray(reply)
    fwd_hdr, weight_hdr = data[fwd_start - 4:fwd_start + 4], data[weight_start - 4:weight_start + 4]
    data[fwd_start - 4:fwd_start + 4], data[weight_start - 4:weight_start + 4] = weight_hdr, fwd_hdr
    return bytes(data)


def test_the_fast_destination_decoder_falls_back_on_any_other_layout():
    replies = [
        kr.dest_reply(1, address='198.51.100.11', port=80, fwd=0, weight=3, u=600, l=50),
        kr.dest_reply(1, address='2001:db8::11', port=80, fwd=2, weight=7, af=10, tun_type=1, tun_port=5555,
                      tun_flags=1, active=4, conns=9),
        kr.dest_reply(1, address='198.51.100.12', port=8080, fwd=2, tun_type=2, tun_flags=2),
    ]
    replies.append(_reordered(replies[0]))  # same length as the first, headers differ
    # an older kernel: no tunnel attributes, so another length and a layout of its own
    replies.append(kr.build(layout.CMD.NEW_DEST, 1, [['IPVS_CMD_ATTR_DEST', {'attrs': [
        ['IPVS_DEST_ATTR_ADDR', kr.kernel_addr('198.51.100.13')], ['IPVS_DEST_ATTR_PORT', 80],
        ['IPVS_DEST_ATTR_FWD_METHOD', 3], ['IPVS_DEST_ATTR_WEIGHT', 2], ['IPVS_DEST_ATTR_ADDR_FAMILY', 2]]}]]))
    assert len(replies[4]) < len(replies[0])
    decoder = codec.DestDecoder('ipv4')
    for reply in replies + replies[::-1]:
        assert decoder(reply, 16, len(reply)) == codec.decode_dest(reply, 16, len(reply), 'ipv4')[0]
    reordered = decoder._layouts[len(replies[3]) - 16]  # pylint: disable=protected-access
    assert reordered.decode(replies[0], 16, 'ipv4') is not None and reordered.decode(replies[3], 16, 'ipv4') is None
    assert decoder(replies[3], 16, len(replies[3])).weight == 3  # read back through decode_dest
