"""Control-plane benchmark: 1,000 TCP services x 10 DR destinations in one TCG guest.

    python tests/benchmarks/table_apply.py [--runs N] [--keep]

Boots its own one-guest lab (it-bench), compares in the SAME guest (medians of N runs):
`ipvsadm -C; ipvsadm -R < table` from empty, our whole-table apply from empty, our no-op re-apply and a
one-destination weight change (and counts its netlink mutations: must be exactly 1), both as the
module's core code run with python in the guest and as an Ansible task (end to end, with AnsiballZ).
Prints figures and ratios against ipvsadm -R. Takes the lab down at the end, also on failure.
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

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
LAB = "it-bench"
GUEST_DIR = "/opt/lvs-bench"
VENV_PY = "/opt/lvs-cluster/venv/bin/python"
SERVICES, DESTS = 1000, 10


def table():
    services = []
    for index in range(SERVICES):
        services.append({
            "address": "192.0.2.%d" % (10 + index // 250), "port": 10000 + index % 250, "scheduler": "wlc",
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


def ship(services):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        tar.add(REPO / "plugins", arcname="ansible_collections/lvs/cluster/plugins")
        tar.add(HERE / "guest_bench.py", arcname="bench.py")
        tar.add(HERE / "guest_apply.py", arcname="apply.py")
        for name, text in (("table.json", json.dumps(services)), ("table.json.rules", rules(services))):
            data = text.encode()
            info = tarfile.TarInfo(name)
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
            "  vars: {ansible_python_interpreter: %s}\n  tasks:\n"
            "    - lvs.cluster.ipvs_table: {services: \"{{ lookup('file', table_file) | from_json }}\"}\n"
            "      register: r\n    - ansible.builtin.debug: {msg: \"mutations={{ r.mutations }}\"}\n" % VENV_PY)
        files = {}
        for name, data in (("full", services), ("changed", changed)):
            files[name] = Path(tmp) / (name + ".json")
            files[name].write_text(json.dumps(data))

        def run(name):
            start = time.perf_counter()
            proc = subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), "-i", inventory,
                                   str(play), "-e", "table_file=%s" % files[name]],
                                  cwd=REPO, env=env, capture_output=True, text=True, check=False)
            elapsed = time.perf_counter() - start
            if proc.returncode:
                raise RuntimeError("ansible-playbook failed:\n" + proc.stdout[-3000:])
            return elapsed, int(proc.stdout.split("mutations=")[1].split('"')[0])

        figures = {"empty": [], "noop": [], "change": []}
        mutations = None
        for _run in range(runs):
            ssh("ipvsadm -C")
            figures["empty"].append(run("full")[0])
            figures["noop"].append(run("full")[0])
            elapsed, mutations = run("changed")
            figures["change"].append(elapsed)
        return {k: statistics.median(v) for k, v in figures.items()}, mutations


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="leave the lab up (for profiling)")
    args = parser.parse_args()
    services = table()
    try:
        print("booting lab %s ..." % LAB, flush=True)
        record = json.loads(lab_cmd("up", str(HERE / "topology.yml"), "--name", LAB, "--json").stdout)
        ssh("test -x %s || (python3 -m venv --system-site-packages /opt/lvs-cluster/venv && "
            "/opt/lvs-cluster/venv/bin/pip install --quiet --no-index /opt/lvs-lab/wheels/pyroute2-*.whl); "
            "modprobe ip_vs" % VENV_PY)
        ship(services)
        print("table: %d services x %d DR destinations (%d entries); medians of %d runs"
              % (SERVICES, DESTS, SERVICES * (DESTS + 1), args.runs), flush=True)
        core = json.loads(ssh("%s %s/bench.py %s %s/table.json %d"
                              % (VENV_PY, GUEST_DIR, GUEST_DIR, GUEST_DIR, args.runs)).strip().splitlines()[-1])
        ans, ans_mutations = ansible_runs(record["inventory"], services, args.runs)
        base = core["ipvsadm_restore"]

        def line(label, seconds):
            print("  %-58s %7.2f s  %5.2fx ipvsadm -R" % (label, seconds, seconds / base))
        print("  %-58s %7.2f s" % ("ipvsadm -C; ipvsadm -R < table (from empty)", base))
        print("  %-58s %7.2f s" % ("ipvsadm -Sn (dump)", core["ipvsadm_save"]))
        print("  %-58s %7.2f s" % ("python -c 'import pyroute2' (fixed cost of any run)", core["python_import"]))
        line("core, in process: apply from empty", core["core_empty"])
        line("core, in process: no-op re-apply", core["core_noop"])
        line("core, in process: one-destination weight change", core["core_one_change"])
        line("core, fresh python process: apply from empty", core["core_process_empty"])
        line("core, fresh python process: no-op re-apply", core["core_process_noop"])
        line("Ansible task (ansible-playbook wall): apply from empty", ans["empty"])
        line("Ansible task (ansible-playbook wall): no-op re-apply", ans["noop"])
        line("Ansible task (ansible-playbook wall): one weight change", ans["change"])
        print("  netlink mutations of the one-destination change: core %d, Ansible task %d (goal: 1)"
              % (core["one_change_mutations"], ans_mutations))
        goals = [("from empty <= 2x ipvsadm -R (fresh process)", core["core_process_empty"] <= 2 * base),
                 ("no-op <= 1x ipvsadm -R (fresh process)", core["core_process_noop"] <= base),
                 ("one-destination change = 1 mutation", core["one_change_mutations"] == 1 == ans_mutations)]
        for label, ok in goals:
            print("  goal %-50s %s" % (label, "met" if ok else "MISSED"))
        return 0 if all(ok for _label, ok in goals) else 1  # a missed goal is a failed run
    finally:
        if not args.keep:
            subprocess.run([sys.executable, "-m", "lab", "down", LAB], cwd=REPO, check=False,
                           capture_output=True)


if __name__ == "__main__":
    sys.exit(main())
