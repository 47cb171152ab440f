# -*- coding: utf-8 -*-
# Copyright (c) the lvs.cluster authors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What the lvs_doctor module reads and probes on one host, in the shape _doctor.py's rules take. Reads
only: files under /proc, rtnetlink dumps, the IPVS table; the probes send an ARP request and open TCP
connections, and change nothing on any host."""

from __future__ import annotations

import os
import select
import socket
import struct
import time

IFF_UP = 0x1
IFF_LOOPBACK = 0x8
IFF_NOARP = 0x80
ETH_P_ARP = 0x0806
PACKET_OUTGOING = 4
BROADCAST = b'\xff' * 6
CONF_KEYS = ('arp_ignore', 'arp_announce', 'rp_filter')


def read_interfaces(ipr):
    """{name: {mac, mtu, up, arp, kind, addresses}} from rtnetlink."""
    by_index = {}
    for link in ipr.get_links():
        flags = link['flags']
        info = link.get_attr('IFLA_LINKINFO')
        kind = (info.get_attr('IFLA_INFO_KIND') if info is not None else None) or ''
        if flags & IFF_LOOPBACK:
            kind = 'loopback'
        mac = link.get_attr('IFLA_ADDRESS') or ''
        by_index[link['index']] = {
            'name': link.get_attr('IFLA_IFNAME'),
            'mac': mac if len(mac) == 17 else '',  # tunnels carry an IPv4 address here, not a MAC
            'mtu': link.get_attr('IFLA_MTU'),
            'up': bool(flags & IFF_UP),
            'arp': not flags & IFF_NOARP,
            'kind': kind,
            'addresses': [],
        }
    for msg in ipr.get_addr():
        nic = by_index.get(msg['index'])
        address = msg.get_attr('IFA_LOCAL') or msg.get_attr('IFA_ADDRESS')
        if nic is not None and address:
            nic['addresses'].append('%s/%d' % (address, msg['prefixlen']))
    return {nic.pop('name'): nic for nic in by_index.values()}


def read_sysctls(names, proc_sys='/proc/sys'):
    """IPv4 forwarding, IPVS's PMTU discovery (TUN), and the ARP and reverse-path settings of `all` and of each interface in `names`,
    as integers (a missing file is left out)."""
    conf = ['net/ipv4/conf/%s/%s' % (name, key) for name in ['all', 'default'] + sorted(names) for key in CONF_KEYS]
    wanted = ['net/ipv4/ip_forward', 'net/ipv4/vs/pmtu_disc'] + conf
    out = {}
    for path in wanted:
        try:
            with open(os.path.join(proc_sys, path)) as handle:
                out[path.replace('/', '.')] = int(handle.read().strip())
        except (OSError, ValueError):
            pass
    return out


def read_modules(path='/proc/modules'):
    try:
        with open(path) as handle:
            return sorted(line.split()[0] for line in handle if line.strip())
    except OSError:
        return []


def _metrics(route):
    metrics = route.get_attr('RTA_METRICS')
    if metrics is None:
        return {}
    return {key: metrics.get_attr(attr) for key, attr in (('mtu', 'RTAX_MTU'), ('advmss', 'RTAX_ADVMSS'))
            if metrics.get_attr(attr)}


def read_default_route(ipr, names_by_index):
    """{via, dev} of the IPv4 default route, with its `mtu` and `advmss` metrics when it has them."""
    for route in ipr.get_default_routes(family=socket.AF_INET):
        out = {'via': route.get_attr('RTA_GATEWAY'), 'dev': names_by_index.get(route.get_attr('RTA_OIF'))}
        out.update(_metrics(route))
        return out
    return None


def read_path_mtu(ipr, address, interfaces, names_by_index):
    """{dev, mtu} of the route this host takes to `address`: the route's mtu metric (a learnt path MTU
    included), else its device's MTU; None when there is no route."""
    try:
        routes = ipr.route('get', dst=address)
    except Exception:  # pyroute2 raises NetlinkError: no route (unreachable) is an answer here
        return None
    for route in routes:
        dev = names_by_index.get(route.get_attr('RTA_OIF'))
        mtu = _metrics(route).get('mtu') or (interfaces.get(dev) or {}).get('mtu')
        return {'dev': dev, 'mtu': mtu}
    return None


def mss_clamps(ruleset):
    """[{table, chain, mss}]: every nftables rule of `ruleset` (the JSON of `nft -j list ruleset`) that
    sets the TCP MSS option to a number."""
    out = []
    for item in (ruleset or {}).get('nftables') or ():
        rule = item.get('rule') if isinstance(item, dict) else None
        if not rule:
            continue
        for expr in rule.get('expr') or ():
            mangle = expr.get('mangle') if isinstance(expr, dict) else None
            option = ((mangle or {}).get('key') or {}).get('tcp option') or {}
            if option.get('name') == 'maxseg' and option.get('field') == 'size' and isinstance(mangle.get('value'), int):
                out.append({'table': '%s %s' % (rule.get('family'), rule.get('table')), 'chain': rule.get('chain'),
                            'mss': mangle['value']})
    return out


def read_listening(proc_net='/proc/net'):
    """[[address, port]] of the TCP sockets in LISTEN (state 0A), IPv4 and IPv6."""
    out = []
    for name, family in (('tcp', socket.AF_INET), ('tcp6', socket.AF_INET6)):
        try:
            with open(os.path.join(proc_net, name)) as handle:
                lines = handle.read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) < 4 or fields[3] != '0A':
                continue
            hex_address, hex_port = fields[1].split(':')
            raw = bytes.fromhex(hex_address)
            # /proc prints the address as host-order 32-bit words
            raw = b''.join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
            out.append([socket.inet_ntop(family, raw), int(hex_port, 16)])
    return sorted(out)


def probe_connect(address, port, timeout):
    """Open (and close) a TCP connection: {address, port, ok, error, seconds}."""
    started = time.monotonic()
    try:
        with socket.create_connection((address, port), timeout=timeout):
            ok, error = True, None
    except OSError as exc:
        ok, error = False, exc.strerror or str(exc)
    return {'address': address, 'port': port, 'ok': ok, 'error': error,
            'seconds': round(time.monotonic() - started, 3)}


def _received(sock, seconds):
    """(packet, address) of each packet `sock` receives until `seconds` have passed."""
    deadline = time.monotonic() + seconds
    while True:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([sock], [], [], left)[0]:
            return
        yield sock.recvfrom(2048)


def arp_request(source_mac, source_ip, target_ip):
    mac = bytes.fromhex(source_mac.replace(':', ''))
    arp = struct.pack('!HHBBH6s4s6s4s', 1, 0x0800, 6, 4, 1, mac, socket.inet_aton(source_ip), b'\0' * 6,
                      socket.inet_aton(target_ip))
    return BROADCAST + mac + struct.pack('!H', ETH_P_ARP) + arp


def arp_reply_sender(frame, vip):
    """The sender MAC of an ARP reply for `vip` in one received frame, else None."""
    if len(frame) < 42 or frame[12:14] != struct.pack('!H', ETH_P_ARP):
        return None
    _htype, _ptype, _hlen, _plen, op, sha, spa = struct.unpack('!HHBBH6s4s', frame[14:32])
    if op != 2 or socket.inet_ntoa(spa) != vip:
        return None
    return ':'.join('%02x' % b for b in sha)


def probe_arp(interface, nic, vip, timeout):
    """Ask who has `vip` on `interface` (a broadcast ARP request from the interface's own address) and
    collect every MAC that answers within `timeout`: {vip, interface, sent, replies, error}."""
    result = {'vip': vip, 'interface': interface, 'sent': False, 'replies': [], 'error': None}
    own = [a.split('/')[0] for a in nic.get('addresses') or () if ':' not in a and a.split('/')[0] != vip]
    if not nic.get('mac') or not own:
        result['error'] = 'no MAC or no IPv4 address of its own on %s to ask from' % interface
        return result
    try:
        sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ARP))
    except OSError as exc:
        result['error'] = 'cannot open a packet socket: %s' % (exc.strerror or exc)
        return result
    replies = set()
    try:
        sock.bind((interface, ETH_P_ARP))
        sock.send(arp_request(nic['mac'], own[0], vip))
        result['sent'] = True
        for frame, where in _received(sock, timeout):
            if len(where) > 2 and where[2] == PACKET_OUTGOING:
                continue
            mac = arp_reply_sender(frame, vip)
            if mac:
                replies.add(mac)
    except OSError as exc:
        result['error'] = exc.strerror or str(exc)
    finally:
        sock.close()
    result['replies'] = sorted(replies)
    return result


IPPROTO_VRRP = 112


def vrrp_advert(packet):
    """{source, vrid, priority} of one VRRP advert (an IPv4 packet, header included), else None."""
    if len(packet) < 20 or packet[9] != IPPROTO_VRRP:
        return None
    start = (packet[0] & 0x0F) * 4
    if len(packet) < start + 3 or packet[start] & 0x0F != 1:  # type 1: advertisement
        return None
    return {'source': socket.inet_ntoa(packet[12:16]), 'vrid': packet[start + 1], 'priority': packet[start + 2]}


def listen_vrrp(seconds):
    """The IPv4 VRRP adverts this host receives for `seconds`: {adverts: [{source, vrid, priority}], error}.
    A backup hears its master; a master hears none but a rival's (keepalived does not loop its own back)."""
    result = {'adverts': [], 'error': None}
    try:
        sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, IPPROTO_VRRP)
    except OSError as exc:
        result['error'] = 'cannot open a raw socket: %s' % (exc.strerror or exc)
        return result
    seen = set()
    try:
        for packet, _where in _received(sock, seconds):
            advert = vrrp_advert(packet)
            if advert:
                seen.add((advert['source'], advert['vrid'], advert['priority']))
    except OSError as exc:
        result['error'] = exc.strerror or str(exc)
    finally:
        sock.close()
    result['adverts'] = [{'source': a, 'vrid': v, 'priority': p} for a, v, p in sorted(seen)]
    return result
