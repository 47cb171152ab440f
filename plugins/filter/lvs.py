# -*- coding: utf-8 -*-
# Copyright (c) the lvs.cluster authors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filters that let the roles read the ONE service schema (the ipvs_table module's) instead of
re-deriving it in Jinja: expand a cluster's services against the inventory, tell a real server which
VIPs it holds, and render the table in ipvsadm's save format for the boot-time restore unit."""

from __future__ import annotations

# Each filter is documented in its own file next to this one, named like the filter (lvs_table.yml, ...).
# ansible-doc reads those only while this file has no DOCUMENTATION of its own, so it must not get one.

import ipaddress
import json

from ansible.errors import AnsibleFilterError
from ansible_collections.lvs.cluster.plugins.module_utils import _model
from ansible_collections.lvs.cluster.plugins.module_utils._errors import LvsError
from ansible_collections.lvs.cluster.plugins.plugin_utils.fwmark import nft_rules
from ansible_collections.lvs.cluster.plugins.plugin_utils.role_schema import (
    director_vips,
    host_addresses,
    parse_realserver,
    parse_services,
    stale_vips,
)


def lvs_table(services, hostvars, groups, realserver_group='realservers', address_var='lvs_address'):
    """Services as the ipvs_table module takes them, from the role schema (plugin_utils/role_schema.py):
    expanded against the inventory, validated as a whole (every error with its field), and written back
    from the typed values, so that no consumer sees an input string as it was given."""
    try:
        table = parse_services(services, hostvars, groups, realserver_group, address_var)
    except LvsError as exc:
        raise AnsibleFilterError(str(exc))
    return [service.module_params() for service in table]


def lvs_fwmark_rules(services, hostvars, groups, realserver_group='realservers', address_var='lvs_address'):
    """The director's nftables rules that mark the packets of the fwmark services with a `match`, as the
    text of a file for nft -f ('' when no service has one): see plugin_utils/fwmark.py."""
    try:
        table = parse_services(services, hostvars, groups, realserver_group, address_var)
    except LvsError as exc:
        raise AnsibleFilterError(str(exc))
    return nft_rules(table)


def lvs_realserver(services, hostvars, groups, host, realserver_group='realservers', address_var='lvs_address',
                   nat_gateway='', held=''):
    """{dr: [VIP...], tun: [VIP...], nat: [VIP...], nat_gateway: ADDRESS or '', remove: [{address, device}]}
    for the real server `host`, from the role schema: what the realserver role places, the gateway its boot
    script routes through, and what it placed before that no service needs now. `held` is the text of
    noarp_vip's state file on the host ('' when there is none)."""
    try:
        record = json.loads(held) if held else {}
    except ValueError:
        record = {}  # not ours to judge: noarp_vip itself refuses a broken state file
    addresses = record.get('addresses') if isinstance(record, dict) else None
    try:
        real = parse_realserver(services, hostvars, groups, host, realserver_group, address_var, nat_gateway,
                                addresses if isinstance(addresses, dict) else {})
    except LvsError as exc:
        raise AnsibleFilterError(str(exc))
    return {'dr': list(real.dr), 'tun': list(real.tun), 'nat': list(real.nat), 'nat_gateway': real.nat_gateway,
            'remove': [{'address': a, 'device': d} for a, d in real.remove]}


def lvs_director_vips(services, hostvars, groups, realserver_group='realservers', address_var='lvs_address',
                      default_device='', previous=''):
    """{place: [{address, device}], remove: [{address, device}]} for a director of the ipvs backend: each VIP
    with the device that holds it ('' for the interface on its LAN), and the VIPs of `previous` (the text of
    its vips file, as the role wrote it last time) that no service holds there any more."""
    try:
        table = parse_services(services, hostvars, groups, realserver_group, address_var)
        place = director_vips(table, default_device)
    except LvsError as exc:
        raise AnsibleFilterError(str(exc))
    return {'place': [{'address': a, 'device': d or ''} for a, d in place],
            'remove': [{'address': a, 'device': d} for a, d in stale_vips(previous, place)]}


def lvs_vips_for(services, addresses):
    """[{address: VIP, forwarding: dr|tun|nat}] for the real server owning any of `addresses`."""
    mine = set()
    for address in addresses or []:
        try:
            mine.add(ipaddress.ip_address(str(address).strip()).compressed)
        except ValueError:
            continue  # not an address of this host's: it serves nothing
    table = _parse(services)
    seen, vips = set(), []
    for key in table.services:
        for dest in table.dests[key].values():
            item = (key.address, dest.forwarding)
            if dest.address in mine and key.address and item not in seen:
                seen.add(item)
                vips.append({'address': item[0], 'forwarding': item[1]})
    return vips


def lvs_dests_of(services, addresses):
    """[{service: {protocol, address, port} or {fwmark, family}, destination: {...}}] for every destination at one
    of `addresses`: what a drain of that real server touches, in the form lvs.cluster.ipvs_dest takes."""
    mine = {_normal(address) for address in addresses or []}
    _parse(services)  # refuses what is not the expanded schema, with the field at fault
    found = []
    for service in services or []:
        if service.get('fwmark'):
            key = {'fwmark': service['fwmark'], 'family': service.get('family') or 'ipv4'}
        else:
            key = {'protocol': service.get('protocol') or 'tcp', 'address': service['address'],
                   'port': service['port']}
        for dest in service.get('destinations') or []:
            if _normal(dest['address']) in mine:
                found.append({'service': key, 'destination': dict(dest)})
    return found


def lvs_dest_entries(found, drain=False, held=None):
    """lvs_dests_of's entries in the form of lvs.cluster.ipvs_dest's `destinations` list: each destination with
    its `service` key and its own `drain`. With `held` (the text of `ip -o address show` on the director), an
    address service drains only where its VIP is held: elsewhere no connection of it is forwarded, and a
    backup's synced copies can stay active long after the connection ended. A firewall mark service has no
    VIP to tell, and drains everywhere."""
    entries = []
    for item in found or []:
        service = item['service']
        here = held is None or 'address' not in service or (' %s/' % _normal(service['address'])) in held
        entries.append(dict(item['destination'], service=dict(service), drain=bool(drain) and here))
    return entries


def lvs_dests_missing(found, services):
    """The entries of lvs_dests_of's `found` whose destination is not in `services` (what lvs.cluster.ipvs_info
    returned on a director): what a health checker has not added back yet."""
    held = set()
    for service in services or []:
        for dest in service.get('destinations') or []:
            held.add((service.get('name'), _normal(dest.get('address')), dest.get('port')))
    missing = []
    for item in found or []:
        name = lvs_service_names([item['service']])[0]
        dest = item['destination']
        port = dest.get('port') or item['service'].get('port') or 0
        if (name, _normal(dest['address']), port) not in held:
            missing.append(item)
    return missing


def lvs_service_names(services):
    """The services' keys as lvs.cluster.ipvs_info names them (`tcp 192.0.2.10:80`, `fwmark 5 ipv4`), to
    check what a kernel holds against what was declared."""
    return sorted(str(key) for key in _parse(services).services)


FWD_FLAG = {'nat': '-m', 'dr': '-g', 'tun': '-i', 'local': '-g'}


def lvs_ipvsadm_rules(services, timeouts=None):
    """The table as `ipvsadm -R` restores it, written in the form `ipvsadm -S -n` prints it back, so
    that a restored table can be compared line for line with the file (lvs-ipvs-restore does).

    Two things `ipvsadm -S` does not print are written all the same, each where ipvsadm accepts it:
    the global timeouts as a leading `--set TCP TCPFIN UDP` line (0 leaves a value unchanged), and a
    destination's connection thresholds as `-x`/`-y` right after its weight (`ipvsadm -L --thresholds`
    reads them back).
    """
    table = _parse(services)
    lines = []
    if timeouts:
        try:
            parsed = _model.timeouts_from_params(timeouts)
        except LvsError as exc:
            raise AnsibleFilterError(str(exc))
        if parsed and any(parsed.to_dict().values()):
            lines.append('--set %d %d %d' % (parsed.tcp, parsed.tcpfin, parsed.udp))
    for key, service in sorted(table.services.items(), key=lambda kv: str(kv[0])):
        vs = _vs_arg(key)
        lines.append(' '.join(['-A'] + vs + _service_options(key, service)))
        for dkey, dest in sorted(table.dests.get(key, {}).items()):
            lines.append(' '.join(['-a'] + vs + ['-r', _endpoint(dest.address, dest.port)] + _dest_options(dest)))
    return '\n'.join(lines) + '\n' if lines else ''


def _service_options(key, service):
    """In ipvsadm -S's order: -s, -p, -M (only when not the host mask), --pe, -o, -b."""
    words = ['-s', service.scheduler]
    if service.persistence_timeout:
        words += ['-p', str(service.persistence_timeout)]
        if str(service.persistence_netmask) != str(_model.DEFAULT_NETMASK[key.family]):
            words += ['-M', str(service.persistence_netmask)]
        if service.persistence_engine:
            words += ['--pe', service.persistence_engine]
    if service.one_packet:
        words.append('-o')
    sched_flags = [name.replace('_', '-') for name in ('sh_fallback', 'sh_port', 'mh_fallback', 'mh_port')
                   if getattr(service, name)]
    if sched_flags:
        words += ['-b', ','.join(sched_flags)]
    return words


def _dest_options(dest):
    """Forwarding and weight, thresholds, then the tunnel as ipvsadm -S prints it: an ipip tunnel is only
    its type (ipvsadm refuses a checksum option with ipip), gue and gre carry port and checksum."""
    words = [FWD_FLAG[dest.forwarding], '-w', str(dest.weight)]
    if dest.upper_threshold:
        words += ['-x', str(dest.upper_threshold)]
    if dest.lower_threshold:
        words += ['-y', str(dest.lower_threshold)]
    if dest.forwarding == 'tun' and dest.tunnel_type:
        words += ['--tun-type', dest.tunnel_type]
        if dest.tunnel_type == 'gue':
            words += ['--tun-port', str(dest.tunnel_port)]
        if dest.tunnel_type != 'ipip' and dest.tunnel_checksum:
            words.append('--tun-' + dest.tunnel_checksum)
    return words


def _parse(services):
    try:
        return _model.parse_table(services)
    except LvsError as exc:
        raise AnsibleFilterError(str(exc))


def _endpoint(address, port):
    return ('[%s]:%d' if ':' in address else '%s:%d') % (address, port)


def _vs_arg(key):
    if getattr(key, 'fwmark', None):
        return ['-f', str(key.fwmark)] + (['-6'] if key.family == 'ipv6' else [])
    flag = {'tcp': '-t', 'udp': '-u', 'sctp': '--sctp-service'}[key.protocol]
    return [flag, _endpoint(key.address, key.port)]


def _normal(address):
    """An address in its normal form, to compare with the table's; a value that is none stays as text."""
    try:
        return ipaddress.ip_address(str(address).strip()).compressed
    except ValueError:
        return str(address)


def _networks(facts):
    """Every interface network of a host, IPv4 and IPv6, from its gathered network facts."""
    nets = []
    for name in facts.get('interfaces', []):
        iface = facts.get(name.replace('-', '_'), {}) or {}
        for v4 in [iface.get('ipv4')] + list(iface.get('ipv4_secondaries', []) or []):
            if v4 and v4.get('address') and v4.get('netmask'):
                nets.append(ipaddress.ip_interface('%s/%s' % (v4['address'], v4['netmask'])))
        # IPv6 facts are a list of {address, prefix, scope}; a link-local address may carry its zone
        for v6 in iface.get('ipv6', []) or []:
            if isinstance(v6, dict) and v6.get('address') and v6.get('prefix'):
                try:
                    nets.append(ipaddress.ip_interface('%s/%s' % (str(v6['address']).split('%', maxsplit=1)[0], v6['prefix'])))
                except ValueError:
                    continue  # a fact this filter cannot read is no network, as for a host without facts
    return nets


def _floating(hostvars, directors):
    """The floating addresses of the keepalived directors' VRRP instances (their `addresses`), normalised."""
    out = set()
    for director in directors:
        if hostvars[director].get('director_backend', 'ipvs') != 'keepalived':
            continue
        for inst in hostvars[director].get('director_vrrp_instances') or []:
            if isinstance(inst, dict) and isinstance(inst.get('addresses'), list):
                out |= {_normal(a) for a in inst['addresses']}
    return out


def lvs_preflight(services, hostvars, directors, realservers, address_var='lvs_address', vips=None):
    """Problems that would break the cluster, found before anything changes: [] when all is well.

    Needs the directors' network facts, and for TUN real servers the registered `__lvs_ipip` (result of
    `modinfo ipip`). A host this run did not read (left out by --limit: no network facts, no probe) is not
    judged on what only reading it can tell."""
    table = _parse(services)
    problems = []
    by_address = {}
    for host in realservers:
        for address in host_addresses(hostvars[host].get(address_var)):
            by_address[_normal(address)] = host
    director_nets = {d: _networks(hostvars[d].get('ansible_facts', {})) for d in directors}
    director_nets = {d: nets for d, nets in director_nets.items() if nets}  # the directors this run read
    every_director_read = len(director_nets) == len(directors)
    # A NAT gateway is a director's own address, or a floating one that VRRP moves between the directors
    # (an instance's `addresses`: not held anywhere yet on a first run)
    gateways = {str(n.ip) for nets in director_nets.values() for n in nets} | _floating(hostvars, directors)
    for dests in table.dests.values():
        for dest in dests.values():
            ip = ipaddress.ip_address(dest.address)
            host = by_address.get(dest.address, dest.address)
            method = dest.forwarding
            if method == 'dr':
                for director, nets in director_nets.items():
                    if not any(ip in n.network for n in nets if n.version == ip.version):
                        problems.append('%s (DR) shares no LAN with director %s: direct routing only works on '
                                        'one layer-2 segment' % (host, director))
            elif method == 'nat' and host in hostvars:
                gateway = _normal(hostvars[host].get('realserver_nat_gateway', ''))
                if gateway not in gateways and every_director_read:
                    problems.append('%s (NAT): its gateway %r is not an address of a director (%s); replies '
                                    'would bypass the director' % (host, gateway, ', '.join(sorted(gateways))))
            elif method == 'tun' and host in hostvars:
                probe = hostvars[host].get('__lvs_ipip')
                if probe is not None and probe.get('rc', 1) != 0:
                    problems.append('%s (TUN): its kernel has no ipip module' % host)
    # The ipvs backend holds every VIP on its director for good: two such directors would both answer
    # ARP for the same address. Only VRRP (the keepalived backend) gives a shared VIP one holder.
    backends = {d: hostvars[d].get('director_backend', 'ipvs') for d in directors}
    static = sorted(d for d in directors if backends[d] == 'ipvs')
    vips = sorted({key.address for key in table.services if key.address} | {_normal(v) for v in vips or []})
    if len(static) > 1 and vips:
        problems.append('directors %s all run the ipvs backend and would all hold VIP(s) %s: two hosts '
                        'answering ARP for one address; set director_backend: keepalived (VRRP gives each '
                        'VIP one holder), or keep one director' % (' and '.join(static), ', '.join(vips)))
    # A VRRPv2 and a VRRPv3 director do not hear each other's adverts: each would hold the VIPs.
    versions = {}
    for director in directors:
        if backends[director] == 'keepalived':
            versions.setdefault(str(hostvars[director].get('director_vrrp_version', 2)), []).append(director)
    if len(versions) > 1:
        problems.append('director_vrrp_version differs between the keepalived directors (%s): VRRPv2 and VRRPv3 '
                        'do not hear each other and both would hold the VIPs; set the same version on all'
                        % '; '.join('%s on %s' % (v, ', '.join(sorted(hosts))) for v, hosts in sorted(versions.items())))
    return sorted(set(problems))


class FilterModule(object):
    def filters(self):
        return {'lvs_table': lvs_table, 'lvs_fwmark_rules': lvs_fwmark_rules, 'lvs_vips_for': lvs_vips_for, 'lvs_realserver': lvs_realserver,
                'lvs_director_vips': lvs_director_vips, 'lvs_dests_of': lvs_dests_of,
                'lvs_dest_entries': lvs_dest_entries, 'lvs_dests_missing': lvs_dests_missing,
                'lvs_ipvsadm_rules': lvs_ipvsadm_rules,
                'lvs_preflight': lvs_preflight, 'lvs_service_names': lvs_service_names}
