# -*- coding: utf-8 -*-
# Copyright (c) the lvs.cluster authors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Check mode on a host the roles have not prepared yet: without pyroute2 the modules cannot read the
host's IPVS table or addresses, so instead of failing they show what a real run would apply to a host
that holds none of it, and say so in a warning. Nothing here talks to the kernel; interfaces are only
looked up in /sys/class/net."""

from __future__ import annotations

import os

from ansible_collections.lvs.cluster.plugins.module_utils._model import Table, Timeouts

WARNING = ('check mode on a host without pyroute2 (%s): the host was not read, so this shows what a real run '
           'would apply to a host that holds none of it; a real run installs pyroute2 first')


class NothingHeld:
    """An IPVS client that finds no service, destination, timeout or sync daemon."""

    mutations = 0

    def get_service(self, _key):
        return None

    def dump_dests(self, _key, with_stats=False):
        return ({}, {}) if with_stats else {}

    def dump_table(self, with_stats=False):
        return (Table(), {}) if with_stats else Table()

    def get_timeouts(self):
        return Timeouts()

    def get_daemons(self):
        return {}

    def apply(self, plan):
        raise AssertionError('a preview never applies anything (%d operations)' % len(plan))

    def close(self):
        pass


class NoAddresses:
    """Links as /sys/class/net shows them, none holding an address (addresses are not read)."""

    def __init__(self, root='/sys/class/net'):
        self.root = root

    def _names(self):
        try:
            return sorted(os.listdir(self.root))
        except OSError:
            return []

    def index(self, name):
        names = self._names()
        return names.index(name) + 1 if name in names else None

    def is_up(self, index):
        name = self._names()[index - 1]
        try:
            with open(os.path.join(self.root, name, 'operstate')) as handle:
                return name == 'lo' or handle.read().strip() == 'up'
        except OSError:
            return False

    def has_address(self, _index, _address, _prefixlen):
        return False

    def holders(self, _address):
        return []

    def default_route_interfaces(self, family=2):
        return []

    def up_interfaces(self):
        return [name for index, name in enumerate(self._names(), 1) if name != 'lo' and self.is_up(index)]
