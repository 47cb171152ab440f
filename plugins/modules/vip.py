#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) the lvs.cluster authors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
module: vip
short_description: Hold a virtual IP on a director's interface
version_added: 0.1.0
description:
  - Adds or removes the VIP as a host address (/32 or /128) on the director interface that answers ARP
    (or neighbour discovery) for it. Unlike M(lvs.cluster.noarp_vip), which hides the VIP on real servers,
    this one is meant to be seen.
  - With O(device) omitted, the VIP goes on the interface the kernel routes it through, which is the LAN
    interface when the VIP is inside a LAN's subnet.
  - Runtime only; the director role persists the VIP with a systemd unit.
author: LVS cluster maintainers (@lvs-cluster)
requirements:
  - pyroute2 >= 0.9.6 on the target.
  - root or C(CAP_NET_ADMIN) on the target.
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
  platform:
    platforms: linux
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
options:
  address:
    description: The VIP, IPv4 or IPv6, without prefix length.
    type: str
    required: true
  device:
    description: The interface; by default the one the kernel routes O(address) through.
    type: str
  state:
    description: Whether the VIP is held.
    type: str
    choices: [absent, present]
    default: present
'''

EXAMPLES = r'''
- name: The DR VIP on the director's LAN interface
  lvs.cluster.vip:
    address: 192.0.2.100

- name: Give the VIP up
  lvs.cluster.vip:
    address: 192.0.2.100
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
device:
  description:
    - The interface that holds (or held) the VIP.
    - With O(state=absent) and no O(device), the first interface it was removed from, or V(null) when no
      interface held it.
  returned: success
  type: str
  sample: eth1
prefix:
  description: The prefix length used (32 or 128).
  returned: success
  type: int
  sample: 32
'''

import ipaddress


from ansible_collections.lvs.cluster.plugins.module_utils._ansible import LvsModule, run_module
from ansible_collections.lvs.cluster.plugins.module_utils._errors import ValidationError
from ansible_collections.lvs.cluster.plugins.module_utils._hostnet import (
    IFNAME_ACCEPTED,
    HostNetError,
    Links,
    is_ifname,
    open_iproute,
)


def build_module():
    return LvsModule(argument_spec={
        'address': {'type': 'str', 'required': True},
        'device': {'type': 'str'},
        'state': {'type': 'str', 'choices': ['absent', 'present'], 'default': 'present'},
    }, supports_check_mode=True)


def run(module, links=None):
    params = module.params
    try:
        ip = ipaddress.ip_address(str(params['address']).strip())
    except ValueError:
        raise ValidationError('address', 'invalid address %r' % params['address'],
                              'an IPv4 or IPv6 address without prefix length')
    if ip.is_multicast or ip.is_unspecified or ip.is_loopback:
        raise ValidationError('address', '%s cannot be a VIP' % ip, 'a unicast address')
    if params['device'] is not None and not is_ifname(params['device']):
        raise ValidationError('device', 'invalid interface name %r' % (params['device'],), IFNAME_ACCEPTED)
    address, prefix = str(ip), 32 if ip.version == 4 else 128
    links = links or Links(open_iproute())
    holders = links.holders(address)
    if params['state'] == 'absent' and params['device'] is None:
        return _give_up_everywhere(module, links, address, prefix, holders)
    held = [(links.names([index])[0], plen) for index, plen in holders]
    device = params['device'] or (held[0][0] if held else links.route_interface(address))
    if device is None or links.index(device) is None:
        raise HostNetError('device: %s' % ('no interface named %r' % device if device
                                           else 'no route to %s, so no interface to hold it: name the '
                                           'interface (for a routed VIP, e.g. lo)' % address))
    present = (device, prefix) in held
    want = params['state'] == 'present'
    changed = present != want
    result = {'changed': changed, 'device': device, 'prefix': prefix}
    if module._diff:
        result['diff'] = {'before': {'address': address, 'device': device, 'present': present},
                          'after': {'address': address, 'device': device, 'present': want}}
    if changed and not module.check_mode:
        index = links.index(device)
        if want:
            links.add_address(index, address, prefix)
        else:
            links.del_address(index, address, prefix)
    return result


def _give_up_everywhere(module, links, address, prefix, holders):
    """state=absent without a device: the VIP goes from every interface that holds it, and a VIP held
    nowhere is already absent, whether or not any route leads to it (a routed VIP removed twice).
    `holders` are (index, prefix length) pairs, as Links.holders gives them."""
    names = links.names([index for index, _plen in holders]) if holders else []
    result = {'changed': bool(holders), 'device': names[0] if names else None, 'prefix': prefix}
    if module._diff:
        result['diff'] = {'before': {'address': address, 'devices': sorted(names), 'present': bool(holders)},
                          'after': {'address': address, 'devices': [], 'present': False}}
    if holders and not module.check_mode:
        for index, plen in holders:
            links.del_address(index, address, plen)
    return result


def main():
    run_module(build_module(), run, preview=preview)


def preview(module):
    """Check mode without pyroute2: the VIP would be placed (or given up); where is not known unread."""
    ip = ipaddress.ip_address(str(module.params['address']).strip())
    device = module.params['device'] or 'the interface that routes to it (not read)'
    want = module.params['state'] == 'present'
    # giving up a VIP that was never read to be there is no change to show
    result = {'changed': want, 'device': device, 'prefix': 32 if ip.version == 4 else 128}
    if module._diff:
        result['diff'] = {'before': {'address': str(ip), 'device': device, 'present': not want},
                          'after': {'address': str(ip), 'device': device, 'present': want}}
    return result


if __name__ == '__main__':
    main()
