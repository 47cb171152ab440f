"""The main job on the embedded default: boot the DR lab and show it answering.

`python -m lab.demo [--keep]`: boots the `dr` topology, shows every guest's kernel, its IPVS table and
LAN address, proves the client namespace reaches each guest, then tears the lab down (unless --keep).
"""
from __future__ import annotations

import argparse
import subprocess
import sys

from . import lab, net, topology, vm
from .paths import state_dir

LAB = "demo"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lab.demo", description=__doc__)
    parser.add_argument("--keep", action="store_true", help="leave the lab running afterwards")
    args = parser.parse_args(argv)
    topo = topology.load("dr")
    ok = True
    try:
        record = lab.up(topo, LAB)
        print(f"\n== lab `{LAB}` ({topo.name}) up in {record['up_seconds']} s\n")
        key = state_dir(LAB) / "id_ed25519"
        for name, host in topo.hosts.items():
            port = record["hosts"][name]["ssh_port"]
            out = subprocess.run(vm.ssh_base(port, key) + [
                "echo \"$(hostname): kernel $(uname -r)\"; ip -br -4 address show dev eth1; "
                "modprobe ip_vs && ipvsadm -Ln | head -1"], capture_output=True, text=True)
            print(out.stdout.rstrip() or out.stderr.rstrip())
            address = str(host.nics[0].addresses[0].ip)
            ping = subprocess.run(["ip", "netns", "exec", net.namespace(LAB), "ping", "-c", "1", "-W", "5",
                                   address], capture_output=True, text=True)
            ok &= ping.returncode == 0
            print(f"client -> {name} {address}: {'answers' if ping.returncode == 0 else 'NO ANSWER'}\n")
        print(f"inventory: {record['inventory']}")
    finally:
        if not args.keep:
            lab.down(LAB)
        else:
            print(f"kept running: `python -m lab down {LAB}` removes it")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
