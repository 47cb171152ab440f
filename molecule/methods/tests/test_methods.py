"""Verify of the methods scenario: one director, a VIP per forwarding method on the client's LAN, each
served by its own pair of real servers (DR on the client's LAN, NAT behind the director, TUN a routed
hop away). Every check of the dr, nat and tun scenarios runs on its own VIP and pair
(molecule/resources/verify/method_suites.py); one reboot of every guest closes the run.

Runs against the lab named by LVS_LAB_NAME, else the `lab_name` of the inventory given to pytest, else
molecule-methods. By hand, against a lab of your own:
    pytest -rA --ansible-inventory=/var/tmp/lvs-lab/NAME/inventory.yml molecule/methods/tests/test_methods.py
"""
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "resources" / "verify"))
pytest.register_assert_rewrite("lvs_checks", "method_suites")
import lvs_checks as lvs  # noqa: E402
import method_suites as suites  # noqa: E402

CLIENT = "198.51.100.1"
# VIP and real-server group of each method (playbooks/inventories/methods)
SITES = {"dr": ("198.51.100.100", "dr_realservers", suites.DrChecks),
         "nat": ("198.51.100.110", "nat_realservers", suites.NatChecks),
         "tun": ("198.51.100.120", "tun_realservers", suites.TunChecks)}


@pytest.fixture(scope="module")
def lab(request):
    return lvs.Lab(*lvs.lab_name("molecule-methods", request.config))


def site_of(lab, method: str) -> suites.Site:
    vip, group, _suite = SITES[method]
    return suites.Site(lab.serving(group), vip, CLIENT)


def test_one_director_serves_every_method(lab):
    """The three VIPs are on the one director, each with only its own pair behind it."""
    table = lvs.parse_table(lab.director.check_output("ipvsadm -Ln"))
    for method, (vip, group, _suite) in SITES.items():
        pair = {lab.address(rs) for rs in lab.groups[group]}
        for port in (80, 81, 8080):
            dests = set(table[f"TCP {vip}:{port}"]["dests"])
            assert dests == pair, f"{method} {vip}:{port} -> {sorted(dests)}, want its own pair {sorted(pair)}"


class TestDr(suites.DrChecks):
    @pytest.fixture(scope="class")
    def site(self, lab):
        return site_of(lab, "dr")


class TestNat(suites.NatChecks):
    @pytest.fixture(scope="class")
    def site(self, lab):
        return site_of(lab, "nat")


class TestTun(suites.TunChecks):
    @pytest.fixture(scope="class")
    def site(self, lab):
        return site_of(lab, "tun")


def test_cluster_comes_back_after_reboot(lab):
    """Last, because it reboots every guest: with no Ansible run in between, each VIP answers from its
    own pair again and what each method's suite names after a reboot is back."""
    print(suites.check_reboot(lab, [(suite, site_of(lab, method)) for method, (_v, _g, suite) in SITES.items()]))
