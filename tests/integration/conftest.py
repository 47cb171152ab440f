"""The labs the integration targets run on: LVS_IT_LANES of them (default 2), each a director and a real
server (tests/integration/topology.yml), the targets shared out between them (test_targets.py).

Most targets keep one guest busy, so on two cores two labs side by side finish in about half the
time; each lab is a namespace and guests of its own, so targets on different labs never meet. The
fixture boots the labs at once, prepares each (the pyroute2 role installs the modules' venv), and
ALWAYS takes them all down, also when booting, preparing or a test fails.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
TOPOLOGY = HERE / "topology.yml"
# Names of this run's own: a developer's kept lab or another run on this host is left alone.
LAB_PREFIX = os.environ.get("LVS_IT_LAB", f"it-{os.getpid()}")
LANES = max(1, int(os.environ.get("LVS_IT_LANES", "2")))
TAIL = 80


def ansible_env() -> dict:
    env = dict(os.environ)
    env.setdefault("ANSIBLE_COLLECTIONS_PATH", str(REPO / ".build" / "collections"))
    venv_bin = str(Path(sys.executable).parent)
    env["PATH"] = venv_bin + os.pathsep + env.get("PATH", "")
    env["ANSIBLE_FORCE_COLOR"] = "0"
    env["ANSIBLE_NOCOLOR"] = "1"
    env["ANSIBLE_HOST_KEY_CHECKING"] = "False"
    env["ANSIBLE_RETRY_FILES_ENABLED"] = "False"
    env["ANSIBLE_CALLBACK_RESULT_FORMAT"] = "yaml"
    # each run's slowest tasks (TASKTIME lines, tests/profile), printed by the target's test
    env["ANSIBLE_CALLBACK_PLUGINS"] = str(REPO / "tests" / "profile" / "callback_plugins")
    env["ANSIBLE_CALLBACKS_ENABLED"] = "task_timer"
    env.setdefault("LVS_TASK_TIMES_TOP", "6")
    return env


def tail(text: str, lines: int = TAIL) -> str:
    return "\n".join(text.splitlines()[-lines:])


def first_failures(text: str, lines: int = 30) -> str:
    """Each failed task's header and its first `lines` lines, up to the tail: a host that failed early
    drops out of the play, and the tail alone then shows only what the others did next."""
    out, rows = [], text.splitlines()
    end = max(0, len(rows) - TAIL)
    for index, row in enumerate(rows[:end]):
        if row.startswith(("fatal: ", "failed: ")):
            header = next((rows[i] for i in range(index, -1, -1) if rows[i].startswith("TASK [")), "")
            out += [header] + rows[index:min(index + lines, end)] + ["..."]
    return "\n".join(out)


class Lab:
    def __init__(self, record: dict):
        self.record = record
        self.name = record["lab"]
        self.inventory = record["inventory"]
        self.namespace = record["namespace"]

    def playbook(self, path: Path, *extra: str, timeout: int = 1800) -> subprocess.CompletedProcess:
        cmd = [str(Path(sys.executable).parent / "ansible-playbook"), "-i", self.inventory, str(path),
               "-e", json.dumps({"lab_namespace": self.namespace, "repo_root": str(REPO),
                                 "controller_python": sys.executable}), *extra]
        # stdin of its own: ssh sets O_NONBLOCK on its stdin, and ansible-playbook refuses to start on a
        # non-blocking stdin, so two labs' runs must not share the test session's
        return subprocess.run(cmd, cwd=REPO, env=ansible_env(), capture_output=True, text=True,
                              stdin=subprocess.DEVNULL, timeout=timeout, check=False)

    def run_playbook(self, path: Path, *extra: str) -> str:
        proc = self.playbook(path, *extra)
        output = proc.stdout + proc.stderr
        assert proc.returncode == 0, \
            f"{path.name} failed (rc {proc.returncode}):\n{first_failures(output)}\n{tail(output)}"
        return output


def _missing_prerequisite() -> str | None:
    if os.geteuid() != 0:
        return "the QEMU lab needs root"
    for tool in ("qemu-system-x86_64", "ip"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (run `make deps`)"
    return None


def _boot_and_prepare(name: str) -> Lab:
    proc = subprocess.run([sys.executable, "-m", "lab", "up", str(TOPOLOGY), "--name", name, "--json"],
                          cwd=REPO, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=900,
                          check=False)
    assert proc.returncode == 0, f"lab up {name} failed:\n{tail(proc.stdout + proc.stderr)}"
    the_lab = Lab(json.loads(proc.stdout))
    the_lab.run_playbook(HERE / "prepare.yml")
    return the_lab


# Module scope: the labs are down as soon as the targets are done, not after the whole test session
# (the Molecule scenarios that follow need the CPU).
@pytest.fixture(scope="module")
def labs():
    reason = _missing_prerequisite()
    if reason:
        pytest.skip(reason)
    names = [LAB_PREFIX if LANES == 1 else f"{LAB_PREFIX}-{n}" for n in range(LANES)]
    try:
        with ThreadPoolExecutor(max_workers=LANES) as pool:
            booted = list(pool.map(_boot_and_prepare, names))
        yield booted
    finally:
        for name in names:
            subprocess.run([sys.executable, "-m", "lab", "down", name], cwd=REPO,
                           capture_output=True, text=True, timeout=300, check=False)
