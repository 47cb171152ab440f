# -*- coding: utf-8 -*-
# Copyright (c) the lvs.cluster authors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The only code that talks to the kernel's IPVS (generic netlink family "IPVS").

Why not pyroute2's ``IPVS``/``IPVSService``/``IPVSDest``: in 0.9.7 ``update``
sends DEL, dumps always report forwarding method 3, IPv6 and fwmark services
go without a netmask, the netmask is typed as an IPv4 address, TUN_PORT is
typed host-order u16 instead of be16, and DAEMON / TIMEOUT attributes are
opaque. And one request per entry is far too slow for 10,000 destinations.

So this file:

- describes the kernel layout (include/uapi/linux/ip_vs.h) once, in
  ``message_class()``: our own ``genlmsg``/``nla`` subclasses, which the unit
  tests use as the reference encoder/decoder. No module run imports pyroute2:
  the family ("IPVS") is looked up with our own codec too (``_lookup_family``);
- encodes requests and decodes replies with a small struct-based codec that
  produces exactly the same bytes (the unit tests check this against the
  class). It exists for speed: pyroute2's generic encoder costs about 140 us
  a message, ten times the budget for a 10,000-destination table in a slow
  guest, and decoding only what is compared skips the nested statistics;
- reads the whole table with one service dump plus one destination dump per
  service;
- sends mutations in batches: many requests, each with NLM_F_REQUEST|NLM_F_ACK
  and its own sequence number, concatenated into one buffer and sent with one
  ``send``; then it reads acknowledgements until every sequence number is
  answered and maps each error back to the operation that caused it. A batch
  is capped (256 messages, 64 KiB) so the acknowledgements fit in the socket
  receive buffer. The kernel handles the messages of a buffer one after the
  other and keeps going after an error, so within a batch every operation has
  its own result; after a batch with an error no further batch is sent.

pyroute2 is imported lazily (only when a socket is opened) and must be 0.9.6 or
newer. Its ``GenericNetlinkSocket`` does the family lookup; we then keep a
duplicate of its bound socket and do our own I/O on it.
"""

from __future__ import annotations

import errno
import ipaddress
import os
import socket
import struct
from dataclasses import dataclass, field
from typing import List, Tuple

from ansible_collections.lvs.cluster.plugins.module_utils._diff import ADD, DEL, Op
from ansible_collections.lvs.cluster.plugins.module_utils._errors import (
    DependencyError,
    KernelError,
)
from ansible_collections.lvs.cluster.plugins.module_utils._model import (
    FAMILIES,
    FAMILY_NAMES,
    FORWARDING,
    PROTOCOL_NAMES,
    PROTOCOLS,
    SYNC_STATE_NAMES,
    SYNC_STATES,
    TUNNEL_CHECKSUMS,
    TUNNEL_TYPES,
    ServiceKey,
    SyncDaemon,
    Table,
    Timeouts,
    dest_from_kernel,
    service_from_kernel,
)

MIN_PYROUTE2 = (0, 9, 6)

GENL_NAME = 'IPVS'
GENL_VERSION = 1

# Commands (enum ipvs_cmd).
CMD_NEW_SERVICE = 1
CMD_SET_SERVICE = 2
CMD_DEL_SERVICE = 3
CMD_GET_SERVICE = 4
CMD_NEW_DEST = 5
CMD_SET_DEST = 6
CMD_DEL_DEST = 7
CMD_GET_DEST = 8
CMD_NEW_DAEMON = 9
CMD_DEL_DAEMON = 10
CMD_GET_DAEMON = 11
CMD_SET_CONFIG = 12
CMD_GET_CONFIG = 13
CMD_ZERO = 16
CMD_FLUSH = 17

# Top-level attributes.
CMD_ATTR_SERVICE = 1
CMD_ATTR_DEST = 2
CMD_ATTR_DAEMON = 3
CMD_ATTR_TIMEOUT_TCP = 4
CMD_ATTR_TIMEOUT_TCP_FIN = 5
CMD_ATTR_TIMEOUT_UDP = 6

SVC_ATTR_AF = 1
SVC_ATTR_PROTOCOL = 2
SVC_ATTR_ADDR = 3
SVC_ATTR_PORT = 4
SVC_ATTR_FWMARK = 5
SVC_ATTR_SCHED_NAME = 6
SVC_ATTR_FLAGS = 7
SVC_ATTR_TIMEOUT = 8
SVC_ATTR_NETMASK = 9
SVC_ATTR_STATS = 10
SVC_ATTR_PE_NAME = 11
SVC_ATTR_STATS64 = 12

DEST_ATTR_ADDR = 1
DEST_ATTR_PORT = 2
DEST_ATTR_FWD_METHOD = 3
DEST_ATTR_WEIGHT = 4
DEST_ATTR_U_THRESH = 5
DEST_ATTR_L_THRESH = 6
DEST_ATTR_ACTIVE_CONNS = 7
DEST_ATTR_INACT_CONNS = 8
DEST_ATTR_PERSIST_CONNS = 9
DEST_ATTR_STATS = 10
DEST_ATTR_ADDR_FAMILY = 11
DEST_ATTR_STATS64 = 12
DEST_ATTR_TUN_TYPE = 13
DEST_ATTR_TUN_PORT = 14
DEST_ATTR_TUN_FLAGS = 15

DAEMON_ATTR_STATE = 1
DAEMON_ATTR_MCAST_IFN = 2
DAEMON_ATTR_SYNC_ID = 3
DAEMON_ATTR_SYNC_MAXLEN = 4
DAEMON_ATTR_MCAST_GROUP = 5
DAEMON_ATTR_MCAST_GROUP6 = 6
DAEMON_ATTR_MCAST_PORT = 7
DAEMON_ATTR_MCAST_TTL = 8

STATS_NAMES = ('conns', 'inpkts', 'outpkts', 'inbytes', 'outbytes',
               'cps', 'inpps', 'outpps', 'inbps', 'outbps')

# Netlink basics.
# the generic netlink controller (linux/genetlink.h): how a family's id is found by its name
NETLINK_GENERIC = 16
GENL_ID_CTRL = 0x10
CTRL_CMD_GETFAMILY = 3
CTRL_ATTR_FAMILY_ID = 1
CTRL_ATTR_FAMILY_NAME = 2
NLMSG_ERROR = 2
NLMSG_DONE = 3
NLM_F_REQUEST = 0x1
NLM_F_MULTI = 0x2
NLM_F_ACK = 0x4
NLM_F_DUMP_INTR = 0x10
NLM_F_DUMP = 0x300
NLM_F_CAPPED = 0x100
NLM_F_ACK_TLVS = 0x200
NLMSGERR_ATTR_MSG = 1
SOL_NETLINK = 270
NETLINK_CAP_ACK = 10
NETLINK_EXT_ACK = 11
SO_RCVBUFFORCE = 33
NLA_TYPE_MASK = 0x3FFF

BATCH_MAX_MESSAGES = 256
BATCH_MAX_BYTES = 64 * 1024
RECV_SIZE = 256 * 1024
DUMP_RETRIES = 3

_HDR = struct.Struct('=IHHII')  # struct nlmsghdr
_GENL = struct.Struct('=BBH')  # struct genlmsghdr
_NLA = struct.Struct('=HH')  # struct nlattr
_U8 = struct.Struct('=B')
_U16 = struct.Struct('=H')
_BE16 = struct.Struct('>H')
_U32 = struct.Struct('=I')
_I32 = struct.Struct('=i')
_U64 = struct.Struct('=Q')
_FLAGS = struct.Struct('=II')  # struct ip_vs_flags {flags, mask}


# --------------------------------------------------------------------------
# The message layout, as pyroute2 classes (built lazily: pyroute2 is optional
# until a socket is opened)
# --------------------------------------------------------------------------

_MESSAGE_CLASS = None


def message_class():
    """Our IPVS generic netlink message class (a pyroute2 ``genlmsg``).

    The layout follows include/uapi/linux/ip_vs.h and the kernel's nla
    policies: NETMASK is a raw u32 (network-order mask for IPv4, the prefix
    length as a host-order integer for IPv6), TUN_PORT is be16, TUN_FLAGS is a
    host-order u16, DAEMON is nested, the timeouts are u32, and the stats carry
    a PAD attribute. Addresses are raw bytes (the kernel sends 16 bytes even
    for IPv4).
    """
    global _MESSAGE_CLASS
    if _MESSAGE_CLASS is not None:
        return _MESSAGE_CLASS
    require_pyroute2()
    from pyroute2.netlink import genlmsg, nla

    stats_names = tuple('IPVS_STATS_ATTR_' + n.upper() for n in STATS_NAMES)

    class ipvs_stats(nla):
        nla_map = ((('IPVS_STATS_ATTR_UNSPEC', 'none'),)
                   + tuple((n, 'uint64' if n.endswith('BYTES') else 'uint32')
                           for n in stats_names)
                   + (('IPVS_STATS_ATTR_PAD', 'none'),))

    class ipvs_stats64(nla):
        nla_map = ((('IPVS_STATS_ATTR_UNSPEC', 'none'),)
                   + tuple((n, 'uint64') for n in stats_names)
                   + (('IPVS_STATS_ATTR_PAD', 'none'),))

    class ipvs_msg(genlmsg):
        prefix = 'IPVS_CMD_ATTR_'
        nla_map = (
            ('IPVS_CMD_ATTR_UNSPEC', 'none'),
            ('IPVS_CMD_ATTR_SERVICE', 'service'),
            ('IPVS_CMD_ATTR_DEST', 'dest'),
            ('IPVS_CMD_ATTR_DAEMON', 'daemon'),
            ('IPVS_CMD_ATTR_TIMEOUT_TCP', 'uint32'),
            ('IPVS_CMD_ATTR_TIMEOUT_TCP_FIN', 'uint32'),
            ('IPVS_CMD_ATTR_TIMEOUT_UDP', 'uint32'),
        )

        class service(nla):
            prefix = 'IPVS_SVC_ATTR_'
            nla_map = (
                ('IPVS_SVC_ATTR_UNSPEC', 'none'),
                ('IPVS_SVC_ATTR_AF', 'uint16'),
                ('IPVS_SVC_ATTR_PROTOCOL', 'uint16'),
                ('IPVS_SVC_ATTR_ADDR', 'cdata'),
                ('IPVS_SVC_ATTR_PORT', 'be16'),
                ('IPVS_SVC_ATTR_FWMARK', 'uint32'),
                ('IPVS_SVC_ATTR_SCHED_NAME', 'asciiz'),
                ('IPVS_SVC_ATTR_FLAGS', 'svc_flags'),
                ('IPVS_SVC_ATTR_TIMEOUT', 'uint32'),
                ('IPVS_SVC_ATTR_NETMASK', 'uint32'),
                ('IPVS_SVC_ATTR_STATS', 'stats'),
                ('IPVS_SVC_ATTR_PE_NAME', 'asciiz'),
                ('IPVS_SVC_ATTR_STATS64', 'stats64'),
            )
            stats = ipvs_stats
            stats64 = ipvs_stats64

            class svc_flags(nla):
                fields = (('flags', 'I'), ('mask', 'I'))

        class dest(nla):
            prefix = 'IPVS_DEST_ATTR_'
            nla_map = (
                ('IPVS_DEST_ATTR_UNSPEC', 'none'),
                ('IPVS_DEST_ATTR_ADDR', 'cdata'),
                ('IPVS_DEST_ATTR_PORT', 'be16'),
                ('IPVS_DEST_ATTR_FWD_METHOD', 'uint32'),
                ('IPVS_DEST_ATTR_WEIGHT', 'uint32'),
                ('IPVS_DEST_ATTR_U_THRESH', 'uint32'),
                ('IPVS_DEST_ATTR_L_THRESH', 'uint32'),
                ('IPVS_DEST_ATTR_ACTIVE_CONNS', 'uint32'),
                ('IPVS_DEST_ATTR_INACT_CONNS', 'uint32'),
                ('IPVS_DEST_ATTR_PERSIST_CONNS', 'uint32'),
                ('IPVS_DEST_ATTR_STATS', 'stats'),
                ('IPVS_DEST_ATTR_ADDR_FAMILY', 'uint16'),
                ('IPVS_DEST_ATTR_STATS64', 'stats64'),
                ('IPVS_DEST_ATTR_TUN_TYPE', 'uint8'),
                ('IPVS_DEST_ATTR_TUN_PORT', 'be16'),
                ('IPVS_DEST_ATTR_TUN_FLAGS', 'uint16'),
            )
            stats = ipvs_stats
            stats64 = ipvs_stats64

        class daemon(nla):
            prefix = 'IPVS_DAEMON_ATTR_'
            nla_map = (
                ('IPVS_DAEMON_ATTR_UNSPEC', 'none'),
                ('IPVS_DAEMON_ATTR_STATE', 'uint32'),
                ('IPVS_DAEMON_ATTR_MCAST_IFN', 'asciiz'),
                ('IPVS_DAEMON_ATTR_SYNC_ID', 'uint32'),
                ('IPVS_DAEMON_ATTR_SYNC_MAXLEN', 'uint16'),
                ('IPVS_DAEMON_ATTR_MCAST_GROUP', 'ip4addr'),
                ('IPVS_DAEMON_ATTR_MCAST_GROUP6', 'ip6addr'),
                ('IPVS_DAEMON_ATTR_MCAST_PORT', 'uint16'),
                ('IPVS_DAEMON_ATTR_MCAST_TTL', 'uint8'),
            )

    _MESSAGE_CLASS = ipvs_msg
    return ipvs_msg


# --------------------------------------------------------------------------
# pyroute2: lazy import and version check
# --------------------------------------------------------------------------

def _version_tuple(text):
    parts = []
    for piece in str(text).split('.')[:3]:
        digits = ''
        for char in piece:
            if not char.isdigit():
                break
            digits += char
        parts.append(int(digits or 0))
    while len(parts) < 3:
        parts.append(0)
    return tuple(parts)


def _install_hint():
    return ("install it on the target host with: python3 -m pip install 'pyroute2>=%s' "
            "(distribution packages such as Debian's python3-pyroute2 are older and "
            "do not qualify)" % '.'.join(str(p) for p in MIN_PYROUTE2))


def require_pyroute2():
    """Check that pyroute2 is installed and recent enough, or raise DependencyError; return its version tuple.

    Found and read from its metadata, not imported: importing the package takes 2.4 s on an emulated guest
    (it loads ipdb, ndb, conntrack...), and the IPVS path uses none of it (its family lookup is our own,
    _lookup_family). The requirement stays, checked the same way, so that a host the roles have not
    prepared gets the same error (and check mode its preview)."""
    from importlib import metadata, util
    try:
        spec = util.find_spec('pyroute2')
    except (ImportError, ValueError) as exc:
        spec, reason = None, exc
    else:
        reason = 'no module named pyroute2'
    if spec is None:
        raise DependencyError('pyroute2 >= %s is required but cannot be imported (%s); %s'
                              % ('.'.join(str(p) for p in MIN_PYROUTE2), reason, _install_hint()))
    try:
        version = metadata.version('pyroute2')
    except Exception:  # pylint: disable=broad-except
        version = None  # no metadata: taken as too old, with the hint to install it properly
    found = _version_tuple(version or '0')
    if found < MIN_PYROUTE2:
        raise DependencyError('pyroute2 %s is too old: >= %s is required; %s'
                              % (version, '.'.join(str(p) for p in MIN_PYROUTE2), _install_hint()))
    return found


# --------------------------------------------------------------------------
# Codec: encoding
# --------------------------------------------------------------------------

def _attr(atype, payload):
    length = 4 + len(payload)
    return _NLA.pack(length, atype) + payload + b'\0' * (-length % 4)


def _packed_address(address):
    return ipaddress.ip_address(address).packed


def _inet_addr(address):
    """A service or destination address as the kernel's union nf_inet_addr: 16 bytes, an IPv4 address
    zero-padded. The kernel also takes 4 bytes for IPv4, but this is what ipvsadm sends (the oracle test
    compares the two, tests/unit/test_netlink_oracle.py)."""
    return _packed_address(address).ljust(16, b'\0')


def netmask_to_u32(netmask, family):
    """The NETMASK attribute value as a host-order u32."""
    if family == 'ipv6':
        return int(netmask)
    return _U32.unpack(socket.inet_aton(netmask))[0]


def netmask_from_u32(value, family):
    if family == 'ipv6':
        return value
    return socket.inet_ntoa(_U32.pack(value))


def encode_service_attrs(key, service=None):
    """The nested SERVICE attribute: the key, plus the settings if given."""
    parts = [_attr(SVC_ATTR_AF, _U16.pack(FAMILIES[key.family]))]
    if key.fwmark:
        parts.append(_attr(SVC_ATTR_FWMARK, _U32.pack(key.fwmark)))
    else:
        parts.append(_attr(SVC_ATTR_PROTOCOL, _U16.pack(PROTOCOLS[key.protocol])))
        parts.append(_attr(SVC_ATTR_ADDR, _inet_addr(key.address)))
        parts.append(_attr(SVC_ATTR_PORT, _BE16.pack(key.port)))
    if service is not None:
        parts.append(_attr(SVC_ATTR_SCHED_NAME, service.scheduler.encode('ascii') + b'\0'))
        if service.persistence_engine:
            parts.append(_attr(SVC_ATTR_PE_NAME, service.persistence_engine.encode('ascii') + b'\0'))
        # mask ~0: we declare every flag bit (the kernel re-adds HASHED itself)
        parts.append(_attr(SVC_ATTR_FLAGS, _FLAGS.pack(service.flags, 0xFFFFFFFF)))
        parts.append(_attr(SVC_ATTR_TIMEOUT, _U32.pack(service.persistence_timeout)))
        parts.append(_attr(SVC_ATTR_NETMASK, _U32.pack(
            netmask_to_u32(service.persistence_netmask, key.family))))
    return _attr(CMD_ATTR_SERVICE, b''.join(parts))


def encode_dest_attrs(dest, full=True):
    """The nested DEST attribute; ``full`` adds the settings (NEW/SET)."""
    parts = [
        _attr(DEST_ATTR_ADDR, _inet_addr(dest.address)),
        _attr(DEST_ATTR_PORT, _BE16.pack(dest.port)),
        _attr(DEST_ATTR_ADDR_FAMILY, _U16.pack(FAMILIES[dest.family])),
    ]
    if full:
        tunnel = dest.forwarding == 'tun'
        parts.extend([
            _attr(DEST_ATTR_FWD_METHOD, _U32.pack(FORWARDING[dest.forwarding])),
            _attr(DEST_ATTR_WEIGHT, _U32.pack(dest.weight)),
            _attr(DEST_ATTR_U_THRESH, _U32.pack(dest.upper_threshold)),
            _attr(DEST_ATTR_L_THRESH, _U32.pack(dest.lower_threshold)),
            _attr(DEST_ATTR_TUN_TYPE, _U8.pack(TUNNEL_TYPES[dest.tunnel_type] if tunnel else 0)),
            _attr(DEST_ATTR_TUN_PORT, _BE16.pack(dest.tunnel_port if tunnel else 0)),
            _attr(DEST_ATTR_TUN_FLAGS, _U16.pack(
                TUNNEL_CHECKSUMS[dest.tunnel_checksum] if tunnel else 0)),
        ])
    return _attr(CMD_ATTR_DEST, b''.join(parts))


def encode_daemon_attrs(daemon, full=True):
    parts = [_attr(DAEMON_ATTR_STATE, _U32.pack(SYNC_STATES[daemon.role]))]
    if full:
        parts.append(_attr(DAEMON_ATTR_MCAST_IFN, daemon.interface.encode('ascii') + b'\0'))
        parts.append(_attr(DAEMON_ATTR_SYNC_ID, _U32.pack(daemon.sync_id)))
        if daemon.max_len:
            parts.append(_attr(DAEMON_ATTR_SYNC_MAXLEN, _U16.pack(daemon.max_len)))
        if daemon.group:
            packed = _packed_address(daemon.group)
            parts.append(_attr(DAEMON_ATTR_MCAST_GROUP if len(packed) == 4
                               else DAEMON_ATTR_MCAST_GROUP6, packed))
        if daemon.port:
            parts.append(_attr(DAEMON_ATTR_MCAST_PORT, _U16.pack(daemon.port)))
        if daemon.ttl:
            parts.append(_attr(DAEMON_ATTR_MCAST_TTL, _U8.pack(daemon.ttl)))
    return _attr(CMD_ATTR_DAEMON, b''.join(parts))


def encode_timeouts_attrs(timeouts):
    parts = []
    for atype, value in ((CMD_ATTR_TIMEOUT_TCP, timeouts.tcp),
                         (CMD_ATTR_TIMEOUT_TCP_FIN, timeouts.tcpfin),
                         (CMD_ATTR_TIMEOUT_UDP, timeouts.udp)):
        if value:  # an absent attribute leaves the kernel value unchanged
            parts.append(_attr(atype, _U32.pack(value)))
    return b''.join(parts)


def encode_message(family_id, cmd, seq, flags, attrs=b'', pid=0):
    """One complete netlink message: nlmsghdr + genlmsghdr + attributes."""
    return (_HDR.pack(20 + len(attrs), family_id, flags, seq, pid)
            + _GENL.pack(cmd, GENL_VERSION, 0) + attrs)


_OP_COMMANDS = {
    ('add', 'service'): CMD_NEW_SERVICE,
    ('set', 'service'): CMD_SET_SERVICE,
    ('del', 'service'): CMD_DEL_SERVICE,
    ('add', 'dest'): CMD_NEW_DEST,
    ('set', 'dest'): CMD_SET_DEST,
    ('del', 'dest'): CMD_DEL_DEST,
    ('set', 'timeouts'): CMD_SET_CONFIG,
    ('add', 'daemon'): CMD_NEW_DAEMON,
    ('del', 'daemon'): CMD_DEL_DAEMON,
}


def encode_op(op):
    """(command, attributes) of one plan operation."""
    cmd = _OP_COMMANDS[(op.action, op.kind)]
    if op.kind == 'service':
        return cmd, encode_service_attrs(op.key, op.service if op.action != 'del' else None)
    if op.kind == 'dest':
        return cmd, (encode_service_attrs(op.key)
                     + encode_dest_attrs(op.dest, full=op.action != 'del'))
    if op.kind == 'timeouts':
        return cmd, encode_timeouts_attrs(op.timeouts)
    return cmd, encode_daemon_attrs(op.daemon, full=op.action == 'add')


# --------------------------------------------------------------------------
# Codec: decoding
# --------------------------------------------------------------------------

def iter_messages(data):
    """Yield (type, flags, seq, payload_start, end) for each netlink message."""
    offset = 0
    size = len(data)
    while offset + 16 <= size:
        length, mtype, flags, seq, _pid = _HDR.unpack_from(data, offset)
        if length < 16 or offset + length > size:
            break
        yield mtype, flags, seq, offset + 16, offset + length
        offset += (length + 3) & ~3


def attr_table(data, start, end):
    """{type: (value_start, value_end)} of the attributes in [start, end)."""
    table = {}
    unpack = _NLA.unpack_from
    while start + 4 <= end:
        length, atype = unpack(data, start)
        if length < 4:
            break
        table[atype & NLA_TYPE_MASK] = (start + 4, start + length)
        start += (length + 3) & ~3
    return table


def _u(fmt, data, span, default=0):
    if span is None:
        return default
    return fmt.unpack_from(data, span[0])[0]


def _text(data, span):
    if span is None:
        return None
    return bytes(data[span[0]:span[1]]).split(b'\0', 1)[0].decode('ascii', 'replace')


def _address(data, span, family):
    raw = bytes(data[span[0]:span[1]])
    if family == 'ipv4':
        return socket.inet_ntoa(raw[:4])
    return ipaddress.IPv6Address(raw[:16]).compressed


def decode_stats(data, span):
    """The STATS64 (or STATS) nest as a dict of counters and rates."""
    if span is None:
        return {}
    table = attr_table(data, span[0], span[1])
    result = {}
    for index, name in enumerate(STATS_NAMES, 1):
        value = table.get(index)
        if value is not None:
            fmt = _U64 if value[1] - value[0] == 8 else _U32
            result[name] = fmt.unpack_from(data, value[0])[0]
    return result


def decode_service(data, start, end, with_stats=False):
    """(Service, stats) from the payload of a NEW_SERVICE reply (genl header included)."""
    top = attr_table(data, start + 4, end)
    span = top.get(CMD_ATTR_SERVICE)
    if span is None:
        raise KernelError(errno.EPROTO, 'service reply without a SERVICE attribute')
    attrs = attr_table(data, span[0], span[1])
    family = FAMILY_NAMES.get(_u(_U16, data, attrs.get(SVC_ATTR_AF)), 'ipv4')
    fwmark = _u(_U32, data, attrs.get(SVC_ATTR_FWMARK))
    if fwmark:
        key = ServiceKey(family=family, fwmark=fwmark)
    else:
        proto = _u(_U16, data, attrs.get(SVC_ATTR_PROTOCOL))
        key = ServiceKey(family=family,
                         protocol=PROTOCOL_NAMES.get(proto, str(proto)),
                         address=_address(data, attrs[SVC_ATTR_ADDR], family),
                         port=_u(_BE16, data, attrs.get(SVC_ATTR_PORT)))
    flags_span = attrs.get(SVC_ATTR_FLAGS)
    flags = _FLAGS.unpack_from(data, flags_span[0])[0] if flags_span else 0
    service = service_from_kernel(
        key,
        scheduler=_text(data, attrs.get(SVC_ATTR_SCHED_NAME)) or 'none',
        flags=flags,
        timeout=_u(_U32, data, attrs.get(SVC_ATTR_TIMEOUT)),
        netmask=netmask_from_u32(_u(_U32, data, attrs.get(SVC_ATTR_NETMASK)), family),
        pe_name=_text(data, attrs.get(SVC_ATTR_PE_NAME)))
    stats = None
    if with_stats:
        stats = decode_stats(data, attrs.get(SVC_ATTR_STATS64) or attrs.get(SVC_ATTR_STATS))
    return service, stats


def decode_dest(data, start, end, default_family, with_stats=False):
    """(Dest, counters) from the payload of a NEW_DEST reply.

    FWD_METHOD is masked with IP_VS_CONN_F_FWD_MASK (0x7) by the model.
    """
    top = attr_table(data, start + 4, end)
    span = top.get(CMD_ATTR_DEST)
    if span is None:
        raise KernelError(errno.EPROTO, 'destination reply without a DEST attribute')
    attrs = attr_table(data, span[0], span[1])
    af = attrs.get(DEST_ATTR_ADDR_FAMILY)
    family = FAMILY_NAMES.get(_u(_U16, data, af), default_family) if af else default_family
    dest = dest_from_kernel(
        address=_address(data, attrs[DEST_ATTR_ADDR], family),
        port=_u(_BE16, data, attrs.get(DEST_ATTR_PORT)),
        family=family,
        fwd=_u(_U32, data, attrs.get(DEST_ATTR_FWD_METHOD)),
        weight=_u(_U32, data, attrs.get(DEST_ATTR_WEIGHT)),
        u_thresh=_u(_U32, data, attrs.get(DEST_ATTR_U_THRESH)),
        l_thresh=_u(_U32, data, attrs.get(DEST_ATTR_L_THRESH)),
        tun_type=_u(_U8, data, attrs.get(DEST_ATTR_TUN_TYPE)),
        tun_port=_u(_BE16, data, attrs.get(DEST_ATTR_TUN_PORT)),
        tun_flags=_u(_U16, data, attrs.get(DEST_ATTR_TUN_FLAGS)))
    counters = None
    if with_stats:
        counters = {
            'active_connections': _u(_U32, data, attrs.get(DEST_ATTR_ACTIVE_CONNS)),
            'inactive_connections': _u(_U32, data, attrs.get(DEST_ATTR_INACT_CONNS)),
            'persistent_connections': _u(_U32, data, attrs.get(DEST_ATTR_PERSIST_CONNS)),
            'stats': decode_stats(data, attrs.get(DEST_ATTR_STATS64) or attrs.get(DEST_ATTR_STATS)),
        }
    return dest, counters


def decode_daemon(data, start, end):
    top = attr_table(data, start + 4, end)
    span = top.get(CMD_ATTR_DAEMON)
    if span is None:
        return None
    attrs = attr_table(data, span[0], span[1])
    group = None
    if DAEMON_ATTR_MCAST_GROUP in attrs:
        group = _address(data, attrs[DAEMON_ATTR_MCAST_GROUP], 'ipv4')
    elif DAEMON_ATTR_MCAST_GROUP6 in attrs:
        group = _address(data, attrs[DAEMON_ATTR_MCAST_GROUP6], 'ipv6')
    state = _u(_U32, data, attrs.get(DAEMON_ATTR_STATE))
    return SyncDaemon(
        role=SYNC_STATE_NAMES.get(state, str(state)),
        interface=_text(data, attrs.get(DAEMON_ATTR_MCAST_IFN)) or '',
        sync_id=_u(_U32, data, attrs.get(DAEMON_ATTR_SYNC_ID)),
        max_len=_u(_U16, data, attrs.get(DAEMON_ATTR_SYNC_MAXLEN), None),
        group=group,
        port=_u(_U16, data, attrs.get(DAEMON_ATTR_MCAST_PORT), None),
        ttl=_u(_U8, data, attrs.get(DAEMON_ATTR_MCAST_TTL), None))


def decode_timeouts(data, start, end):
    top = attr_table(data, start + 4, end)
    return Timeouts(tcp=_u(_U32, data, top.get(CMD_ATTR_TIMEOUT_TCP)),
                    tcpfin=_u(_U32, data, top.get(CMD_ATTR_TIMEOUT_TCP_FIN)),
                    udp=_u(_U32, data, top.get(CMD_ATTR_TIMEOUT_UDP)))


def decode_error(data, start, end, flags):
    """(errno, kernel message) of an NLMSG_ERROR; errno 0 is a plain ack."""
    code = -_I32.unpack_from(data, start)[0]
    message = None
    if flags & NLM_F_ACK_TLVS:
        # TLVs follow the echoed request: its header only when capped.
        inner = start + 4
        if inner + 16 <= end:
            echoed_len = _HDR.unpack_from(data, inner)[0]
            inner += 16 if flags & NLM_F_CAPPED else (echoed_len + 3) & ~3
            span = attr_table(data, inner, end).get(NLMSGERR_ATTR_MSG)
            message = _text(data, span)
    return code, message


# --------------------------------------------------------------------------
# Transport
# --------------------------------------------------------------------------

class SocketTransport:
    """A bound NETLINK_GENERIC socket and the IPVS family id.

    Anything with ``family_id``, ``send(bytes)``, ``recv() -> bytes`` and
    ``close()`` can stand in for it (the unit tests use a scripted one).
    """

    def __init__(self, sock, family_id, timeout=30.0):
        self.sock = sock
        self.family_id = family_id
        sock.settimeout(timeout)
        for level, option, value in ((SOL_NETLINK, NETLINK_CAP_ACK, 1),
                                     (SOL_NETLINK, NETLINK_EXT_ACK, 1),
                                     (socket.SOL_SOCKET, SO_RCVBUFFORCE, 8 * 1024 * 1024)):
            try:
                sock.setsockopt(level, option, value)
            except OSError:
                pass  # best effort: older kernels or no CAP_NET_ADMIN

    def send(self, data):
        sent = self.sock.sendto(data, (0, 0))
        if sent != len(data):
            raise KernelError(errno.EMSGSIZE, 'short netlink send (%d of %d bytes)' % (sent, len(data)))

    def recv(self):
        try:
            return self.sock.recv(RECV_SIZE)
        except socket.timeout:
            raise KernelError(errno.ETIMEDOUT, 'no answer from the kernel within %s s'
                              % self.sock.gettimeout())
        except OSError as exc:
            if exc.errno == errno.ENOBUFS:
                raise KernelError(errno.ENOBUFS)
            raise

    def close(self):
        self.sock.close()


class FamilyLookupError(Exception):
    """The generic netlink controller refused the family lookup; ``code`` is the errno (ENOENT: no such
    family, the ip_vs module is not loaded)."""

    def __init__(self, code):
        self.code = code
        super().__init__(os.strerror(code))


def _lookup_family(name, timeout=30.0):
    """(family id, bound NETLINK_GENERIC socket): the generic netlink controller asked for ``name``
    (CTRL_CMD_GETFAMILY) with our own codec, on the socket that then carries the IPVS requests."""
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_GENERIC)
    try:
        sock.bind((0, 0))
        sock.settimeout(timeout)
        sock.sendto(encode_message(GENL_ID_CTRL, CTRL_CMD_GETFAMILY, 1, NLM_F_REQUEST,
                                   _attr(CTRL_ATTR_FAMILY_NAME, name.encode() + b'\0')), (0, 0))
        while True:
            try:
                data = sock.recv(RECV_SIZE)
            except socket.timeout:
                raise KernelError(errno.ETIMEDOUT, 'no answer from the generic netlink controller within %s s'
                                  % timeout, operation='open IPVS netlink family')
            for mtype, flags, seq, start, end in iter_messages(data):
                if seq != 1:
                    continue
                if mtype == NLMSG_ERROR:
                    code, _message = decode_error(data, start, end, flags)
                    raise FamilyLookupError(code or errno.EPROTO)
                span = attr_table(data, start + 4, end).get(CTRL_ATTR_FAMILY_ID)
                if mtype == GENL_ID_CTRL and span is not None:
                    return _U16.unpack_from(data, span[0])[0], sock
                raise FamilyLookupError(errno.EPROTO)
    except BaseException:
        sock.close()
        raise


def open_transport(load_module=None, timeout=30.0):
    """Open the IPVS family; if it is missing, call ``load_module`` once and retry.

    ``load_module`` is a callable such as
    ``lambda: module.run_command(['modprobe', 'ip_vs'])``; if it returns an
    (rc, stdout, stderr) tuple, a failure is included in the error.
    """
    require_pyroute2()
    loaded = None
    for attempt in range(2):
        try:
            family_id, raw = _lookup_family(GENL_NAME, timeout)
            return SocketTransport(raw, family_id, timeout)
        except FamilyLookupError as exc:
            code = exc.code
            if code in (errno.EPERM, errno.EACCES):
                raise KernelError(code, operation='open IPVS netlink family')
            if code != errno.ENOENT or attempt or load_module is None:
                hint = 'the IPVS generic netlink family is not available: load the ip_vs kernel module'
                if loaded and isinstance(loaded, tuple) and loaded and loaded[0]:
                    hint += ' (modprobe ip_vs failed: %s)' % (loaded[2] or loaded[1] or loaded[0])
                raise KernelError(code or errno.ENOENT, hint if code in (0, errno.ENOENT) else None,
                                  operation='open IPVS netlink family')
            loaded = load_module()
    raise KernelError(errno.ENOENT, 'IPVS family lookup failed')


# --------------------------------------------------------------------------
# Client
# --------------------------------------------------------------------------

@dataclass
class ApplyResult:
    """What happened to each operation of a plan."""

    applied: List = field(default_factory=list)
    failed: List[Tuple] = field(default_factory=list)  # (op, KernelError)
    not_attempted: List = field(default_factory=list)
    unknown: List = field(default_factory=list)  # sent, but no answer read

    @property
    def ok(self):
        return not (self.failed or self.not_attempted or self.unknown)

    def to_dict(self):
        return {
            'applied': [op.to_dict() for op in self.applied],
            'failed': [dict(op.to_dict(), error=str(err), errno=err.errno)
                       for op, err in self.failed],
            'not_attempted': [op.to_dict() for op in self.not_attempted],
            'unknown': [op.to_dict() for op in self.unknown],
        }

    def first_error(self):
        if self.failed:
            return self.failed[0][1]
        if self.unknown:
            return KernelError(errno.ENOBUFS, operation=str(self.unknown[0]))
        return None


def explain(op, code, kernel_msg=None):
    """A KernelError whose text fits the operation that failed."""
    message = None
    if code == errno.ENOENT and op.kind == 'service':
        if op.service is not None and op.service.persistence_engine:
            message = ('scheduler %r (module ip_vs_%s) or persistence engine %r '
                       '(module ip_vs_pe_%s) is not available in this kernel'
                       % (op.service.scheduler, op.service.scheduler,
                          op.service.persistence_engine, op.service.persistence_engine))
        elif op.service is not None:
            message = ('scheduler %r is not available in this kernel (module ip_vs_%s)'
                       % (op.service.scheduler, op.service.scheduler))
    elif code == errno.ENOENT and op.kind == 'dest':
        message = 'no such destination'
    elif code == errno.ESRCH and op.kind == 'daemon':
        message = 'no %s sync daemon is running' % op.daemon.role
    elif code == errno.EEXIST and op.kind == 'daemon':
        message = 'a %s sync daemon is already running' % op.daemon.role
    elif code == errno.EEXIST:
        message = 'already exists'
    return KernelError(code, message, operation=str(op), kernel_msg=kernel_msg)


class IpvsClient:
    """IPVS requests over a transport (see ``SocketTransport``).

    ``mutations`` counts the mutating requests sent (add/set/del, config,
    daemon, flush, zero); a one-destination change costs exactly one.
    """

    def __init__(self, transport, batch_messages=BATCH_MAX_MESSAGES,
                 batch_bytes=BATCH_MAX_BYTES):
        self.transport = transport
        self.family_id = transport.family_id
        self.batch_messages = batch_messages
        self.batch_bytes = batch_bytes
        self.mutations = 0
        self.sends = 0
        self._seq = 1000

    def close(self):
        self.transport.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _next_seq(self):
        self._seq = (self._seq + 1) & 0xFFFFFFFF or 1
        return self._seq

    def _send(self, data):
        self.sends += 1
        self.transport.send(data)

    # -- reading ------------------------------------------------------------

    def _dump(self, cmd, attrs=b'', what='dump'):
        """[(data, start, end)] of the family messages of a complete dump."""
        for _attempt in range(DUMP_RETRIES):
            seq = self._next_seq()
            self._send(encode_message(self.family_id, cmd, seq, NLM_F_REQUEST | NLM_F_DUMP, attrs))
            messages = []
            interrupted = False
            done = False
            while not done:
                data = self.transport.recv()
                for mtype, flags, mseq, start, end in iter_messages(data):
                    if mseq != seq:
                        continue  # a stale answer to an earlier request
                    if flags & NLM_F_DUMP_INTR:
                        interrupted = True
                    if mtype == NLMSG_DONE:
                        done = True
                        if end - start >= 4:
                            code = -_I32.unpack_from(data, start)[0]
                            if code:
                                raise KernelError(code, operation=what)
                        break
                    if mtype == NLMSG_ERROR:
                        code, kmsg = decode_error(data, start, end, flags)
                        if code:
                            raise KernelError(code, operation=what, kernel_msg=kmsg)
                        done = True
                        break
                    if mtype == self.family_id:
                        messages.append((data, start, end))
            if not interrupted:
                return messages
        raise KernelError(errno.EINTR, 'the table kept changing during the dump; try again',
                          operation=what)

    def _request(self, cmd, attrs=b'', what='request'):
        """A single doit request; returns its reply messages (may be empty)."""
        seq = self._next_seq()
        self._send(encode_message(self.family_id, cmd, seq, NLM_F_REQUEST | NLM_F_ACK, attrs))
        replies = []
        while True:
            data = self.transport.recv()
            for mtype, flags, mseq, start, end in iter_messages(data):
                if mseq != seq:
                    continue
                if mtype == NLMSG_ERROR:
                    code, kmsg = decode_error(data, start, end, flags)
                    if code:
                        raise KernelError(code, operation=what, kernel_msg=kmsg)
                    return replies
                if mtype == self.family_id:
                    replies.append((data, start, end))

    def dump_services(self, with_stats=False):
        """{ServiceKey: Service} (and {ServiceKey: stats} if with_stats)."""
        services = {}
        stats = {}
        for data, start, end in self._dump(CMD_GET_SERVICE, what='dump services'):
            service, svc_stats = decode_service(data, start, end, with_stats)
            services[service.key] = service
            if with_stats:
                stats[service.key] = svc_stats
        return (services, stats) if with_stats else services

    def dump_dests(self, key, with_stats=False):
        """{(address, port): Dest} of one service (and counters if with_stats).

        A service that does not exist dumps as empty (the kernel's behaviour).
        """
        dests = {}
        counters = {}
        messages = self._dump(CMD_GET_DEST, encode_service_attrs(key),
                              what='dump destinations of %s' % key)
        for data, start, end in messages:
            dest, extra = decode_dest(data, start, end, key.family, with_stats)
            dests[dest.key] = dest
            if with_stats:
                counters[dest.key] = extra
        return (dests, counters) if with_stats else dests

    def dump_table(self, with_stats=False):
        """The whole table: one service dump plus one destination dump per service."""
        table = Table()
        stats = {}
        if with_stats:
            services, svc_stats = self.dump_services(with_stats=True)
        else:
            services = self.dump_services()
        for key in services:
            table.add_service(services[key])
            if with_stats:
                dests, counters = self.dump_dests(key, with_stats=True)
                stats[key] = {'service': svc_stats.get(key), 'dests': counters}
            else:
                dests = self.dump_dests(key)
            table.dests[key] = dests
        return (table, stats) if with_stats else table

    def get_service(self, key):
        """The Service with this key, or None."""
        try:
            replies = self._request(CMD_GET_SERVICE, encode_service_attrs(key),
                                    what='get service %s' % key)
        except KernelError as exc:
            if exc.errno == errno.ESRCH:
                return None
            raise
        for data, start, end in replies:
            return decode_service(data, start, end)[0]
        return None

    def get_timeouts(self):
        for data, start, end in self._request(CMD_GET_CONFIG, what='get timeouts'):
            return decode_timeouts(data, start, end)
        return Timeouts()

    def get_daemons(self):
        """{role: SyncDaemon} of the running sync daemons."""
        daemons = {}
        for data, start, end in self._dump(CMD_GET_DAEMON, what='dump sync daemons'):
            daemon = decode_daemon(data, start, end)
            if daemon is not None:
                daemons[daemon.role] = daemon
        return daemons

    # -- writing ------------------------------------------------------------

    def batches(self, plan):
        """Split a plan into batches of [(seq, op, message bytes)]."""
        batch = []
        size = 0
        for op in plan:
            cmd, attrs = encode_op(op)
            seq = self._next_seq()
            message = encode_message(self.family_id, cmd, seq, NLM_F_REQUEST | NLM_F_ACK, attrs)
            if batch and (len(batch) >= self.batch_messages
                          or size + len(message) > self.batch_bytes):
                yield batch
                batch = []
                size = 0
            batch.append((seq, op, message))
            size += len(message)
        if batch:
            yield batch

    def _collect_acks(self, pending):
        """{seq: (errno, kernel message)} for every sequence number in ``pending``."""
        answers = {}
        while len(answers) < len(pending):
            try:
                data = self.transport.recv()
            except KernelError as exc:
                if exc.errno in (errno.ENOBUFS, errno.ETIMEDOUT):
                    return answers  # acks were lost: the rest stays unknown
                raise
            for mtype, flags, seq, start, end in iter_messages(data):
                if mtype == NLMSG_ERROR and seq in pending and seq not in answers:
                    answers[seq] = decode_error(data, start, end, flags)
        return answers

    def apply(self, plan):
        """Send ``plan`` in batches; return an ApplyResult (never raises for an op error).

        After a batch in which an operation failed, later batches are not
        sent: they are reported as not attempted. Nothing is rolled back.
        """
        result = ApplyResult()
        stopped = False
        for batch in self.batches(plan):
            if stopped:
                result.not_attempted.extend(op for _seq, op, _msg in batch)
                continue
            self._send(b''.join(msg for _seq, _op, msg in batch))
            self.mutations += len(batch)
            answers = self._collect_acks({seq for seq, _op, _msg in batch})
            for seq, op, _msg in batch:
                answer = answers.get(seq)
                if answer is None:
                    result.unknown.append(op)
                elif answer[0]:
                    result.failed.append((op, explain(op, answer[0], answer[1])))
                else:
                    result.applied.append(op)
            stopped = bool(result.failed or result.unknown)
        return result

    def _simple(self, cmd, attrs, what):
        self.mutations += 1
        self._request(cmd, attrs, what=what)

    def flush(self):
        """Delete every service and destination."""
        self._simple(CMD_FLUSH, b'', 'flush')

    def zero(self, key=None):
        """Zero the counters of one service, or of all services."""
        self._simple(CMD_ZERO, encode_service_attrs(key) if key is not None else b'',
                     'zero %s' % (key or 'all'))

    def set_timeouts(self, timeouts):
        self._simple(CMD_SET_CONFIG, encode_timeouts_attrs(timeouts), 'set timeouts')

    def start_daemon(self, daemon):
        self._daemon_request(Op(ADD, 'daemon', daemon=daemon), CMD_NEW_DAEMON, encode_daemon_attrs(daemon))

    def stop_daemon(self, role):
        daemon = SyncDaemon(role=role, interface='')
        self._daemon_request(Op(DEL, 'daemon', daemon=daemon), CMD_DEL_DAEMON, encode_daemon_attrs(daemon, full=False))

    def _daemon_request(self, op, cmd, attrs):
        # The kernel answers ESRCH ("no such process") for a daemon that does not run: reword the
        # errno through explain() so the message is about the daemon, not a virtual service.
        try:
            self._simple(cmd, attrs, str(op))
        except KernelError as exc:
            raise explain(op, exc.errno, exc.kernel_msg)


def connect(load_module=None, timeout=30.0):
    """An IpvsClient on a fresh socket (loads ip_vs through ``load_module`` if needed)."""
    return IpvsClient(open_transport(load_module=load_module, timeout=timeout))
