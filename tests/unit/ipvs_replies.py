# -*- coding: utf-8 -*-
# Copyright (c) the lvs.cluster authors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Build kernel-style IPVS replies with the collection's pyroute2 message class,
and a scripted transport that plays them back. No kernel involved."""

from __future__ import annotations

import socket
import struct

from ansible_collections.lvs.cluster.tests.unit import ipvs_reference  # importable under ansible-test too
from ansible_collections.lvs.cluster.plugins.module_utils import _ipvs_codec as codec
from ansible_collections.lvs.cluster.plugins.module_utils import _ipvs_layout as layout

FAMILY_ID = 0x1d


def kernel_addr(address):
    """Addresses as the kernel sends them: always 16 bytes (union nf_inet_addr)."""
    if ':' in address:
        return socket.inet_pton(socket.AF_INET6, address)
    return socket.inet_aton(address) + b'\0' * 12


def stats(**values):
    names = ['IPVS_STATS_ATTR_' + n.upper() for n in layout.STATS_NAMES]
    return {'attrs': [[n, values.get(n[16:].lower(), 0)] for n in names]}


def build(cmd, seq, attrs, flags=codec.NLM_F_MULTI, family_id=FAMILY_ID):
    msg = ipvs_reference.message_class()()
    msg['cmd'] = cmd
    msg['version'] = 1
    msg['header']['type'] = family_id
    msg['header']['flags'] = flags
    msg['header']['sequence_number'] = seq
    msg['attrs'] = attrs
    msg.encode()
    return bytes(msg.data)


def service_reply(seq, af=2, protocol=6, address='192.0.2.10', port=80, fwmark=0,
                  sched='wlc', flags=0x2, timeout=0, netmask=0xFFFFFFFF, pe=None, **st):
    attrs = [['IPVS_SVC_ATTR_AF', af]]
    if fwmark:
        attrs.append(['IPVS_SVC_ATTR_FWMARK', fwmark])
    else:
        attrs += [['IPVS_SVC_ATTR_PROTOCOL', protocol],
                  ['IPVS_SVC_ATTR_ADDR', kernel_addr(address)],
                  ['IPVS_SVC_ATTR_PORT', port]]
    attrs.append(['IPVS_SVC_ATTR_SCHED_NAME', sched])
    if pe:
        attrs.append(['IPVS_SVC_ATTR_PE_NAME', pe])
    attrs += [['IPVS_SVC_ATTR_FLAGS', {'flags': flags, 'mask': 0xFFFFFFFF}],
              ['IPVS_SVC_ATTR_TIMEOUT', timeout],
              ['IPVS_SVC_ATTR_NETMASK', netmask],
              ['IPVS_SVC_ATTR_STATS', stats(**st)],
              ['IPVS_SVC_ATTR_STATS64', stats(**st)]]
    return build(layout.CMD.NEW_SERVICE, seq, [['IPVS_CMD_ATTR_SERVICE', {'attrs': attrs}]])


def dest_reply(seq, address='198.51.100.11', port=80, fwd=3, weight=1, u=0, l=0,
               active=0, inactive=0, persist=0, af=2, tun_type=0, tun_port=0, tun_flags=0, **st):
    attrs = [
        ['IPVS_DEST_ATTR_ADDR', kernel_addr(address)],
        ['IPVS_DEST_ATTR_PORT', port],
        ['IPVS_DEST_ATTR_FWD_METHOD', fwd],
        ['IPVS_DEST_ATTR_WEIGHT', weight],
        ['IPVS_DEST_ATTR_TUN_TYPE', tun_type],
        ['IPVS_DEST_ATTR_TUN_PORT', tun_port],
        ['IPVS_DEST_ATTR_TUN_FLAGS', tun_flags],
        ['IPVS_DEST_ATTR_U_THRESH', u],
        ['IPVS_DEST_ATTR_L_THRESH', l],
        ['IPVS_DEST_ATTR_ACTIVE_CONNS', active],
        ['IPVS_DEST_ATTR_INACT_CONNS', inactive],
        ['IPVS_DEST_ATTR_PERSIST_CONNS', persist],
        ['IPVS_DEST_ATTR_ADDR_FAMILY', af],
        ['IPVS_DEST_ATTR_STATS', stats(**st)],
        ['IPVS_DEST_ATTR_STATS64', stats(**st)],
    ]
    return build(layout.CMD.NEW_DEST, seq, [['IPVS_CMD_ATTR_DEST', {'attrs': attrs}]])


def done(seq, code=0):
    return struct.pack('=IHHII', 20, codec.NLMSG_DONE, codec.NLM_F_MULTI, seq, 0) + struct.pack('=i', code)


def ack(seq, code=0, request=b''):
    """An NLMSG_ERROR (code 0 = ack), capped: only the request header is echoed."""
    header = request[:16] if request else struct.pack('=IHHII', 16, FAMILY_ID, 5, seq, 0)
    return struct.pack('=IHHII', 36, codec.NLMSG_ERROR, 0x100, seq, 0) + struct.pack('=i', -code) + header


def requests_in(data):
    """[(type, flags, seq, cmd, payload bytes)] of the messages in a sent buffer."""
    out = []
    for mtype, flags, seq, start, end in codec.iter_messages(data):
        out.append((mtype, flags, seq, data[start], data[start:end]))
    return out


class ScriptedTransport:
    """Records what is sent; answers through ``responder(data) -> [datagrams]``."""

    def __init__(self, responder=None, family_id=FAMILY_ID):
        self.family_id = family_id
        self.sent = []
        self.queue = []
        self.responder = responder
        self.closed = False

    def send(self, data):
        self.sent.append(bytes(data))
        if self.responder is not None:
            self.queue.extend(self.responder(bytes(data)))

    def recv(self):
        if not self.queue:
            raise AssertionError('client waits for a reply that the script does not provide')
        item = self.queue.pop(0)
        if isinstance(item, Exception):
            raise item
        return item

    def close(self):
        self.closed = True


def acking(errors=None):
    """A responder that acks each request, failing those whose (0-based) index is in ``errors``.

    Each ack is its own datagram, as the kernel sends them.
    """
    errors = errors or {}
    counter = {'n': 0}

    def respond(data):
        replies = []
        for _mtype, _flags, seq, _cmd, _payload in requests_in(data):
            replies.append(ack(seq, errors.get(counter['n'], 0)))
            counter['n'] += 1
        return replies
    return respond
