"""Reboot survival of the ha scenario (runs last). Both directors and both real servers reboot at once;
with no Ansible run in between, keepalived comes back on both directors with the table it had, exactly
one director holds the VIP, and traffic through the VIP reaches both real servers."""
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "resources" / "verify"))
pytest.register_assert_rewrite("lvs_checks")
import lvs_checks as lvs  # noqa: E402

VIP = "198.51.100.100"
CLIENT = "198.51.100.1"


@pytest.fixture(scope="module")
def lab(request):
    return lvs.Lab(*lvs.lab_name("molecule-ha", request.config))


def test_cluster_comes_back_after_reboot(lab):
    figures = lvs.check_reboot(lab, VIP, CLIENT)
    holders = [d for d in lab.directors
               if f"inet {VIP}/32" in lvs.guest_run(lab, d, f"ip -o -4 address show to {VIP}/32").stdout]
    assert len(holders) == 1, f"after the reboot the VIP is held by {holders}, want exactly one director"
    print(dict(figures, vip_holder=holders[0]))
