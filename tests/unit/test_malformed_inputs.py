"""Malformed inputs (tests/malformed/cases.py), each refused naming its field, before anything changes.

The module cases run through each module's real main(), Ansible's argument spec included, in normal and
in check mode, with every way to the host (netlink, /proc/sys, the state file) replaced by a tripwire:
a case that gets past validation trips it. The same cases run against a real kernel in a guest
(integration target malformed_input), with the host compared before and after.

The role cases run through the filters the roles and site.yml call, and must name every field listed.
"""
import sys
from collections import Counter
from pathlib import Path

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.lvs.cluster.plugins.filter import keepalived, lvs
from ansible_collections.lvs.cluster.plugins.module_utils import _netlink
from ansible_collections.lvs.cluster.plugins.modules import noarp_vip, vip

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "malformed"))
import cases  # noqa: E402  pylint: disable=wrong-import-position
import harness  # noqa: E402  pylint: disable=wrong-import-position


class Tripwire(Exception):
    """A case reached the host."""


def tripwire(*_args, **_kwargs):
    raise Tripwire("reached the host")


@pytest.fixture
def no_host(monkeypatch):
    monkeypatch.setattr(_netlink, "connect", tripwire)  # how every IPVS module opens its client
    for name in ("Sysctls", "StateFile", "open_iproute"):
        monkeypatch.setattr(noarp_vip, name, tripwire)
    monkeypatch.setattr(vip, "open_iproute", tripwire)


MODULE_CASES = [c for c in cases.MODULE_CASES if not c[4]]


@pytest.mark.parametrize("check_mode", [False, True], ids=["normal", "check"])
@pytest.mark.parametrize("case_id, module, args, field, host", MODULE_CASES, ids=[c[0] for c in MODULE_CASES])
def test_module_refuses_before_touching_the_host(no_host, case_id, module, args, field, host, check_mode):
    result = harness.run_case(module, args, check_mode)
    assert harness.judge(result, field) is None, result


def test_the_harness_notices_an_accepted_case(no_host):
    """The judge cannot pass a case that got through: a valid argument set trips the wire."""
    result = harness.run_case("ipvs_service", {"address": cases.VIP, "port": 80}, False)
    assert "Tripwire" in harness.judge(result, "address")


FILTERS = {
    "lvs_table": lambda kw: lvs.lvs_table(kw.pop("services"), cases.HOSTVARS, cases.GROUPS, **kw),
    "lvs_keepalived_conf": lambda kw: keepalived.lvs_keepalived_conf(
        kw.pop("services"), cases.HOSTVARS, cases.GROUPS, kw.pop("host", "lb1"), facts=cases.FACTS, **kw),
    "lvs_keepalived_sync": lambda kw: keepalived.lvs_keepalived_sync(
        kw.pop("services"), cases.HOSTVARS, cases.GROUPS, facts=cases.FACTS, **kw),
    "lvs_ipvsadm_rules": lambda kw: lvs.lvs_ipvsadm_rules(kw.pop("services"), **kw),
    "lvs_realserver": lambda kw: lvs.lvs_realserver(
        kw.pop("services"), dict(cases.HOSTVARS, **kw.pop("hostvars_extra", {})), cases.GROUPS,
        kw.pop("host", "rs1"), **kw),
}


@pytest.mark.parametrize("case_id, name, kwargs, fields", cases.ROLE_CASES, ids=[c[0] for c in cases.ROLE_CASES])
def test_role_variables_are_refused_naming_every_field(case_id, name, kwargs, fields):
    with pytest.raises(AnsibleFilterError) as err:
        FILTERS[name](dict(kwargs))
    for field in fields:
        assert field in str(err.value), str(err.value)


def test_the_table_is_big_enough():
    """The issue asks for 100 malformed inputs at least; print the count by class for the note."""
    by_class = Counter(c[1] for c in cases.MODULE_CASES) + Counter(c[1] for c in cases.ROLE_CASES)
    print("malformed inputs by class:", dict(sorted(by_class.items())), "total", sum(by_class.values()))
    assert sum(by_class.values()) >= 100
    assert len({c[0] for c in cases.MODULE_CASES + cases.ROLE_CASES}) == sum(by_class.values()), "ids unique"
