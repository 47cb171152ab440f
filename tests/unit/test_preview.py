"""Check mode on a host without pyroute2 (one the roles have not prepared): the modules the roles use show
what a real run would apply to a host holding nothing, with a warning; a real run still fails."""
import sys
from pathlib import Path

import pytest

from ansible_collections.lvs.cluster.plugins.module_utils import _hostnet, _netlink
from ansible_collections.lvs.cluster.plugins.module_utils._errors import DependencyError
from ansible_collections.lvs.cluster.plugins.modules import noarp_vip, vip

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "malformed"))
import harness  # noqa: E402  pylint: disable=wrong-import-position

TABLE = {"services": [{"address": "192.0.2.10", "port": 80, "scheduler": "rr",
                       "destinations": [{"address": "192.0.2.11"}]}], "purge": True}


def no_pyroute2(*_args, **_kwargs):
    raise DependencyError("pyroute2 >= 0.9.6 is required but cannot be imported (No module named 'pyroute2')")


class Written(Exception):
    pass


@pytest.fixture
def without_pyroute2(monkeypatch, tmp_path):
    monkeypatch.setattr(_netlink, "connect", no_pyroute2)
    monkeypatch.setattr(vip, "open_iproute", no_pyroute2)
    monkeypatch.setattr(noarp_vip, "open_iproute", no_pyroute2)
    monkeypatch.setattr(_netlink, "require_pyroute2", no_pyroute2)

    def never(*_args, **_kwargs):
        raise Written("a preview wrote to the host")
    monkeypatch.setattr(_hostnet.Sysctls, "write", never)
    monkeypatch.setattr(_hostnet.StateFile, "save", never)


def test_table_preview_is_the_whole_table_against_an_empty_kernel(without_pyroute2):
    result = harness.run_case("ipvs_table", TABLE, check_mode=True)
    assert result["changed"] and not result.get("failed"), result
    assert result["summary"] == {"add_service": 1, "add_dest": 1}, result
    assert "without pyroute2" in result["preview"], result
    assert "192.0.2.10" in str(result["diff"]["after"])


def test_a_real_run_without_pyroute2_still_fails(without_pyroute2):
    result = harness.run_case("ipvs_table", TABLE, check_mode=False)
    assert result.get("failed") and "pyroute2" in result["msg"], result


def test_service_vip_and_noarp_vip_previews(without_pyroute2, tmp_path):
    service = harness.run_case("ipvs_service", {"address": "192.0.2.10", "port": 80}, check_mode=True)
    assert service["changed"] and service["operations"], service
    placed = harness.run_case("vip", {"address": "192.0.2.10"}, check_mode=True)
    assert placed["changed"] and placed["prefix"] == 32 and "not read" in placed["device"], placed
    assert harness.run_case("vip", {"address": "192.0.2.10", "state": "absent"}, check_mode=True)["changed"] is False
    noarp = harness.run_case("noarp_vip", {"address": "192.0.2.10", "state_dir": str(tmp_path)}, check_mode=True)
    assert noarp["changed"] and noarp["address_changed"] and not noarp.get("failed"), noarp
