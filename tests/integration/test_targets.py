"""Each directory under targets/ is one Ansible integration target, run against the session lab."""
from __future__ import annotations

from pathlib import Path

import pytest

TARGETS = Path(__file__).resolve().parent / "targets"
NAMES = sorted(p.name for p in TARGETS.iterdir() if (p / "main.yml").exists())


@pytest.mark.parametrize("target", NAMES)
def test_target(lab, target):
    lab.run_playbook(TARGETS / target / "main.yml")
