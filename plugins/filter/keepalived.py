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

from ansible.errors import AnsibleFilterError
from ansible_collections.lvs.cluster.plugins.module_utils._errors import LvsError
from ansible_collections.lvs.cluster.plugins.plugin_utils.role_schema import parse_keepalived

METHOD = {'nat': 'NAT', 'dr': 'DR', 'tun': 'TUN'}
CHECK_BLOCK = {'tcp': 'TCP_CHECK', 'http': 'HTTP_GET', 'misc': 'MISC_CHECK'}


def lvs_keepalived_conf(services, hostvars, groups, host, realserver_group='realservers',
                        address_var='lvs_address', instances=None, priority=100, auth_pass='',
                        healthcheck=None, sync_daemon=None, facts=None, vip_device='', vrrp_version=2):
    """keepalived.conf text for `host`, formatted from the role schema's typed values (every input was
    checked there, each error naming its field). `facts` (the host's ansible_facts) give each VRRP
    instance its interface when the instance does not name one."""
    director = _parse(services, hostvars, groups, host, realserver_group, address_var, instances, priority,
                      auth_pass, healthcheck, sync_daemon, facts, vip_device, vrrp_version)
    out = ['global_defs {', '  router_id %s' % director.router_id,
           # written even when it is keepalived's default: both directors must speak the same version
           '  vrrp_version %d' % director.vrrp_version,
           # a second burst of gratuitous ARPs / unsolicited NAs 1 s after taking the VIPs (keepalived
           # waits 5 s): a client or router that missed the first burst learns the new master soon
           '  vrrp_garp_master_delay 1',
           # MISC_CHECK scripts run as root only when the script security is on; without it, and without
           # script_user, --config-test warns and exits non-zero.
           '  enable_script_security', '  script_user root', '}']
    for group, names in director.sync_groups:
        # one state for all of them: a NAT director's outer VIPs and the real servers' gateway move
        # together, and a fault of either side (its link down) moves the whole group
        out += ['vrrp_sync_group %s {' % group, '  group {'] + ['    %s' % name for name in names] + ['  }', '}']
    for inst in director.instances:
        out += _vrrp_instance(inst, director.auth_pass, director.vip_devices)
    for service in director.services:
        out += _virtual_server(service)
    return '\n'.join(out) + '\n'


def lvs_keepalived_sync(services, hostvars, groups, realserver_group='realservers',
                        address_var='lvs_address', instances=None, sync_daemon=None, facts=None, vrrp_version=2):
    """How a keepalived director syncs its connections: {'daemons': [...], 'sysctls': {...}}. The
    daemons (a master and a backup, both always, or none) run beside keepalived; the sysctls make the
    master daemon re-send each active connection every refresh period."""
    sync = _parse(services, hostvars, groups, 'sync', realserver_group, address_var, instances, 100, '', None,
                  sync_daemon, facts, '', vrrp_version, checks=False).sync
    if sync is None:
        return {'daemons': [], 'sysctls': {}}
    daemons = [{'role': role, 'interface': sync.interface, 'sync_id': sync.sync_id} for role in ('master', 'backup')]
    sysctls = {}
    if sync.refresh_period:
        # threshold 3, period 0: a connection is sent when it is established and then whenever its
        # timer has moved by refresh_period, instead of on every 50th packet; a director that comes
        # back learns every active connection within one period.
        sysctls = {'net.ipv4.vs.sync_threshold': '3 0', 'net.ipv4.vs.sync_refresh_period': sync.refresh_period}
    return {'daemons': daemons, 'sysctls': sysctls}


def _parse(*args, **kwargs):
    try:
        return parse_keepalived(*args, **kwargs)
    except LvsError as exc:
        raise AnsibleFilterError(str(exc))


def _vrrp_instance(inst, auth_pass, vip_devices):
    out = ['vrrp_instance %s {' % inst.name,
           # every director starts as BACKUP: the priorities elect the master, and preemption applies
           '  state BACKUP', '  interface %s' % inst.interface,
           '  virtual_router_id %d' % inst.vrid, '  priority %d' % inst.priority,
           # whole seconds under VRRPv2; VRRPv3 takes hundredths (0.2)
           '  advert_int %s' % format(inst.advert_int.normalize(), 'f')]
    if not inst.preempt:
        out.append('  nopreempt')
    elif inst.preempt_delay:
        out.append('  preempt_delay %d' % inst.preempt_delay)
    if auth_pass:
        out += ['  authentication {', '    auth_type PASS', '    auth_pass %s' % auth_pass, '  }']
    out.append('  virtual_ipaddress {')
    # a VIP routed to the directors may live on lo (the adverts still go out on the instance's interface);
    # a floating address that is no VIP (the NAT real servers' gateway) lives on the instance's LAN
    for address in inst.vips + inst.addresses:
        prefix = 32 if ipaddress.ip_address(address).version == 4 else 128
        out.append('    %s/%d dev %s' % (address, prefix, vip_devices.get(address, inst.interface)))
    out += ['  }', '}']
    return out


def _check_block(check):
    if check.type == 'none':
        return []
    out = ['    %s {' % CHECK_BLOCK[check.type]]
    if check.type == 'http':
        out += ['      url {', '        path %s' % check.path, '        status_code %d' % check.status_code, '      }']
    if check.type == 'misc':
        out += ['      misc_path "%s"' % check.misc_path, '      misc_timeout %d' % check.misc_timeout]
    else:
        if check.port:
            out.append('      connect_port %d' % check.port)
        out.append('      connect_timeout %d' % check.connect_timeout)
    out += ['      retry %d' % check.retry, '      delay_before_retry %d' % check.delay_before_retry, '    }']
    return out


def _virtual_server(role_service):
    service, key = role_service.service, role_service.key
    if key.fwmark:
        out = ['virtual_server fwmark %d {' % key.fwmark]
    else:
        out = ['virtual_server %s %d {' % (key.address, key.port)]
    out += ['  delay_loop %d' % role_service.healthcheck.delay_loop, '  lb_algo %s' % service.scheduler,
            '  lvs_method %s' % METHOD[role_service.forwarding]]
    if not key.fwmark:
        out.append('  protocol %s' % key.protocol.upper())
    if service.persistence_timeout:
        out.append('  persistence_timeout %d' % service.persistence_timeout)
        if str(service.persistence_netmask) not in ('255.255.255.255', '128'):
            out.append('  persistence_granularity %s' % service.persistence_netmask)
        if service.persistence_engine:
            out.append('  persistence_engine %s' % service.persistence_engine)
    for flag, word in (('one_packet', 'ops'), ('sh_port', 'sh-port'), ('sh_fallback', 'sh-fallback'),
                       ('mh_port', 'mh-port'), ('mh_fallback', 'mh-fallback')):
        if getattr(service, flag):
            out.append('  %s' % word)
    if role_service.sorry_server:
        out.append('  sorry_server %s %d' % (role_service.sorry_server.address, role_service.sorry_server.port))
    for dest in role_service.dests:
        out += ['  real_server %s %d {' % (dest.address, dest.port), '    weight %d' % dest.weight]
        if dest.forwarding != role_service.forwarding or (dest.forwarding == 'tun' and dest.tunnel_type):
            line = '    lvs_method %s' % METHOD[dest.forwarding]
            if dest.forwarding == 'tun' and dest.tunnel_type:
                line += ' type %s' % dest.tunnel_type
            out.append(line)
        if dest.upper_threshold:
            out.append('    uthreshold %d' % dest.upper_threshold)
        if dest.lower_threshold:
            out.append('    lthreshold %d' % dest.lower_threshold)
        if role_service.inhibit_on_failure:
            out.append('    inhibit_on_failure')
        out += _check_block(role_service.healthcheck)
        out.append('  }')
    out.append('}')
    return out


class FilterModule(object):
    def filters(self):
        return {'lvs_keepalived_conf': lvs_keepalived_conf,
                'lvs_keepalived_sync': lvs_keepalived_sync}
