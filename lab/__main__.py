"""Command line of the lab. Run from the repository root as root: `python -m lab --help`."""
from __future__ import annotations

import argparse
import json
import os
import re
import sys

from . import accel, image, inventory, lab, load, net, template, topology, vm
from .prereq import PrerequisiteError
from .proc import CommandError

LAB_NAME_RE = re.compile(r"^[a-z][a-z0-9-]{0,23}$")


def lab_name(value: str) -> str:
    if not LAB_NAME_RE.match(value):
        raise argparse.ArgumentTypeError("lab names are lowercase letters, digits and '-', at most 24")
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lab", description=__doc__)
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("build", help="build the guest image if its recipe changed (cached otherwise), and the "
                                     "saved guest labs are restored from (template.py)")
    p.add_argument("--force", action="store_true", help="rebuild even if the cache has the image")
    p = sub.add_parser("up", help="boot a topology; clears a stale lab of the same name first")
    p.add_argument("topology", help="dr, nat, tun, ha, or a path to a topology .yml")
    p.add_argument("--name", type=lab_name, help="lab name (default: the topology's name)")
    p.add_argument("--json", action="store_true", help="print the lab record as JSON")
    p.add_argument("--replace", action="store_true", help="take a running lab of the same name down first")
    p = sub.add_parser("down", help="stop a lab and remove everything it made")
    p.add_argument("name", nargs="?", type=lab_name)
    p.add_argument("--all", action="store_true", help="every lab on this machine")
    p = sub.add_parser("status", help="a running lab's record: pids, ports, peak memory")
    p.add_argument("name", type=lab_name)
    p = sub.add_parser("inventory", help="print a running lab's Ansible inventory")
    p.add_argument("name", type=lab_name)
    p.add_argument("--script", action="store_true", help="JSON in the form of an inventory script")
    p = sub.add_parser("exec", help="run a command as the client, inside the lab namespace")
    p.add_argument("name", type=lab_name)
    p.add_argument("command", nargs=argparse.REMAINDER)
    p = sub.add_parser("ssh", help="run a command on a guest (or log in)")
    p.add_argument("name", type=lab_name)
    p.add_argument("host")
    p.add_argument("command", nargs=argparse.REMAINDER)
    for verb, text in (("poweroff", "pull one guest's plug (QEMU killed; disk and taps kept)"),
                       ("poweron", "boot a powered-off guest again from its own disk")):
        p = sub.add_parser(verb, help=text)
        p.add_argument("name", type=lab_name)
        p.add_argument("host")
    p = sub.add_parser("load", help="bounded HTTP load from the lab namespace; prints records as JSON")
    p.add_argument("name", type=lab_name)
    p.add_argument("--vip", required=True)
    p.add_argument("--port", type=int, default=80)
    p.add_argument("--count", type=int, default=100)
    p.add_argument("--rate", type=float, default=10.0, help="requests per second (open loop)")
    p.add_argument("--timeout", type=float, default=2.0, help="seconds per request")
    p.add_argument("--mode", choices=load.MODES, default="fresh")
    p.add_argument("--summary", action="store_true", help="print only the summary")
    args = parser.parse_args(argv)
    try:
        return COMMANDS[args.cmd](args)
    except (PrerequisiteError, topology.TopologyError, CommandError, TimeoutError, RuntimeError) as exc:
        print(f"lab: {exc}", file=sys.stderr)
        return 2


def cmd_build(args) -> int:
    img = image.build() if args.force else image.ensure()
    for failed in img.folder.glob("template-*.failed"):  # asked for again: try again
        failed.unlink()
    template.ensure(img, accel.choose(img.kernel))
    print(img.folder)
    return 0


def cmd_up(args) -> int:
    topo = topology.load(args.topology)
    record = lab.up(topo, args.name or topo.name, replace=args.replace)
    print(json.dumps(record, indent=2) if args.json else f"inventory: {record['inventory']}")
    return 0


def cmd_down(args) -> int:
    if args.all:
        lab.down_all()
    elif args.name:
        lab.down(args.name)
    else:
        print("lab: down needs a lab name or --all", file=sys.stderr)
        return 2
    return 0


def cmd_status(args) -> int:
    record = lab.status(args.name)
    if record is None:
        print(f"lab: no lab named {args.name} is running", file=sys.stderr)
        return 1
    print(json.dumps(record, indent=2))
    return 0


def cmd_inventory(args) -> int:
    record = lab.status(args.name)
    if record is None or "inventory" not in record:
        print(f"lab: no lab named {args.name} is up", file=sys.stderr)
        return 1
    data = json.loads((lab.paths.state_dir(args.name) / "inventory.json").read_text())
    print(json.dumps(inventory.to_script_json(data) if args.script else data, indent=2))
    return 0


def _lab_running(name: str) -> bool:
    if net.ns_exists(net.namespace(name)):
        return True
    print(f"lab: no lab named {name} is running", file=sys.stderr)
    return False


def cmd_exec(args) -> int:
    ns = net.namespace(args.name)
    if not _lab_running(args.name):
        return 1
    command = [c for c in args.command if c != "--"] or [os.environ.get("SHELL", "/bin/sh")]
    os.execvp("ip", ["ip", "netns", "exec", ns, *command])


def cmd_ssh(args) -> int:
    record = lab.status(args.name)
    if record is None or args.host not in record["hosts"]:
        print(f"lab: no host {args.host} in a running lab {args.name}", file=sys.stderr)
        return 1
    key = lab.paths.state_dir(args.name) / "id_ed25519"
    base = vm.ssh_base(record["hosts"][args.host]["ssh_port"], key)
    command = [c for c in args.command if c != "--"]
    os.execvp("ssh", base + command)


def cmd_poweroff(args) -> int:
    lab.power_off(args.name, args.host)
    return 0


def cmd_poweron(args) -> int:
    lab.power_on(args.name, args.host)
    return 0


def cmd_load(args) -> int:
    if not _lab_running(args.name):
        return 1
    result = load.finish(load.start(args.name, args.vip, port=args.port, count=args.count, rate=args.rate,
                                    timeout=args.timeout, mode=args.mode))
    print(json.dumps(result["summary"] if args.summary else result, indent=2))
    return 0 if result["summary"]["failed"] == 0 else 3


COMMANDS = {"build": cmd_build, "up": cmd_up, "down": cmd_down, "status": cmd_status,
            "inventory": cmd_inventory, "exec": cmd_exec, "ssh": cmd_ssh, "poweroff": cmd_poweroff,
            "poweron": cmd_poweron, "load": cmd_load}

if __name__ == "__main__":
    sys.exit(main())
