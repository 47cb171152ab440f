"""vip module logic with a fake link layer: what is refused before the kernel is asked, and the
message for a VIP the kernel has no route to (a routed VIP needs its device named)."""
from types import SimpleNamespace

import pytest

from ansible_collections.lvs.cluster.plugins.module_utils._errors import ValidationError
from ansible_collections.lvs.cluster.plugins.module_utils._hostnet import HostNetError
from ansible_collections.lvs.cluster.plugins.modules import vip


class NoKernel:
    def __getattr__(self, name):
        raise AssertionError(f"the kernel was asked ({name}) before the input was checked")


class Links:
    def __init__(self):
        self.added = []

    def holders(self, address):
        return []

    def route_interface(self, address):
        return None  # what _hostnet returns for ENETUNREACH

    def index(self, name):
        return {'lo': 1, 'eth1': 2}.get(name)

    def names(self, indexes):
        return ['lo' if i == 1 else 'eth1' for i in indexes]

    def add_address(self, index, address, prefix):
        self.added.append((index, address, prefix))


def run(links, **params):
    values = {'address': '198.51.100.100', 'device': None, 'state': 'present'}
    values.update(params)
    return vip.run(SimpleNamespace(params=values, check_mode=False, _diff=True), links=links)


@pytest.mark.parametrize('params, field', [
    ({'address': '224.0.0.18'}, 'address'),
    ({'address': '0.0.0.0'}, 'address'),
    ({'address': '127.0.0.2'}, 'address'),
    ({'address': '198.51.100.100/24'}, 'address'),
    ({'device': '../eth1'}, 'device'),
    ({'device': 'eth1 '}, 'device'),
])
def test_refused_before_the_kernel_is_asked(params, field):
    with pytest.raises(ValidationError) as info:
        run(NoKernel(), **params)
    assert info.value.field == field


def test_a_vip_with_no_route_names_the_fix():
    with pytest.raises(HostNetError, match=r"no route to 203.0.113.10.*name the interface"):
        run(Links(), address='203.0.113.10')


def test_a_routed_vip_on_a_named_device():
    links = Links()
    result = run(links, address='203.0.113.10', device='lo')
    assert result['changed'] and links.added == [(1, '203.0.113.10', 32)]
    assert result['diff']['after'] == {'address': '203.0.113.10', 'device': 'lo', 'present': True}


class Holding(Links):
    """A host where the VIP sits on lo and on eth1 (left there by hand, or by an older run)."""

    def __init__(self, held):
        super().__init__()
        self.held, self.removed = list(held), []

    def holders(self, address):
        return list(self.held)

    def del_address(self, index, address, prefix):
        self.removed.append((index, address, prefix))


def test_absent_without_a_device_removes_the_vip_from_every_interface():
    links = Holding([(1, 32), (2, 32)])
    result = run(links, address='203.0.113.10', state='absent')
    assert result['changed'] and sorted(links.removed) == [(1, '203.0.113.10', 32), (2, '203.0.113.10', 32)]
    assert result['diff']['before']['devices'] == ['eth1', 'lo'] and result['diff']['after']['present'] is False


def test_absent_of_a_vip_held_nowhere_and_routed_nowhere_is_no_change():
    """A routed VIP removed a second time: there is nothing to remove, and no route is needed to say so."""
    links = Holding([])
    result = run(links, address='203.0.113.10', state='absent')
    assert result == {'changed': False, 'device': None, 'prefix': 32,
                      'diff': {'before': {'address': '203.0.113.10', 'devices': [], 'present': False},
                               'after': {'address': '203.0.113.10', 'devices': [], 'present': False}}}
    assert links.removed == []


def test_absent_in_check_mode_removes_nothing():
    links = Holding([(2, 32)])
    values = {'address': '198.51.100.100', 'device': None, 'state': 'absent'}
    result = vip.run(SimpleNamespace(params=values, check_mode=True, _diff=False), links=links)
    assert result['changed'] and links.removed == []


class Host(Links):
    """Per-VIP holders; 198.51.100.0/24 is the LAN on eth1, anything else has no route."""

    def __init__(self, held=None):
        super().__init__()
        self.held, self.removed = dict(held or {}), []

    def holders(self, address):
        return list(self.held.get(address, []))

    def route_interface(self, address):
        return 'eth1' if address.startswith('198.51.100.') else None

    def del_address(self, index, address, prefix):
        self.removed.append((index, address, prefix))


def run_many(links, vips, state='present', check_mode=False):
    values = {'address': None, 'device': None, 'state': state, 'vips': vips}
    return vip.run(SimpleNamespace(params=values, check_mode=check_mode, _diff=True), links=links)


def test_many_vips_in_one_run_each_reported_in_order():
    links = Host({'198.51.100.100': [(2, 32)]})
    result = run_many(links, [{'address': '198.51.100.100', 'device': None},
                              {'address': '2001:db8::1 ', 'device': 'lo'},
                              {'address': '203.0.113.10', 'device': 'lo'}])
    assert links.added == [(1, '2001:db8::1', 128), (1, '203.0.113.10', 32)]
    assert result['changed'] and [(v['address'], v['changed'], v['device'], v['prefix']) for v in result['vips']] == [
        ('198.51.100.100', False, 'eth1', 32), ('2001:db8::1', True, 'lo', 128), ('203.0.113.10', True, 'lo', 32)]
    assert [v['present'] for v in result['diff']['before']['vips']] == [True, False, False]
    assert [v['present'] for v in result['diff']['after']['vips']] == [True, True, True]


@pytest.mark.parametrize('vips, field', [
    ([{'address': '198.51.100.100', 'device': None}, {'address': '224.0.0.18', 'device': None}], 'vips[1].address'),
    ([{'address': '198.51.100.100', 'device': 'eth 1'}], 'vips[0].device'),
    ([{'address': '198.51.100.100', 'device': None}, {'address': '198.51.100.100', 'device': 'lo'}], 'vips[1].address'),
])
def test_every_entry_is_checked_before_the_host_is_read(vips, field):
    with pytest.raises(ValidationError) as info:
        run_many(NoKernel(), vips)
    assert info.value.field == field


def test_an_entry_with_no_interface_fails_before_any_vip_is_added():
    links = Host()
    with pytest.raises(HostNetError, match=r"^vips\[1\]\.device: no route to 203.0.113.10"):
        run_many(links, [{'address': '198.51.100.100', 'device': None}, {'address': '203.0.113.10', 'device': None}])
    assert links.added == []


def test_many_given_up_where_they_are_held_and_check_mode_changes_nothing():
    held = {'198.51.100.100': [(2, 32)], '203.0.113.10': [(1, 32), (2, 32)]}
    vips = [{'address': a, 'device': None} for a in ('198.51.100.100', '203.0.113.10', '198.51.100.99')]
    links = Host(held)
    preview = run_many(links, vips, state='absent', check_mode=True)
    assert links.removed == [] and [v['changed'] for v in preview['vips']] == [True, True, False]
    result = run_many(links, vips, state='absent')
    assert sorted(links.removed) == [(1, '203.0.113.10', 32), (2, '198.51.100.100', 32), (2, '203.0.113.10', 32)]
    assert [v['device'] for v in result['vips']] == ['eth1', 'lo', None]
