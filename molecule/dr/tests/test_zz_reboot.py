"""Reboot survival of the dr scenario (runs last: files run in name order). Every guest reboots at once;
with no Ansible run in between, the director's table (`ipvsadm -Sn`) and VIP come back, each real server
holds the VIP on lo with the ARP settings that keep it silent, and traffic reaches both real servers."""
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
    return lvs.Lab(*lvs.lab_name("molecule-dr", request.config))


def test_cluster_comes_back_after_reboot(lab):
    figures = lvs.check_reboot(lab, VIP, CLIENT)
    nic = lab.nic_towards(lab.directors[0], CLIENT)["interface"]
    assert f"inet {VIP}/32" in lvs.guest_run(lab, lab.directors[0], f"ip -o -4 address show dev {nic}").stdout
    for rs in lab.realservers:
        out = lvs.guest_run(lab, rs, f"ip -o -4 address show dev lo to {VIP}/32; "
                                     "sysctl -n net.ipv4.conf.all.arp_ignore net.ipv4.conf.all.arp_announce").stdout
        assert f"inet {VIP}/32" in out and out.split()[-2:] == ["1", "2"], f"{rs} after the reboot: {out!r}"
    print(figures)
