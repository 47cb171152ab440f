# -*- coding: utf-8 -*-
# Copyright (c) the lvs.cluster authors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The doctor's rules: what is wrong with one LVS host, from what was read and probed on it, and what is
wrong across hosts, from every host's report. Pure functions over plain data (no I/O), so that each rule
is tested on its own; the lvs_doctor module reads the state, the doctor playbook gathers the reports.

A host's state (what lvs_doctor reads):
    interfaces: {name: {mac, mtu, up, kind, addresses: ["198.51.100.11/24", ...]}}
    sysctl:     {"net.ipv4.ip_forward": 1, "net.ipv4.conf.all.arp_ignore": 0, ...} (integers)
    modules:    ["ip_vs", "ipip", ...] (loaded)
    default_route: {"via": ADDRESS or None, "dev": NAME, "mtu": N, "advmss": N (metrics, when set)} or None
    tun_paths:  {ADDRESS: {"dev": NAME, "mtu": N} or None} (director: its route to each TUN destination)
    mss_clamps: [{"table", "chain", "mss"}] (real server: nftables rules that set the TCP MSS)
    listening:  [[ADDRESS, PORT], ...] (TCP sockets in LISTEN)
    plan:       the operations that would make the kernel's table the declared one (director), as strings
    probes:     {"connect": [{address, port, ok, error, seconds}], "arp": [{vip, interface, sent, replies: [MAC]}]}
    vrrp:       {"adverts": [{source, vrid, priority}], "error"} or None (a keepalived director: who it hears)

A finding: {host, severity ("error" or "warning"), code, what, evidence, fix}. Errors fail the doctor's
play; warnings do not.
"""

from __future__ import annotations

import ipaddress

ERROR = 'error'
WARNING = 'warning'
RUN_SITE = 'run playbooks/site.yml'

# The kernel takes the larger of the `all` value and the interface's own for these (see ip-sysctl.rst).
MAX_OF_ALL = ('arp_ignore', 'arp_announce', 'rp_filter')


def finding(host, severity, code, what, evidence, fix):
    return {'host': host, 'severity': severity, 'code': code, 'what': what, 'evidence': evidence, 'fix': fix}


def effective(state, name, interface):
    """The value the kernel applies for conf sysctl `name` on `interface`: for arp_ignore, arp_announce and
    rp_filter the larger of conf.all and conf.<interface>; None when neither could be read."""
    sysctl = state.get('sysctl') or {}
    own = sysctl.get('net.ipv4.conf.%s.%s' % (interface, name))
    every = sysctl.get('net.ipv4.conf.all.%s' % name)
    values = [v for v in (own, every) if v is not None]
    if not values:
        return None
    return max(values) if name in MAX_OF_ALL else (own if own is not None else every)


def _ip(text):
    return ipaddress.ip_interface(text).ip


def held(state, address):
    """The interfaces of `state` that hold `address` (any prefix length)."""
    want = ipaddress.ip_address(address)
    return sorted(name for name, nic in (state.get('interfaces') or {}).items()
                  if any(_ip(a) == want for a in nic.get('addresses') or ()))


def lan_interfaces(state):
    """Interfaces that answer ARP on a LAN: up, not loopback, not a tunnel, with an IPv4 address."""
    out = []
    for name, nic in sorted((state.get('interfaces') or {}).items()):
        if not nic.get('up') or nic.get('kind') in ('loopback', 'ipip', 'dummy'):
            continue
        if any(_ip(a).version == 4 for a in nic.get('addresses') or ()):
            out.append(name)
    return out


def listening_on(state, port):
    return any(int(p) == int(port) for _a, p in state.get('listening') or ())


# --------------------------------------------------------------------------
# One real server
# --------------------------------------------------------------------------

def realserver_findings(host, state, declared):
    """`declared`: {dr: [VIP], tun: [VIP], nat: [VIP], nat_gateway: ADDRESS or '', ports: [PORT],
    directors: [ADDRESS]} (the realserver role's view of the host, plus the service ports and the directors'
    addresses on the host's LANs)."""
    out = []
    if declared.get('dr'):
        out.extend(_dr(host, state, declared['dr']))
    if declared.get('tun'):
        out.extend(_tun(host, state, declared['tun']))
        out.extend(_tun_mss(host, state, declared['tun'], declared.get('tun_paths') or ()))
    if declared.get('nat'):
        out.extend(_nat_return(host, state, declared))
    for port in sorted(set(declared.get('ports') or ())):
        if not listening_on(state, port):
            out.append(finding(host, ERROR, 'nothing_listening',
                               'nothing listens on TCP port %s: the director sends it connections it cannot take'
                               % port, 'no TCP socket in LISTEN on port %s (/proc/net/tcp, tcp6)' % port,
                               'start the service on port %s' % port))
    return out


def _dr(host, state, vips):
    out = []
    for vip in vips:
        holders = held(state, vip)
        quiet = [i for i in holders if (state['interfaces'][i].get('kind') in ('loopback', 'dummy')
                                        or not state['interfaces'][i].get('arp', True))]
        if not quiet:
            where = ('on %s, which answers ARP' % ', '.join(holders)) if holders else 'nowhere'
            out.append(finding(host, ERROR, 'dr_vip_missing',
                               'DR VIP %s is not held on lo: the real server drops what the director sends it' % vip,
                               'VIP %s held %s' % (vip, where), RUN_SITE + ' (the realserver role holds it on lo)'))
    for interface in lan_interfaces(state):
        ignore, announce = effective(state, 'arp_ignore', interface), effective(state, 'arp_announce', interface)
        if ignore is not None and ignore < 1 or announce is not None and announce < 2:
            out.append(finding(
                host, ERROR, 'dr_arp_sysctls',
                'it may answer ARP for DR VIP(s) %s on %s: clients would bypass the director (false load balancing)'
                % (', '.join(vips), interface),
                'arp_ignore %s, arp_announce %s on %s (the larger of conf.all and conf.%s); wanted at least 1 and 2'
                % (ignore, announce, interface, interface),
                RUN_SITE + ' (the realserver role sets net.ipv4.conf.all.arp_ignore=1 and arp_announce=2)'))
    return out


def _tun(host, state, vips):
    out = []
    tunnel = (state.get('interfaces') or {}).get('tunl0')
    if 'ipip' not in (state.get('modules') or ()) or not tunnel or not tunnel.get('up'):
        out.append(finding(host, ERROR, 'tun_no_tunnel',
                           'no IPIP tunnel up: what the director encapsulates for %s is dropped' % ', '.join(vips),
                           'ipip module %s, tunl0 %s' % ('loaded' if 'ipip' in (state.get('modules') or ()) else
                                                         'not loaded', 'up' if tunnel and tunnel.get('up') else
                                                         ('down' if tunnel else 'missing')),
                           RUN_SITE + ' (the realserver role loads ipip and holds the TUN VIPs on tunl0)'))
    for vip in vips:
        if 'tunl0' not in held(state, vip):
            out.append(finding(host, ERROR, 'tun_vip_missing',
                               'TUN VIP %s is not on tunl0: decapsulated packets for it are dropped' % vip,
                               'VIP %s held on %s' % (vip, ', '.join(held(state, vip)) or 'no interface'),
                               RUN_SITE))
    rp = effective(state, 'rp_filter', 'tunl0')
    if rp == 1:
        out.append(finding(host, ERROR, 'tun_rp_filter',
                           'strict reverse-path filtering on tunl0 drops the tunnelled packets (their source, '
                           'the client, is not routed through tunl0)',
                           'rp_filter %s on tunl0 (the larger of conf.all and conf.tunl0); wanted 0 or 2' % rp,
                           RUN_SITE + ' (the realserver role sets rp_filter 0 on tunl0 and all)'))
    return out


# IPIP's header: what the director adds to each packet it relays to a TUN real server.
IPIP_OVERHEAD = 20
# IPv4 and TCP headers without options: a segment's payload is the packet's size less these.
TCP_IPV4_HEADERS = 40


def _fits(path):
    """The largest TCP payload that fits inside the IPIP header on a director's `path`."""
    return path['mtu'] - IPIP_OVERHEAD - TCP_IPV4_HEADERS


def _tun_mss(host, state, vips, paths):
    """`paths`: each director's route to this host ({director, address, dev, mtu, pmtu_disc}). Clients send
    segments as large as this host advertises (the MSS in its SYN-ACK); once the director adds its IPIP
    header they must still fit the director's path, or they get through only where the director's ICMP
    "fragmentation needed" reaches the client (and hang where a firewall drops it)."""
    route = state.get('default_route') or {}
    nic = (state.get('interfaces') or {}).get(route.get('dev') or '')
    if not paths or not nic:
        return []
    link = route.get('mtu') or nic.get('mtu') or 1500
    limits = [(link - TCP_IPV4_HEADERS, 'MTU %d of %s (the route to clients) less 40' % (link, route.get('dev')))]
    if route.get('advmss'):
        limits.append((route['advmss'], 'advmss %d on the default route' % route['advmss']))
    limits.extend((c['mss'], 'nft %s chain %s sets %d' % (c['table'], c['chain'], c['mss']))
                  for c in state.get('mss_clamps') or ())
    advertised, why = min(limits)
    short = [p for p in paths if p.get('pmtu_disc') != 0 and advertised > _fits(p)]
    if not short:
        return []
    worst = min(short, key=lambda p: p['mtu'])
    fit = _fits(worst)
    clamped = [c for c in state.get('mss_clamps') or () if c['table'] == 'ip lvs_realserver']
    fix = ('set realserver_tun_mss to %d or less, then %s' % (fit, RUN_SITE) if clamped or fit < 1440 else
           RUN_SITE + ' (the realserver role clamps the MSS from TUN VIPs to realserver_tun_mss, 1440 by default)')
    return [finding(host, WARNING, 'tun_mss',
                    'clients may send segments of %d bytes to TUN VIP(s) %s, but at most %d fit inside the IPIP '
                    'header of director %s: larger ones get through only where its ICMP "fragmentation needed" '
                    'reaches the client, and large requests hang behind firewalls that drop ICMP'
                    % (advertised, ', '.join(vips), fit, worst['director']),
                    'advertised MSS %d (%s); %s: route to %s via %s, MTU %d, net.ipv4.vs.pmtu_disc %s'
                    % (advertised, why, worst['director'], worst['address'], worst.get('dev'), worst['mtu'],
                       1 if worst.get('pmtu_disc') is None else worst['pmtu_disc']),
                    fix)]


def _nat_return(host, state, declared):
    route = state.get('default_route') or {}
    via = route.get('via')
    wanted = [a for a in [declared.get('nat_gateway')] + list(declared.get('directors') or ()) if a]
    if via and any(ipaddress.ip_address(via) == ipaddress.ip_address(w) for w in wanted):
        return []
    return [finding(host, ERROR, 'nat_return_path',
                    'replies to clients of NAT VIP %s do not go back through the director: clients see them '
                    'from the real server\'s address and reset the connection' % ', '.join(declared['nat']),
                    'default route %s; wanted via %s' % (('via %s dev %s' % (via, route.get('dev'))) if via else
                                                         'none', ' or '.join(wanted) or 'the director'),
                    'systemctl restart lvs-realserver (its boot script routes replies through %s; site.yml only '
                    'checks the route, since the host\'s own network configuration may also set it)'
                    % (declared.get('nat_gateway') or 'the director'))]


# --------------------------------------------------------------------------
# One director
# --------------------------------------------------------------------------

def director_findings(host, state, declared):
    """`declared`: {vips: [VIP] this director must hold (empty for a keepalived backup), nat: bool (a NAT
    service exists), dests: {"ADDRESS:PORT": HOST}}."""
    out = []
    if declared.get('nat') and (state.get('sysctl') or {}).get('net.ipv4.ip_forward') != 1:
        out.append(finding(host, ERROR, 'forwarding_off',
                           'IPv4 forwarding is off: NAT replies from the real servers are not routed back to clients',
                           'net.ipv4.ip_forward = %s' % (state.get('sysctl') or {}).get('net.ipv4.ip_forward'),
                           RUN_SITE + ' (the director role sets net.ipv4.ip_forward=1 for NAT services)'))
    for vip in declared.get('vips') or ():
        if not held(state, vip):
            out.append(finding(host, ERROR, 'vip_not_held', 'VIP %s is not on this director' % vip,
                               'no interface holds %s' % vip, RUN_SITE))
    plan = state.get('plan') or []
    if plan:
        out.append(finding(host, ERROR, 'table_drift',
                           "the kernel's IPVS table is not the declared one (%d change(s) would restore it)"
                           % len(plan), '; '.join(plan[:10]) + (' ...' if len(plan) > 10 else ''), RUN_SITE))
    for probe in (state.get('probes') or {}).get('connect') or ():
        if not probe.get('ok'):
            target = '%s:%s' % (probe['address'], probe['port'])
            out.append(finding(host, ERROR, 'realserver_not_answering',
                               'real server %s does not answer on TCP %s'
                               % (declared.get('dests', {}).get(target, probe['address']), target),
                               'TCP connect from %s to %s: %s' % (host, target, probe.get('error') or 'failed'),
                               'start the service on the real server, or take it out of the service'))
    return out


# --------------------------------------------------------------------------
# Across hosts
# --------------------------------------------------------------------------

def cluster_findings(reports, directors, vips, floating=False):
    """`reports`: {host: state}; `directors`: the director host names; `vips`: the VIPs of every service;
    `floating`: VRRP moves the VIPs between the directors (keepalived), so no one director must hold them.
    What no single host can tell: a VIP on more than one director or, floating, on none, and who answers
    ARP for a VIP."""
    out = []
    masters = vrrp_masters(reports, directors)
    for vip in vips:
        holding = [d for d in directors if d in reports and held(reports[d], vip)
                   and not _quiet_only(reports[d], vip)]
        if floating and not holding and directors:
            out.append(finding(directors[0], ERROR, 'vip_held_nowhere',
                               'VIP %s is on no director: nobody takes its traffic' % vip,
                               'none of %s holds it' % ', '.join(directors),
                               'check keepalived on the directors (journalctl -u keepalived), then ' + RUN_SITE))
        keep = [d for d in holding if d in masters]
        keep = keep[0] if len(keep) == 1 else (holding or [None])[0]
        for extra in [d for d in holding if d != keep]:
            evidence = 'held on %s' % ', '.join('%s (%s)' % (d, ', '.join(held(reports[d], vip))) for d in holding)
            if keep in masters:
                evidence += '; %s is the VRRP master: %s' % (keep, masters[keep])
            out.append(finding(extra, ERROR, 'vip_on_two_directors',
                               'VIP %s is on %d directors at once: the LAN sees two owners' % (vip, len(holding)),
                               evidence,
                               'on %s: %s (it stays on %s%s; with keepalived, if it comes back, check that VRRP '
                               'adverts pass between the directors)'
                               % (extra, '; '.join(_address_del(reports[extra], vip)), keep,
                                  ', the VRRP master' if keep in masters else '')))
    macs = {}
    for host, state in reports.items():
        for name, nic in (state.get('interfaces') or {}).items():
            if nic.get('mac'):
                macs.setdefault(nic['mac'].lower(), []).append((host, name))
    for director in directors:
        for probe in ((reports.get(director) or {}).get('probes') or {}).get('arp') or ():
            for mac in sorted(set(m.lower() for m in probe.get('replies') or ())):
                hosts = macs.get(mac, [])
                if any(h in directors for h, _n in hosts):
                    continue
                who = ', '.join('%s (%s)' % hn for hn in hosts) or 'a host outside the inventory'
                out.append(finding(hosts[0][0] if hosts else director, ERROR, 'arp_answered_by_other',
                                   'ARP for VIP %s is answered by %s: clients may send to it instead of the director '
                                   '(false load balancing)' % (probe['vip'], who),
                                   'who-has %s sent by %s on %s: reply from %s'
                                   % (probe['vip'], director, probe.get('interface'), mac),
                                   RUN_SITE + ' (the realserver role makes real servers silent to ARP for the VIP)'
                                   if hosts else 'find the host with MAC %s and remove the VIP from it' % mac))
    return out


def vrrp_masters(reports, directors):
    """{director: evidence} for each director whose VRRP adverts another director hears: a VRRP master."""
    owner = {str(_ip(a)): d for d in directors for nic in ((reports.get(d) or {}).get('interfaces') or {}).values()
             for a in nic.get('addresses') or ()}
    out = {}
    for listener in directors:
        for advert in ((reports.get(listener) or {}).get('vrrp') or {}).get('adverts') or ():
            master = owner.get(advert['source'])
            if master and master != listener:
                out.setdefault(master, 'its adverts (VRID %s, from %s) heard by %s'
                               % (advert['vrid'], advert['source'], listener))
    return out


def _address_del(state, vip):
    """The `ip address del` commands that take `vip` off the interfaces of `state` that hold it."""
    want = ipaddress.ip_address(vip)
    return ['ip -%d address del %s dev %s' % (want.version, a, name)
            for name, nic in sorted((state.get('interfaces') or {}).items())
            for a in nic.get('addresses') or () if _ip(a) == want]


def _quiet_only(state, vip):
    """True when `vip` is held only on loopback, dummy or tunnel devices (a director that is also a real
    server of another service holds it there without owning it on the LAN)."""
    return all((state['interfaces'][i].get('kind') in ('loopback', 'dummy', 'ipip')) for i in held(state, vip))


def summary(findings):
    counts = {ERROR: 0, WARNING: 0}
    for f in findings:
        counts[f['severity']] = counts.get(f['severity'], 0) + 1
    return {'errors': counts[ERROR], 'warnings': counts[WARNING], 'findings': len(findings)}
