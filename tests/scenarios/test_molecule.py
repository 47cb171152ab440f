"""The Molecule scenarios, run for real with `molecule test` (create, converge, verify, destroy).

`make test` runs `doctor` (NAT, DR and TUN behind one director, as `methods` builds them: the doctor's
faults, then every check of methods, which has every check of the single-method scenarios, each on its
own VIP and pair of real servers, in one boot and one converge) and `ha`. The scenarios that `doctor`
covers (methods, dr, nat, tun), `lab`, whose checks (IPVS and ipip load in every guest, the client
reaches its LANs) every traffic check of doctor and ha needs, and `operations` (day-2 changes on a routed
VIP under load; the day2 integration target runs its checks without the load) are kept for users' own CI
and run with LVS_SCENARIOS=all (or a list: LVS_SCENARIOS="dr nat"); `molecule test -s dr` runs one by hand.

Each scenario boots its own lab in QEMU guests. They run one at a time by default;
LVS_SCENARIO_PARALLEL=2 runs two at a time, longest first, for machines with more than two cores (on
two cores a pair took as long as the two one after the other: dr 946 s beside tun, against 409 s
alone). Molecule's destroy step runs even when a step fails, and the fixture below also stops every
scenario's molecule and takes its lab down, whatever happened.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml

from lab import cpu

REPO = Path(__file__).resolve().parents[2]
ALL_SCENARIOS = sorted(p.parent.name for p in (REPO / "molecule").glob("*/molecule.yml"))
# What doctor proves of them, in one lab (methods' checks, and through them dr's, nat's and tun's), and the
# lab's own smoke test, which every traffic check of doctor and ha needs to pass: run only when asked for.
COVERED = ("dr", "lab", "methods", "nat", "tun")
# Run only when asked for, for CI's time: operations (day-2 changes under load) takes about 18 minutes
# alone on 2 cores, and the day2 integration target runs its checks without the load in about 8.
ON_DEMAND = ("operations",)


def selected_scenarios(env: dict) -> list:
    """The scenarios a run takes: LVS_SCENARIOS ("all", or names separated by spaces or commas), else every
    scenario but those another one covers. An unknown name is an error, not a silent no-op."""
    asked = env.get("LVS_SCENARIOS", "").replace(",", " ").split()
    if not asked:
        return [s for s in ALL_SCENARIOS if s not in COVERED + ON_DEMAND]
    if asked == ["all"]:
        return list(ALL_SCENARIOS)
    unknown = sorted(set(asked) - set(ALL_SCENARIOS))
    if unknown:
        raise ValueError(f"LVS_SCENARIOS: no scenario {', '.join(unknown)}; known: all, {', '.join(ALL_SCENARIOS)}")
    return sorted(set(asked))


SCENARIOS = selected_scenarios(os.environ)
# Longest first (measured wall times), so the pool does not end on one long scenario alone.
LONGEST_FIRST = ["doctor", "ha", "operations", "methods", "tun", "dr", "nat", "lab"]
PARALLEL = max(1, int(os.environ.get("LVS_SCENARIO_PARALLEL", "1")))
# Molecule announces each step: "INFO     [tun > converge] Executing"
STEP = re.compile(r"^INFO\s+\[[\w-]+ > ([\w-]+)\] (Executing|Executed)")
# The verify's slowest checks, from pytest's --durations (VERIFY_ENV): "12.34s call     tests/test_x.py::test_y"
VERIFY_TIME = re.compile(r"^\d+\.\d+s (call|setup|teardown) +\S")
# Every play run of a scenario reports its slowest tasks (TASKTIME lines, tests/profile).
PROFILE_ENV = {"ANSIBLE_CALLBACK_PLUGINS": str(REPO / "tests" / "profile" / "callback_plugins"),
               "ANSIBLE_CALLBACKS_ENABLED": "task_timer", "LVS_TASK_TIMES_TOP": "8"}
# As many guests running a module at once as the host has cores: under TCG a module run is the host's CPU
# work, and more at once only adds contention (tests/benchmarks/forks.py, 7 guests on 2 cores: forks 2
# took 0.81 of the time of forks 7).
# testinfra's pytest reads this; set here, not in each molecule.yml, so users' own runs stay as they were
VERIFY_ENV = {"PYTEST_ADDOPTS": "--durations=15"}
FORKS_ENV = {"ANSIBLE_FORKS": os.environ.get("ANSIBLE_FORKS", str(max(2, os.cpu_count() or 2)))}


def step_seconds(stamped: list) -> dict:
    """{step: seconds} from (monotonic time, line) pairs of molecule's output; a step run twice (destroy)
    adds up."""
    seconds: dict = {}
    opened = None
    for when, line in stamped:
        m = STEP.match(line)
        if m and m.group(2) == "Executing":
            opened = (m.group(1), when)
        elif m and opened and m.group(1) == opened[0]:
            seconds[opened[0]] = seconds.get(opened[0], 0.0) + when - opened[1]
            opened = None
    return seconds


# What says why a scenario failed, wherever it sits in a long log: testinfra's FAILED lines and assertion
# lines, Ansible's failed tasks. CI's log keeps the head of a failure message; these go first.
WHY = re.compile(r"^(FAILED |ERROR |E  |fatal: |failed: |\S+ +: ok=\d+ .* failed=[1-9])")
WHY_LINES = 60


def failure_digest(output: str, limit: int = WHY_LINES) -> str:
    """The lines of a scenario's output that say why it failed, in order, at most `limit` of them."""
    lines = [line.rstrip() for line in output.splitlines() if WHY.match(line)]
    if len(lines) > limit:
        lines = lines[:limit] + [f"... {len(lines) - limit} more such lines in the log"]
    return "\n".join(lines)


# Each run's labs carry a suffix of their own (molecule.yml: LVS_LAB_NAME: molecule-NAME${LVS_LAB_SUFFIX}), so
# a second run on the same host, or a developer's kept molecule-NAME lab, is never taken down by this one.
LAB_SUFFIX = f"-{os.getpid()}"


def lab_name_of(scenario: str, suffix: str = LAB_SUFFIX) -> str:
    config = yaml.safe_load((REPO / "molecule" / scenario / "molecule.yml").read_text())
    return config["provisioner"]["env"]["LVS_LAB_NAME"].replace("${LVS_LAB_SUFFIX}", suffix)


class Runs:
    """Starts every scenario on a bounded pool; each test waits for its own scenario's result."""

    def __init__(self, logs: Path, selected: list):
        self.logs = logs
        self.procs: dict = {}
        self.stopping = threading.Event()
        self.steps: dict = {}
        self.busy: dict = {}  # scenario -> the host CPUs' busy percent over its run
        self.pool = ThreadPoolExecutor(max_workers=PARALLEL)
        order = [s for s in LONGEST_FIRST if s in selected] + [s for s in selected if s not in LONGEST_FIRST]
        self.futures = {s: self.pool.submit(self._run, s) for s in order}

    def _run(self, scenario: str) -> tuple:
        if self.stopping.is_set():
            return None, 0.0, "not started: the session is ending"
        log = self.logs / f"molecule-{scenario}.log"
        # wide lines: molecule wraps its output at the terminal width, which would split a FIGURES line
        env = dict(os.environ, PY_COLORS="0", ANSIBLE_FORCE_COLOR="0", COLUMNS="400", LVS_LAB_SUFFIX=LAB_SUFFIX,
                   **PROFILE_ENV, **FORKS_ENV, **VERIFY_ENV)
        started, cpu_before = time.monotonic(), cpu.read()
        stamped = []
        with log.open("w") as out:
            # stdin of its own (ssh sets O_NONBLOCK on what it is given; ansible refuses a non-blocking stdin)
            proc = subprocess.Popen([sys.executable, "-m", "molecule", "test", "-s", scenario], cwd=REPO,
                                    stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                    env=env, text=True)
            self.procs[scenario] = proc
            for line in proc.stdout:  # stamped as it arrives: the step times come from these stamps
                stamped.append((time.monotonic(), line))
                out.write(line)
            proc.wait()
        self.steps[scenario] = step_seconds(stamped)
        self.busy[scenario] = cpu.busy_percent(cpu_before, cpu.read())
        return proc.returncode, time.monotonic() - started, "".join(line for _t, line in stamped)

    def result(self, scenario: str) -> tuple:
        return self.futures[scenario].result()

    def close(self) -> None:
        self.stopping.set()
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.terminate()
        self.pool.shutdown(wait=True, cancel_futures=True)
        for scenario in self.futures:
            subprocess.run([sys.executable, "-m", "lab", "down", lab_name_of(scenario)], cwd=REPO, check=False)


@pytest.fixture(scope="module")
def runs(request, tmp_path_factory):
    # only the scenarios this session selected (-k), started as soon as the first one is needed
    selected = [item.callspec.params["scenario"] for item in request.session.items
                if hasattr(item, "callspec") and "scenario" in item.callspec.params]
    pool = Runs(tmp_path_factory.mktemp("molecule"), selected)
    try:
        yield pool
    finally:
        pool.close()


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_molecule_scenario(scenario, runs, capsys):
    returncode, seconds, output = runs.result(scenario)
    with capsys.disabled():
        print(f"\n[{scenario}] molecule test -s {scenario}: rc={returncode} in {seconds:.0f} s")
        steps = runs.steps.get(scenario, {})
        # with the host's CPUs' busy share over the run: under TCG what stays idle could run something else
        print(f"[{scenario}] STEPS " + " ".join(f"{k}={v:.0f}s" for k, v in steps.items())
              + f" cpu_busy={runs.busy.get(scenario)}%")
        # measured figures (the ha scenario's outages, reboot times) and each play's slowest tasks
        for line in output.splitlines():
            for mark in ("FIGURES ", "TASKTIME "):
                if mark in line:
                    print(f"[{scenario}] {line[line.index(mark):]}")
            if VERIFY_TIME.match(line):
                print(f"[{scenario}] VERIFYTIME {line}")
    assert returncode == 0, (f"molecule test -s {scenario} failed after {seconds:.0f} s.\nWhy:\n{failure_digest(output)}"
                             f"\n\nThe log's end:\n{output[-20000:]}")
