#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) the lvs.cluster authors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
module: vip
short_description: Hold virtual IPs on a director's interfaces
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
    description:
      - The VIP, IPv4 or IPv6, without prefix length.
      - Required unless O(vips) is given.
    type: str
  device:
    description:
      - The interface; by default the one the kernel routes O(address) through.
      - With O(state=absent) and no O(device), the VIP goes from every interface that holds it.
    type: str
  state:
    description:
      - Whether the VIP is held.
      - With O(vips), it applies to every entry.
    type: str
    choices: [absent, present]
    default: present
  vips:
    description:
      - Several VIPs in one run, instead of O(address) and O(device). Every entry is checked, and every
        VIP's interface found, before any address changes.
      - A VIP may appear once.
    type: list
    elements: dict
    suboptions:
      address:
        description: As O(address).
        type: str
        required: true
      device:
        description: As O(device).
        type: str
'''

EXAMPLES = r'''
- name: The DR VIP on the director's LAN interface
  lvs.cluster.vip:
    address: 192.0.2.100

- name: Give the VIP up
  lvs.cluster.vip:
    address: 192.0.2.100
    state: absent

- name: A LAN VIP and a routed one held on lo, in one run
  lvs.cluster.vip:
    vips:
      - address: 192.0.2.100
      - address: 203.0.113.10
        device: lo
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
  returned: success, without O(vips)
  type: str
  sample: eth1
prefix:
  description: The prefix length used (32 or 128).
  returned: success, without O(vips)
  type: int
  sample: 32
vips:
  description: With O(vips), one entry per VIP in the order given.
  returned: success, with O(vips)
  type: list
  elements: dict
  contains:
    address:
      description: The VIP, normalised.
      type: str
      sample: 192.0.2.100
    changed:
      description: Whether this VIP was (or in check mode would be) added or removed.
      type: bool
      sample: true
    device:
      description: As RV(device), for this VIP.
      type: str
      sample: eth1
    prefix:
      description: As RV(prefix), for this VIP.
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


FORM_RULES = {
    'mutually_exclusive': [('vips', 'address'), ('vips', 'device')],
    'required_one_of': [('vips', 'address')],
}


def argument_spec():
    return {
        'address': {'type': 'str'},
        'device': {'type': 'str'},
        'state': {'type': 'str', 'choices': ['absent', 'present'], 'default': 'present'},
        'vips': {'type': 'list', 'elements': 'dict', 'options': {
            'address': {'type': 'str', 'required': True},
            'device': {'type': 'str'},
        }},
    }


def build_module():
    return LvsModule(argument_spec=argument_spec(), supports_check_mode=True, **FORM_RULES)


class Entry:
    """One VIP to act on: where it was declared (for messages), the address, its prefix and the device
    asked for (None: the one that routes to it, or every holder when giving it up)."""

    def __init__(self, where, address, prefix, device):
        self.where, self.address, self.prefix, self.device = where, address, prefix, device
        self.holders = []  # (index, prefix length) of every interface that holds it now
        self.held = []  # (device name, prefix length) of the same
        self.target = None  # the device it goes on or comes off; None: held nowhere, given up everywhere


def _entry(where, address, device):
    """One VIP checked; `where` is '' for the single form or 'vips[N].' for an entry of O(vips)."""
    try:
        ip = ipaddress.ip_address(str(address).strip())
    except ValueError:
        raise ValidationError(where + 'address', 'invalid address %r' % (address,),
                              'an IPv4 or IPv6 address without prefix length')
    if ip.is_multicast or ip.is_unspecified or ip.is_loopback:
        raise ValidationError(where + 'address', '%s cannot be a VIP' % ip, 'a unicast address')
    if device is not None and not is_ifname(device):
        raise ValidationError(where + 'device', 'invalid interface name %r' % (device,), IFNAME_ACCEPTED)
    return Entry(where, str(ip), 32 if ip.version == 4 else 128, device)


def _entries(params):
    """The VIP of the single form or every VIP of O(vips), all checked before the host is read; a VIP
    may appear once."""
    if params.get('vips') is None:
        return [_entry('', params['address'], params['device'])]
    entries, seen = [], {}
    for number, item in enumerate(params['vips']):
        entry = _entry('vips[%d].' % number, item.get('address'), item.get('device'))
        if entry.address in seen:
            raise ValidationError('vips[%d].address' % number, '%s is also vips[%d]' % (entry.address, seen[entry.address]),
                                  'each VIP once')
        seen[entry.address] = number
        entries.append(entry)
    return entries


def _locate(links, entry, want):
    """Where the entry is held now and which device it goes on (or comes off); fails naming the entry's
    device field when no device can be found."""
    entry.holders = links.holders(entry.address)
    entry.held = [(name, plen) for name, (_index, plen) in
                  zip(links.names([index for index, _plen in entry.holders]), entry.holders)]
    if not want and entry.device is None:
        entry.target = entry.held[0][0] if entry.held else None
        return
    device = entry.device or (entry.held[0][0] if entry.held else links.route_interface(entry.address))
    if device is None or links.index(device) is None:
        raise HostNetError('%sdevice: %s' % (entry.where, 'no interface named %r' % device if device
                                             else 'no route to %s, so no interface to hold it: name the '
                                             'interface (for a routed VIP, e.g. lo)' % entry.address))
    entry.target = device


def _changed(entry, want):
    if not want and entry.device is None:
        return bool(entry.holders)
    return ((entry.target, entry.prefix) in entry.held) != want


def _apply(links, entry, want):
    if want:
        links.add_address(links.index(entry.target), entry.address, entry.prefix)
    elif entry.device is None:  # given up everywhere it is held
        for index, plen in entry.holders:
            links.del_address(index, entry.address, plen)
    else:
        links.del_address(links.index(entry.target), entry.address, entry.prefix)


def _states(entry, want):
    """(before, after) for diff mode. Giving a VIP up without a device lists every holder."""
    if not want and entry.device is None:
        names = sorted(name for name, _plen in entry.held)
        return ({'address': entry.address, 'devices': names, 'present': bool(names)},
                {'address': entry.address, 'devices': [], 'present': False})
    present = (entry.target, entry.prefix) in entry.held
    return ({'address': entry.address, 'device': entry.target, 'present': present},
            {'address': entry.address, 'device': entry.target, 'present': want})


def run(module, links=None):
    params = module.params
    entries = _entries(params)
    want = params['state'] == 'present'
    links = links or Links(open_iproute())
    for entry in entries:  # every VIP located before any is changed
        _locate(links, entry, want)
    results = []
    for entry in entries:
        changed = _changed(entry, want)
        if changed and not module.check_mode:
            _apply(links, entry, want)
        results.append(dict({'address': entry.address, 'changed': changed, 'device': entry.target,
                             'prefix': entry.prefix}, diff=_states(entry, want)))
    return _result(module, params, results)


def _result(module, params, results):
    """The single form's result (device, prefix) or O(vips)'s (one entry per VIP, in order)."""
    changed = any(r['changed'] for r in results)
    diffs = [r.pop('diff') for r in results]
    if params.get('vips') is None:
        result = {'changed': changed, 'device': results[0]['device'], 'prefix': results[0]['prefix']}
        if module._diff:
            result['diff'] = {'before': diffs[0][0], 'after': diffs[0][1]}
        return result
    result = {'changed': changed, 'vips': results}
    if module._diff:
        result['diff'] = {'before': {'vips': [d[0] for d in diffs]}, 'after': {'vips': [d[1] for d in diffs]}}
    return result


def main():
    run_module(build_module(), run, preview=preview)


def preview(module):
    """Check mode without pyroute2: the VIPs would be placed (or given up); where is not known unread."""
    params = module.params
    want = params['state'] == 'present'
    results = []
    for entry in _entries(params):
        entry.target = entry.device or 'the interface that routes to it (not read)'
        # giving up a VIP that was never read to be there is no change to show
        results.append({'address': entry.address, 'changed': want, 'device': entry.target, 'prefix': entry.prefix,
                        'diff': ({'address': entry.address, 'device': entry.target, 'present': not want},
                                 {'address': entry.address, 'device': entry.target, 'present': want})})
    return _result(module, params, results)


if __name__ == '__main__':
    main()
