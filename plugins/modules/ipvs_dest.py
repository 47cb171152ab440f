#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) the lvs.cluster authors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
module: ipvs_dest
short_description: Manage one destination (real server) of an IPVS virtual service
version_added: 0.1.0
description:
  - Adds, changes in place, quiesces or removes one destination of an existing virtual service.
  - Weight, thresholds, forwarding method and tunnel options are changed with one SET request; the
    destination keeps its connections and counters. Address and port identify the destination; the kernel
    cannot change them in place.
  - Removal can drain first (set the weight to 0, wait (bounded) until the destination has no active
    connections, then delete it).
author:
  - LVS cluster maintainers (@lvs-cluster)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - lvs.cluster.ipvs
  - lvs.cluster.ipvs.dest
options:
  service:
    description:
      - The virtual service the destination belongs to; it must exist (see M(lvs.cluster.ipvs_service)).
    type: dict
    required: true
    suboptions:
      protocol:
        description: Protocol of the service; V(tcp) when omitted. Not with O(service.fwmark).
        type: str
        choices: [sctp, tcp, udp]
      address:
        description: Virtual IP address of the service. Required unless O(service.fwmark) is set.
        type: str
      port:
        description: Port of the service. Required unless O(service.fwmark) is set.
        type: int
      fwmark:
        description: Firewall mark of a fwmark service.
        type: int
      family:
        description: Address family of a fwmark service (V(ipv4) when omitted).
        type: str
        choices: [ipv4, ipv6]
  state:
    description:
      - V(present) makes the destination exist with these attributes.
      - V(quiesced) is V(present) with weight 0 (O(weight) is ignored); no new connections, existing ones
        continue. A missing destination is created quiesced.
      - V(absent) removes it; only O(address) and O(port) are read (plus the drain options).
    type: str
    choices: [absent, present, quiesced]
    default: present
  drain:
    description:
      - With O(state=absent), first set the weight to 0 and wait until the destination's active connection
        count reaches 0 (polled once a second) before deleting it. Inactive connections and persistence
        templates are not waited for.
      - With O(state=quiesced), set the weight to 0 and wait the same way, but keep the destination. This is the
        first step of a maintenance, after which the real server can go down without breaking a connection.
      - With a persistent service, clients that hold a persistence template keep coming to a quiesced
        destination until the template expires, unless C(net.ipv4.vs.expire_quiescent_template=1).
      - In check mode nothing is waited for; the result only says a drain would happen.
    type: bool
    default: false
  drain_timeout:
    description:
      - Maximum seconds to wait for the drain.
    type: int
    default: 300
  on_drain_timeout:
    description:
      - What to do when connections are still active after O(drain_timeout).
      - V(fail) (default) fails the task and leaves the destination in the kernel with weight 0, so it takes
        no new connections and an operator can decide; the safe choice for a planned removal.
      - V(delete) deletes it anyway (the remaining connections are cut or expire, depending on
        C(net.ipv4.vs.expire_nodest_conn)). With O(state=quiesced) nothing is deleted; V(delete) then only
        means that the task does not fail (RV(drain.finished) says whether the drain finished).
    type: str
    choices: [delete, fail]
    default: fail
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
- name: Real server behind a DR service
  lvs.cluster.ipvs_dest:
    service: {protocol: tcp, address: 192.0.2.10, port: 80}
    address: 198.51.100.11
    forwarding: dr
    weight: 10

- name: NAT real server on another port
  lvs.cluster.ipvs_dest:
    service: {address: 192.0.2.10, port: 80}
    address: 10.0.0.21
    port: 8080
    forwarding: nat

- name: IPv4 real server behind an IPv6 VIP (tunnelling is the only way)
  lvs.cluster.ipvs_dest:
    service: {address: "2001:db8::10", port: 80}
    address: 198.51.100.12
    forwarding: tun
    tunnel_type: gue
    tunnel_port: 6080

- name: Take a real server out of rotation for maintenance
  lvs.cluster.ipvs_dest:
    service: {address: 192.0.2.10, port: 80}
    address: 198.51.100.11
    state: quiesced

- name: Quiesce it and wait until its last connection has ended (at most 10 minutes)
  lvs.cluster.ipvs_dest:
    service: {address: 192.0.2.10, port: 80}
    address: 198.51.100.11
    state: quiesced
    drain: true
    drain_timeout: 600

- name: Remove it once its connections are gone (at most 2 minutes)
  lvs.cluster.ipvs_dest:
    service: {address: 192.0.2.10, port: 80}
    address: 198.51.100.11
    state: absent
    drain: true
    drain_timeout: 120
'''

RETURN = r'''
dest:
  description: The destination as declared (after the task); empty when absent.
  returned: always
  type: dict
  sample: {"address": "198.51.100.11", "port": 80, "forwarding": "dr", "weight": 10}
operations:
  description: The kernel operations planned (and, unless in check mode, applied).
  returned: always
  type: list
  elements: dict
drain:
  description: Outcome of a drain.
  returned: when O(drain=true) and the destination existed
  type: dict
  contains:
    finished:
      description: Whether the active connection count reached 0 in time.
      type: bool
    waited:
      description: Seconds waited.
      type: float
    active_connections:
      description: Active connections at the last poll.
      type: int
  sample: {"finished": true, "waited": 3.0, "active_connections": 0}
mutations:
  description: Number of mutating netlink requests sent to the kernel.
  returned: always
  type: int
  sample: 1
'''

import errno
import time


from ansible_collections.lvs.cluster.plugins.module_utils._ansible import (
    LvsModule,
    apply_plan,
    dest_spec,
    drain_spec,
    modprobe,
    pick,
    run_module,
    service_key_spec,
)
from ansible_collections.lvs.cluster.plugins.module_utils._diff import (
    DEL,
    diff_dest,
    diff_output,
    quiesced,
)
from ansible_collections.lvs.cluster.plugins.module_utils._drain import (
    TIMEOUT_ACCEPTED,
    DrainTimeout,
    quiesce_ops,
    timeout_message,
    wait_idle,
)
from ansible_collections.lvs.cluster.plugins.module_utils._errors import (
    KernelError,
    ValidationError,
)
from ansible_collections.lvs.cluster.plugins.module_utils._model import (
    DEST_OPTIONS,
    Table,
    dest_from_params,
    dest_key_from_params,
    service_key_from_params,
)
from ansible_collections.lvs.cluster.plugins.module_utils._netlink import connect


def argument_spec():
    spec = dest_spec()
    spec['service'] = {'type': 'dict', 'required': True, 'options': service_key_spec()}
    spec['state'] = {'type': 'str', 'choices': ['absent', 'present', 'quiesced'], 'default': 'present'}
    spec.update(drain_spec())
    return spec


def build_module():
    return LvsModule(argument_spec=argument_spec(), supports_check_mode=True)


def _drain(module, client, key, current, result, clock, sleep):
    """Quiesce, then wait for the active connections to end. True if the caller may go on (delete)."""
    params = module.params
    if current.weight != 0:
        apply_plan(client, quiesce_ops({key: {current.key: current}}), result)
    drain = wait_idle(client, {key: {current.key: current}}, params['drain_timeout'], clock, sleep)
    result['drain'] = {'finished': drain['finished'], 'waited': drain['waited'],
                       'active_connections': drain['active_connections']}
    if drain['gone']:
        return False  # someone else removed it meanwhile: nothing left to do
    if not drain['finished'] and params['on_drain_timeout'] == 'fail':
        result['changed'] = result['changed'] or current.weight != 0
        raise DrainTimeout(timeout_message('%s -> %s' % (key, current), params['drain_timeout'], drain,
                                           'the destination is'), result)
    return True


def run(module, connect_client=None, clock=time.monotonic, sleep=time.sleep):
    params = module.params
    if params['drain_timeout'] < 0:
        raise ValidationError('drain_timeout', '%d is negative' % params['drain_timeout'], TIMEOUT_ACCEPTED,
                              params['drain_timeout'])
    key = service_key_from_params(params['service'], path='service.')
    state = params['state']
    dest_params = pick(params, DEST_OPTIONS)
    if state == 'absent':
        dkey = dest_key_from_params(dest_params, key)
        desired = None
    else:
        desired = dest_from_params(dest_params, key)
        if state == 'quiesced':
            desired = quiesced(desired)
        dkey = desired.key
    client = (connect_client or (lambda: connect(load_module=modprobe(module))))()
    try:
        service = client.get_service(key)
        if service is None and desired is not None:
            raise KernelError(errno.ESRCH, 'virtual service %s does not exist: create it first '
                              '(lvs.cluster.ipvs_service or lvs.cluster.ipvs_table)' % key)
        current = client.dump_dests(key).get(dkey) if service is not None else None
        plan = diff_dest(key, desired, current)
        # absent + drain: quiesce, wait, delete; quiesced + drain: quiesce (if needed) and wait only
        removing = bool(plan and plan[0].action == DEL)
        draining = bool(params['drain'] and current is not None and (removing or state == 'quiesced'))
        if removing and draining:
            plan = quiesce_ops({key: {current.key: current}}) + plan
        result = {
            'changed': bool(plan),
            'dest': desired.to_dict() if desired is not None else {},
            'operations': [op.to_dict() for op in plan],
            'mutations': 0,
        }
        if module._diff:
            table = Table()
            if service is not None:
                table.add_service(service)
                if current is not None:
                    table.dests[key][current.key] = current
            result['diff'] = diff_output(table, plan)
        if module.check_mode:
            if draining:
                result['drain'] = {'finished': False, 'waited': 0.0, 'active_connections': None}
        elif draining:
            if _drain(module, client, key, current, result, clock, sleep) and removing:
                apply_plan(client, [op for op in plan if op.action == DEL], result)
        elif plan:
            apply_plan(client, plan, result)
    finally:
        client.close()
    return result


def main():
    module = build_module()
    run_module(module, run)


if __name__ == '__main__':
    main()
