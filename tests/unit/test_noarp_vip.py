# -*- coding: utf-8 -*-
# Copyright (c) the lvs.cluster authors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""noarp_vip logic against a temporary /proc/sys tree and a fake link layer."""

from __future__ import annotations

import json
import os
from types import SimpleNamespace

import pytest

from ansible_collections.lvs.cluster.plugins.module_utils._errors import ValidationError
from ansible_collections.lvs.cluster.plugins.module_utils._hostnet import StateFile, Sysctls
from ansible_collections.lvs.cluster.plugins.modules import noarp_vip

SYSCTLS = {
    'net.ipv4.conf.all.arp_ignore': '0', 'net.ipv4.conf.all.arp_announce': '0',
    'net.ipv4.conf.ens3.arp_ignore': '0', 'net.ipv4.conf.ens3.arp_announce': '0',
    'net.ipv4.conf.all.rp_filter': '1', 'net.ipv4.conf.tunl0.rp_filter': '1',
}


class FakeLinks:
    """Records the order of events, including sysctl writes seen through ``journal``."""

    def __init__(self, journal, devices=('lo', 'ens3')):
        self.journal = journal
        self.devices = {name: i + 1 for i, name in enumerate(devices)}
        self.up = set(self.devices)
        self.addresses = set()

    def index(self, name):
        return self.devices.get(name)

    def create_dummy(self, name):
        self.devices[name] = len(self.devices) + 1
        self.journal.append(('create', name))

    def is_up(self, index):
        return index in {self.devices[n] for n in self.up}

    def set_up(self, index):
        self.up.update(n for n, i in self.devices.items() if i == index)
        self.journal.append(('up', index))

    def has_address(self, index, address, prefixlen):
        return (index, address, prefixlen) in self.addresses

    def add_address(self, index, address, prefixlen):
        self.addresses.add((index, address, prefixlen))
        self.journal.append(('addr', address))

    def del_address(self, index, address, prefixlen):
        self.addresses.discard((index, address, prefixlen))
        self.journal.append(('deladdr', address))

    def default_route_interfaces(self):
        return ['ens3']

    def up_interfaces(self):
        return ['ens3']


class JournalSysctls(Sysctls):
    def __init__(self, root, journal):
        super().__init__(root)
        self.journal = journal

    def write(self, name, value):
        self.journal.append(('sysctl', name, value))
        super().write(name, value)


@pytest.fixture
def host(tmp_path):
    root = tmp_path / 'proc'
    for name, value in SYSCTLS.items():
        path = root.joinpath(*name.split('.'))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(value + '\n')
    journal = []
    return SimpleNamespace(sysctls=JournalSysctls(str(root), journal), links=FakeLinks(journal),
                           state=StateFile(str(tmp_path / 'state')), journal=journal, root=root)


def run(host, check_mode=False, **params):
    values = {'device': 'lo', 'dummy_name': 'lvs0', 'interfaces': None, 'state': 'present',
              'state_dir': '/unused'}
    values.update(params)
    commands = []
    mod = SimpleNamespace(params=values, check_mode=check_mode, _diff=True,
                          run_command=lambda argv: commands.append(argv) or (0, '', ''))
    result = noarp_vip.run(mod, sysctls=host.sysctls, links=host.links, state=host.state)
    result['commands'] = commands
    return result


def test_sysctls_are_set_before_the_address_appears(host):
    result = run(host, address='192.0.2.10')
    assert result['changed']
    kinds = [event[0] for event in host.journal]
    assert kinds[-1] == 'addr' and set(kinds[:-1]) == {'sysctl'}
    assert host.sysctls.read('net.ipv4.conf.ens3.arp_ignore') == '1'
    assert host.sysctls.read('net.ipv4.conf.all.arp_announce') == '2'
    assert (1, '192.0.2.10', 32) in host.links.addresses


def test_second_run_is_idempotent(host):
    run(host, address='192.0.2.10')
    host.journal.clear()
    assert not run(host, address='192.0.2.10')['changed']
    assert host.journal == []


def test_check_mode_changes_nothing(host):
    result = run(host, check_mode=True, address='192.0.2.10')
    assert result['changed'] and host.journal == []
    assert not os.path.exists(host.state.path)


def test_absent_restores_recorded_values_when_last_vip_goes(host):
    run(host, address='192.0.2.10')
    run(host, address='192.0.2.11')
    saved = json.loads(open(host.state.path).read())
    assert saved['sysctls']['net.ipv4.conf.all.arp_ignore'] == '0'
    run(host, address='192.0.2.10', state='absent')
    assert host.sysctls.read('net.ipv4.conf.all.arp_ignore') == '1'  # another VIP still needs it
    result = run(host, address='192.0.2.11', state='absent')
    assert result['sysctls']['net.ipv4.conf.all.arp_ignore'] == '0'
    assert host.sysctls.read('net.ipv4.conf.all.arp_ignore') == '0'
    assert not os.path.exists(host.state.path)


def test_tunl0_loads_ipip_and_relaxes_strict_rp_filter(host):
    host.links.devices.pop('tunl0', None)

    def appear(argv):
        host.links.devices['tunl0'] = 9
        return 0, '', ''
    values = {'device': 'tunl0', 'dummy_name': 'lvs0', 'interfaces': ['ens3'], 'state': 'present',
              'state_dir': '/unused', 'address': '192.0.2.10'}
    mod = SimpleNamespace(params=values, check_mode=False, _diff=False, run_command=appear)
    noarp_vip.run(mod, sysctls=host.sysctls, links=host.links, state=host.state)
    assert host.sysctls.read('net.ipv4.conf.all.rp_filter') == '0'
    assert host.sysctls.read('net.ipv4.conf.tunl0.rp_filter') == '0'
    assert (9, '192.0.2.10', 32) in host.links.addresses
    assert ('up', 9) in host.journal


def test_ipv6_vip_needs_no_arp_sysctls(host):
    result = run(host, address='2001:db8::10')
    assert result['sysctls'] == {}
    assert (1, '2001:db8::10', 128) in host.links.addresses


def test_validation(host):
    with pytest.raises(ValidationError) as info:
        run(host, address='2001:db8::10', device='tunl0')
    assert info.value.field == 'device'
    with pytest.raises(ValidationError) as info:
        run(host, address='192.0.2.0/24')
    assert info.value.field == 'address'
    assert host.journal == []


def snapshot(root):
    return {str(p): p.read_text() for p in root.rglob('*') if p.is_file()}


@pytest.mark.parametrize('check_mode', [False, True])
@pytest.mark.parametrize('params, field', [
    ({'interfaces': ['../../../../tmp/owned']}, 'interfaces[0]'),
    ({'interfaces': ['ens3', '/etc/passwd']}, 'interfaces[1]'),
    ({'interfaces': ['ens3', '..']}, 'interfaces[1]'),
    ({'interfaces': ['eth0\nnet.ipv4.ip_forward']}, 'interfaces[0]'),
    ({'interfaces': ['a' * 16]}, 'interfaces[0]'),
    ({'interfaces': ['']}, 'interfaces[0]'),
    ({'interfaces': ['ens9']}, 'interfaces[0]'),  # no such interface: refused, not skipped
    ({'device': 'dummy', 'dummy_name': 'bad/name'}, 'dummy_name'),
    ({'device': 'dummy', 'dummy_name': 'x' * 16}, 'dummy_name'),
])
def test_names_are_checked_before_anything_changes(host, tmp_path, params, field, check_mode):
    """Issue 9: names that could reach a path outside /proc/sys, or an invalid dummy name, fail naming
    the field, in check mode too, and no sysctl, state file or address has changed."""
    before = snapshot(tmp_path)
    with pytest.raises(ValidationError) as info:
        run(host, check_mode=check_mode, address='192.0.2.10', **params)
    assert info.value.field == field, str(info.value)
    assert 'accepted' in str(info.value)
    assert host.journal == [] and snapshot(tmp_path) == before
    assert not os.path.exists(host.state.path)


def test_a_vlan_interface_name_reaches_its_own_sysctl_file(host):
    vlan = host.root / 'net' / 'ipv4' / 'conf' / 'ens3.100'
    vlan.mkdir()
    for key in ('arp_ignore', 'arp_announce'):
        (vlan / key).write_text('0\n')
    run(host, address='192.0.2.10', interfaces=['ens3.100'])
    assert (vlan / 'arp_ignore').read_text().strip() == '1'
    assert (vlan / 'arp_announce').read_text().strip() == '2'


def test_after_a_reboot_the_interface_values_all_covers_change_nothing(host):
    """sysctl.d brings back `all` at boot, not each interface's own value: the kernel takes the larger of
    the two, so the VIP is as silent to ARP as before and a run after the reboot reports no change (found by
    the operations scenario: site.yml after the rolling maintenance's reboots reported one)."""
    run(host, address='192.0.2.10')
    conf = host.root / 'net' / 'ipv4' / 'conf'
    for key in ('arp_ignore', 'arp_announce'):
        (conf / 'ens3' / key).write_text('0\n')  # what a reboot leaves
    result = run(host, address='192.0.2.10')
    assert not result['changed'] and result['sysctls'] == {}, result
    # below what `all` holds, an interface's value is still set
    (conf / 'all' / 'arp_announce').write_text('1\n')
    want = {'net.ipv4.conf.all.arp_announce': '2', 'net.ipv4.conf.ens3.arp_announce': '2'}
    assert run(host, address='192.0.2.10')['sysctls'] == want


def test_sysctl_names_never_leave_the_tree(host):
    from ansible_collections.lvs.cluster.plugins.module_utils._hostnet import HostNetError, sysctl_path

    assert sysctl_path('/proc/sys', 'net.ipv4.conf.eth0.100.arp_ignore') == '/proc/sys/net/ipv4/conf/eth0.100/arp_ignore'
    for name in ('net.ipv4.conf.../x.arp_ignore', 'net..ipv4', 'net/../../etc.passwd'):
        with pytest.raises(HostNetError):
            sysctl_path('/proc/sys', name)


def test_a_vip_moving_from_lo_to_tunl0_keeps_its_arp_settings_until_it_is_gone(host):
    """DR to TUN: the VIP is placed on tunl0, then given up on lo; the record keeps tunl0 and the ARP
    settings stay until the tunl0 VIP goes too (found by the day2 integration target: giving up lo used
    to forget the address, so tunl0 kept it for good)."""
    host.links.devices['tunl0'] = 9  # ipip loaded
    run(host, address='192.0.2.10', device='lo')
    run(host, address='192.0.2.10', device='tunl0')
    result = run(host, address='192.0.2.10', device='lo', state='absent')
    assert result['sysctls'] == {} and host.sysctls.read('net.ipv4.conf.all.arp_ignore') == '1'
    assert json.loads(open(host.state.path).read())['addresses'] == {'192.0.2.10': 'tunl0'}
    result = run(host, address='192.0.2.10', device='tunl0', state='absent')
    assert result['sysctls']['net.ipv4.conf.all.arp_ignore'] == '0'
    assert not os.path.exists(host.state.path)
