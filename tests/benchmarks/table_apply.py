"""Control-plane benchmark: 1,000 TCP services x 10 DR destinations in one TCG guest, and a scaling curve.

    python tests/benchmarks/table_apply.py [--runs N] [--sizes 100,1000,10000] [--keep]

Boots its own one-guest lab (bench-PID), compares in the SAME guest (medians of N runs):
`ipvsadm -R < table` from empty, our whole-table apply from empty, our no-op re-apply and a
one-destination weight change (and counts its netlink mutations: must be exactly 1), both as the
module's core code run with python in the guest and as an Ansible task (end to end, with AnsiballZ),
beside the fixed cost of any Ansible task on the same guest (ansible.builtin.ping, same connection): the
module's increment is the task's time less the ping's, and the part of it spent in ansible-core's
argument validation of the table (AnsibleModule's, timed in the guest on the module's own spec). Then the
curve: each size (services x 10 destinations) once, ipvsadm -R against our apply in a fresh process (from
empty, no-op, one change), with the change's mutations and each run's peak memory. Every run from empty
(ipvsadm's and ours) starts after ip_vs is reloaded (guest_kernel.py says why). Prints figures, ratios and the goals of issue 12 (a
missed goal makes the exit status 1). Takes the lab down at the end, also on failure.
"""
from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import ansible.module_utils
from guest_kernel import EMPTY

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
LAB = f"bench-{os.getpid()}"  # a name of its own: another run's lab is never taken down
GUEST_DIR = "/opt/lvs-bench"
VENV_PY = "/opt/lvs-cluster/venv/bin/python"
SERVICES, DESTS = 1000, 10
MEMORY_GOAL_MB = 200  # peak memory of the apply at 10,000 services x 10 destinations


def table(count=SERVICES):
    """`count` TCP services of DESTS DR destinations each (250 ports on each VIP; up to 61,250 services)."""
    services = []
    for index in range(count):
        services.append({
            "address": "192.0.2.%d" % (10 + index // 250),
            "port": 10000 + index % 250, "scheduler": "wlc",
            "destinations": [{"address": "198.51.100.%d" % (11 + d), "weight": 1 + d} for d in range(DESTS)],
        })
    return services


def rules(services):
    lines = []
    for svc in services:
        vip = "%s:%d" % (svc["address"], svc["port"])
        lines.append("-A -t %s -s %s" % (vip, svc["scheduler"]))
        for dest in svc["destinations"]:
            lines.append("-a -t %s -r %s:%d -g -w %d" % (vip, dest["address"], svc["port"], dest["weight"]))
    return "\n".join(lines) + "\n"


def lab_cmd(*args, **kw):
    return subprocess.run([sys.executable, "-m", "lab", *args], cwd=REPO, check=True, text=True,
                          capture_output=True, **kw)


def ssh(cmd, stdin=None):
    proc = subprocess.run([sys.executable, "-m", "lab", "ssh", LAB, "director", "--", cmd], cwd=REPO,
                          input=stdin, capture_output=True, check=False)
    if proc.returncode:
        raise RuntimeError("guest command failed: %s\n%s" % (cmd, proc.stderr.decode(errors="replace")))
    return proc.stdout.decode()


def ship(services, sizes=()):
    """The collection's plugins, the guest scripts, the 1,000-service table and one table per curve size."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        tar.add(REPO / "plugins", arcname="ansible_collections/lvs/cluster/plugins")
        # ansible-core's module_utils, as a module's payload carries them: the guest times the argument
        # validation that AnsibleModule runs on the table before any of our code
        tar.add(Path(ansible.module_utils.__file__).parent, arcname="ansible/module_utils",
                filter=lambda info: None if "__pycache__" in info.name else info)
        empty = tarfile.TarInfo("ansible/__init__.py")
        tar.addfile(empty, io.BytesIO(b""))
        tar.add(HERE / "guest_bench.py", arcname="bench.py")
        tar.add(HERE / "guest_apply.py", arcname="apply.py")
        tar.add(HERE / "guest_curve.py", arcname="curve.py")
        tar.add(HERE / "guest_kernel.py", arcname="kernel.py")
        tables = [("table.json", services)] + [("curve-%d.json" % size, table(size)) for size in sizes]
        for name, body in tables:
            for member, text in ((name, json.dumps(body)), (name + ".rules", rules(body))):
                data = text.encode()
                info = tarfile.TarInfo(member)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    ssh("rm -rf %s && mkdir -p %s && tar xzf - -C %s" % (GUEST_DIR, GUEST_DIR, GUEST_DIR), stdin=buf.getvalue())


def ansible_runs(inventory, services, runs):
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(REPO / ".build" / "collections"),
               PATH=str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", ""))
    changed = json.loads(json.dumps(services))
    changed[500]["destinations"][3]["weight"] = 7
    with tempfile.TemporaryDirectory() as tmp:
        play = Path(tmp) / "apply.yml"
        play.write_text(
            "- hosts: director\n  gather_facts: false\n"
            "  vars: {ansible_python_interpreter: %s}\n  environment: {LAB_MODULE_ZYGOTE: '0'}\n  tasks:\n"
            "    - lvs.cluster.ipvs_table: {services: \"{{ lookup('file', table_file) | from_json }}\"}\n"
            "      register: r\n    - ansible.builtin.debug: {msg: \"mutations={{ r.mutations }}\"}\n" % VENV_PY)
        # the same play with ping for the table task: what any task costs on this guest. Both plays run
        # their modules as users' hosts do, each in a fresh interpreter (the lab's zygote is off).
        ping = Path(tmp) / "ping.yml"
        ping.write_text(
            "- hosts: director\n  gather_facts: false\n"
            "  vars: {ansible_python_interpreter: %s}\n  environment: {LAB_MODULE_ZYGOTE: '0'}\n  tasks:\n"
            "    - ansible.builtin.ping:\n"
            "    - ansible.builtin.debug: {msg: \"mutations=0\"}\n" % VENV_PY)
        files = {}
        for name, data in (("full", services), ("changed", changed)):
            files[name] = Path(tmp) / (name + ".json")
            files[name].write_text(json.dumps(data))

        def run(name, playbook=play):
            start = time.perf_counter()
            proc = subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), "-i", inventory,
                                   str(playbook), "-e", "table_file=%s" % files[name]],
                                  cwd=REPO, env=env, capture_output=True, text=True, check=False)
            elapsed = time.perf_counter() - start
            if proc.returncode:
                raise RuntimeError("ansible-playbook failed:\n" + proc.stdout[-3000:])
            return elapsed, int(proc.stdout.split("mutations=")[1].split('"')[0])

        figures = {"ping": [], "empty": [], "noop": [], "change": []}
        mutations = None
        for _run in range(runs):
            figures["ping"].append(run("full", ping)[0])
            ssh(EMPTY)
            figures["empty"].append(run("full")[0])
            figures["noop"].append(run("full")[0])
            elapsed, mutations = run("changed")
            figures["change"].append(elapsed)
        return {k: statistics.median(v) for k, v in figures.items()}, mutations


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--sizes", default="100,1000,10000",
                        help="services (x 10 destinations) of each point of the curve; empty: no curve")
    parser.add_argument("--keep", action="store_true", help="leave the lab up (for profiling)")
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",") if size.strip()]
    services = table()
    try:
        print("booting lab %s ..." % LAB, flush=True)
        record = json.loads(lab_cmd("up", str(HERE / "topology.yml"), "--name", LAB, "--json").stdout)
        ssh("test -x %s || (python3 -m venv --system-site-packages /opt/lvs-cluster/venv && "
            "/opt/lvs-cluster/venv/bin/pip install --quiet --no-index /opt/lvs-lab/wheels/pyroute2-*.whl); "
            "modprobe ip_vs" % VENV_PY)
        ship(services, sizes)
        print("table: %d services x %d DR destinations (%d entries); medians of %d runs"
              % (SERVICES, DESTS, SERVICES * (DESTS + 1), args.runs), flush=True)
        core = json.loads(ssh("%s %s/bench.py %s %s/table.json %d"
                              % (VENV_PY, GUEST_DIR, GUEST_DIR, GUEST_DIR, args.runs)).strip().splitlines()[-1])
        ans, ans_mutations = ansible_runs(record["inventory"], services, args.runs)
        curve = []
        for size in sizes:
            out = ssh("%s %s/curve.py %s %s/curve-%d.json" % (VENV_PY, GUEST_DIR, GUEST_DIR, GUEST_DIR, size))
            curve.append(dict(json.loads(out.strip().splitlines()[-1]), size=size))
        base = core["ipvsadm_restore"]

        def line(label, seconds):
            print("  %-58s %7.2f s  %5.2fx ipvsadm -R" % (label, seconds, seconds / base))
        print("  %-58s %7.2f s" % ("ipvsadm -R < table (from empty)", base))
        print("  %-58s %7.2f s" % ("ipvsadm -Sn (dump)", core["ipvsadm_save"]))
        print("  %-58s %7.2f s" % ("python -c 'import pyroute2' (fixed cost of any run)", core["python_import"]))
        start = time.perf_counter()
        sum(range(10 ** 7))
        print("  %-58s %7.2f s (%.2f s on this host)" % ("guest speed: sum(range(10**7)) in python",
                                                         core["python_loop"], time.perf_counter() - start))
        line("core, in process: apply from empty", core["core_empty"])
        line("core, in process: no-op re-apply", core["core_noop"])
        line("core, in process: one-destination weight change", core["core_one_change"])
        line("core, fresh python process: apply from empty", core["core_process_empty"])
        line("core, fresh python process: no-op re-apply", core["core_process_noop"])
        line("ansible-core's argument validation of the table (in the task)", core["argspec_validate"])
        line("our conversion and parse of the table (in the task)", core["parse_validated"])
        print("  %-58s %7.2f s" % ("Ansible ping task (the fixed cost of any task here)", ans["ping"]))
        line("Ansible task (ansible-playbook wall): apply from empty", ans["empty"])
        line("Ansible task (ansible-playbook wall): no-op re-apply", ans["noop"])
        line("Ansible task (ansible-playbook wall): one weight change", ans["change"])
        increment = {k: ans[k] - ans["ping"] for k in ("empty", "noop", "change")}
        line("Ansible task less ping: apply from empty", increment["empty"])
        line("Ansible task less ping: no-op re-apply", increment["noop"])
        line("Ansible task less ping: one weight change", increment["change"])
        print("  netlink mutations of the one-destination change: core %d, Ansible task %d (goal: 1)"
              % (core["one_change_mutations"], ans_mutations))
        if curve:
            print("  scaling curve (one run each; fresh process; peak memory of our apply):")
            print("  %9s %9s %10s %9s %9s %9s %10s %9s"
                  % ("services", "entries", "ipvsadm-R", "empty", "no-op", "change", "mutations", "peak MB"))
        for point in curve:
            print("  %9d %9d %9.2fs %8.2fs %8.2fs %8.2fs %10d %9.1f" % (
                point["size"], point["size"] * (DESTS + 1), point["ipvsadm_restore"], point["empty"]["wall"],
                point["noop"]["wall"], point["change"]["wall"], point["change"]["mutations"],
                max(point[k]["maxrss_kb"] for k in ("empty", "noop", "change")) / 1024.0))
            print("  %9s where the time went (empty / no-op / change): %s / %s / %s" % (
                "", point["empty"]["seconds"], point["noop"]["seconds"], point["change"]["seconds"]))
        by_size = {point["size"]: point for point in curve}
        goals = [("fresh process from empty <= 1.0x ipvsadm -R", core["core_process_empty"] <= base),
                 ("fresh process no-op <= 0.5x ipvsadm -R", core["core_process_noop"] <= 0.5 * base),
                 ("Ansible increment from empty <= 1.0x ipvsadm -R", increment["empty"] <= base),
                 ("Ansible increment no-op <= 0.5x ipvsadm -R", increment["noop"] <= 0.5 * base),
                 ("Ansible increment one change <= 0.5x ipvsadm -R", increment["change"] <= 0.5 * base),
                 ("one-destination change = 1 mutation, at every size",
                  core["one_change_mutations"] == 1 == ans_mutations
                  and all(point["change"]["mutations"] == 1 for point in curve))]
        if 1000 in by_size and 10000 in by_size:
            # no worse than linear: ten times the table, at most ten times the time (each kind of run)
            growth = max(by_size[10000][k]["wall"] / by_size[1000][k]["wall"] for k in ("empty", "noop", "change"))
            goals.append(("1,000 -> 10,000 services: time x%.1f, at most x10" % growth, growth <= 10.0))
            peak = max(by_size[10000][k]["maxrss_kb"] for k in ("empty", "noop", "change")) / 1024.0
            goals.append(("peak memory at 110,000 entries %.0f MB < %d MB" % (peak, MEMORY_GOAL_MB),
                          peak < MEMORY_GOAL_MB))
        for label, ok in goals:
            print("  goal %-50s %s" % (label, "met" if ok else "MISSED"))
        return 0 if all(ok for _label, ok in goals) else 1  # a missed goal is a failed run
    finally:
        if not args.keep:
            subprocess.run([sys.executable, "-m", "lab", "down", LAB], cwd=REPO, check=False,
                           capture_output=True)


if __name__ == "__main__":
    sys.exit(main())
