#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) the lvs.cluster authors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
module: ipvs_service
short_description: Manage one IPVS virtual service
version_added: 0.1.0
description:
  - Creates, changes in place or removes one IPVS virtual service in the running kernel.
  - Only the service's own attributes are managed; its destinations are left alone (use
    M(lvs.cluster.ipvs_dest) or M(lvs.cluster.ipvs_table)).
  - Everything is validated before the kernel is touched; an attribute the kernel can change in place
    (scheduler, flags, persistence) is changed with one SET request, never by re-creating the service.
author:
  - LVS cluster maintainers (@lvs-cluster)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - lvs.cluster.ipvs
  - lvs.cluster.ipvs.service_key
  - lvs.cluster.ipvs.service
options:
  state:
    description:
      - V(present) makes the service exist with these attributes; V(absent) removes it and its destinations.
      - With V(absent) only the key options are read.
    type: str
    choices: [absent, present]
    default: present
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
- name: Web VIP, weighted least-connection
  lvs.cluster.ipvs_service:
    protocol: tcp
    address: 192.0.2.10
    port: 80
    scheduler: wlc

- name: Persistent HTTPS for a /24 of clients
  lvs.cluster.ipvs_service:
    address: 192.0.2.10
    port: 443
    scheduler: rr
    persistence_timeout: 600
    persistence_netmask: 255.255.255.0

- name: Firewall-mark service over IPv6 with source hashing on ports
  lvs.cluster.ipvs_service:
    fwmark: 42
    family: ipv6
    scheduler: sh
    sh_port: true

- name: Remove a service
  lvs.cluster.ipvs_service:
    address: 192.0.2.10
    port: 8080
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
service:
  description: The service as it is after the task (as it would be in check mode); empty when absent.
  returned: always
  type: dict
  sample: {"protocol": "tcp", "address": "192.0.2.10", "port": 80, "family": "ipv4", "scheduler": "wlc"}
operations:
  description: The kernel operations planned (and, unless in check mode, applied).
  returned: always
  type: list
  elements: dict
  sample: [{"op": "set_service", "target": "tcp 192.0.2.10:80",
            "changes": {"scheduler": {"before": "wlc", "after": "rr"}}}]
mutations:
  description: Number of mutating netlink requests sent to the kernel.
  returned: always
  type: int
  sample: 1
'''


from ansible_collections.lvs.cluster.plugins.module_utils._ansible import (
    apply_plan,
    ipvs_client,
    LvsModule,
    pick,
    run_module,
    service_spec,
)
from ansible_collections.lvs.cluster.plugins.module_utils._diff import diff_output, diff_service
from ansible_collections.lvs.cluster.plugins.module_utils._model import (
    SERVICE_KEY_OPTIONS,
    SERVICE_OPTIONS,
    Table,
    service_from_params,
    service_key_from_params,
)
from ansible_collections.lvs.cluster.plugins.module_utils._preview import NothingHeld


def argument_spec():
    spec = service_spec()
    spec['state'] = {'type': 'str', 'choices': ['absent', 'present'], 'default': 'present'}
    return spec


def build_module():
    return LvsModule(
        argument_spec=argument_spec(),
        supports_check_mode=True,
        mutually_exclusive=[('fwmark', 'address'), ('fwmark', 'port'), ('fwmark', 'protocol')],
        required_one_of=[('fwmark', 'address')],
    )


def run(module, connect_client=None):
    params = module.params
    if params['state'] == 'absent':
        key = service_key_from_params(pick(params, SERVICE_KEY_OPTIONS))
        desired = None
    else:
        desired = service_from_params(pick(params, list(SERVICE_KEY_OPTIONS) + list(SERVICE_OPTIONS)))
        key = desired.key
    with ipvs_client(module, connect_client) as client:
        current = client.get_service(key)
        plan = diff_service(key, desired, current)
        result = {
            'changed': bool(plan),
            'service': desired.to_dict() if desired is not None else {},
            'operations': [op.to_dict() for op in plan],
            'mutations': 0,
        }
        if module._diff:
            table = Table()
            if current is not None:
                table.add_service(current)
            result['diff'] = diff_output(table, plan)
        if plan and not module.check_mode:
            apply_plan(client, plan, result)
    return result


def main():
    module = build_module()
    run_module(module, run, preview=lambda m: run(m, connect_client=NothingHeld))


if __name__ == '__main__':
    main()
