"""Reboot survival of the tun scenario (runs last). Every guest reboots at once; with no Ansible run in
between, the director's table comes back whole (its ipip destinations included: a rules file that
`ipvsadm -R` refuses half-way once left the VIP with no real server), and each real server holds the VIP
on tunl0 with reverse-path filtering off."""
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
    return lvs.Lab(*lvs.lab_name("molecule-tun", request.config))


def test_cluster_comes_back_after_reboot(lab):
    figures = lvs.check_reboot(lab, VIP, CLIENT)
    for rs in lab.realservers:
        out = lvs.guest_run(lab, rs, f"ip -o -4 address show dev tunl0 to {VIP}/32; "
                                     "sysctl -n net.ipv4.conf.all.rp_filter net.ipv4.conf.tunl0.rp_filter").stdout
        assert f"inet {VIP}/32" in out, f"{rs} after the reboot: no VIP on tunl0: {out!r}"
        assert max(int(v) for v in out.split()[-2:]) in (0, 2), f"{rs} after the reboot: rp_filter {out!r}"
    print(figures)
