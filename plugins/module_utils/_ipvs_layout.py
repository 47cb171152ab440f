# -*- coding: utf-8 -*-
# Copyright (c) the lvs.cluster authors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The kernel's IPVS generic netlink layout (include/uapi/linux/ip_vs.h), declared once.

Each enum of the header is one ``Numbered`` set, its names in the header's order (the kernel numbers them
from 1), each attribute with the kind of its payload. The codec (_ipvs_codec.py) reads the numbers and
packs and unpacks each value by its kind, so a new attribute is one line here and its use in the codec.
The kinds follow the kernel's nla policies, not pyroute2's types: NETMASK is a raw u32 (network-order mask
for IPv4, the prefix length for IPv6), TUN_PORT is be16, TUN_FLAGS a host-order u16, addresses are raw
bytes (16 for IPv4 too, as ipvsadm sends them).
"""

from __future__ import annotations

import struct

GENL_NAME = 'IPVS'
GENL_VERSION = 1

_NLA = struct.Struct('=HH')  # struct nlattr
# kind -> struct of a fixed-size value; the other kinds are bytes as they are (addr, nest, ip4, ip6), or a
# NUL-terminated ASCII string (asciiz). flags is struct ip_vs_flags {flags, mask}.
FIXED = {'u8': struct.Struct('=B'), 'u16': struct.Struct('=H'), 'be16': struct.Struct('>H'),
         'u32': struct.Struct('=I'), 'u64': struct.Struct('=Q'), 'flags': struct.Struct('=II')}


def nla(number, payload):
    """One attribute: header, payload, padding to 4 bytes."""
    length = 4 + len(payload)
    return _NLA.pack(length, number) + payload + b'\0' * (-length % 4)


def _encoder(number, kind):
    """value -> the whole attribute (header, payload, padding), by the payload's kind."""
    if kind in FIXED:
        fmt = FIXED[kind]
        head, pad = _NLA.pack(4 + fmt.size, number), b'\0' * (-(4 + fmt.size) % 4)
        if kind == 'flags':
            return lambda value: head + fmt.pack(*value) + pad
        return lambda value: head + fmt.pack(value) + pad
    if kind == 'asciiz':
        return lambda value: nla(number, value.encode('ascii') + b'\0')
    return lambda value: nla(number, value)


def _decoder(number, kind):
    """(data, {number: (start, end)}, default) -> the value, or ``default`` when the attribute is absent."""
    if kind == 'flags':
        unpack_flags = FIXED[kind].unpack_from
        return lambda data, attrs, default=(0, 0): unpack_flags(data, attrs[number][0]) if number in attrs else default
    if kind in FIXED:
        unpack = FIXED[kind].unpack_from

        def fixed(data, attrs, default=0):
            span = attrs.get(number)
            return default if span is None else unpack(data, span[0])[0]
        return fixed

    def raw(data, attrs, default=None):
        span = attrs.get(number)
        if span is None:
            return default
        value = bytes(data[span[0]:span[1]])
        return value.split(b'\0', 1)[0].decode('ascii', 'replace') if kind == 'asciiz' else value
    return raw


class Numbered:
    """One enum of the header: ``SET.NAME`` is the number of NAME (from 1, in the header's order);
    ``SET.enc['NAME'](value)`` is the whole attribute, ``SET.dec['NAME'](data, attrs)`` its value read back
    from an attribute table (_ipvs_codec.attr_table), each by the kind declared here. (Dictionaries, not
    attributes: the codec's hot loops look them up thousands of times.)"""

    def __init__(self, prefix, *declared):
        self.prefix = prefix
        self.names, self.kinds, self.enc, self.dec = {}, {}, {}, {}
        for number, text in enumerate(declared, 1):
            name, kind = (text.split() + [None])[:2]
            setattr(self, name, number)
            self.names[number], self.kinds[number] = name, kind
            if kind is not None:
                self.enc[name] = _encoder(number, kind)
                self.dec[name] = _decoder(number, kind)

    def __getattr__(self, name):
        # reached only for a name that was not declared (declared names are attributes of the instance)
        raise AttributeError('%s%s is not in the layout' % (self.prefix, name))


# enum ipvs_cmd
CMD = Numbered('IPVS_CMD_', 'NEW_SERVICE', 'SET_SERVICE', 'DEL_SERVICE', 'GET_SERVICE', 'NEW_DEST', 'SET_DEST',
               'DEL_DEST', 'GET_DEST', 'NEW_DAEMON', 'DEL_DAEMON', 'GET_DAEMON', 'SET_CONFIG', 'GET_CONFIG',
               'SET_INFO', 'GET_INFO', 'ZERO', 'FLUSH')
# enum ipvs_cmd_attr: the top level of a message
TOP = Numbered('IPVS_CMD_ATTR_', 'SERVICE nest', 'DEST nest', 'DAEMON nest', 'TIMEOUT_TCP u32',
               'TIMEOUT_TCP_FIN u32', 'TIMEOUT_UDP u32')
# enum ipvs_svc_attr
SVC = Numbered('IPVS_SVC_ATTR_', 'AF u16', 'PROTOCOL u16', 'ADDR addr', 'PORT be16', 'FWMARK u32',
               'SCHED_NAME asciiz', 'FLAGS flags', 'TIMEOUT u32', 'NETMASK u32', 'STATS nest', 'PE_NAME asciiz',
               'STATS64 nest')
# enum ipvs_dest_attr
DEST = Numbered('IPVS_DEST_ATTR_', 'ADDR addr', 'PORT be16', 'FWD_METHOD u32', 'WEIGHT u32', 'U_THRESH u32',
                'L_THRESH u32', 'ACTIVE_CONNS u32', 'INACT_CONNS u32', 'PERSIST_CONNS u32', 'STATS nest',
                'ADDR_FAMILY u16', 'STATS64 nest', 'TUN_TYPE u8', 'TUN_PORT be16', 'TUN_FLAGS u16')
# enum ipvs_daemon_attr
DAEMON = Numbered('IPVS_DAEMON_ATTR_', 'STATE u32', 'MCAST_IFN asciiz', 'SYNC_ID u32', 'SYNC_MAXLEN u16',
                  'MCAST_GROUP ip4', 'MCAST_GROUP6 ip6', 'MCAST_PORT u16', 'MCAST_TTL u8')
# enum ipvs_stats_attr, in both STATS (u32 counters, u64 bytes) and STATS64 (all u64): read by their length
STATS = Numbered('IPVS_STATS_ATTR_', 'CONNS', 'INPKTS', 'OUTPKTS', 'INBYTES', 'OUTBYTES', 'CPS', 'INPPS',
                 'OUTPPS', 'INBPS', 'OUTBPS', 'PAD')
STATS_NAMES = tuple(STATS.names[n].lower() for n in range(STATS.CONNS, STATS.PAD))
