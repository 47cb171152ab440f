"""How many guests should run Ansible modules at once on this machine? Prints figures, asserts nothing.

Boots a lab (default: the 7-guest `methods` topology), then runs the same playbook of module calls
on every guest with several `--forks` values, alternating, and prints each run's wall time and the
ratio to running every guest at once. Under software emulation each guest's module runs are CPU work
on the host: more guests at once than host cores only shares the cores, and may cost more than it
shares (each QEMU's translated-code cache, the host's caches). The lab is always taken down.

    python tests/benchmarks/forks.py [--topology methods] [--rounds 2] [--forks 7,2]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PLAY = """
- name: Module calls on every guest
  hosts: all
  gather_facts: false
  tasks:
    - name: A module that does nothing (the cost of a module run itself)
      ansible.builtin.ping:
      loop: "{{ range(%(calls)d) | list }}"
    - name: A file's state, as every template and copy task reads it
      ansible.builtin.stat:
        path: /etc/hostname
      loop: "{{ range(%(calls)d) | list }}"
"""


def run_play(inventory: str, play: Path, forks: int) -> float:
    env = dict(os.environ, ANSIBLE_HOST_KEY_CHECKING="False")
    started = time.monotonic()
    proc = subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), "-i", inventory, "--forks", str(forks),
                           str(play)], cwd=REPO, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL,
                          check=False)
    seconds = time.monotonic() - started
    if proc.returncode != 0:
        sys.exit(f"forks {forks}: the playbook failed:\n{proc.stdout[-3000:]}{proc.stderr[-2000:]}")
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--topology", default="methods")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--calls", type=int, default=5, help="calls of each module per guest and run")
    parser.add_argument("--forks", default="", help="comma-separated; default: every guest at once, then 2")
    args = parser.parse_args()
    name = f"bench-forks-{os.getpid()}"[:24]
    try:
        up = subprocess.run([sys.executable, "-m", "lab", "up", args.topology, "--name", name, "--json"], cwd=REPO,
                            capture_output=True, text=True, check=False)
        if up.returncode != 0:
            sys.exit(f"lab up failed:\n{up.stderr[-3000:]}")
        record = json.loads(up.stdout)
        guests = len(record["hosts"])
        forks = [int(f) for f in args.forks.split(",") if f] or [guests, 2]
        with tempfile.TemporaryDirectory() as tmp:
            play = Path(tmp) / "play.yml"
            play.write_text(PLAY % {"calls": args.calls})
            run_play(record["inventory"], play, guests)  # warm: the guests' bytecode caches, SSH masters
            seconds: dict = {f: [] for f in forks}
            for _round in range(args.rounds):
                for f in forks:
                    seconds[f].append(run_play(record["inventory"], play, f))
        calls = 2 * args.calls * guests
        base = min(seconds[forks[0]])
        for f in forks:
            best = min(seconds[f])
            print(f"FIGURES forks={f} guests={guests} module_runs={calls} best_s={best:.1f} "
                  f"runs_s={','.join(f'{s:.1f}' for s in seconds[f])} per_run_s={best / calls:.2f} "
                  f"vs_forks_{forks[0]}={best / base:.2f}")
    finally:
        subprocess.run([sys.executable, "-m", "lab", "down", name], cwd=REPO, capture_output=True, check=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
