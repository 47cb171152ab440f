"""Verify of the nat scenario: LVS-NAT, the client outside, the real servers inside behind the director.

Runs against the lab named by LVS_LAB_NAME, else the `lab_name` of the inventory given to pytest, else
molecule-nat. By hand, against a lab of your own:
    pytest -rA --ansible-inventory=/var/tmp/lvs-lab/vt-nat/inventory.yml molecule/nat/tests/test_nat.py
The checks are the NatChecks suite (molecule/resources/verify/method_suites.py), which the methods
scenario runs too.
"""
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "resources" / "verify"))
pytest.register_assert_rewrite("lvs_checks", "method_suites")
import lvs_checks as lvs  # noqa: E402
import method_suites as suites  # noqa: E402

VIP = "192.0.2.100"
CLIENT = "192.0.2.1"


@pytest.fixture(scope="module")
def site(request):
    return suites.Site(lvs.Lab(*lvs.lab_name("molecule-nat", request.config)), VIP, CLIENT)


class TestNat(suites.NatChecks):
    """Every check of the suite, on the scenario's one VIP and both real servers."""


def test_cluster_comes_back_after_reboot(site):
    """Last, because it reboots every guest: with no Ansible run in between, the director's table
    (ipvsadm -Sn), the boot units and traffic to both real servers come back, and what the suite's
    after_reboot names."""
    print(suites.check_reboot(site.lab, [(suites.NatChecks, site)]))
