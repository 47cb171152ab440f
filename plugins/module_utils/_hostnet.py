# -*- coding: utf-8 -*-
# Copyright (c) the lvs.cluster authors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Real-server host networking for the noarp_vip module: sysctls through
/proc/sys, addresses and links through pyroute2's IPRoute (rtnetlink), and a
small state file that remembers the sysctl values we replaced.

IPVS itself is only touched by _netlink.py; this file never talks to IPVS.
"""

from __future__ import annotations

import json
import os
import tempfile

from ansible_collections.lvs.cluster.plugins.module_utils._errors import LvsError

IFF_UP = 0x1
STATE_FILE = 'noarp_vip.json'


class HostNetError(LvsError):
    """A host networking operation failed."""


IFNAMSIZ = 16
# The kernel refuses '/', ':' and whitespace in a name (dev_valid_name); this collection also refuses
# anything outside this set, so that a name can never reach a path or a configuration file as anything
# but one plain word.
_IFNAME_CHARS = frozenset('abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-@+')
IFNAME_ACCEPTED = ('1 to %d of letters, digits and _ . - @ +, not "." or ".."' % (IFNAMSIZ - 1))


def is_ifname(name):
    """True for a network interface name the kernel could hold and no path or file could misread."""
    return (isinstance(name, str) and 0 < len(name) < IFNAMSIZ and name not in ('.', '..')
            and set(name) <= _IFNAME_CHARS)


def sysctl_path(proc_sys, name):
    """The file of a dotted sysctl name. An interface name may itself hold dots (VLAN eth0.100): in
    net.ipv4.conf.IFACE.KEY everything between `conf` and the last part is the interface."""
    parts = name.split('.')
    if len(parts) > 5 and parts[0] == 'net' and parts[2] == 'conf':
        parts = parts[:3] + ['.'.join(parts[3:-1]), parts[-1]]
    for part in parts:
        if part in ('', '.', '..') or '/' in part:
            raise HostNetError('refusing sysctl name %r: not a path under %s' % (name, proc_sys))
    return os.path.join(proc_sys, *parts)


class Sysctls:
    """Read and write sysctls as files under ``proc_sys`` (tests use a temp dir)."""

    def __init__(self, proc_sys='/proc/sys'):
        self.proc_sys = proc_sys

    def exists(self, name):
        return os.path.exists(sysctl_path(self.proc_sys, name))

    def read(self, name):
        try:
            with open(sysctl_path(self.proc_sys, name)) as handle:
                return handle.read().strip()
        except OSError as exc:
            raise HostNetError('cannot read sysctl %s: %s' % (name, exc))

    def write(self, name, value):
        try:
            with open(sysctl_path(self.proc_sys, name), 'w') as handle:
                handle.write('%s\n' % value)
        except OSError as exc:
            raise HostNetError('cannot write sysctl %s=%s: %s' % (name, value, exc))


class StateFile:
    """JSON state under /var/lib/lvs-cluster, written atomically (temp file + rename)."""

    def __init__(self, directory):
        self.path = os.path.join(directory, STATE_FILE)

    def load(self):
        try:
            with open(self.path) as handle:
                data = json.load(handle)
        except FileNotFoundError:
            data = {}
        except (OSError, ValueError) as exc:
            raise HostNetError('cannot read state file %s: %s' % (self.path, exc))
        data.setdefault('sysctls', {})
        data.setdefault('addresses', {})
        return data

    def save(self, data):
        directory = os.path.dirname(self.path)
        try:
            os.makedirs(directory, mode=0o755, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix='.noarp_vip.', dir=directory)
            with os.fdopen(fd, 'w') as handle:
                json.dump(data, handle, indent=2, sort_keys=True)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.path)
        except OSError as exc:
            raise HostNetError('cannot write state file %s: %s' % (self.path, exc))

    def remove(self):
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass


class Links:
    """The few rtnetlink operations noarp_vip needs, over an IPRoute object."""

    def __init__(self, ipr):
        self.ipr = ipr

    def index(self, name):
        found = self.ipr.link_lookup(ifname=name)
        return found[0] if found else None

    def create_dummy(self, name):
        self.ipr.link('add', ifname=name, kind='dummy')

    def is_up(self, index):
        for link in self.ipr.get_links(index):
            return bool(link['flags'] & IFF_UP)
        return False

    def set_up(self, index):
        self.ipr.link('set', index=index, state='up')

    def has_address(self, index, address, prefixlen):
        for msg in self.ipr.get_addr(index=index):
            if msg['prefixlen'] == prefixlen and msg.get_attr('IFA_ADDRESS') == address:
                return True
        return False

    def add_address(self, index, address, prefixlen):
        self.ipr.addr('add', index=index, address=address, prefixlen=prefixlen)

    def del_address(self, index, address, prefixlen):
        self.ipr.addr('del', index=index, address=address, prefixlen=prefixlen)

    def default_route_interfaces(self, family=2):
        names = []
        for route in self.ipr.get_default_routes(family=family):
            oif = route.get_attr('RTA_OIF')
            if oif is not None:
                names.extend(self.names([oif]))
        return sorted(set(names))

    def up_interfaces(self):
        return sorted(link.get_attr('IFLA_IFNAME') for link in self.ipr.get_links()
                      if link['flags'] & IFF_UP and link.get_attr('IFLA_IFNAME') != 'lo')

    def holders(self, address):
        """(index, prefixlen) of every interface that holds `address`."""
        return [(msg['index'], msg['prefixlen']) for msg in self.ipr.get_addr()
                if msg.get_attr('IFA_ADDRESS') == address]

    def route_interface(self, address):
        """The name of the interface the kernel would send to `address` through, or None (also when the
        kernel has no route to it: ENETUNREACH, EHOSTUNREACH)."""
        try:
            routes = self.ipr.route('get', dst=address)
        except Exception as exc:  # pyroute2's NetlinkError; its errno says "no route"
            if getattr(exc, 'code', None) in (101, 113):
                return None
            raise
        for route in routes:
            oif = route.get_attr('RTA_OIF')
            if oif is not None:
                names = self.names([oif])
                return names[0] if names else None
        return None

    def names(self, indexes):
        return [link.get_attr('IFLA_IFNAME') for link in self.ipr.get_links(*indexes)]


def open_iproute():
    from ansible_collections.lvs.cluster.plugins.module_utils._netlink import require_pyroute2
    require_pyroute2()
    from pyroute2 import IPRoute
    return IPRoute()
