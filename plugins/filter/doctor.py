# -*- coding: utf-8 -*-
# Copyright (c) the lvs.cluster authors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The doctor's two filters: which probes each director runs (lvs_doctor_probes), and what is wrong
with the cluster, from every host's lvs_doctor state and the declared services (lvs_doctor_findings).
Both read the services through the role schema, as the roles do, so the doctor judges a cluster
against exactly what site.yml would build. The rules themselves are module_utils/_doctor.py."""

from __future__ import annotations

# Each filter is documented in its own file next to this one; this file must not get a DOCUMENTATION.

import ipaddress

from ansible.errors import AnsibleFilterError
from ansible_collections.lvs.cluster.plugins.module_utils import _doctor as rules
from ansible_collections.lvs.cluster.plugins.module_utils._errors import LvsError
from ansible_collections.lvs.cluster.plugins.plugin_utils.role_schema import (
    host_addresses,
    parse_realserver,
    parse_services,
)


def _table(services, hostvars, groups, realserver_group, address_var):
    try:
        return parse_services(services, hostvars, groups, realserver_group, address_var)
    except LvsError as exc:
        raise AnsibleFilterError(str(exc))


def _tcp_dests(table):
    """(address, port) of every TCP destination, once each, in table order."""
    seen = []
    for service in table:
        if service.key.protocol not in (None, 'tcp') or (service.key.fwmark and not service.key.protocol):
            continue
        for dest in service.dests:
            port = dest.port or service.key.port
            if port and (dest.address, port) not in seen:
                seen.append((dest.address, port))
    return seen


def _vips(table):
    out = []
    for service in table:
        out.extend(v for v in service.vips if v not in out)
    return out


def lvs_doctor_probes(services, hostvars, groups, realserver_group='realservers', address_var='lvs_address'):
    """{connect: [{address, port}], arp: [{vip}]}: what a director probes (every TCP destination; every
    IPv4 VIP, asked on the interface that holds it)."""
    table = _table(services, hostvars, groups, realserver_group, address_var)
    return {'connect': [{'address': a, 'port': p} for a, p in _tcp_dests(table)],
            'arp': [{'vip': v} for v in _vips(table) if ipaddress.ip_address(v).version == 4]}


def lvs_doctor_findings(services, hostvars, groups, directors_group='directors', realserver_group='realservers',
                        address_var='lvs_address', registered='lvs_doctor'):
    """{findings: [...], summary: {errors, warnings, findings}}: every host's lvs_doctor state (the result
    registered as `registered` in its hostvars; a host without one could not be read) judged against the
    declared services."""
    reports = {}
    why = {}
    for host in list(groups.get(directors_group) or []) + list(groups.get(realserver_group) or []):
        result = (hostvars.get(host) or {}).get(registered) or {}
        reports[host] = result.get('state') if isinstance(result, dict) else None
        if isinstance(result, dict) and result.get('msg') and not reports[host]:
            why[host] = str(result['msg'])
    return judge(reports, services, hostvars, groups, directors_group, realserver_group, address_var, why)


def judge(reports, services, hostvars, groups, directors_group='directors', realserver_group='realservers',
          address_var='lvs_address', why=None):
    """lvs_doctor_findings over `reports` ({host: state or None}), without hostvars' registered results;
    `why`: {host: the message of its failed or skipped read}."""
    table = _table(services, hostvars, groups, realserver_group, address_var)
    directors = list(groups.get(directors_group) or [])
    realservers = list(groups.get(realserver_group) or [])
    owner = {}
    for host in realservers:
        for address in host_addresses((hostvars.get(host) or {}).get(address_var)):
            owner[str(ipaddress.ip_address(address))] = host
    vips = _vips(table)
    nat = any(d.forwarding == 'nat' for s in table for d in s.dests)
    tcp_dests = _tcp_dests(table)
    dests = {'%s:%s' % (a, p): owner.get(a, a) for a, p in tcp_dests}
    found, read = [], {}
    for host in directors + realservers:
        state = (reports or {}).get(host)
        if not state:
            found.append(rules.finding(host, rules.ERROR, 'not_read', 'the doctor could not read this host',
                                       (why or {}).get(host) or 'no lvs_doctor state (unreachable, or no pyroute2 venv)',
                                       rules.RUN_SITE + ' (it installs what the doctor reads with)'))
            continue
        read[host] = state
    floating = False
    for host in directors:
        if host not in read:
            continue
        backend = (hostvars.get(host) or {}).get('director_backend', 'ipvs')
        floating = floating or backend == 'keepalived'
        declared = {'vips': vips if backend == 'ipvs' else [], 'nat': nat, 'dests': dests}
        found.extend(rules.director_findings(host, read[host], declared))
    director_addresses = [a for d in directors for a in host_addresses((hostvars.get(d) or {}).get(address_var))]
    for host in realservers:
        if host not in read:
            continue
        own = hostvars.get(host) or {}
        try:
            real = parse_realserver(services, hostvars, groups, host, realserver_group, address_var,
                                    own.get('realserver_nat_gateway', ''))
        except LvsError as exc:
            raise AnsibleFilterError(str(exc))
        mine = {str(ipaddress.ip_address(a)) for a in host_addresses(own.get(address_var))}
        ports = sorted({p for a, p in tcp_dests if a in mine})
        declared = {'dr': list(real.dr), 'tun': list(real.tun), 'nat': list(real.nat),
                    'nat_gateway': real.nat_gateway, 'ports': ports, 'directors': director_addresses,
                    'tun_paths': _tun_paths(read, directors, mine)}
        found.extend(rules.realserver_findings(host, read[host], declared))
    found.extend(rules.cluster_findings(read, [d for d in directors if d in read], vips, floating=floating))
    found.sort(key=lambda f: (f['severity'] != rules.ERROR, f['host'], f['code']))
    return {'findings': found, 'summary': rules.summary(found)}


def _tun_paths(read, directors, addresses):
    """[{director, address, dev, mtu, pmtu_disc}]: each director's path to this real server's `addresses`,
    as the director read it (pmtu_disc None when ip_vs is not loaded there: the kernel's default is on)."""
    out = []
    for director in directors:
        state = read.get(director) or {}
        for address, path in sorted((state.get('tun_paths') or {}).items()):
            if address in addresses and path and path.get('mtu'):
                out.append(dict(path, director=director, address=address,
                                pmtu_disc=(state.get('sysctl') or {}).get('net.ipv4.vs.pmtu_disc')))
    return out


def lvs_doctor_text(finding):
    """One finding as the doctor prints it: 'ERROR host code: what' and its evidence and fix."""
    return '%s %s %s: %s | seen: %s | fix: %s' % (finding['severity'].upper(), finding['host'], finding['code'],
                                                  finding['what'], finding['evidence'], finding['fix'])


class FilterModule(object):
    def filters(self):
        return {'lvs_doctor_probes': lvs_doctor_probes, 'lvs_doctor_findings': lvs_doctor_findings,
                'lvs_doctor_text': lvs_doctor_text}
