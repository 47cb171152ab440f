"""Each directory under targets/ is one Ansible integration target, run against one of the session's labs.

The targets are shared out between the labs (conftest.py: LVS_IT_LANES, default 2) before the first one
starts, longest first onto the lab with the least work; each lab runs its share one after the other, and
each test waits for its own target's result. A target never shares a lab with another at the same time.
"""
from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from lab import cpu

HERE = Path(__file__).resolve().parent
TARGETS = HERE / "targets"
NAMES = sorted(p.name for p in TARGETS.iterdir() if (p / "main.yml").exists())
# Targets that run the roles, and the VIPs they use: teardown.yml takes away what the roles left, after
# the target passed or failed, so one failure cannot cascade into the targets that follow. The module
# targets clean up in their own `always` blocks.
ROLE_TARGETS = {"backend_handover": ["198.51.100.201"], "day2": ["198.51.100.210", "203.0.113.10"]}
# Measured seconds (the TASKTIME totals of a CI run, 2 cores under TCG, two labs side by side), for sharing
# the targets out; a new target counts 200.
EXPECTED_S = {"day2": 760, "backend_handover": 590, "ipvs_dest": 265, "boot_rules": 205, "ipvs_table": 185,
              "ipvs_service": 145, "vip": 130, "noarp_vip": 125, "malformed_input": 95, "preflight": 60}


def share_out(targets: list, lanes: int) -> list:
    """Targets per lane: longest first, each onto the lane with the least expected work so far."""
    shares: list = [[] for _ in range(lanes)]
    load = [0] * lanes
    for target in sorted(targets, key=lambda t: (-EXPECTED_S.get(t, 200), t)):
        lane = load.index(min(load))
        shares[lane].append(target)
        load[lane] += EXPECTED_S.get(target, 200)
    return shares


def run_target(lab, target: str) -> tuple:
    """(error or None, output) of one target on `lab`, its teardown included."""
    output, error = "", None
    try:
        output = lab.run_playbook(TARGETS / target / "main.yml")
    except AssertionError as exc:
        error = exc
    finally:
        # a failed teardown also fails the target (the next targets on this lab would see its leftovers)
        if target in ROLE_TARGETS:
            try:
                lab.run_playbook(HERE / "teardown.yml", "-e", json.dumps({"teardown_vips": ROLE_TARGETS[target]}))
            except AssertionError as exc:
                error = AssertionError(f"{error or 'the target passed'}; then its teardown failed: {exc}")
    return error, output


class Runs:
    """Every selected target started on its lab's lane; `result(target)` waits for it."""

    def __init__(self, labs: list, selected: list):
        self.results: dict = {}
        self.timing: dict = {}  # target -> (seconds, the host CPUs' busy percent meanwhile)
        self.done = {t: threading.Event() for t in selected}
        self.pool = ThreadPoolExecutor(max_workers=len(labs))
        for lab, share in zip(labs, share_out(selected, len(labs))):
            self.pool.submit(self._lane, lab, share)

    def _lane(self, lab, share: list) -> None:
        for target in share:
            started, cpu_before = time.monotonic(), cpu.read()
            try:
                self.results[target] = (*run_target(lab, target), lab.name)
            except BaseException as exc:  # noqa: BLE001 - reported by the target's own test
                self.results[target] = (exc, "", lab.name)
            # the host's CPUs over the target's run, the other lanes' work included
            self.timing[target] = (time.monotonic() - started, cpu.busy_percent(cpu_before, cpu.read()))
            self.done[target].set()

    def result(self, target: str) -> tuple:
        self.done[target].wait()
        return self.results[target]


@pytest.fixture(scope="module")
def runs(request, labs):
    selected = [item.callspec.params["target"] for item in request.session.items
                if hasattr(item, "callspec") and "target" in item.callspec.params]
    pool = Runs(labs, selected)
    try:
        yield pool
    finally:
        pool.pool.shutdown(wait=True)


@pytest.mark.parametrize("target", NAMES)
def test_target(runs, target, capsys):
    error, output, lab_name = runs.result(target)
    seconds, busy = runs.timing.get(target, (0.0, None))
    with capsys.disabled():
        print(f"\n[{target}] on lab {lab_name}: {seconds:.0f} s, host cpu_busy={busy}%")
        # targets that measure something (backend_handover) print FIGURES lines, and every run its slowest
        # tasks (TASKTIME): keep them in the CI log
        for line in output.splitlines():
            for mark in ("FIGURES ", "TASKTIME "):
                if mark in line:
                    shown = line[line.index(mark):].rstrip('"')
                    print(f"[{target}] {shown}")
    if error is not None:
        raise error
