#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) the lvs.cluster authors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
module: noarp_vip
short_description: Hold a virtual IP on a real server without answering ARP for it
version_added: 0.1.0
description:
  - For LVS-DR and LVS-TUN real servers. Puts the VIP as a host address (/32 or /128) on C(lo), on a dummy
    device or on C(tunl0), so the real server accepts packets for it, while making sure it never answers ARP
    for it (otherwise clients bypass the director).
  - For an IPv4 VIP it sets C(net.ipv4.conf.all.arp_ignore=1) and C(arp_announce=2) and the same on each
    ARP-facing interface (the kernel uses the larger of C(all) and the interface value), and it does so
    BEFORE the address appears. An interface's own value is left alone while C(all) already holds the
    setting (after a reboot, sysctl.d restores C(all) but not each interface's value).
  - With O(device=tunl0) (LVS-TUN) it loads C(ipip), brings C(tunl0) up and makes sure C(rp_filter) is not
    strict (1) on C(tunl0) and C(all); a loose value (2) is left alone.
  - O(state=absent) removes the address and, when no other VIP managed by this module remains, restores the
    sysctls it changed to the values recorded in a state file under O(state_dir).
  - An IPv6 VIP needs no ARP settings (Linux only answers neighbour solicitations for addresses of the
    receiving interface); only the address is managed.
  - B(Runtime only.) Addresses and sysctls set here do not survive a reboot; the C(realserver) role makes
    them persistent (a sysctl.d file and a systemd unit that re-adds the VIP).
author:
  - LVS cluster maintainers (@lvs-cluster)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
requirements:
  - pyroute2 >= 0.9.6 on the target host.
  - root on the target host.
options:
  address:
    description: The virtual IP address (IPv4 or IPv6, without prefix length).
    type: str
    required: true
  device:
    description:
      - Where the VIP lives. V(lo) for LVS-DR; V(dummy) (a dummy device named O(dummy_name), created if
        missing) for LVS-DR without touching C(lo); V(tunl0) for LVS-TUN (IPv4 only).
    type: str
    choices: [dummy, lo, tunl0]
    default: lo
  dummy_name:
    description:
      - Name of the dummy device with O(device=dummy).
      - 1 to 15 letters, digits and C(_ . - @ +); checked before anything changes.
    type: str
    default: lvs0
  interfaces:
    description:
      - ARP-facing interfaces that get the per-interface C(arp_ignore) and C(arp_announce).
      - When omitted, the interfaces of the IPv4 default route(s); if there is none, every interface that
        is up (except C(lo)).
      - Each name is checked before anything changes (1 to 15 letters, digits and C(_ . - @ +)), and must
        name an existing interface with IPv4 configuration; a VLAN name such as C(eth0.100) is fine.
    type: list
    elements: str
  state:
    description: Whether the VIP is held.
    type: str
    choices: [absent, present]
    default: present
  state_dir:
    description: Directory of the state file that records the replaced sysctl values.
    type: path
    default: /var/lib/lvs-cluster
attributes:
  platform:
    support: full
    platforms: linux
  check_mode:
    support: full
  diff_mode:
    support: full
'''

EXAMPLES = r'''
- name: LVS-DR real server
  lvs.cluster.noarp_vip:
    address: 192.0.2.10

- name: LVS-TUN real server
  lvs.cluster.noarp_vip:
    address: 192.0.2.10
    device: tunl0

- name: Stop serving the VIP and restore the ARP sysctls
  lvs.cluster.noarp_vip:
    address: 192.0.2.10
    state: absent
'''

RETURN = r'''
preview:
  description:
    - Only in check mode on a host without pyroute2 (one the roles have not prepared yet). The host was not
      read; the result shows what a real run would apply to a host that holds none of it, and this says so.
  returned: in check mode without pyroute2
  type: str
  sample: "check mode on a host without pyroute2 (...): the host was not read, ..."
sysctls:
  description: Sysctls changed (name -> new value).
  returned: always
  type: dict
  sample: {"net.ipv4.conf.all.arp_ignore": "1", "net.ipv4.conf.ens3.arp_ignore": "1"}
address_changed:
  description: Whether the address was added or removed.
  returned: always
  type: bool
device:
  description: The device holding (or that held) the VIP.
  returned: always
  type: str
  sample: lo
'''

import ipaddress


from ansible_collections.lvs.cluster.plugins.module_utils._ansible import LvsModule, run_module
from ansible_collections.lvs.cluster.plugins.module_utils._preview import NoAddresses
from ansible_collections.lvs.cluster.plugins.module_utils._errors import ValidationError
from ansible_collections.lvs.cluster.plugins.module_utils._hostnet import (
    IFNAME_ACCEPTED,
    HostNetError,
    Links,
    StateFile,
    Sysctls,
    is_ifname,
    open_iproute,
)

ARP_SETTINGS = (('arp_ignore', '1'), ('arp_announce', '2'))


def argument_spec():
    return {
        'address': {'type': 'str', 'required': True},
        'device': {'type': 'str', 'choices': ['dummy', 'lo', 'tunl0'], 'default': 'lo'},
        'dummy_name': {'type': 'str', 'default': 'lvs0'},
        'interfaces': {'type': 'list', 'elements': 'str'},
        'state': {'type': 'str', 'choices': ['absent', 'present'], 'default': 'present'},
        'state_dir': {'type': 'path', 'default': '/var/lib/lvs-cluster'},
    }


def build_module():
    return LvsModule(argument_spec=argument_spec(), supports_check_mode=True)


def check_names(params):
    """Every name that becomes a device or a path under /proc/sys, checked before anything changes."""
    if params['device'] == 'dummy' and not is_ifname(params['dummy_name']):
        raise ValidationError('dummy_name', 'invalid interface name %r' % (params['dummy_name'],), IFNAME_ACCEPTED)
    for index, name in enumerate(params['interfaces'] or []):
        if not is_ifname(name):
            raise ValidationError('interfaces[%d]' % index, 'invalid interface name %r' % (name,), IFNAME_ACCEPTED)


def check_interfaces_exist(params, sysctls):
    """Interfaces named by the user must be there: a typo would otherwise leave one ARP-facing
    interface answering ARP for the VIP, which is the fault this module exists to prevent."""
    for index, name in enumerate(params['interfaces'] or []):
        if name not in ('all', 'lo') and not sysctls.exists('net.ipv4.conf.%s.arp_ignore' % name):
            raise ValidationError('interfaces[%d]' % index, '%s has no IPv4 configuration on this host' % name,
                                  'the names of existing interfaces (ip link)')


def parse_vip(params):
    try:
        ip = ipaddress.ip_address(str(params['address']).strip())
    except ValueError:
        raise ValidationError('address', 'invalid address %r' % params['address'],
                              'an IPv4 or IPv6 address without prefix length')
    if ip.is_multicast or ip.is_unspecified or ip.is_loopback:
        raise ValidationError('address', '%s cannot be a VIP' % ip, 'a unicast address')
    if params['device'] == 'tunl0' and ip.version != 4:
        raise ValidationError('device', 'tunl0 carries IPv4 only', 'lo or dummy for an IPv6 VIP')
    return ip


def device_name(params):
    return params['dummy_name'] if params['device'] == 'dummy' else params['device']


def wanted_sysctls(params, ip, links):
    """Ordered {sysctl: value} the VIP needs (IPv4 only)."""
    if ip.version != 4:
        return {}
    interfaces = params['interfaces']
    if interfaces is None:
        interfaces = links.default_route_interfaces() or links.up_interfaces()
    wanted = {}
    for scope in ['all'] + [i for i in interfaces if i not in ('all', 'lo')]:
        for name, value in ARP_SETTINGS:
            wanted['net.ipv4.conf.%s.%s' % (scope, name)] = value
    return wanted


def run(module, sysctls=None, links=None, state=None):
    params = module.params
    check_names(params)
    ip = parse_vip(params)
    address = ip.compressed
    prefixlen = 32 if ip.version == 4 else 128
    dev = device_name(params)
    sysctls = sysctls or Sysctls()
    if params['state'] == 'present' and ip.version == 4:
        check_interfaces_exist(params, sysctls)
    state = state or StateFile(params['state_dir'])
    own_ipr = None
    if links is None:
        own_ipr = open_iproute()
        links = Links(own_ipr)
    try:
        if params['state'] == 'present':
            result = present(module, ip, address, prefixlen, dev, sysctls, links, state)
        else:
            result = absent(module, address, prefixlen, dev, sysctls, links, state)
    finally:
        if own_ipr is not None:
            own_ipr.close()
    result['device'] = dev
    return result


def _rp_filter_changes(sysctls):
    changes = {}
    for scope in ('all', 'tunl0'):
        name = 'net.ipv4.conf.%s.rp_filter' % scope
        if sysctls.exists(name) and sysctls.read(name) == '1':
            changes[name] = '0'  # strict filtering drops tunnelled packets
    return changes


def _in_effect_through_all(name, value, sysctls):
    """An interface's arp_ignore/arp_announce below `value` is still in effect when `all` already holds at
    least `value` (the kernel takes the larger of the two). After a reboot sysctl.d restores `all` and not
    each interface's own value: the VIP is as silent to ARP as before, and nothing needs changing."""
    scope, setting = name[len('net.ipv4.conf.'):].rsplit('.', 1)  # a VLAN's name has dots of its own
    if scope == 'all':
        return False
    current = sysctls.read('net.ipv4.conf.all.%s' % setting)
    return current.isdigit() and int(current) >= int(value)


def present(module, ip, address, prefixlen, dev, sysctls, links, state):
    params = module.params
    record = state.load()
    changes = {}
    for name, value in wanted_sysctls(params, ip, links).items():
        if not sysctls.exists(name):
            continue  # an interface without IPv4 configuration
        if sysctls.read(name) != value and not _in_effect_through_all(name, value, sysctls):
            changes[name] = value
    index = links.index(dev)
    steps = []
    if index is None:
        if params['device'] == 'lo':
            raise HostNetError('no lo interface')
        steps.append('load module and create %s' % dev)
    if params['device'] == 'tunl0':
        if sysctls.exists('net.ipv4.conf.tunl0.rp_filter') or index is not None:
            changes.update(_rp_filter_changes(sysctls))
    up = index is not None and links.is_up(index)
    has = index is not None and links.has_address(index, address, prefixlen)
    changed = bool(changes or steps or not up or not has)
    result = {'changed': changed, 'sysctls': changes, 'address_changed': not has}
    if module._diff:
        result['diff'] = {'before': {'sysctls': {n: sysctls.read(n) for n in changes},
                                     'address': '%s/%d on %s' % (address, prefixlen, dev) if has else None},
                          'after': {'sysctls': dict(changes),
                                    'address': '%s/%d on %s' % (address, prefixlen, dev)}}
    if not changed or module.check_mode:
        return result
    # Record the original values before the first change, then write the
    # sysctls, and only then let the address appear.
    for name in changes:
        record['sysctls'].setdefault(name, sysctls.read(name))
    record['addresses'][address] = dev
    state.save(record)
    for name, value in changes.items():
        sysctls.write(name, value)
    if index is None:
        kmod = 'ipip' if params['device'] == 'tunl0' else 'dummy'
        rc, _out, err = module.run_command(['modprobe', kmod])
        if rc != 0:
            raise HostNetError('modprobe %s failed: %s' % (kmod, err.strip()))
        if params['device'] == 'dummy' and links.index(dev) is None:
            links.create_dummy(dev)
        index = links.index(dev)
        if index is None:
            raise HostNetError('device %s did not appear' % dev)
        if params['device'] == 'tunl0':
            for name, value in _rp_filter_changes(sysctls).items():
                record['sysctls'].setdefault(name, sysctls.read(name))
                state.save(record)
                sysctls.write(name, value)
                result['sysctls'][name] = value
    if not links.is_up(index):
        links.set_up(index)
    if not links.has_address(index, address, prefixlen):
        links.add_address(index, address, prefixlen)
    return result


def absent(module, address, prefixlen, dev, sysctls, links, state):
    record = state.load()
    index = links.index(dev)
    has = index is not None and links.has_address(index, address, prefixlen)
    # One address may be on lo and tunl0 for a moment (a service moving from DR to TUN), and the record
    # keeps the newest device: removing it from the other device must neither forget it nor put back the
    # ARP settings it still needs.
    mine = record['addresses'].get(address) == dev
    others = [a for a, d in record['addresses'].items() if (a, d) != (address, dev)]
    restore = {} if others else {n: v for n, v in record['sysctls'].items()
                                 if sysctls.exists(n) and sysctls.read(n) != v}
    forget = mine or (not others and record['sysctls'])
    changed = bool(has or restore)
    result = {'changed': changed, 'sysctls': restore, 'address_changed': has}
    if module._diff:
        result['diff'] = {'before': {'address': '%s/%d on %s' % (address, prefixlen, dev) if has else None,
                                     'sysctls': {n: sysctls.read(n) for n in restore}},
                          'after': {'address': None, 'sysctls': dict(restore)}}
    if module.check_mode:
        return result
    if has:
        links.del_address(index, address, prefixlen)
    for name, value in restore.items():
        sysctls.write(name, value)
    if forget:
        if mine:
            record['addresses'].pop(address)
        if others:
            state.save(record)
        else:
            state.remove()
    return result


def main():
    module = build_module()
    run_module(module, run, preview=lambda m: run(m, links=NoAddresses()))


if __name__ == '__main__':
    main()
