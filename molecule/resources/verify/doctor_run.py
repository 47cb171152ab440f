"""playbooks/doctor.yml run against a lab as an operator runs it, for the scenarios that check the doctor
(doctor, ha): its JSON report, the play's status and its wall time."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from lvs_checks import STATE_ROOT

ROOT = Path(__file__).resolve().parents[3]


def run_playbook(lab_name: str, example: Path, playbook: str, *extra: str) -> subprocess.CompletedProcess:
    """ansible-playbook against the lab's inventory with the group_vars and host_vars of `example` (one of
    playbooks/inventories) beside it."""
    with tempfile.TemporaryDirectory() as tmp:
        inventory = Path(tmp) / "inventory.yml"
        shutil.copy(STATE_ROOT / lab_name / "inventory.yml", inventory)
        for kind in ("group_vars", "host_vars"):
            if (example / kind).is_dir():
                (Path(tmp) / kind).symlink_to(example / kind)
        env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(ROOT / ".build" / "collections"))
        return subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(inventory),
                               str(ROOT / "playbooks" / playbook), *extra], stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, env=env, timeout=1800, check=False)


def doctor(lab_name: str, example: Path) -> dict:
    """One run of playbooks/doctor.yml: its JSON report with `rc`, `seconds` and the play's `output`."""
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        started = time.monotonic()
        proc = run_playbook(lab_name, example, "doctor.yml", "-e", f"doctor_report={report}")
        seconds = time.monotonic() - started
        assert report.is_file(), f"no report (status {proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-2000:]}"
        result = json.loads(report.read_text())
    result.update(rc=proc.returncode, seconds=round(seconds, 1), output=proc.stdout)
    return result


def named(result: dict) -> set:
    """{(host, code)} of a report's findings."""
    return {(f["host"], f["code"]) for f in result["findings"]}
