# -*- coding: utf-8 -*-
# Copyright (c) the lvs.cluster authors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""keepalived.conf from the director role's services: the same schema the ipvs backend applies, so the
two backends cannot drift apart. Written in Python rather than Jinja so that every input error names its
field (and the accepted values) before anything is rendered, and so that unit tests cover the output."""

from __future__ import annotations

# The filter is documented in its own file next to this one, lvs_keepalived_conf.yml. ansible-doc reads it
# only while this file has no DOCUMENTATION of its own, so it must not get one.

import ipaddress
import re

from ansible.errors import AnsibleFilterError
from ansible.module_utils.parsing.convert_bool import boolean
from ansible_collections.lvs.cluster.plugins.filter.lvs import lvs_table
from ansible_collections.lvs.cluster.plugins.module_utils import _model
from ansible_collections.lvs.cluster.plugins.module_utils._hostnet import IFNAME_ACCEPTED, is_ifname

CHECK_TYPES = ('tcp', 'http', 'misc', 'none')
CHECK_KEYS = {
    'tcp': ('type', 'delay_loop', 'port', 'connect_timeout', 'retry', 'delay_before_retry'),
    'http': ('type', 'delay_loop', 'port', 'connect_timeout', 'retry', 'delay_before_retry', 'path',
             'status_code'),
    'misc': ('type', 'delay_loop', 'misc_path', 'misc_timeout', 'retry', 'delay_before_retry'),
    'none': ('type', 'delay_loop'),
}
INSTANCE_KEYS = ('name', 'virtual_router_id', 'vips', 'interface', 'priority', 'advert_int', 'preempt',
                 'preempt_delay')
SYNC_KEYS = ('enabled', 'interface', 'instance', 'id', 'refresh_period')
REFRESH_DEFAULT = 10  # seconds between re-sends of an active connection's state
REFRESH_MAX = 3600
METHOD = {'nat': 'NAT', 'dr': 'DR', 'tun': 'TUN'}
AUTH_PASS_MAX = 8  # VRRPv2 simple password: keepalived silently truncates longer ones

# Every input string that reaches keepalived.conf is checked against what its place in the file can
# hold: keepalived splits a line into words at whitespace, and '#' or '!' start a comment, so a newline,
# a space or a comment character in a value would add or cut directives that --config-test accepts.
_WORD = re.compile(r'^[A-Za-z0-9_.-]{1,64}$')
_INSTANCE_NAME = re.compile(r'^[A-Za-z0-9_-]{1,64}$')
_HTTP_PATH = re.compile(r"^/[A-Za-z0-9._~%/?&=+,;:@$*()-]{0,1023}$")
_MISC_PATH = re.compile(r'^/[\x20-\x7e]{0,1023}$')
_AUTH_PASS = re.compile(r'^[\x21-\x7e]{1,%d}$' % AUTH_PASS_MAX)
_COMMENT_OR_QUOTE = set('#!"\\{}')


def lvs_keepalived_conf(services, hostvars, groups, host, realserver_group='realservers',
                        address_var='lvs_address', instances=None, priority=100, auth_pass='',
                        healthcheck=None, sync_daemon=None, facts=None):
    """keepalived.conf text for `host`. `facts` (the host's ansible_facts) give each VRRP instance its
    interface when the instance does not name one: the interface whose IPv4 network holds the VIP."""
    services = services or []
    table = lvs_table(services, hostvars, groups, realserver_group, address_var)
    groups_ = _instances(instances, _vips(table), priority, facts or {})
    sync = _sync_settings(sync_daemon, groups_)
    for inst in groups_:
        if inst['preempt_delay'] is None:
            # A returning master waits until its peer has re-sent every active connection to it (one
            # refresh period after its backup daemon started, which follows keepalived's start), or the
            # connections opened meanwhile would be reset when it takes the VIP back.
            inst['preempt_delay'] = 2 * sync['refresh_period'] + 2 if sync and sync['refresh_period'] else 0
    if not _WORD.match(str(host)):
        _fail('inventory_hostname: %r cannot be keepalived\'s router_id (accepted: 1 to 64 letters, digits, '
              '"_", "." and "-")' % (host,))
    out = ['global_defs {', '  router_id %s' % host,
           # MISC_CHECK scripts run as root only when the script security is on; without it, and without
           # script_user, --config-test warns and exits non-zero.
           '  enable_script_security', '  script_user root']
    out.append('}')
    for inst in groups_:
        out += _vrrp_instance(inst, auth_pass)
    for index, (raw, service) in enumerate(zip(services, table)):
        out += _virtual_server(index, raw, service, healthcheck or {})
    return '\n'.join(out) + '\n'


def lvs_keepalived_sync(services, hostvars, groups, realserver_group='realservers',
                        address_var='lvs_address', instances=None, sync_daemon=None, facts=None):
    """How a keepalived director syncs its connections: {'daemons': [...], 'sysctls': {...}}. The
    daemons (a master and a backup, both always, or none) run beside keepalived; the sysctls make the
    master daemon re-send each active connection every refresh period."""
    table = lvs_table(services or [], hostvars, groups, realserver_group, address_var)
    settings = _sync_settings(sync_daemon, _instances(instances, _vips(table), 100, facts or {}))
    if settings is None:
        return {'daemons': [], 'sysctls': {}}
    daemons = [{'role': role, 'interface': settings['interface'], 'sync_id': settings['sync_id']}
               for role in ('master', 'backup')]
    sysctls = {}
    if settings['refresh_period']:
        # threshold 3, period 0: a connection is sent when it is established and then whenever its
        # timer has moved by refresh_period, instead of on every 50th packet; a director that comes
        # back learns every active connection within one period.
        sysctls = {'net.ipv4.vs.sync_threshold': '3 0',
                   'net.ipv4.vs.sync_refresh_period': settings['refresh_period']}
    return {'daemons': daemons, 'sysctls': sysctls}


def _vips(table):
    vips = []
    for service in table:
        if service.get('address') and str(service['address']) not in vips:
            vips.append(str(service['address']))
    return vips


def _fail(msg):
    raise AnsibleFilterError(msg)


def _int(value, where, low, high):
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = None
    if number is None or isinstance(value, bool) or not low <= number <= high:
        _fail('%s: must be an integer from %d to %d, got %r' % (where, low, high, value))
    return number


def _bool(value, where):
    """A real boolean by Ansible's rules: the strings 'false' and 'no' are false, 'maybe' is an error."""
    try:
        return boolean(value, strict=True)
    except TypeError:
        _fail('%s: must be a boolean (true/false, yes/no, 1/0), got %r' % (where, value))


def _ifname(value, where):
    if not is_ifname(value):
        _fail('%s: invalid interface name %r (accepted: %s)' % (where, value, IFNAME_ACCEPTED))
    return value


def _address(value, where):
    try:
        return ipaddress.ip_address(str(value).strip()).compressed
    except ValueError:
        _fail('%s: %r is not an IPv4 or IPv6 address' % (where, value))


def _http_path(value, where):
    if not isinstance(value, str) or not _HTTP_PATH.match(value):
        _fail('%s: %r is not a URL path keepalived can check (accepted: "/" then up to 1023 of letters, digits '
              'and - . _ ~ %% / ? & = + , ; : @ $ * ( ); no spaces, quotes, "#" or "!")' % (where, value))
    return value


def _misc_path(value, where):
    if not isinstance(value, str) or not _MISC_PATH.match(value) or set(value) & _COMMENT_OR_QUOTE:
        _fail('%s: %r is not a command keepalived can run (accepted: an absolute path and arguments, '
              'printable ASCII without quotes, backslashes, braces, "#" or "!"; at most 1024 characters)'
              % (where, value))
    return value


def _unknown(data, allowed, where):
    extra = sorted(set(data) - set(allowed))
    if extra:
        _fail('%s: unknown key(s) %s; accepted: %s' % (where, ', '.join(extra), ', '.join(allowed)))


def _instances(instances, vips, priority, facts):
    if instances is None:
        instances = [{'name': 'VI_LVS', 'virtual_router_id': 51}]
    if not isinstance(instances, list) or not instances:
        _fail('director_vrrp_instances: must be a non-empty list of instances')
    out, claimed, names, ids = [], {}, set(), set()
    for index, inst in enumerate(instances):
        where = 'director_vrrp_instances[%d]' % index
        if not isinstance(inst, dict):
            _fail('%s: must be a dict' % where)
        _unknown(inst, INSTANCE_KEYS, where)
        name = str(inst.get('name') or '')
        if not _INSTANCE_NAME.match(name):
            _fail('%s.name: letters, digits, "_" and "-" only, got %r' % (where, inst.get('name')))
        vrid = _int(inst.get('virtual_router_id'), where + '.virtual_router_id', 1, 255)
        if name in names or vrid in ids:
            _fail('%s: name %s and virtual_router_id %d must be unique among the instances' % (where, name, vrid))
        names.add(name)
        ids.add(vrid)
        if not isinstance(inst.get('vips') or [], list):
            _fail('%s.vips: must be a list of VIPs' % where)
        inst_vips = [_address(v, where + '.vips') for v in inst.get('vips') or []]
        for vip in inst_vips:
            if vip not in vips:
                _fail('%s.vips: %s is the address of no service; services have %s' % (where, vip, ', '.join(vips)))
            claimed.setdefault(vip, name)
        interface = inst.get('interface')
        if interface is not None:
            _ifname(interface, where + '.interface')
        out.append({'name': name, 'vrid': vrid, 'vips': inst_vips,
                    'interface': interface,
                    'priority': _int(inst.get('priority', priority), where + '.priority', 1, 254),
                    'advert_int': _int(inst.get('advert_int', 1), where + '.advert_int', 1, 255),
                    'preempt': _bool(inst.get('preempt', True), where + '.preempt'),
                    'preempt_delay': (None if inst.get('preempt_delay') is None
                                      else _int(inst['preempt_delay'], where + '.preempt_delay', 0, 1000))})
    # VIPs no instance names go to the first instance that lists no VIPs (the default catch-all)
    rest = [v for v in vips if v not in claimed]
    catch_all = [inst for inst in out if not inst['vips']]
    if rest:
        if not catch_all:
            _fail('director_vrrp_instances: VIP(s) %s belong to no instance; list them in one, or leave one '
                  'instance without vips to take the rest' % ', '.join(rest))
        catch_all[0]['vips'] = rest
    out = [inst for inst in out if inst['vips']]
    for inst in out:
        if not inst['interface']:
            inst['interface'] = _interface_for(inst['vips'][0], facts, inst['name'])
    return out


def _interface_for(vip, facts, name):
    address = ipaddress.ip_address(vip)
    for ifname in facts.get('interfaces', []):
        data = facts.get(ifname.replace('-', '_').replace('.', '_')) or {}
        nets = [data.get('ipv4')] + list(data.get('ipv4_secondaries') or []) if address.version == 4 \
            else list(data.get('ipv6') or [])
        for net in nets:
            if not net or not net.get('address'):
                continue
            mask = net.get('netmask') or net.get('prefix')
            if mask and address in ipaddress.ip_interface('%s/%s' % (net['address'], mask)).network:
                return _ifname(ifname, 'the interface of %s in the network facts' % vip)
    _fail('director_vrrp_instances: instance %s has no interface and no interface of this host is on the '
          'network of %s (gather network facts, or set interface on the instance)' % (name, vip))


def _sync_settings(sync, instances):
    """None when no daemon runs; else the interface, sync ID and refresh period, validated."""
    if not isinstance(sync or {}, dict):
        _fail('director_sync_daemon: must be a dict (%s)' % ', '.join(SYNC_KEYS))
    sync = dict(sync or {})
    _unknown(sync, SYNC_KEYS, 'director_sync_daemon')
    if not _bool(sync.get('enabled', True), 'director_sync_daemon.enabled') or not instances:
        return None
    instance = sync.get('instance') or instances[0]['name']
    match = [i for i in instances if i['name'] == instance]
    if not match:
        _fail('director_sync_daemon.instance: %s is not an instance; instances: %s'
              % (instance, ', '.join(i['name'] for i in instances)))
    # Both daemons run on every director, whatever its VRRP state: the master daemon sends the
    # connections this director forwards, the backup daemon takes in its peer's. keepalived's
    # lvs_sync_daemon, which switches them at each VRRP transition, hangs keepalived 2.2.7's VRRP process
    # in an IPVS call when a director leaves MASTER just after entering it (both directors starting
    # together): it then keeps the VIP and sends no advert, a split brain until keepalived restarts.
    return {'interface': _ifname(sync.get('interface') or match[0]['interface'], 'director_sync_daemon.interface'),
            'sync_id': _int(sync.get('id', 0), 'director_sync_daemon.id', 0, _model.SYNC_ID_MAX),
            'refresh_period': _int(sync.get('refresh_period', REFRESH_DEFAULT),
                                   'director_sync_daemon.refresh_period', 0, REFRESH_MAX)}


def _vrrp_instance(inst, auth_pass):
    out = ['vrrp_instance %s {' % inst['name'],
           # every director starts as BACKUP: the priorities elect the master, and preemption applies
           '  state BACKUP', '  interface %s' % inst['interface'],
           '  virtual_router_id %d' % inst['vrid'], '  priority %d' % inst['priority'],
           '  advert_int %d' % inst['advert_int']]
    if not inst['preempt']:
        out.append('  nopreempt')
    elif inst['preempt_delay']:
        out.append('  preempt_delay %d' % inst['preempt_delay'])
    if auth_pass:
        if not _AUTH_PASS.match(str(auth_pass)) or set(str(auth_pass)) & _COMMENT_OR_QUOTE:
            _fail('director_vrrp_auth_pass: 1 to %d printable ASCII characters without spaces, quotes, '
                  'backslashes, braces, "#" or "!" (VRRPv2 PASS); the given value does not fit (not shown)'
                  % AUTH_PASS_MAX)
        out += ['  authentication {', '    auth_type PASS', '    auth_pass %s' % auth_pass, '  }']
    out.append('  virtual_ipaddress {')
    for vip in inst['vips']:
        prefix = 32 if ipaddress.ip_address(vip).version == 4 else 128
        out.append('    %s/%d dev %s' % (vip, prefix, inst['interface']))
    out += ['  }', '}']
    return out


def _check(index, raw, defaults):
    where = 'services[%d].healthcheck' % index
    own = raw.get('healthcheck') or {}
    if not isinstance(own, dict) or not isinstance(defaults, dict):
        _fail('%s: must be a dict' % where)
    check = dict(defaults)
    if own.get('type') and own.get('type') != defaults.get('type'):
        check = {'delay_loop': defaults.get('delay_loop')} if defaults.get('delay_loop') else {}
    check.update(own)
    kind = check.setdefault('type', 'tcp')
    if kind not in CHECK_TYPES:
        _fail('%s.type: must be one of %s, got %r' % (where, ', '.join(CHECK_TYPES), kind))
    _unknown(check, CHECK_KEYS[kind], where + ' (type %s)' % kind)
    if kind == 'misc' and not check.get('misc_path'):
        _fail('%s.misc_path: required with type misc (the command keepalived runs; exit 0 = healthy)' % where)
    return check


def _check_block(check, where):
    kind = check['type']
    if kind == 'none':
        return []
    name = {'tcp': 'TCP_CHECK', 'http': 'HTTP_GET', 'misc': 'MISC_CHECK'}[kind]
    out = ['    %s {' % name]
    if kind == 'http':
        out += ['      url {', '        path %s' % _http_path(check.get('path', '/'), where + '.path'),
                '        status_code %d' % _int(check.get('status_code', 200), where + '.status_code', 100, 599),
                '      }']
    if kind == 'misc':
        out.append('      misc_path "%s"' % _misc_path(check['misc_path'], where + '.misc_path'))
        out.append('      misc_timeout %d' % _int(check.get('misc_timeout', 5), where + '.misc_timeout', 1, 3600))
    else:
        if check.get('port'):
            out.append('      connect_port %d' % _int(check['port'], where + '.port', 1, 65535))
        out.append('      connect_timeout %d' % _int(check.get('connect_timeout', 3), where + '.connect_timeout',
                                                     1, 3600))
    out.append('      retry %d' % _int(check.get('retry', 1), where + '.retry', 0, 100))
    out.append('      delay_before_retry %d' % _int(check.get('delay_before_retry', 1),
                                                    where + '.delay_before_retry', 0, 3600))
    out.append('    }')
    return out


def _virtual_server(index, raw, service, check_defaults):
    where = 'services[%d]' % index
    check = _check(index, raw, check_defaults)
    model = list(_model.parse_table([service]).services.values())[0]
    dests = service['destinations']
    methods = [d.get('forwarding', 'dr') for d in dests]
    method = methods[0] if methods else (raw.get('forwarding') or 'dr')
    if method == 'local' or 'local' in methods:
        _fail('%s: forwarding local has no keepalived equivalent; use nat, dr or tun' % where)
    if service.get('fwmark'):
        out = ['virtual_server fwmark %d {' % int(service['fwmark'])]
    else:
        out = ['virtual_server %s %d {' % (service['address'], int(service['port']))]
    out += ['  delay_loop %d' % _int(check.get('delay_loop', 5), where + '.healthcheck.delay_loop', 1, 3600),
            '  lb_algo %s' % model.scheduler, '  lvs_method %s' % METHOD[method]]
    if not service.get('fwmark'):
        out.append('  protocol %s' % (service.get('protocol') or 'tcp').upper())
    if model.persistence_timeout:
        out.append('  persistence_timeout %d' % model.persistence_timeout)
        if model.persistence_netmask is not None and str(model.persistence_netmask) not in ('255.255.255.255', '128'):
            out.append('  persistence_granularity %s' % model.persistence_netmask)
        if model.persistence_engine:
            out.append('  persistence_engine %s' % model.persistence_engine)
    for flag, word in (('one_packet', 'ops'), ('sh_port', 'sh-port'), ('sh_fallback', 'sh-fallback'),
                       ('mh_port', 'mh-port'), ('mh_fallback', 'mh-fallback')):
        if getattr(model, flag, False):
            out.append('  %s' % word)
    sorry = raw.get('sorry_server')
    if sorry:
        if not isinstance(sorry, dict) or not sorry.get('address'):
            _fail('%s.sorry_server: a dict with address and port (default: the service port)' % where)
        sorry_port = _int(sorry.get('port', service.get('port')), where + '.sorry_server.port', 1, 65535)
        sorry_address = _address(sorry['address'], where + '.sorry_server.address')
        family = 'ipv4' if ipaddress.ip_address(sorry_address).version == 4 else 'ipv6'
        if family != model.key.family:
            # keepalived --config-test refuses it ("address family ... don't match")
            _fail('%s.sorry_server.address: %s is %s, the service is %s; accepted: an address of the '
                  "service's family" % (where, sorry_address, family, model.key.family))
        out.append('  sorry_server %s %d' % (sorry_address, sorry_port))
    inhibit = _bool(raw.get('inhibit_on_failure', False), where + '.inhibit_on_failure')
    for dindex, dest in enumerate(dests):
        dwhere = '%s.destinations[%d]' % (where, dindex)
        out.append('  real_server %s %d {' % (dest['address'], int(dest.get('port') or service.get('port') or 0)))
        out.append('    weight %d' % int(dest.get('weight', 1)))
        dmethod = dest.get('forwarding', 'dr')
        if dmethod != method or (dmethod == 'tun' and dest.get('tunnel_type')):
            line = '    lvs_method %s' % METHOD[dmethod]
            if dmethod == 'tun' and dest.get('tunnel_type'):
                line += ' type %s' % dest['tunnel_type']
            out.append(line)
        if dest.get('upper_threshold'):
            out.append('    uthreshold %d' % int(dest['upper_threshold']))
        if dest.get('lower_threshold'):
            out.append('    lthreshold %d' % int(dest['lower_threshold']))
        if inhibit:
            out.append('    inhibit_on_failure')
        out += _check_block(check, dwhere + ' healthcheck')
        out.append('  }')
    out.append('}')
    return out


class FilterModule(object):
    def filters(self):
        return {'lvs_keepalived_conf': lvs_keepalived_conf,
                'lvs_keepalived_sync': lvs_keepalived_sync}
