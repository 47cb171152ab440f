#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) the lvs.cluster authors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
module: ipvs_info
short_description: Read the IPVS table, counters, timeouts and sync daemons
version_added: 0.1.0
description:
  - Reads the running kernel's IPVS state without changing anything, in the same normalised form the other
    modules of this collection accept, so a result can be compared with a declaration.
  - Reports the real forwarding method of each destination, weights, thresholds, connection counters,
    traffic counters and rates, the global timeouts and the running sync daemons.
author:
  - LVS cluster maintainers (@lvs-cluster)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - lvs.cluster.ipvs
options: {}
attributes:
  platform:
    support: full
    platforms: linux
  check_mode:
    support: full
    details: The module never changes anything.
  diff_mode:
    support: none
'''

EXAMPLES = r'''
- name: Read IPVS
  lvs.cluster.ipvs_info:
  register: ipvs

- name: Every destination of the web VIP has weight > 0
  ansible.builtin.assert:
    that: >-
      ipvs.services | selectattr('name', 'equalto', 'tcp 192.0.2.10:80') | map(attribute='destinations')
      | first | selectattr('weight', 'equalto', 0) | list | length == 0
'''

RETURN = r'''
services:
  description: Virtual services, sorted; each with its destinations.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Readable key, e.g. C(tcp 192.0.2.10:80), C(tcp [2001:db8::1]:443) or C(fwmark 5 ipv4).
      type: str
    stats:
      description: Service counters (conns, inpkts, outpkts, inbytes, outbytes) and rates (cps, inpps,
        outpps, inbps, outbps).
      type: dict
    destinations:
      description: Destinations with address, port, forwarding (nat, dr, tun, local), weight, thresholds,
        tunnel options, active/inactive/persistent connection counts and stats.
      type: list
      elements: dict
  sample:
    - name: tcp 192.0.2.10:80
      protocol: tcp
      address: 192.0.2.10
      port: 80
      family: ipv4
      scheduler: wlc
      persistence_timeout: 0
      stats: {conns: 12, inpkts: 80, outpkts: 0, inbytes: 5000, outbytes: 0, cps: 0, inpps: 0, outpps: 0,
              inbps: 0, outbps: 0}
      destinations:
        - {address: 198.51.100.11, port: 80, forwarding: dr, weight: 1, upper_threshold: 0,
           lower_threshold: 0, active_connections: 2, inactive_connections: 5, persistent_connections: 0}
timeouts:
  description: Global timeouts in seconds.
  returned: always
  type: dict
  sample: {tcp: 900, tcpfin: 120, udp: 300}
sync_daemons:
  description: Running connection synchronisation daemons.
  returned: always
  type: list
  elements: dict
  sample: [{role: master, interface: ens4, sync_id: 1, max_len: 1472, group: 224.0.0.81, port: 8848, ttl: 1}]
'''


from ansible_collections.lvs.cluster.plugins.module_utils._ansible import LvsModule, ipvs_client, run_module
from ansible_collections.lvs.cluster.plugins.module_utils._model import ServiceKey


def build_module():
    return LvsModule(argument_spec={}, supports_check_mode=True)


def describe(table, stats, timeouts, daemons):
    """The read-only view returned to the play (plain lists and dicts)."""
    services = []
    for key in sorted(table.services, key=ServiceKey.sort_key):
        entry = {'name': str(key)}
        entry.update(table.services[key].to_dict())
        entry['stats'] = (stats.get(key) or {}).get('service') or {}
        counters = (stats.get(key) or {}).get('dests') or {}
        dests = []
        for dkey in sorted(table.dests.get(key, {}), key=lambda k: (':' in k[0], k)):
            item = table.dests[key][dkey].to_dict()
            extra = counters.get(dkey) or {}
            item.update({
                'active_connections': extra.get('active_connections', 0),
                'inactive_connections': extra.get('inactive_connections', 0),
                'persistent_connections': extra.get('persistent_connections', 0),
                'stats': extra.get('stats', {}),
            })
            dests.append(item)
        entry['destinations'] = dests
        services.append(entry)
    return {
        'changed': False,
        'services': services,
        'timeouts': timeouts.to_dict(),
        'sync_daemons': [daemons[r].to_dict() for r in sorted(daemons)],
    }


def run(module, connect_client=None):
    with ipvs_client(module, connect_client) as client:
        table, stats = client.dump_table(with_stats=True)
        timeouts = client.get_timeouts()
        daemons = client.get_daemons()
    return describe(table, stats, timeouts, daemons)


def main():
    module = build_module()
    run_module(module, run)


if __name__ == '__main__':
    main()
