"""Each directory under targets/ is one Ansible integration target, run against the session lab."""
from __future__ import annotations

from pathlib import Path

import pytest

TARGETS = Path(__file__).resolve().parent / "targets"
NAMES = sorted(p.name for p in TARGETS.iterdir() if (p / "main.yml").exists())


@pytest.mark.parametrize("target", NAMES)
def test_target(lab, target, capsys):
    output = lab.run_playbook(TARGETS / target / "main.yml")
    # targets that measure something (backend_handover) print FIGURES lines: keep them in the CI log
    with capsys.disabled():
        for line in output.splitlines():
            if "FIGURES " in line:
                figures = line[line.index("FIGURES "):].rstrip('"')
                print(f"\n[{target}] {figures}")
