"""The doctor (playbooks/doctor.yml) on the ha cluster: two keepalived directors, which VRRP lets hold a
VIP one at a time. A VIP added by hand on the backup director
(two owners on the LAN) is named on the backup, not on the master, which the doctor tells by whose VRRP
adverts the other director hears; its fix, run as the doctor gives it, clears it. Runs before test_ha.py
(file order), on the cluster as converge left it. (No doctor run before the fault: the run with it must
name that one finding and nothing else, which also says the cluster was healthy.)
By hand, against a lab of your own:
    LVS_LAB_NAME=ha-dev pytest -rA -s molecule/ha/tests/test_doctor_ha.py
"""
import json
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "molecule" / "resources" / "verify"))
pytest.register_assert_rewrite("lvs_checks", "doctor_run")
import lvs_checks as lvs  # noqa: E402
from doctor_run import doctor, named  # noqa: E402

EXAMPLE = ROOT / "playbooks" / "inventories" / "ha"
VIP = "198.51.100.100"
DIRECTORS = ("director1", "director2")


@pytest.fixture(scope="module")
def lab(request):
    return lvs.Lab(*lvs.lab_name("molecule-ha", request.config))


def holds(lab, host, address):
    return f" {address}/" in lvs.guest_run(lab, host, f"ip -o address show to {address}").stdout


def test_a_vip_on_the_backup_director_too_is_named_there_and_its_fix_clears_it(lab):
    # no run on the cluster as converge left it: the run with the fault must find that fault and nothing else
    (master,) = [d for d in DIRECTORS if holds(lab, d, VIP)]
    (backup,) = [d for d in DIRECTORS if d != master]
    interface = lab.nic_towards(backup, VIP)["interface"]
    added = lvs.guest_run(lab, backup, f"ip -4 address add {VIP}/32 dev {interface}")
    try:
        assert added.returncode == 0, added.stderr
        found = doctor(lab.name, EXAMPLE)
        assert named(found) == {(backup, "vip_on_two_directors")}, found["findings"]
        assert found["rc"] != 0, "the doctor's play passed with an error found"
        (finding,) = found["findings"]
        assert f"{master} is the VRRP master" in finding["evidence"], finding
        fix = re.match(rf"on {backup}: (ip -4 address del \S+ dev \S+) \(", finding["fix"])
        assert fix, finding["fix"]
        done = lvs.guest_run(lab, backup, fix.group(1))
        assert done.returncode == 0, done.stderr
    finally:
        if holds(lab, backup, VIP):
            lvs.guest_run(lab, backup, f"ip -4 address del {VIP}/32 dev {interface}")
    after = doctor(lab.name, EXAMPLE)
    print(f"FIGURES doctor_ha {json.dumps({'seconds': [found['seconds'], after['seconds']]})}")
    assert after["findings"] == [] and after["rc"] == 0, after["findings"]
