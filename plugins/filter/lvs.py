# -*- coding: utf-8 -*-
# Copyright (c) the lvs.cluster authors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filters that let the roles read the ONE service schema (the ipvs_table module's) instead of
re-deriving it in Jinja: expand a cluster's services against the inventory, tell a real server which
VIPs it holds, and render the table in ipvsadm's save format for the boot-time restore unit."""

from __future__ import annotations

# Each filter is documented in its own file next to this one: lvs_table.yml, lvs_vips_for.yml,
# lvs_ipvsadm_rules.yml, lvs_service_names.yml and lvs_preflight.yml. ansible-doc reads those only while
# this file has no DOCUMENTATION of its own, so it must not get one.

from ansible.errors import AnsibleFilterError
from ansible_collections.lvs.cluster.plugins.module_utils import _model
from ansible_collections.lvs.cluster.plugins.module_utils._errors import LvsError

# Keys the roles accept on top of the module's schema; the keepalived ones are read only by the
# keepalived backend (plugins/filter/keepalived.py) and ignored by the ipvs backend.
KEEPALIVED_SERVICE_KEYS = ('healthcheck', 'sorry_server', 'inhibit_on_failure')
ROLE_SERVICE_KEYS = ('forwarding', 'name') + KEEPALIVED_SERVICE_KEYS
ROLE_DEST_KEYS = ('host',)
# The kernel takes weights up to 2^31-1 (and so do the modules), but ipvsadm, which restores the table at
# boot, and keepalived stop at 65535.
ROLE_WEIGHT_MAX = 65535


def lvs_table(services, hostvars, groups, realserver_group='realservers', address_var='lvs_address'):
    """Services as the ipvs_table module takes them.

    Per service, `forwarding` (nat, dr, tun) is the default of its destinations. Destinations may name
    an inventory `host` instead of an address (its `address_var` host variable is used); a service
    without `destinations` gets every host of `realserver_group`, on the service's port. Addresses come
    out in their normal form (no stray whitespace), so that no consumer writes an input string as given.
    """
    if services is None:
        services = []
    if not isinstance(services, list):
        raise AnsibleFilterError('services: must be a list of services, got %s' % type(services).__name__)
    out = []
    for index, service in enumerate(services):
        where = 'services[%d]' % index
        if not isinstance(service, dict):
            raise AnsibleFilterError('%s: must be a dict' % where)
        service = dict(service)
        forwarding = service.pop('forwarding', None)
        if forwarding is not None and forwarding not in _model.FORWARDING:
            raise AnsibleFilterError('%s.forwarding: %r is not a forwarding method (accepted: %s)'
                                     % (where, forwarding, ', '.join(sorted(_model.FORWARDING))))
        for key in ROLE_SERVICE_KEYS:
            service.pop(key, None)
        if service.get('address') is not None:
            service['address'] = _normal_address(service['address'])
        dests = service.pop('destinations', None)
        if dests is None:
            if realserver_group not in groups:
                raise AnsibleFilterError('%s: has no destinations, and the inventory has no group %r to take '
                                         'them from (the real server group; groups: %s)'
                                         % (where, realserver_group, ', '.join(sorted(groups))))
            dests = [{'host': h} for h in groups.get(realserver_group, [])]
        if not isinstance(dests, list):
            raise AnsibleFilterError('%s.destinations: must be a list of dicts' % where)
        expanded = []
        for dindex, dest in enumerate(dests):
            dwhere = '%s.destinations[%d]' % (where, dindex)
            if not isinstance(dest, dict):
                raise AnsibleFilterError('%s: must be a dict (address or host, port, weight, ...), got %r'
                                         % (dwhere, dest))
            dest = dict(dest)
            host = dest.pop('host', None)
            if host is not None:
                if 'address' in dest:
                    raise AnsibleFilterError('%s: give host or address, not both' % dwhere)
                if host not in hostvars:
                    raise AnsibleFilterError('%s.host: %s is not in the inventory' % (dwhere, host))
                address = hostvars[host].get(address_var)
                if not address:
                    raise AnsibleFilterError('%s.host: %s has no %s variable (its address on the cluster LAN)'
                                             % (dwhere, host, address_var))
                dest['address'] = address
            if dest.get('address') is not None:
                dest['address'] = _normal_address(dest['address'])
            if forwarding is not None:
                dest.setdefault('forwarding', forwarding)
            if service.get('port') is not None:
                dest.setdefault('port', service['port'])
            weight = dest.get('weight', 1)
            if isinstance(weight, int) and not isinstance(weight, bool) and weight > ROLE_WEIGHT_MAX:
                raise AnsibleFilterError('%s.weight: %d is more than the boot restore (ipvsadm -R) and keepalived '
                                         'take (accepted: 0..%d)' % (dwhere, weight, ROLE_WEIGHT_MAX))
            expanded.append(dest)
        service['destinations'] = expanded
        out.append(service)
    _parse(out)  # fail here, on the controller, with the field's path
    return out


def _normal_address(value):
    """The compressed text of an address; a value that is none is left for the model to name."""
    import ipaddress
    try:
        return ipaddress.ip_address(str(value).strip()).compressed
    except ValueError:
        return value


def lvs_vips_for(services, addresses):
    """[{address: VIP, forwarding: dr|tun|nat}] for the real server owning any of `addresses`."""
    mine = set(str(a) for a in (addresses or []))
    seen, vips = set(), []
    for service in services or []:
        for dest in service.get('destinations', []):
            if str(dest.get('address')) in mine:
                item = (str(service.get('address')), dest.get('forwarding', 'dr'))
                if item not in seen and service.get('address'):
                    seen.add(item)
                    vips.append({'address': item[0], 'forwarding': item[1]})
    return vips


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


def _networks(facts):
    """Every interface network of a host, IPv4 and IPv6, from its gathered network facts."""
    import ipaddress
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


def lvs_preflight(services, hostvars, directors, realservers, address_var='lvs_address'):
    """Problems that would break the cluster, found before anything changes: [] when all is well.

    Needs the directors' network facts, and for TUN real servers the registered `__lvs_ipip` (result of
    `modinfo ipip`)."""
    import ipaddress
    problems = []
    by_address = {}
    for host in realservers:
        address = hostvars[host].get(address_var)
        if address:
            by_address[str(address)] = host
    director_nets = {d: _networks(hostvars[d].get('ansible_facts', {})) for d in directors}
    for index, service in enumerate(services or []):
        if not service.get('address') and not service.get('fwmark'):
            problems.append('services[%d]: no VIP (address) and no fwmark' % index)
        for dest in service.get('destinations', []):
            ip = ipaddress.ip_address(str(dest['address']))
            host = by_address.get(str(dest['address']), str(dest['address']))
            method = dest.get('forwarding', 'dr')
            if method == 'dr':
                for director, nets in director_nets.items():
                    if not any(ip in n.network for n in nets if n.version == ip.version):
                        problems.append('%s (DR) shares no LAN with director %s: direct routing only works on '
                                        'one layer-2 segment' % (host, director))
            elif method == 'nat' and host in hostvars:
                gateway = str(hostvars[host].get('realserver_nat_gateway', ''))
                director_ips = {str(n.ip) for nets in director_nets.values() for n in nets}
                if gateway not in director_ips:
                    problems.append('%s (NAT): its gateway %r is not an address of a director (%s); replies '
                                    'would bypass the director' % (host, gateway, ', '.join(sorted(director_ips))))
            elif method == 'tun' and host in hostvars:
                probe = hostvars[host].get('__lvs_ipip') or {}
                if probe.get('rc', 1) != 0:
                    problems.append('%s (TUN): its kernel has no ipip module' % host)
    # The ipvs backend holds every VIP on its director for good: two such directors would both answer
    # ARP for the same address. Only VRRP (the keepalived backend) gives a shared VIP one holder.
    static = sorted(d for d in directors if hostvars[d].get('director_backend', 'ipvs') == 'ipvs')
    vips = sorted({str(s['address']) for s in services or [] if s.get('address')})
    if len(static) > 1 and vips:
        problems.append('directors %s all run the ipvs backend and would all hold VIP(s) %s: two hosts '
                        'answering ARP for one address; set director_backend: keepalived (VRRP gives each '
                        'VIP one holder), or keep one director' % (' and '.join(static), ', '.join(vips)))
    return sorted(set(problems))


class FilterModule(object):
    def filters(self):
        return {'lvs_table': lvs_table, 'lvs_vips_for': lvs_vips_for, 'lvs_ipvsadm_rules': lvs_ipvsadm_rules,
                'lvs_preflight': lvs_preflight, 'lvs_service_names': lvs_service_names}
