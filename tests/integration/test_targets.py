"""Each directory under targets/ is one Ansible integration target, run against the session lab."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
TARGETS = HERE / "targets"
NAMES = sorted(p.name for p in TARGETS.iterdir() if (p / "main.yml").exists())
# Targets that run the roles, and the VIPs they use: teardown.yml takes away what the roles left, after
# the target passed or failed, so one failure cannot cascade into the targets that follow. The module
# targets clean up in their own `always` blocks.
ROLE_TARGETS = {"backend_handover": ["198.51.100.201"]}


@pytest.mark.parametrize("target", NAMES)
def test_target(lab, target, capsys):
    try:
        output = lab.run_playbook(TARGETS / target / "main.yml")
    finally:
        # a failed teardown also fails the test (the next targets would see its leftovers); raised here,
        # its error chains to the target's own, and the report shows both
        if target in ROLE_TARGETS:
            lab.run_playbook(HERE / "teardown.yml", "-e", json.dumps({"teardown_vips": ROLE_TARGETS[target]}))
    # targets that measure something (backend_handover) print FIGURES lines: keep them in the CI log
    with capsys.disabled():
        for line in output.splitlines():
            if "FIGURES " in line:
                figures = line[line.index("FIGURES "):].rstrip('"')
                print(f"\n[{target}] {figures}")
