# -*- coding: utf-8 -*-
# Copyright (c) the lvs.cluster authors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Desired versus current state, in one place.

The result is a plan: an ordered list of ``Op`` that the netlink client sends
as they come. Rules:

- an attribute that the kernel can change in place is changed with SET,
  never with delete + add (that would drop connections and counters):
  scheduler, flags, persistence, weight, thresholds, forwarding method and
  tunnel options are all SET;
- the kernel cannot change a service key (protocol/address/port, fwmark/family)
  or a destination address/port in place: a different key is a different
  object, so it is an add (and, with purge, a delete of the old one);
- only configured attributes are compared: counters and rates are not part
  of the model objects, so they can never count as a difference;
- order: global timeouts, sync daemons to stop, services added/changed, their
  destinations added/changed, then removals (destinations, then services),
  then sync daemons to start. New before old keeps capacity while a pool is
  replaced; a daemon is stopped before and started after the table changes
  because the kernel refuses mixed-family destinations while it runs.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, replace
from typing import Optional, Tuple

from ansible_collections.lvs.cluster.plugins.module_utils._model import (
    Dest,
    Service,
    ServiceKey,
    SyncDaemon,
    Table,
    Timeouts,
    table_to_dict,
)

ADD = 'add'
SET = 'set'
DEL = 'del'


@dataclass(frozen=True)
class Op:
    """One kernel operation of a plan."""

    action: str  # add / set / del
    kind: str  # service / dest / timeouts / daemon
    key: Optional[ServiceKey] = None
    service: Optional[Service] = None
    dest: Optional[Dest] = None
    timeouts: Optional[Timeouts] = None
    daemon: Optional[SyncDaemon] = None
    changes: Tuple = ()  # ((name, before, after), ...) for SET

    @property
    def name(self):
        return '%s_%s' % (self.action, self.kind)

    def target(self):
        if self.kind == 'service':
            return str(self.key)
        if self.kind == 'dest':
            return '%s -> %s' % (self.key, self.dest)
        if self.kind == 'daemon':  # a stop names only the role: the kernel has one daemon per role
            return '%s sync daemon%s' % (self.daemon.role, ' on %s' % self.daemon.interface
                                         if self.daemon.interface else '')
        return 'timeouts'

    def __str__(self):
        text = '%s %s' % (self.name, self.target())
        if self.changes:
            text += ' (%s)' % ', '.join('%s: %s -> %s' % c for c in self.changes)
        return text

    def to_dict(self):
        data = {'op': self.name, 'target': self.target()}
        if self.changes:
            data['changes'] = {n: {'before': b, 'after': a} for n, b, a in self.changes}
        return data


def changes_between(current, desired):
    """Differences of the compared settings, as ((name, before, after), ...)."""
    before = current.settings()
    after = desired.settings()
    return tuple((name, before[name], after[name]) for name in after
                 if before.get(name) != after[name])


def diff_service(key, desired, current):
    """Plan for one service's own attributes (its destinations are left alone)."""
    if desired is None:
        return [Op(DEL, 'service', key=key, service=current)] if current is not None else []
    if current is None:
        return [Op(ADD, 'service', key=key, service=desired)]
    if current == desired:  # the common case of a re-apply: skip the per-field comparison
        return []
    changes = changes_between(current, desired)
    return [Op(SET, 'service', key=key, service=desired, changes=changes)] if changes else []


def diff_dest(key, desired, current):
    """Plan for one destination of the service ``key``."""
    if desired is None:
        return [Op(DEL, 'dest', key=key, dest=current)] if current is not None else []
    if current is None:
        return [Op(ADD, 'dest', key=key, dest=desired)]
    if current == desired:
        return []
    changes = changes_between(current, desired)
    return [Op(SET, 'dest', key=key, dest=desired, changes=changes)] if changes else []


def quiesced(dest):
    """The same destination taking no new connections (weight 0)."""
    return replace(dest, weight=0)


def diff_table(desired, current, purge=False):
    """Plan that makes ``current`` hold everything in ``desired``.

    Without purge, services and destinations that are not declared are left
    alone; with purge they are deleted. Deleting a service deletes its
    destinations in the kernel, so no per-destination delete is planned then.
    """
    adds = []
    dest_changes = []
    dest_removals = []
    service_removals = []
    for key in sorted(desired.services, key=ServiceKey.sort_key):
        have = current.services.get(key)
        adds.extend(diff_service(key, desired.services[key], have))
        want_dests = desired.dests.get(key, {})
        have_dests = current.dests.get(key, {}) if have is not None else {}
        for dkey in sorted(want_dests, key=_dest_sort):
            dest_changes.extend(diff_dest(key, want_dests[dkey], have_dests.get(dkey)))
        if purge:
            for dkey in sorted(have_dests, key=_dest_sort):
                if dkey not in want_dests:
                    dest_removals.append(Op(DEL, 'dest', key=key, dest=have_dests[dkey]))
    if purge:
        for key in sorted(current.services, key=ServiceKey.sort_key):
            if key not in desired.services:
                service_removals.append(Op(DEL, 'service', key=key, service=current.services[key]))
    return adds + dest_changes + dest_removals + service_removals


def _dest_sort(dkey):
    address, port = dkey
    return (':' in address, address, port)


def diff_timeouts(desired, current):
    """SET_CONFIG for the declared non-zero timeouts that differ (0 = unchanged)."""
    if desired is None:
        return []
    wanted = {}
    changes = []
    for name, value in desired.to_dict().items():
        have = getattr(current, name) if current is not None else 0
        if value and value != have:
            wanted[name] = value
            changes.append((name, have, value))
    if not wanted:
        return []
    return [Op(SET, 'timeouts', timeouts=Timeouts(**wanted), changes=tuple(changes))]


def diff_daemons(desired, current):
    """(stops, starts) for the sync daemons; ``desired`` None leaves them alone.

    A daemon cannot be changed in place: a changed one is stopped and started.
    """
    if desired is None:
        return [], []
    stops = []
    starts = []
    for role in sorted(set(desired) | set(current)):
        want = desired.get(role)
        have = current.get(role)
        if have is not None and (want is None or not want.matches(have)):
            stops.append(Op(DEL, 'daemon', daemon=have))
        if want is not None and (have is None or not want.matches(have)):
            starts.append(Op(ADD, 'daemon', daemon=want))
    return stops, starts


def plan_all(desired_table, current_table, purge=False, desired_timeouts=None,
             current_timeouts=None, desired_daemons=None, current_daemons=None):
    """The whole-table plan, in the order documented at the top of this file."""
    stops, starts = diff_daemons(desired_daemons, current_daemons or {})
    return (diff_timeouts(desired_timeouts, current_timeouts) + stops
            + diff_table(desired_table, current_table, purge) + starts)


def apply_to_table(table, plan):
    """A copy of ``table`` as it will be once ``plan`` has been applied."""
    result = Table(services=dict(table.services),
                   dests={k: dict(v) for k, v in table.dests.items()})
    for op in plan:
        if op.kind == 'service':
            if op.action == DEL:
                result.services.pop(op.key, None)
                result.dests.pop(op.key, None)
            else:
                result.services[op.key] = op.service
                result.dests.setdefault(op.key, {})
        elif op.kind == 'dest':
            if op.action == DEL:
                result.dests.get(op.key, {}).pop(op.dest.key, None)
            else:
                result.dests.setdefault(op.key, {})[op.dest.key] = op.dest
    return result


def touched_keys(plan):
    return {op.key for op in plan if op.key is not None}


def diff_output(current_table, plan, current_timeouts=None, current_daemons=None):
    """before/after for Ansible's diff mode, limited to what the plan touches.

    Keys look like ``tcp 192.0.2.10:80`` and ``198.51.100.11:80``; values are
    sorted and plain, so the rendered diff is stable and readable.
    """
    keys = touched_keys(plan)
    after_table = apply_to_table(current_table, plan)
    before = {'services': table_to_dict(current_table, keys)}
    after = {'services': table_to_dict(after_table, keys)}
    timeout_ops = [op for op in plan if op.kind == 'timeouts']
    if timeout_ops:
        now = current_timeouts.to_dict() if current_timeouts is not None else {}
        before['timeouts'] = dict(now)
        later = dict(now)
        for op in timeout_ops:
            later.update({k: v for k, v in op.timeouts.to_dict().items() if v})
        after['timeouts'] = later
    if any(op.kind == 'daemon' for op in plan):
        daemons = dict(current_daemons or {})
        before['sync_daemons'] = {r: d.to_dict() for r, d in sorted(daemons.items())}
        for op in plan:
            if op.kind == 'daemon':
                if op.action == DEL:
                    daemons.pop(op.daemon.role, None)
                else:
                    daemons[op.daemon.role] = op.daemon
        after['sync_daemons'] = {r: d.to_dict() for r, d in sorted(daemons.items())}
    return {'before': copy.deepcopy(before), 'after': after}
