"""Every Molecule scenario, run for real with `molecule test` (create, converge, verify, destroy).

Each scenario boots its own lab in QEMU guests; Molecule's destroy step runs even when a step fails,
and the fixture below makes sure no lab of the scenario survives the test in any case.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
SCENARIOS = sorted(p.parent.name for p in (REPO / "molecule").glob("*/molecule.yml"))


def lab_name_of(scenario: str) -> str:
    config = yaml.safe_load((REPO / "molecule" / scenario / "molecule.yml").read_text())
    return config["provisioner"]["env"]["LVS_LAB_NAME"]


@pytest.fixture
def lab_cleanup():
    names = []
    yield names
    for name in names:
        subprocess.run([sys.executable, "-m", "lab", "down", name], cwd=REPO, check=False)


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_molecule_scenario(scenario, lab_cleanup, tmp_path, capsys):
    lab_cleanup.append(lab_name_of(scenario))
    log = tmp_path / f"molecule-{scenario}.log"
    started = time.monotonic()
    env = dict(os.environ, PY_COLORS="0", ANSIBLE_FORCE_COLOR="0")
    with log.open("w") as out:
        proc = subprocess.run([sys.executable, "-m", "molecule", "test", "-s", scenario], cwd=REPO,
                              stdout=out, stderr=subprocess.STDOUT, env=env, check=False)
    seconds = time.monotonic() - started
    print(f"molecule test -s {scenario}: rc={proc.returncode} in {seconds:.0f} s")
    output = log.read_text()
    # measured figures (e.g. the ha scenario's failed requests and outages) go to the CI log, pass or fail
    with capsys.disabled():
        for line in output.splitlines():
            if "FIGURES " in line:
                print(f"\n[{scenario}] {line[line.index('FIGURES '):]}", end="")
    assert proc.returncode == 0, f"molecule test -s {scenario} failed after {seconds:.0f} s:\n{output[-20000:]}"
