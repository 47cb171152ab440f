"""A lab killed half-way leaves QEMU processes, taps and a namespace: `down` must find and remove all of
it by name, even without the process that made it; `up` of the same name refuses while its guests run."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lab import net, paths, vm

REPO = Path(__file__).resolve().parents[2]
LAB = f"t-crash-{os.getpid()}"  # a name of its own: another run's lab is never taken down


def leftovers():
    links = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True).stdout
    return {
        "qemu": sorted(vm.lab_processes(LAB).values()),
        "namespace": net.ns_exists(net.namespace(LAB)),
        "taps": [ln for ln in links.splitlines() if net.tap_prefix(LAB) in ln],
        "state": paths.state_dir(LAB).exists(),
    }


def wait_for(condition, seconds, what):
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        time.sleep(0.2)


@pytest.mark.skipif(os.geteuid() != 0, reason="the lab needs root")
def test_down_removes_a_lab_whose_up_was_killed():
    state_file = paths.state_dir(LAB) / "state.json"
    up = subprocess.Popen([sys.executable, "-m", "lab", "up", "dr", "--name", LAB], cwd=REPO,
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        # Kill `up` as soon as every guest runs, before it finishes: the state it leaves is a crash's.
        wait_for(lambda: state_file.exists() and len(json.loads(state_file.read_text())["hosts"]) == 3,
                 300, "the lab never started its three guests")
        os.killpg(up.pid, signal.SIGKILL)
        up.wait()
        before = leftovers()
        assert len(before["qemu"]) == 3 and before["namespace"] and before["state"], before
        # A lab whose guests still run is someone's: a second `up` of that name refuses, touching nothing.
        again = subprocess.run([sys.executable, "-m", "lab", "up", "dr", "--name", LAB], cwd=REPO,
                               capture_output=True, text=True, timeout=120, check=False)
        assert again.returncode != 0 and f"lab {LAB} is running" in again.stderr, again.stderr
        assert leftovers() == before
        subprocess.run([sys.executable, "-m", "lab", "down", LAB], cwd=REPO, check=True)
        assert leftovers() == {"qemu": [], "namespace": False, "taps": [], "state": False}
    finally:
        if up.poll() is None:
            os.killpg(up.pid, signal.SIGKILL)
        subprocess.run([sys.executable, "-m", "lab", "down", LAB], cwd=REPO, check=False)
