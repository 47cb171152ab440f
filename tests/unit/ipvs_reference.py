# -*- coding: utf-8 -*-
# Copyright (c) the lvs.cluster authors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The reference the codec is held to: include/uapi/linux/ip_vs.h written down again, independently of
plugins/module_utils/_ipvs_layout.py, as pyroute2 ``genlmsg``/``nla`` classes (pyroute2's own encoder and
decoder then do the bytes). The unit tests encode with both and compare byte for byte."""

from __future__ import annotations

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
    from pyroute2.netlink import genlmsg, nla

    stats_names = tuple('IPVS_STATS_ATTR_' + n for n in (
        'CONNS', 'INPKTS', 'OUTPKTS', 'INBYTES', 'OUTBYTES', 'CPS', 'INPPS', 'OUTPPS', 'INBPS', 'OUTBPS'))

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
