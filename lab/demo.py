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

from . import lab, net, paths, topology, vm

LAB = "demo"
VIP = "198.51.100.100"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lab.demo", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keep", action="store_true", help="leave the lab running afterwards")
    parser.add_argument("--requests", type=int, default=6)
    args = parser.parse_args(argv)
    topo = topology.load("dr")
    try:
        record = lab.up(topo, LAB)
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
        stats = subprocess.run(vm.ssh_base(port, state / "id_ed25519") + ["ipvsadm -Ln --stats"],
                               capture_output=True, text=True)
        print(f"\n== ipvsadm -Ln --stats on the director\n\n{stats.stdout}")
        return 0 if len(set(answered)) > 1 and all(a.startswith("rs") for a in answered) else 1
    finally:
        if args.keep:
            print(f"kept running: `python -m lab ssh {LAB} director`, `python -m lab down {LAB}`")
        else:
            lab.down(LAB)


if __name__ == "__main__":
    sys.exit(main())
