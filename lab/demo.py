"""The main job on the embedded default: an LVS-DR cluster built by site.yml, with traffic through the VIP.

`python -m lab.demo [--keep]`:
1. boots the `dr` topology (a director and two real servers);
2. runs playbooks/site.yml with the example group_vars of playbooks/inventories/dr;
3. sends a handful of client requests to the VIP from the lab namespace, showing which real server
   answered;
4. prints `ipvsadm -Ln --stats` from the director;
5. tears the lab down (unless --keep).
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

from . import lab, net, paths, topology, vm

LAB = "demo"
VIP = "198.51.100.100"
# The kernel adds up its per-CPU IPVS counters about every 2 s: stats read right after the requests
# show fewer connections than were made, so the demo waits (bounded) until they are all counted.
STATS_DEADLINE_S = 20.0


def service_conns(stats: str, vip: str, port: int = 80) -> int | None:
    """The Conns column of the `vip:port` TCP service in `ipvsadm -Ln --stats` output (None if absent)."""
    for line in stats.splitlines():
        fields = line.split()
        if len(fields) >= 3 and fields[0] == "TCP" and fields[1] == f"{vip}:{port}":
            return int(fields[2])
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lab.demo", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keep", action="store_true", help="leave the lab running afterwards")
    parser.add_argument("--requests", type=int, default=6)
    args = parser.parse_args(argv)
    topo = topology.load("dr")
    try:
        record = lab.up(topo, LAB, replace=True)  # the demo's own lab, from an earlier demo
        state = paths.state_dir(LAB)
        # The example group_vars sit beside the lab's inventory, where Ansible looks for them.
        os.symlink(paths.REPO / "playbooks" / "inventories" / "dr" / "group_vars", state / "group_vars")
        print(f"\n== lab up in {record['up_seconds']} s; running playbooks/site.yml\n", flush=True)
        playbook_cmd = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
        play = subprocess.run([playbook_cmd, "-i", record["inventory"],
                               str(paths.REPO / "playbooks" / "site.yml")], cwd=paths.REPO)
        if play.returncode != 0:
            print("site.yml failed", file=sys.stderr)
            return 1
        print(f"\n== {args.requests} new connections from the client to http://{VIP}/\n")
        answered = []
        for _ in range(args.requests):
            out = subprocess.run(["ip", "netns", "exec", net.namespace(LAB), "curl", "-s", "-m", "10",
                                  f"http://{VIP}/"], capture_output=True, text=True)
            answered.append(out.stdout.strip() or f"(no answer: {out.stderr.strip()})")
            print(f"  answered by {answered[-1]}")
        port = record["hosts"]["director"]["ssh_port"]
        deadline = time.monotonic() + STATS_DEADLINE_S
        while True:
            stats = subprocess.run(vm.ssh_base(port, state / "id_ed25519") + ["ipvsadm -Ln --stats"],
                                   capture_output=True, text=True)
            counted = service_conns(stats.stdout, VIP) or 0
            if counted >= len(answered) or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        print(f"\n== ipvsadm -Ln --stats on the director (Conns counts the {counted} of {len(answered)} "
              f"connections the kernel has folded in; it sums per-CPU counters about every 2 s)\n\n{stats.stdout}")
        return 0 if len(set(answered)) > 1 and all(a.startswith("rs") for a in answered) else 1
    finally:
        if args.keep:
            print(f"kept running: `python -m lab ssh {LAB} director`, `python -m lab down {LAB}`")
        else:
            lab.down(LAB)


if __name__ == "__main__":
    sys.exit(main())
