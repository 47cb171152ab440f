# -*- coding: utf-8 -*-
# Copyright (c) the lvs.cluster authors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Firewall-mark services that say what they match: the `match` key of a role service, checked against
the other services, and the nftables rules that mark those packets on the director.

IPVS looks a packet's firewall mark up before its address (ip_vs_service_find), so a fwmark service
silently takes whatever it matches from an address:port service of the same VIP; and of two marking
rules for one packet, the last one wins. Both are refused here, naming both services. The rules live
in a table of the collection's own (inet lvs_cluster), replaced whole in one nft transaction."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Tuple

from ansible_collections.lvs.cluster.plugins.module_utils import _model

MATCH_KEYS = ('addresses', 'protocol', 'ports')
MATCH_PROTOCOLS = ('tcp', 'udp', 'sctp')
PORTS_ACCEPTED = 'ports 1..65535 or ranges "LOW-HIGH", as a list; omit ports for every port'
NFT_TABLE = 'inet lvs_cluster'
ALL_PORTS = ((1, 65535),)


@dataclass(frozen=True)
class Match:
    """Packets to any of `addresses` with `protocol` and a destination port in `ports` ((low, high), ...;
    () for every port)."""

    addresses: Tuple[str, ...]
    protocol: str
    ports: Tuple[Tuple[int, int], ...] = ()


def parse_matches(raw, key, where, errors):
    """The typed matches of a service with key `key` (a _model.ServiceKey): () when there are none. `raw`
    is one dict or a list of them; every error is added to `errors` with its field."""
    if raw is None or raw == [] or raw == {}:
        return ()
    if not key.fwmark:
        errors.add(where, 'is only for a fwmark service; this one is %s' % key,
                   'omit match, or give fwmark (and family) instead of protocol, address and port')
        return ()
    single = isinstance(raw, dict)
    items = [raw] if single else raw
    if not isinstance(items, list):
        errors.add(where, 'must be a dict (addresses, protocol, ports) or a list of them, got %s' % type(raw).__name__)
        return ()
    out = []
    for index, item in enumerate(items):
        here = where if single else '%s[%d]' % (where, index)
        match = _parse_match(item, key, here, errors)
        if match is not None:
            out.append(match)
    return tuple(out)


def _parse_match(item, key, where, errors):
    if not isinstance(item, dict):
        return errors.add(where, 'must be a dict (addresses, protocol, ports), got %r' % (item,))
    extra = sorted(str(k) for k in set(item) - set(MATCH_KEYS))
    if extra:
        errors.add(where, 'unknown key(s) %s; accepted: %s' % (', '.join(extra), ', '.join(MATCH_KEYS)))
    version = 6 if key.family == 'ipv6' else 4
    raw_addresses = item.get('addresses')
    if isinstance(raw_addresses, str):
        raw_addresses = [raw_addresses]
    if not isinstance(raw_addresses, list) or not raw_addresses:
        errors.add(where + '.addresses', 'is required: the VIPs whose packets this service takes',
                   'a list of %s addresses' % key.family)
        raw_addresses = []
    addresses = []
    for index, value in enumerate(raw_addresses):
        here = '%s.addresses[%d]' % (where, index)
        try:
            address = ipaddress.ip_address(str(value).strip())
        except ValueError:
            errors.add(here, '%r is not an IPv4 or IPv6 address' % (value,), 'an %s address' % key.family)
            continue
        # the rule of a service's own VIP, and no loopback address: the director's lo would swallow it
        problem = _model.unicast_problem(address) or ('a loopback address' if address.is_loopback else None)
        if address.version != version:
            errors.add(here, '%s is not %s, the family of the service (fwmark %d)' % (address, key.family, key.fwmark),
                       "an %s address, or a service of the address's family" % key.family)
        elif problem:
            errors.add(here, '%s cannot be a VIP: it is %s' % (address, problem), 'a unicast address that is not the loopback')
        elif address.compressed not in addresses:
            addresses.append(address.compressed)
    protocol = item.get('protocol', 'tcp')
    if protocol not in MATCH_PROTOCOLS:
        errors.add(where + '.protocol', '%r is not a protocol IPVS balances' % (protocol,), ', '.join(MATCH_PROTOCOLS))
        protocol = None
    ports = _parse_ports(item.get('ports'), where + '.ports', errors)
    if not addresses or protocol is None or ports is None:
        return None
    return Match(addresses=tuple(addresses), protocol=protocol, ports=ports)


def _parse_ports(raw, where, errors):
    """((low, high), ...) sorted, overlaps refused; () for every port; None after an error."""
    if raw is None:
        return ()
    items = raw if isinstance(raw, list) else [raw]
    if not items:
        errors.add(where, 'is empty', PORTS_ACCEPTED)
        return None
    ranges = []
    for index, value in enumerate(items):
        here = '%s[%d]' % (where, index) if isinstance(raw, list) else where
        span = _port_range(value)
        if span is None:
            errors.add(here, '%r is not a port or a port range' % (value,), PORTS_ACCEPTED)
            return None
        ranges.append(span)
    ranges.sort()
    for before, after in zip(ranges, ranges[1:]):
        if after[0] <= before[1]:
            errors.add(where, '%s and %s overlap' % (_span_text(before), _span_text(after)),
                       'each port once: ' + PORTS_ACCEPTED)
            return None
    return tuple(ranges)


def _port_range(value):
    """(low, high) for 80, '80' or '8000-8099'; None when it is none of those or out of 1..65535."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        low = high = value
    elif isinstance(value, str) and value.strip():
        parts = value.strip().split('-')
        if len(parts) > 2 or not all(_model.decimal_int(p.strip()) is not None for p in parts):
            return None
        low, high = _model.decimal_int(parts[0].strip()), _model.decimal_int(parts[-1].strip())
    else:
        return None
    if not 1 <= low <= high <= 65535:
        return None
    return (low, high)


def _span_text(span):
    return str(span[0]) if span[0] == span[1] else '%d-%d' % span


def _label(service):
    return '%s%s' % ('%s, ' % service.name if service.name else '', service.key)


def check_overlaps(table, path, errors):
    """Refuse a matched packet that two services would claim: a fwmark match and an address:port service
    of the same VIP, protocol and port (port 0: every port), or two matches of one packet."""
    claims = {}  # (address, protocol) -> [(low, high, service, match field)]
    for service in table:
        if service.key.fwmark:
            continue
        span = ALL_PORTS[0] if not service.key.port else (service.key.port, service.key.port)
        claims.setdefault((service.key.address, service.key.protocol), []).append(
            (span, service, '%s[%d]' % (path, service.index)))
    for service in table:
        for index, match in enumerate(service.match):
            where = '%s[%d].match' % (path, service.index) + ('[%d]' % index if len(service.match) > 1 else '')
            for address in match.addresses:
                mine = claims.setdefault((address, match.protocol), [])
                for span in match.ports or ALL_PORTS:
                    for other_span, other, other_where in mine:
                        if span[0] <= other_span[1] and other_span[0] <= span[1]:
                            both = (max(span[0], other_span[0]), min(span[1], other_span[1]))
                            errors.add(where, '%s %s port %s is also taken by %s (%s): a packet goes to one '
                                       'service only' % (address, match.protocol, _span_text(both), other_where,
                                                         _label(other)),
                                       'ports of %s that no other service takes' % address)
                for span in match.ports or ALL_PORTS:
                    mine.append((span, service, where))


def vips_of(service):
    """The addresses a director holds for `service`: its VIP, or the addresses its matches name."""
    if service.key.address:
        return (service.key.address,)
    out = []
    for match in service.match:
        out.extend(a for a in match.addresses if a not in out)
    return tuple(out)


def nft_rules(table):
    """The text of the director's marking rules for nft -f ('' when no service matches anything): the
    table declared, deleted and written again, so that one transaction replaces it whole."""
    rules = []
    for service in table:
        for match in service.match:
            rules.append('\t\t# services[%d]: %s' % (service.index, service.key))
            rules.append('\t\t' + _rule(match, service.key.fwmark))
    if not rules:
        return ''
    lines = [
        '#!/usr/sbin/nft -f',
        '# Written by the lvs.cluster director role from its services; a change here is undone by the next run.',
        '# The packets of each firewall-mark service that says what it matches get its mark, here, before',
        '# IPVS looks the mark up. The table is the collection\'s own: declared, deleted and defined again,',
        '# so that nft replaces it whole in one transaction.',
        'table %s' % NFT_TABLE,
        'delete table %s' % NFT_TABLE,
        'table %s {' % NFT_TABLE,
        '\tchain prerouting {',
        '\t\ttype filter hook prerouting priority mangle; policy accept;',
    ]
    return '\n'.join(lines + rules + ['\t}', '}', ''])


def _rule(match, mark):
    family = 'ip6' if ':' in match.addresses[0] else 'ip'
    addresses = match.addresses[0] if len(match.addresses) == 1 else '{ %s }' % ', '.join(match.addresses)
    if match.ports:
        spans = [_span_text(span) for span in match.ports]
        ports = '%s dport %s' % (match.protocol, spans[0] if len(spans) == 1 else '{ %s }' % ', '.join(spans))
    else:
        ports = 'meta l4proto %s' % match.protocol
    return '%s daddr %s %s meta mark set 0x%08x' % (family, addresses, ports, mark)
