#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) the lvs.cluster authors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
module: ipvs_table
short_description: Declare the whole IPVS table (services and destinations) in one task
version_added: 0.1.0
description:
  - Makes the kernel's IPVS table hold the declared services with their destinations, in one netlink
    session, and optionally the global timeouts and the sync daemons.
  - The whole declaration is validated first; nothing is sent to the kernel if any value is invalid, and
    every invalid value is reported with its path (for example C(services[2].destinations[0].port)).
  - The current table is read with one service dump plus one destination dump per service. Only the
    differences are sent, in batches of up to 256 requests per system call. Attributes the kernel can
    change in place are changed with SET (a changed weight is one request; connections and counters
    survive).
  - Without O(purge), services and destinations that are not declared are left alone.
author:
  - LVS cluster maintainers (@lvs-cluster)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - lvs.cluster.ipvs
options:
  services:
    description:
      - The virtual services, each with its destinations. Same options as M(lvs.cluster.ipvs_service) plus
        O(services[].destinations) with the options of M(lvs.cluster.ipvs_dest).
    type: list
    elements: dict
    required: true
    suboptions:
      protocol:
        description: Protocol; V(tcp) when omitted. Not with O(services[].fwmark).
        type: str
        choices: [sctp, tcp, udp]
      address:
        description: Virtual IP address. Required unless O(services[].fwmark) is set.
        type: str
      port:
        description: Port 1..65535 (V(0) only with persistence). Required unless O(services[].fwmark) is set.
        type: int
      fwmark:
        description: Firewall mark identifying the service instead of protocol, address and port.
        type: int
      family:
        description: Address family; follows the address, V(ipv4) for a fwmark service when omitted.
        type: str
        choices: [ipv4, ipv6]
      scheduler:
        description: Scheduler (rr wrr lc wlc lblc lblcr dh sh sed nq fo ovf mh twos), case-insensitive.
        type: str
        default: wlc
      one_packet:
        description: One-packet scheduling; UDP and fwmark services only.
        type: bool
        default: false
      sh_fallback:
        description: Scheduler V(sh) only; fall back when the hashed destination is unavailable.
        type: bool
        default: false
      sh_port:
        description: Scheduler V(sh) only; hash the source port too.
        type: bool
        default: false
      mh_fallback:
        description: Scheduler V(mh) only; fall back when the hashed destination is unavailable.
        type: bool
        default: false
      mh_port:
        description: Scheduler V(mh) only; hash the source port too.
        type: bool
        default: false
      persistence_timeout:
        description: Persistence timeout in seconds (0..2678400); V(0) is off.
        type: int
        default: 0
      persistence_netmask:
        description: Dotted IPv4 netmask or prefix length (IPv6 1..128); only with persistence.
        type: raw
      persistence_engine:
        description: Persistence engine; only with persistence.
        type: str
        choices: [sip]
      destinations:
        description: The destinations (real servers) of the service.
        type: list
        elements: dict
        default: []
        suboptions:
          address:
            description: Address of the real server (another family than the service needs V(tun)).
            type: str
            required: true
          port:
            description: Port; the service port when omitted. Only V(nat) can use another port.
            type: int
          forwarding:
            description: Forwarding method.
            type: str
            choices: [dr, local, nat, tun]
            default: dr
          weight:
            description: Weight 0..2147483647; V(0) quiesces.
            type: int
            default: 1
          upper_threshold:
            description: Connection limit 0..65535; V(0) is unlimited.
            type: int
            default: 0
          lower_threshold:
            description: Lower connection threshold 0..65535, not above O(services[].destinations[].upper_threshold).
            type: int
            default: 0
          tunnel_type:
            description: Encapsulation for V(tun); V(ipip) when omitted.
            type: str
            choices: [gre, gue, ipip]
          tunnel_port:
            description: GUE port; required with V(gue) only.
            type: int
          tunnel_checksum:
            description: Tunnel checksum mode; V(nocsum) when omitted.
            type: str
            choices: [csum, nocsum, remcsum]
  purge:
    description:
      - Delete services, and destinations of declared services, that are not declared.
      - With O(purge=true) and an empty O(services) list the table is emptied.
    type: bool
    default: false
  drain:
    description:
      - With O(purge=true), what the purge removes (a destination, or a whole service with its destinations)
        is drained first. Its destinations get weight 0 together with the other changes of the plan, then
        the task waits until none of them has an active connection (polled once a second) and removes them.
        Weight changes and new destinations are never drained; they do not disturb connections.
      - The table is read again after the wait, so what another tool changed meanwhile is planned afresh.
      - With a persistent service, clients that hold a persistence template keep coming to a quiesced
        destination until the template expires, unless C(net.ipv4.vs.expire_quiescent_template=1).
      - Under DR and TUN the director sees only the client's half of a connection. One that the real server
        reset stays active in its table until the TCP timeout, and holds a drain until O(drain_timeout).
      - In check mode nothing is waited for; RV(operations) shows the weight-0 step before the removal.
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
      - V(fail) (default) fails the task before anything is removed; the drained destinations keep weight 0,
        so they take no new connections, and the next run drains them again.
      - V(delete) removes them anyway (the remaining connections are cut or expire, depending on
        C(net.ipv4.vs.expire_nodest_conn)).
    type: str
    choices: [delete, fail]
    default: fail
  timeouts:
    description:
      - Global timeouts in seconds (0..2147483). Omitted or V(0) leaves a value unchanged.
    type: dict
    suboptions:
      tcp:
        description: Established TCP connections.
        type: int
      tcpfin:
        description: TCP connections after a FIN.
        type: int
      udp:
        description: UDP.
        type: int
  sync_daemons:
    description:
      - Connection synchronisation daemons, at most one V(master) and one V(backup).
      - Omitted leaves the daemons alone; a list (even empty) stops the daemons not in it. A daemon cannot be
        changed in place; a changed one is stopped and started.
      - The kernel refuses to start a daemon while a destination has another address family than its service.
    type: list
    elements: dict
    suboptions:
      role:
        description: Daemon role.
        type: str
        required: true
        choices: [backup, master]
      interface:
        description: Multicast interface.
        type: str
        required: true
      sync_id:
        description: Sync ID 0..255.
        type: int
        default: 0
      max_len:
        description: Maximum sync message length; applied on start, not compared (the kernel adapts it to the MTU).
        type: int
      group:
        description: Multicast group (IPv4 or IPv6); kernel default 224.0.0.81.
        type: str
      port:
        description: Multicast port; kernel default 8848.
        type: int
      ttl:
        description: Multicast TTL 1..255; kernel default 1.
        type: int
notes:
  - "Order of the operations: timeouts, sync daemons to stop, services added or changed, their destinations
    added or changed, destinations removed, services removed, sync daemons to start. New destinations come
    before the removal of old ones, so a pool being replaced keeps capacity."
  - "If the kernel rejects an operation part-way, the task fails and reports exactly which operations were
    applied (RV(applied)), which failed and why (RV(failed)), which were not attempted (RV(not_attempted))
    and which got no answer (RV(unknown)). Operations in the same batch as the failure are still executed by
    the kernel (it continues after an error); later batches are not sent."
  - "Nothing is rolled back on purpose: a rollback can fail as well and would take live services away again.
    The module is declarative, so fixing the cause and re-running converges on the declared table."
  - "The result's C(invocation) counts the declared services and destinations instead of echoing them: echoing
    a table of thousands of entries cost seconds of every run. RV(operations) (and the diff) show what changed."
attributes:
  platform:
    support: full
    platforms: linux
  check_mode:
    support: full
  diff_mode:
    support: full
    details: The diff shows only the services the plan touches, keyed like C(tcp 192.0.2.10:80).
'''

EXAMPLES = r'''
- name: Take 198.51.100.12 out of the pool once its clients are done (at most 10 minutes, then cut)
  lvs.cluster.ipvs_table:
    purge: true
    drain: true
    drain_timeout: 600
    on_drain_timeout: delete
    services:
      - address: 192.0.2.10
        port: 80
        destinations:
          - {address: 198.51.100.11}

- name: Two DR services, nothing else on this director
  lvs.cluster.ipvs_table:
    purge: true
    services:
      - address: 192.0.2.10
        port: 80
        scheduler: wlc
        destinations:
          - {address: 198.51.100.11, weight: 10}
          - {address: 198.51.100.12, weight: 10}
      - address: 192.0.2.10
        port: 443
        scheduler: sh
        sh_port: true
        destinations:
          - {address: 198.51.100.11}
          - {address: 198.51.100.12}
    timeouts:
      tcp: 900
      tcpfin: 120
      udp: 300
    sync_daemons:
      - {role: master, interface: ens4, sync_id: 10}
'''

RETURN = r'''
preview:
  description:
    - Only in check mode on a host without pyroute2 (one the roles have not prepared yet). The host was not
      read; the result shows what a real run would apply to a host that holds none of it, and this says so.
  returned: in check mode without pyroute2
  type: str
  sample: "check mode on a host without pyroute2 (...): the host was not read, ..."
operations:
  description: The planned operations, in order, as readable strings.
  returned: always
  type: list
  elements: str
  sample: ["add_service tcp 192.0.2.10:80", "add_dest tcp 192.0.2.10:80 -> 198.51.100.11:80"]
summary:
  description: Number of planned operations per kind.
  returned: always
  type: dict
  sample: {"add_service": 1, "add_dest": 2}
mutations:
  description: Number of mutating netlink requests sent to the kernel.
  returned: always
  type: int
  sample: 3
drain:
  description: Outcome of the drain of what the purge removes.
  returned: when O(drain=true) and the purge removes a destination or a service
  type: dict
  contains:
    finished:
      description: Whether every drained destination reached 0 active connections in time (false in check mode).
      type: bool
    waited:
      description: Seconds waited.
      type: float
    active_connections:
      description: Active connections left at the last poll (V(null) in check mode).
      type: int
    busy:
      description: The drained destinations that still had active connections at the last poll, with their count.
      type: dict
  sample: {"finished": true, "waited": 4.0, "active_connections": 0, "busy": {}}
applied:
  description: Operations the kernel accepted.
  returned: failure part-way
  type: list
  elements: dict
failed:
  description: Operations the kernel rejected, with the error.
  returned: failure part-way
  type: list
  elements: dict
not_attempted:
  description: Operations not sent because an earlier batch had an error.
  returned: failure part-way
  type: list
  elements: dict
unknown:
  description: Operations sent whose answer was lost (netlink buffer overflow or timeout).
  returned: failure part-way
  type: list
  elements: dict
'''

import time

from ansible_collections.lvs.cluster.plugins.module_utils._ansible import (
    apply_plan,
    convert_table,
    drain_spec,
    ipvs_client,
    LvsModule,
    run_module,
    sync_daemon_spec,
    timeouts_spec,
)
from ansible_collections.lvs.cluster.plugins.module_utils._diff import ADD, DEL, diff_output, plan_all
from ansible_collections.lvs.cluster.plugins.module_utils._drain import (
    TIMEOUT_ACCEPTED,
    DrainTimeout,
    quiesce_ops,
    removed_dests,
    timeout_message,
    wait_idle,
)
from ansible_collections.lvs.cluster.plugins.module_utils._model import (
    ErrorCollector,
    parse_table,
    sync_daemons_from_params,
    timeouts_from_params,
)
from ansible_collections.lvs.cluster.plugins.module_utils._preview import NothingHeld


def argument_spec():
    spec = {
        # No 'options': the services and their destinations (documented above as table_service_spec()
        # declares them) are converted by convert_table and validated by the model's parse_table, every
        # error at once with its path. AnsibleModule's per-element check of the same options cost seconds
        # on a large table (issue 12).
        'services': {'type': 'list', 'elements': 'dict', 'required': True},
        'purge': {'type': 'bool', 'default': False},
        'timeouts': {'type': 'dict', 'options': timeouts_spec()},
        'sync_daemons': {'type': 'list', 'elements': 'dict', 'options': sync_daemon_spec()},
    }
    spec.update(drain_spec())
    return spec


def build_module():
    return LvsModule(argument_spec=argument_spec(), supports_check_mode=True)


def declared(params):
    """(table, timeouts, daemons) from the module params; every error at once."""
    errors = ErrorCollector()
    table = parse_table(convert_table(params['services']), 'services', errors)
    timeouts = None
    if params.get('timeouts') is not None:
        timeouts = timeouts_from_params(params['timeouts'], 'timeouts.', errors)
    daemons = None
    if params.get('sync_daemons') is not None:
        daemons = sync_daemons_from_params(params['sync_daemons'], 'sync_daemons', errors)
    if params.get('drain_timeout') is not None and params['drain_timeout'] < 0:
        errors.add('drain_timeout', '%d is negative' % params['drain_timeout'], TIMEOUT_ACCEPTED,
                   params['drain_timeout'])
    errors.raise_if_any()
    return table, timeouts, daemons


def invocation(params, table):
    """The arguments the result echoes, with ``services`` counted instead of echoed: AnsibleModule would
    echo the whole table, then scan it for secrets, serialise it and send it back, seconds for a large
    one (issue 12). RV(operations) and the diff show what the task did."""
    args = dict(params)
    args['services'] = '%d services, %d destinations (not echoed)' % (len(table.services), table.dest_count())
    return args


def run(module, connect_client=None, clock=time.monotonic, sleep=time.sleep):
    params = module.params
    table, timeouts, daemons = declared(params)
    with ipvs_client(module, connect_client) as client:
        current = client.dump_table()
        current_timeouts = client.get_timeouts() if timeouts is not None else None
        current_daemons = client.get_daemons() if daemons is not None else None
        plan = plan_all(table, current, params['purge'], timeouts, current_timeouts,
                        daemons, current_daemons)
        leaving = removed_dests(plan, current) if params['drain'] else {}
        # drained: everything before the removals (daemon stops, timeouts, adds and changes) plus weight 0
        # for what leaves; then the wait; then the removals and the daemon starts
        removals = [op for op in plan if op.action == DEL and op.kind in ('dest', 'service')]
        starts = [op for op in plan if op.action == ADD and op.kind == 'daemon']
        later = {id(op) for op in removals + starts}  # by identity: a plan can hold thousands of ops
        first = [op for op in plan if id(op) not in later] if leaving else plan
        first = first + quiesce_ops(leaving)
        if leaving:
            plan = first + removals + starts
        summary = {}
        for op in plan:
            summary[op.name] = summary.get(op.name, 0) + 1
        result = {
            'changed': bool(plan),
            'operations': [str(op) for op in plan],
            'summary': summary,
            'mutations': 0,
            'invocation': {'module_args': invocation(params, table)},
        }
        if module._diff:
            result['diff'] = diff_output(current, plan, current_timeouts, current_daemons)
        if module.check_mode:
            if leaving:
                result['drain'] = {'finished': False, 'waited': 0.0, 'active_connections': None, 'busy': {}}
        elif leaving:
            _drained_apply(module, client, first, leaving, result, clock, sleep,
                           lambda: plan_all(table, client.dump_table(), params['purge'], timeouts,
                                            client.get_timeouts() if timeouts is not None else None,
                                            daemons, client.get_daemons() if daemons is not None else None))
        elif plan:
            apply_plan(client, plan, result)
    return result


def _drained_apply(module, client, first, leaving, result, clock, sleep, replan):
    """Apply ``first`` (changes and weight 0), wait for the drain, then apply a fresh plan (the removals)."""
    params = module.params
    if first:
        apply_plan(client, first, result)
    drain = wait_idle(client, leaving, params['drain_timeout'], clock, sleep)
    result['drain'] = {key: drain[key] for key in ('finished', 'waited', 'active_connections', 'busy')}
    if not drain['finished'] and params['on_drain_timeout'] == 'fail':
        count = sum(len(dests) for dests in leaving.values())
        raise DrainTimeout(timeout_message('%d destination(s)' % count, params['drain_timeout'], drain,
                                           'nothing was removed; the drained destinations are'), result)
    rest = replan()
    if rest:
        apply_plan(client, rest, result)


def main():
    module = build_module()
    run_module(module, run, preview=lambda m: run(m, connect_client=NothingHeld))


if __name__ == '__main__':
    main()
