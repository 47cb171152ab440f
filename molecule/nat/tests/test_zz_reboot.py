"""Reboot survival of the nat scenario (runs last). Every guest reboots at once; with no Ansible run in
between, the director's table comes back and each real server's default route goes through the director
again. The lab sets no route on the real servers, and brings their LAN up where a host's own network
configuration would (lab-net.service): the route is the role's work, done once the gateway is reachable."""
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "resources" / "verify"))
pytest.register_assert_rewrite("lvs_checks")
import lvs_checks as lvs  # noqa: E402

VIP = "192.0.2.100"
CLIENT = "192.0.2.1"


@pytest.fixture(scope="module")
def lab(request):
    return lvs.Lab(*lvs.lab_name("molecule-nat", request.config))


def test_cluster_comes_back_after_reboot(lab):
    figures = lvs.check_reboot(lab, VIP, CLIENT)
    for rs in lab.realservers:
        gateway = lab.nic_towards(lab.directors[0], lab.address(rs))["address"]
        route = lvs.guest_run(lab, rs, "ip -4 route show default").stdout
        assert f"default via {gateway} " in route, f"{rs} after the reboot: {route!r}, want via {gateway}"
    print(figures)
