# -*- coding: utf-8 -*-
# Copyright (c) the lvs.cluster authors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Drained removal: stop new connections to what leaves, wait until its own have ended, then remove it.

Deleting a busy destination breaks its established connections: the kernel drops their packets
(net.ipv4.vs.expire_nodest_conn=0, the default) or expires them (=1). Weight 0 sends no new connection
there while the established ones go on, and the destination's active count (ESTABLISHED, for TCP) says
when the last one has ended. Inactive entries (FIN_WAIT, TIME_WAIT) carry no data and are not waited for.
"""

from __future__ import annotations

from ansible_collections.lvs.cluster.plugins.module_utils._diff import DEL, SET, Op, quiesced
from ansible_collections.lvs.cluster.plugins.module_utils._errors import LvsError

POLL_INTERVAL = 1.0
TIMEOUT_ACCEPTED = 'seconds, 0 or more (0: quiesce and decide at once)'


class DrainTimeout(LvsError):
    """Connections were still active when the drain's time was up (and the caller must not go on)."""

    def __init__(self, message, result):
        self.result = result
        super().__init__(message)

    def fail_kwargs(self):
        kwargs = dict(self.result)
        kwargs['msg'] = str(self)
        return kwargs


def removed_dests(plan, current):
    """{ServiceKey: {dest key: Dest}} of every destination the plan removes; a removed service
    takes all of its destinations with it."""
    leaving = {}
    for op in plan:
        if op.action != DEL:
            continue
        if op.kind == 'dest':
            leaving.setdefault(op.key, {})[op.dest.key] = op.dest
        elif op.kind == 'service':
            leaving.setdefault(op.key, {}).update(current.dests.get(op.key, {}))
    return {key: dests for key, dests in leaving.items() if dests}


def quiesce_ops(leaving):
    """One SET weight 0 per destination in ``leaving`` that still takes new connections."""
    return [Op(SET, 'dest', key=key, dest=quiesced(dest), changes=(('weight', dest.weight, 0),))
            for key in sorted(leaving, key=lambda k: k.sort_key())
            for _dkey, dest in sorted(leaving[key].items())
            if dest.weight != 0]


def wait_idle(client, leaving, timeout, clock, sleep):
    """Poll the kernel until no destination in ``leaving`` has an active connection, or ``timeout``
    seconds have passed. A destination that is gone meanwhile counts as idle.

    Returns {'finished', 'waited' (s), 'active_connections' (sum), 'busy' {target: count}, 'gone' [target]}.
    """
    start = clock()
    deadline = start + timeout
    while True:
        busy = {}
        gone = []
        for key, dests in leaving.items():
            have, counters = client.dump_dests(key, with_stats=True)
            for dkey, dest in dests.items():
                target = '%s -> %s' % (key, dest)
                if dkey not in have:
                    gone.append(target)
                elif counters[dkey]['active_connections']:
                    busy[target] = counters[dkey]['active_connections']
        now = clock()
        if not busy or now >= deadline:
            break
        sleep(min(POLL_INTERVAL, deadline - now))
    return {'finished': not busy, 'waited': round(now - start, 1),
            'active_connections': sum(busy.values()), 'busy': busy, 'gone': sorted(gone)}


def timeout_message(what, timeout, drain, left):
    """The failure text of a drain that ran out of time with on_drain_timeout=fail."""
    return ('drain of %s timed out after %ss with %d active connection(s) (%s); %s left with weight 0 and '
            'taking no new connections (on_drain_timeout=fail): raise drain_timeout, or set '
            'on_drain_timeout=delete to remove it anyway'
            % (what, timeout, drain['active_connections'],
               ', '.join('%s: %d' % item for item in sorted(drain['busy'].items())), left))
