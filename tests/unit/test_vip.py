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
