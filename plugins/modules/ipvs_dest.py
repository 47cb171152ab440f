#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) the lvs.cluster authors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
module: ipvs_dest
short_description: Manage destinations (real servers) of IPVS virtual services
version_added: 0.1.0
description:
  - Adds, changes in place, quiesces or removes one destination of an existing virtual service, or, with
    O(destinations), several destinations of several services in one run and one netlink session (a real
    server's every destination, say, when it goes into maintenance). Every entry is checked, and every
    service read, before anything changes.
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
  address:
    description:
      - Address of the real server. An IPv4 destination behind an IPv6 service (or the reverse) needs
        O(forwarding=tun).
      - Required with O(service); not with O(destinations).
    required: false
  service:
    description:
      - The virtual service the destination belongs to; it must exist (see M(lvs.cluster.ipvs_service)).
      - One of O(service) or O(destinations) is required.
    type: dict
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
  destinations:
    description:
      - Several destinations at once, instead of O(service), O(address) and the other options of one. Each
        entry takes the same options as the single form, plus O(destinations[].drain).
      - O(state), O(drain_timeout) and O(on_drain_timeout) apply to every entry. The draining entries are
        drained together (one wait, not one after the other).
      - A destination may appear once per service.
    type: list
    elements: dict
    suboptions:
      service:
        description: The virtual service, as O(service).
        type: dict
        required: true
        suboptions:
          protocol:
            description: As O(service.protocol).
            type: str
            choices: [sctp, tcp, udp]
          address:
            description: As O(service.address).
            type: str
          port:
            description: As O(service.port).
            type: int
          fwmark:
            description: As O(service.fwmark).
            type: int
          family:
            description: As O(service.family).
            type: str
            choices: [ipv4, ipv6]
      address:
        description: As O(address).
        type: str
        required: true
      port:
        description: As O(port).
        type: int
      forwarding:
        description: As O(forwarding).
        type: str
        choices: [dr, local, nat, tun]
        default: dr
      weight:
        description: As O(weight).
        type: int
        default: 1
      upper_threshold:
        description: As O(upper_threshold).
        type: int
        default: 0
      lower_threshold:
        description: As O(lower_threshold).
        type: int
        default: 0
      tunnel_type:
        description: As O(tunnel_type).
        type: str
        choices: [gre, gue, ipip]
      tunnel_port:
        description: As O(tunnel_port).
        type: int
      tunnel_checksum:
        description: As O(tunnel_checksum).
        type: str
        choices: [csum, nocsum, remcsum]
      drain:
        description:
          - Whether to drain this entry; O(drain) when omitted. The rolling maintenance playbook drains only on
            the director that holds the service's VIP, for instance.
        type: bool
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

- name: Take a real server out of two services at once, waiting for both drains together
  lvs.cluster.ipvs_dest:
    destinations:
      - {service: {address: 192.0.2.10, port: 80}, address: 198.51.100.11}
      - {service: {address: 192.0.2.10, port: 443}, address: 198.51.100.11}
    state: quiesced
    drain: true

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
  returned: with O(service)
  type: dict
  sample: {"address": "198.51.100.11", "port": 80, "forwarding": "dr", "weight": 10}
dests:
  description: The destinations as declared (after the task), each with its service; empty when absent.
  returned: with O(destinations)
  type: list
  elements: dict
  sample: [{"address": "198.51.100.11", "port": 80, "forwarding": "dr", "weight": 0,
            "service": {"protocol": "tcp", "address": "192.0.2.10", "port": 80, "family": "ipv4"}}]
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
    apply_plan,
    dest_spec,
    drain_spec,
    ipvs_client,
    LvsModule,
    pick,
    run_module,
    service_key_spec,
)
from ansible_collections.lvs.cluster.plugins.module_utils._diff import (
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
    ErrorCollector,
    Table,
    dest_from_params,
    dest_key_from_params,
    format_endpoint,
    service_key_from_params,
)


def argument_spec():
    spec = dest_spec()
    spec['address']['required'] = False  # required with `service` (build_module), not with `destinations`
    spec['service'] = {'type': 'dict', 'options': service_key_spec()}
    entry = dest_spec()
    entry['service'] = {'type': 'dict', 'required': True, 'options': service_key_spec()}
    entry['drain'] = {'type': 'bool'}
    spec['destinations'] = {'type': 'list', 'elements': 'dict', 'options': entry}
    spec['state'] = {'type': 'str', 'choices': ['absent', 'present', 'quiesced'], 'default': 'present'}
    spec.update(drain_spec())
    return spec


# One destination (service, address, ...) or several (destinations), never both.
FORM_RULES = {
    'mutually_exclusive': [('destinations', 'service'), ('destinations', 'address')],
    'required_one_of': [('destinations', 'service')],
    'required_by': {'service': 'address'},
}


def build_module():
    return LvsModule(argument_spec=argument_spec(), supports_check_mode=True, **FORM_RULES)


class Entry:
    """One destination to act on: its service, what it should become (None: absent), whether to drain it."""

    def __init__(self, key, dkey, desired, drain):
        self.key, self.dkey, self.desired, self.drain = key, dkey, desired, drain
        self.current = None


def _entries(params):
    """The destinations of the single form or of O(destinations), every field checked before any kernel
    contact; all errors at once, each named by its path."""
    state = params['state']
    if params.get('destinations') is None:
        given = [(dict(pick(params, DEST_OPTIONS), service=params['service']), '', params['drain'])]
    else:
        given = [(item, 'destinations[%d].' % index, params['drain'] if item.get('drain') is None else item['drain'])
                 for index, item in enumerate(params['destinations'])]
    errors = ErrorCollector()
    entries = []
    for item, path, drain in given:
        key = service_key_from_params(item['service'], path=path + 'service.', errors=errors)
        values = pick(item, DEST_OPTIONS)
        if state == 'absent':
            dkey, desired = dest_key_from_params(values, key, path, errors), None
        else:
            desired = dest_from_params(values, key, path, errors)
            desired = quiesced(desired) if desired is not None and state == 'quiesced' else desired
            dkey = desired.key if desired is not None else None
        entries.append(Entry(key, dkey, desired, drain))
    errors.raise_if_any()
    seen = {}
    for index, entry in enumerate(entries):
        if (entry.key, entry.dkey) in seen:
            raise ValidationError('destinations[%d]' % index, 'the same destination as destinations[%d] (%s -> %s)'
                                  % (seen[(entry.key, entry.dkey)], entry.key, format_endpoint(*entry.dkey)),
                                  'each destination of a service once', entry.dkey[0])
        seen[(entry.key, entry.dkey)] = index
    return entries


def _leaving(draining):
    """{service key: {dest key: Dest as the kernel has it}} of the draining entries, the form quiesce_ops and
    wait_idle take; a service may have several."""
    leaving = {}
    for entry in draining:
        leaving.setdefault(entry.key, {})[entry.dkey] = entry.current
    return leaving


def _drain(params, client, draining, result, clock, sleep):
    """Wait until no draining destination has an active connection (they take no new ones by now).
    Returns the destinations someone else removed meanwhile."""
    drain = wait_idle(client, _leaving(draining), params['drain_timeout'], clock, sleep)
    result['drain'] = {'finished': drain['finished'], 'waited': drain['waited'],
                       'active_connections': drain['active_connections']}
    if not drain['finished'] and params['on_drain_timeout'] == 'fail':
        what = (str(draining[0].key) + ' -> ' + str(draining[0].current) if len(draining) == 1
                else '%d destinations' % len(draining))
        raise DrainTimeout(timeout_message(what, params['drain_timeout'], drain,
                                           'the destination is' if len(draining) == 1 else 'they are'), result)
    return set(drain['gone'])


def run(module, connect_client=None, clock=time.monotonic, sleep=time.sleep):
    params = module.params
    if params['drain_timeout'] < 0:
        raise ValidationError('drain_timeout', '%d is negative' % params['drain_timeout'], TIMEOUT_ACCEPTED,
                              params['drain_timeout'])
    entries = _entries(params)
    state = params['state']
    with ipvs_client(module, connect_client) as client:
        # read everything first: a missing service fails the task before any change
        table = Table()
        for key in sorted({entry.key for entry in entries}, key=lambda k: k.sort_key()):
            service = client.get_service(key)
            if service is None:
                if state != 'absent':
                    raise KernelError(errno.ESRCH, 'virtual service %s does not exist: create it first '
                                      '(lvs.cluster.ipvs_service or lvs.cluster.ipvs_table)' % key)
                continue
            table.add_service(service)
            table.dests[key].update(client.dump_dests(key))
        plan, draining, removals = [], [], []
        for entry in entries:
            entry.current = table.dests.get(entry.key, {}).get(entry.dkey)
            ops = diff_dest(entry.key, entry.desired, entry.current)
            # quiesced + drain: the change (weight 0) first, then the wait; absent + drain: weight 0, the
            # wait, then the removal
            if entry.drain and entry.current is not None and (entry.desired is None or state == 'quiesced'):
                draining.append(entry)
            (removals if entry.desired is None else plan).extend(ops)
        if state == 'absent':
            plan = quiesce_ops(_leaving(draining))
        planned = plan + removals
        result = {'changed': bool(planned), 'operations': [op.to_dict() for op in planned], 'mutations': 0}
        if params.get('destinations') is None:
            result['dest'] = entries[0].desired.to_dict() if entries[0].desired is not None else {}
        else:
            result['dests'] = [dict(e.desired.to_dict(), service=e.key.to_dict()) for e in entries
                               if e.desired is not None]
        if module._diff:
            result['diff'] = diff_output(table, planned)
        if module.check_mode:
            if draining:
                result['drain'] = {'finished': False, 'waited': 0.0, 'active_connections': None}
            return result
        if plan:
            apply_plan(client, plan, result)
        if draining:
            result['changed'] = bool(plan)  # what a drain that times out leaves behind
            gone = _drain(params, client, draining, result, clock, sleep)
            # a destination someone else removed meanwhile is not removed again
            removals = [op for op in removals if '%s -> %s' % (op.key, op.dest) not in gone]
            result['changed'] = bool(plan or removals)
        if removals:
            apply_plan(client, removals, result)
    return result


def main():
    module = build_module()
    run_module(module, run)


if __name__ == '__main__':
    main()
