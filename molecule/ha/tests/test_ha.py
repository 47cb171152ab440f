"""Verify of the ha scenario: two directors running keepalived (VRRP for the VIPs, health checks, the
connection sync daemon) in front of two DR real servers (IPv4 and IPv6 VIPs) and two NAT real servers
whose gateway is a floating address on the inside LAN; the lab namespace is the client. The three VRRP
instances (IPv4 VIPs, IPv6 VIP, NAT gateway) are one sync group: every check of who holds the VIP checks
that all four floating addresses are on the same director.

Each fault runs under the bounded load client (lab/load.py): fresh connections at a fixed rate to each
kind of service at once (IPv4 DR, IPv6 DR, NAT), and, where the claim is about established connections,
a long-lived keep-alive connection too (IPv4 DR and NAT). Every test
prints its figures (failed requests, outage seconds) as a `FIGURES` line; CI's log keeps them.

The tests run in file order and each leaves the cluster as it found it (director1 master, both real
servers in); after a failed test a fixture puts the cluster back. By hand, against a lab of your own:
    LVS_LAB_NAME=ha-dev pytest -rA -s molecule/ha/tests/test_ha.py
"""
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "molecule" / "resources" / "verify"))
sys.path.insert(0, str(ROOT))
pytest.register_assert_rewrite("lvs_checks")
import lvs_checks as lvs  # noqa: E402
from lab import lab as lab_ctl  # noqa: E402
from lab import load  # noqa: E402

VIP = "198.51.100.100"
VIP6 = "2001:db8:100::100"
NAT_VIP = "198.51.100.101"
GATEWAY = "192.0.2.1"  # the NAT real servers' gateway: instance VI_GW's floating address
FLOATING = (VIP, VIP6, NAT_VIP, GATEWAY)
CLIENT = "198.51.100.1"
SERVICES = lvs.CONTRACT_SERVICES
DR, NAT = "dr_realservers", "nat_realservers"
# What each failover and return measures at once: kind -> (address, fresh requests a second)
KINDS = {"dr": (VIP, 20), "dr6": (VIP6, 10), "nat": (NAT_VIP, 10)}
MASTER, BACKUP = "director1", "director2"
# The goal for a failover: VRRPv3 with advert_int 0.1 (the inventory), so a backup takes over 0.3 s and a
# skew after the master's last advert. Each fault runs RUNS times (LVS_HA_RUNS, default 1: CI proves each
# fault once; `make bench-ha` repeats them for medians); every run is asserted against a bound of its own,
# looser than the goal and printed beside the measured figure, and with three runs or more the median of
# the power-off runs against the goal. A keepalived stop sends a priority-0 advert and the backup takes over at once;
# a powered-off master is noticed only after the master-down interval (VRRPv2's whole-second adverts: 3 s
# or more, which crosses the bound); a returning master takes the VIP back at once.
OUTAGE_GOAL_S = 1.0
BOUND_S = {"keepalived_stop": 2.0, "master_power_off": 2.0, "keepalived_return": 2.0, "master_power_on": 2.0}


def runs_from(env: dict) -> int:
    """How many times each failover runs: LVS_HA_RUNS, a whole number from 1."""
    value = env.get("LVS_HA_RUNS", "1")
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"LVS_HA_RUNS={value!r}: accepted values are whole numbers from 1")
    return int(value)


RUNS = runs_from(os.environ)
OUTAGES: dict = {}  # (fault, kind) -> the outage of each run, for the medians
FRESH_RATE = KINDS["dr"][1]  # requests a second of the IPv4 fresh-connection load
RETURN_SCALE = 0.5  # the loads' rates across the old master's return (which lasts longer), times KINDS'
# What a graceful stop (keepalived stopped on the master) may cost fresh connections at the handover:
# handshakes under way on the old master, and what it bounced before the new master took the VIPs.
IN_FLIGHT_MAX = 2
IN_FLIGHT_ERRORS = ("ConnectionResetError", "OSError: [Errno 113]")
# The lab's checker: delay_loop 1 + connect_timeout 1 + retry 1 x delay_before_retry 1, plus slack.
DETECTION_BOUND_S = 8.0


@pytest.fixture(scope="module")
def lab(request):
    return lvs.Lab(*lvs.lab_name("molecule-ha", request.config))


@pytest.fixture(autouse=True)
def restored_after_a_failure(request, lab):
    """Each test leaves director1 master and both real servers in. One that fails half-way may not
    (a director powered off, keepalived or nginx stopped): the cluster is put back, so that the tests
    after it measure their own fault, not the leftovers of this one."""
    failed_before = request.session.testsfailed
    yield
    if request.session.testsfailed == failed_before:
        return
    for host in lab.directors + lab.realservers:
        if ssh(lab, host, "true", timeout=15).returncode != 0:
            try:
                lab_ctl.power_on(lab.name, host, wait=True)
            except RuntimeError:
                pass  # running but slow to answer: the waits below cover it
    for host in lab.realservers:
        ssh(lab, host, "systemctl start nginx")
    for host in lab.directors:
        ssh(lab, host, "systemctl start keepalived")
    wait_vip_on(lab, [MASTER], "the cluster restored after a failure", 240)


def ssh(lab, host, command, timeout=30):
    """A command on a guest over its management port forward; never hangs on a powered-off guest."""
    return lvs.guest_run(lab, host, command, timeout)


def held(lab, host):
    """Which of the floating addresses `host` holds (none when it does not answer)."""
    proc = ssh(lab, host, "ip -o address show")
    words = set(proc.stdout.replace("/", " ").split()) if proc.returncode == 0 else set()
    return [address for address in FLOATING if address in words]


def vip_owner(lab):
    """The directors holding the floating addresses, or a description of a split when they are not all on
    the same director (the sync group keeps them together)."""
    holding = {h: held(lab, h) for h in lab.directors}
    owners = [h for h, addresses in holding.items() if addresses]
    if any(sorted(holding[h]) != sorted(FLOATING) for h in owners):
        return {h: a for h, a in holding.items() if a}
    return owners


def vrrp_log(lab):
    """Each director's recent VRRP and sync lines: what a failed VIP check needs to be understood."""
    return {d: ssh(lab, d, "journalctl -u keepalived --no-pager -n 40 | grep -v healthcheckers; "
                           "ipvsadm -L --daemon").stdout for d in lab.directors}


def wait_vip_on(lab, want, what, deadline):
    try:
        lvs.poll(lambda: vip_owner(lab), lambda owners: owners == want, what, deadline)
    except AssertionError as err:
        raise AssertionError(f"{err}\n{json.dumps(vrrp_log(lab), indent=1)}") from None


def sync_daemons(lab, director):
    """{"master": "eth1 51", "backup": "eth1 51"}: the running daemons' interface and sync ID."""
    out = {}
    for line in ssh(lab, director, "ipvsadm -L --daemon").stdout.splitlines():
        role = line.split()[0] if line.strip() else ""
        fields = dict(f.split("=", 1) for f in line[line.find("(") + 1:line.rfind(")")].split(", ") if "=" in f)
        if role in ("master", "backup"):
            out[role] = f"{fields.get('mcast')} {fields.get('syncid')}"
    return out


def table(lab, host):
    return lvs.parse_table(ssh(lab, host, "ipvsadm -Ln").stdout)


def run_load(lab, seconds, rate=FRESH_RATE, mode="fresh", timeout=2.0, port=80, vip=VIP):
    return load.start(lab.name, vip, port=port, count=int(seconds * rate), rate=rate, timeout=timeout, mode=mode)


def run_loads(lab, seconds, scale=1.0):
    """Fresh-connection load on every kind of service at once: {kind: process}."""
    return {kind: run_load(lab, seconds, rate=rate * scale, vip=address) for kind, (address, rate) in KINDS.items()}


def finish_loads(procs, early=False):
    return {kind: load.finish(proc, early=early) for kind, proc in procs.items()}


def address6(lab, host):
    return next(a for a in lab.hostvars[host]["lab_addresses"] if ":" in a)


def serving(lab, kind):
    """The real servers behind one kind of service."""
    return lab.serving(NAT if kind == "nat" else DR).realservers


def test_keepalived_owns_the_table_and_the_vip(lab):
    for director in lab.directors:
        assert ssh(lab, director, "systemctl is-active keepalived").stdout.strip() == "active", director
        lvs.check_table(lab.serving(DR), VIP, "Route", SERVICES, director=director)
        services = table(lab, director)
        nat = services[f"TCP {NAT_VIP}:80"]["dests"]
        assert sorted(nat) == sorted(lab.address(h) for h in serving(lab, "nat")), (director, nat)
        assert {d["forward"] for d in nat.values()} == {"Masq"}, (director, nat)
        dr6 = services[f"TCP [{VIP6}]:80"]["dests"]
        assert sorted(dr6) == sorted(f"[{address6(lab, h)}]" for h in serving(lab, "dr6")), (director, dr6)
        # one owner per table: the ipvs backend's boot-time restore is gone
        assert ssh(lab, director, "test ! -e /etc/systemd/system/lvs-director.service").returncode == 0
        # the file holds the VRRP password: root only
        assert ssh(lab, director, "stat -c %a /etc/keepalived/keepalived.conf").stdout.strip() == "600"
    wait_vip_on(lab, [MASTER], "VIP on the master only", 60)
    # both sync daemons on both directors, whatever the VRRP state (inventory: eth1, sync ID 51)
    for director in lab.directors:
        assert sync_daemons(lab, director) == {"master": "eth1 51", "backup": "eth1 51"}, vrrp_log(lab)
    for kind, result in finish_loads(run_loads(lab, 2)).items():
        assert result["summary"]["failed"] == 0, (kind, result["summary"])
        assert set(result["summary"]["served_by"]) == set(serving(lab, kind)), (kind, result["summary"])


def test_site_run_again_changes_nothing_on_the_directors(lab):
    """Idempotence of the keepalived backend (the scenario has no full idempotence step): site.yml run
    again on the directors reports nothing changed, and keepalived was not restarted (its main process
    is the same)."""
    pids = {d: ssh(lab, d, "systemctl show --property MainPID --value keepalived").stdout.strip() for d in lab.directors}
    run = run_playbook(lab, "site.yml", "--limit", "directors")
    print_task_times("site_directors_again", run.stdout)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    recap = lvs.play_recap(run.stdout)
    assert sorted(recap) == sorted(lab.directors), run.stdout[-3000:]
    assert all(counts["changed"] == 0 and counts["failed"] == 0 for counts in recap.values()), \
        (recap, run.stdout[-6000:])
    assert all(pids[d] not in ("", "0") for d in lab.directors), pids
    assert {d: ssh(lab, d, "systemctl show --property MainPID --value keepalived").stdout.strip()
            for d in lab.directors} == pids


def test_directors_restarted_together_elect_one_master(lab):
    """Both directors starting together (a first deploy, a site power cut) make the backup enter MASTER
    and leave it again at once. With keepalived switching the sync daemons that hung its VRRP process:
    the backup kept the VIP for good, a split brain. The backup is restarted a little ahead of the master,
    so that it is the first to claim the VIP; the rounds print how many times it did."""
    flips = 0
    for _round in range(4):
        since = ssh(lab, BACKUP, "date +%s").stdout.strip()
        threads = [threading.Thread(target=ssh, args=(lab, d, "systemctl restart keepalived"))
                   for d in (BACKUP, MASTER)]
        for thread in threads:
            thread.start()
            time.sleep(0.3)
        for thread in threads:
            thread.join()
        wait_vip_on(lab, [MASTER], "one master after both restarted", 60)
        log = ssh(lab, BACKUP, f"journalctl -u keepalived --no-pager --since @{since}").stdout
        flips += log.count("Master received advert")
    for director in lab.directors:
        assert sync_daemons(lab, director) == {"master": "eth1 51", "backup": "eth1 51"}, vrrp_log(lab)
    lvs.figures("restart_together", rounds=4, backup_left_master_at_once=flips)
    assert load.finish(run_load(lab, 2))["summary"]["failed"] == 0


def test_realserver_failure_is_detected_and_the_server_rejoins(lab):
    proc = run_load(lab, 14)
    time.sleep(3)
    stopped = ssh(lab, "rs1", "systemctl stop nginx")
    assert stopped.returncode == 0, stopped.stderr
    result = load.finish(proc)
    records, summary = result["records"], result["summary"]
    # the fault took effect between the last rs1 answer and the first failure
    rs1_times = [r["t"] for r in records if r["server"] == "rs1"]
    fault_t = min([r["t"] for r in records if not r["ok"]] or [max(rs1_times)])
    after = [r for r in records if r["t"] > fault_t + DETECTION_BOUND_S]
    assert after, "the load ran too short to see the end of the detection window"
    assert all(r["ok"] and r["server"] == "rs2" for r in after), \
        f"after the checker's window some requests still failed or went to rs1: {after[:5]}"
    failed = [r for r in records if not r["ok"]]
    detection = (failed[-1]["t"] - failed[0]["t"]) if failed else 0.0
    lvs.figures("realserver_down", failed=summary["failed"], requests=summary["requests"],
                detection_window_s=round(detection, 2), errors=summary["errors"])
    assert all(fault_t <= r["t"] <= fault_t + DETECTION_BOUND_S for r in failed)
    for director in lab.directors:
        assert lab.address("rs1") not in table(lab, director)[f"TCP {VIP}:80"]["dests"], director

    assert ssh(lab, "rs1", "systemctl start nginx").returncode == 0
    started = time.monotonic()
    for director in lab.directors:
        lvs.poll(lambda d=director: table(lab, d)[f"TCP {VIP}:80"]["dests"],
                 lambda dests: lab.address("rs1") in dests, f"rs1 back in {director}'s table", 60)
    rejoin = time.monotonic() - started
    result = load.finish(run_load(lab, 2))
    lvs.figures("realserver_rejoin", seconds_until_in_both_tables=round(rejoin, 1), **{
        "served_by_after": result["summary"]["served_by"]})
    assert result["summary"]["failed"] == 0 and result["summary"]["served_by"].get("rs1"), result["summary"]


def _failover(lab, fault, recover_name, run):
    """Fresh load on every kind of service and keep-alive load on IPv4 DR and NAT across `fault()`; returns
    the fresh results once the backup holds every floating address."""
    keep = {kind: run_load(lab, 14, rate=5, mode="keepalive", timeout=10, vip=KINDS[kind][0]) for kind in ("dr", "nat")}
    fresh = run_loads(lab, 14)
    # the long-lived connections must be known to the backup before the fault: the sync daemon's job
    lvs.poll(lambda: ssh(lab, BACKUP, "ipvsadm -Lnc").stdout,
             lambda out: all(any("ESTABLISHED" in line and f"{KINDS[kind][0]}:80" in line for line in out.splitlines())
                             for kind in keep),
             "the keep-alive connections synced to the backup", 10, 0.5)
    time.sleep(1)
    fault()
    wait_vip_on(lab, [BACKUP], "every floating address on the backup only", 60)
    fresh, keep = finish_loads(fresh), finish_loads(keep)
    _report(recover_name, run, fresh, keep)
    return fresh, keep


def _report(name, run, fresh, keep, **extra):
    """FIGURES per kind of service, each outage kept for the medians, then every run asserted: a closed
    outage within the fault's bound, and every request over a keep-alive connection answered on it."""
    bound = BOUND_S[name]
    for kind, result in fresh.items():
        summary = result["summary"]
        OUTAGES.setdefault((name, kind), []).append(summary["outage_s"])
        kept = keep.get(kind, {}).get("summary", {})
        lvs.figures(name, run=run, kind=kind, failed=summary["failed"], requests=summary["requests"],
                    errors=sorted({f"{r['error']} at {r['t']} s" for r in result["records"] if not r["ok"]})[:4],
                    outage_s=summary["outage_s"], goal_s=OUTAGE_GOAL_S, bound_s=bound,
                    keepalive_failed=kept.get("failed"), keepalive_connections=kept.get("connections_opened"),
                    keepalive_max_latency_s=kept.get("latency_max_s"), **extra)
    for kind, result in fresh.items():
        _assert_outage(result["summary"], bound, result["rate"])
    # the established connections survived: every request answered, on the one connection
    for kind, result in keep.items():
        assert result["summary"]["failed"] == 0 and result["summary"]["connections_opened"] == 1, \
            (kind, result["summary"])


def _assert_outage(summary, bound, rate):
    """A closed outage within the fault's bound, and no more failed requests than the bound allows at
    the load's rate (one second of slack for the requests in flight)."""
    assert not summary["outage_open"], f"the VIP never answered again: {summary}"
    assert summary["outage_s"] <= bound, f"outage {summary['outage_s']} s > bound {bound} s: {summary}"
    assert summary["failed"] <= rate * (bound + 1), f"failed {summary['failed']} > bound: {summary}"


def _master_returns(lab, bring_back, name, run):
    """The old master comes back: with preempt (the scenario's setting) it takes the VIPs back. The load
    runs across the return (ended once the VIPs are back and a last request of each kind went through),
    so the figures include the preemption itself."""
    fresh = run_loads(lab, 240, scale=RETURN_SCALE)
    keep = {kind: run_load(lab, 240, rate=2, mode="keepalive", timeout=10, vip=KINDS[kind][0]) for kind in ("dr", "nat")}
    started = time.monotonic()
    bring_back()
    wait_vip_on(lab, [MASTER], "every floating address back on the master (preempt)", 240)
    took = time.monotonic() - started
    # requests sent right after the move complete before the runs end
    lvs.poll(lambda: finish_loads(run_loads(lab, 1, scale=RETURN_SCALE)),
             lambda results: all(r["summary"]["failed"] == 0 for r in results.values()),
             "a request of each kind answered through the returned master", 30, 0.5)
    fresh, keep = finish_loads(fresh, early=True), finish_loads(keep, early=True)
    lvs.check_table(lab.serving(DR), VIP, "Route", SERVICES, director=MASTER)
    # The long-lived connections were opened through the backup while the master was away. The backup
    # re-sends them every refresh period and the master waits for that before it preempts
    # (preempt_delay), so they survive the return on their one connection.
    _report(name, run, fresh, keep, seconds_until_vip_back=round(took, 1))


@pytest.mark.parametrize("run", range(1, RUNS + 1))
def test_keepalived_stop_fails_over_and_the_master_preempts_on_its_return(lab, run):
    def stop():
        assert ssh(lab, MASTER, "systemctl stop keepalived").returncode == 0

    fresh, _keep = _failover(lab, stop, "keepalived_stop", run)
    # The stopping master gives the VIPs away (a priority-0 advert) and the established connections carry
    # on (asserted in _failover). A fresh connection can still fail at that instant: one whose handshake
    # the old master had begun (the sync daemon sends a connection once it is established, so the new
    # master resets it), or, where the old master forwards (a NAT director), one it bounced with "no
    # route to host" before the new master announced the VIP. At most IN_FLIGHT_MAX per kind and run.
    for kind, result in fresh.items():
        failures = [r for r in result["records"] if not r["ok"]]
        assert len(failures) <= IN_FLIGHT_MAX, (kind, result["summary"])
        assert all(r["error"].startswith(IN_FLIGHT_ERRORS) for r in failures), (kind, failures)
        if failures:
            assert max(r["t"] for r in failures) - min(r["t"] for r in failures) <= 1.0, (kind, failures)
    # nothing left behind on the stopped director: no VIP, no table owned by nobody
    assert held(lab, MASTER) == [], held(lab, MASTER)
    assert table(lab, MASTER) == {}, table(lab, MASTER)
    _master_returns(lab, lambda: ssh(lab, MASTER, "systemctl start keepalived"), "keepalived_return", run)


@pytest.mark.parametrize("run", range(1, RUNS + 1))
def test_master_power_off_fails_over_and_it_preempts_when_powered_on(lab, run):
    _failover(lab, lambda: lab_ctl.power_off(lab.name, MASTER), "master_power_off", run)
    # keepalived is enabled at boot: the returned master rebuilds its table and takes the VIP back
    _master_returns(lab, lambda: lab_ctl.power_on(lab.name, MASTER, wait=False), "master_power_on", run)
    assert ssh(lab, MASTER, "systemctl is-active keepalived").stdout.strip() == "active"


# The goal is about the usual failover, so it is held to a median, and a median needs runs: one run's
# outage is held to its bound only (a single power-off in CI once lost one NAT handshake to a 2.9 s
# timeout, an outage of 1.11 s, where three runs each gave 0.31-0.41 s).
GOAL_MIN_RUNS = 3


def test_failover_outages_over_the_runs():
    """The medians of the runs above, per fault and kind of service (a run that failed is missing); with
    GOAL_MIN_RUNS runs or more (make bench-ha), the power-off medians against the goal."""
    medians = {f"{fault}_{kind}": statistics.median(outages) for (fault, kind), outages in sorted(OUTAGES.items())}
    lvs.figures("failover_medians", runs=RUNS, goal_s=OUTAGE_GOAL_S, goal_checked=RUNS >= GOAL_MIN_RUNS,
                **{f"{k}_median_s": v for k, v in medians.items()},
                **{f"{fault}_{kind}_s": v for (fault, kind), v in sorted(OUTAGES.items())})
    assert all(len(OUTAGES.get((fault, kind), [])) == RUNS for fault in BOUND_S for kind in KINDS), OUTAGES
    if RUNS >= GOAL_MIN_RUNS:
        assert all(medians[f"master_power_off_{kind}"] <= OUTAGE_GOAL_S for kind in KINDS), medians


def print_task_times(what, output):
    """The slowest tasks of a playbook run (the task_timer callback, when the scenario runner enabled it)."""
    for line in output.splitlines():
        if line.startswith("TASKTIME"):
            print(line.replace("TASKTIME", f"TASKTIME [{what}]", 1))


def run_playbook(lab, playbook, *extra):
    """ansible-playbook against the lab, with the ha inventory's variables, as an operator runs it."""
    with tempfile.TemporaryDirectory() as tmp:
        inventory = Path(tmp) / "inventory.yml"
        shutil.copy(lvs.STATE_ROOT / lab.name / "inventory.yml", inventory)
        for name in ("group_vars", "host_vars"):
            (Path(tmp) / name).symlink_to(ROOT / "playbooks" / "inventories" / "ha" / name)
        env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(ROOT / ".build" / "collections"))
        return subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(inventory),
                               str(ROOT / "playbooks" / playbook), *extra], stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, env=env, timeout=1800, check=False)


def test_rolling_maintenance_reboots_a_real_server_without_a_failed_request(lab):
    """playbooks/rolling_maintenance.yml as an operator runs it, for the real server that holds a live
    connection: quiesced and drained on both directors, rebooted, waited for (booted, its VIP back,
    answering) and weighted back. Fresh connections on port 80 all along lose nothing. A keep-alive
    connection on port 81 (no other load there) shows which server holds it: its drain must wait until
    the connection has ended, and every request over it must be answered. (Each further server runs the
    same steps; CI runs one to keep its time.)"""
    started = time.monotonic()
    lab = lab.serving(DR)  # the NAT real servers are not in this rolling run
    fresh = run_load(lab, 3600, rate=10)  # ended once the playbook is done
    keep = run_load(lab, 30, rate=2, mode="keepalive", timeout=10, port=81)
    busy = lvs.poll(lambda: [ip for ip, dest in table(lab, MASTER).get(f"TCP {VIP}:81", {}).get("dests", {}).items()
                             if dest["active"]], lambda ips: len(ips) == 1, "the keep-alive connection's server", 30)
    host = lab.rs_by_address()[busy[0]]
    boot_id = ssh(lab, host, "cat /proc/sys/kernel/random/boot_id").stdout.strip()
    run = run_playbook(lab, "rolling_maintenance.yml", "--limit", host, "-e", "lvs_maintenance_drain_timeout=120")
    print_task_times("rolling_maintenance", run.stdout)
    fresh_result = load.finish(fresh, early=True)["summary"]
    keep_result = load.finish(keep)["summary"]
    lvs.figures("rolling_maintenance", wall_s=round(time.monotonic() - started, 1), host=host,
                requests=fresh_result["requests"], failed=fresh_result["failed"], errors=fresh_result["errors"],
                first_failure_t=fresh_result["first_failure_t"], served_by=fresh_result["served_by"],
                keepalive_requests=keep_result["requests"], keepalive_failed=keep_result["failed"],
                keepalive_served_by=keep_result["served_by"])
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    # the maintenance (a reboot) really happened: the real server booted again
    assert boot_id and ssh(lab, host, "cat /proc/sys/kernel/random/boot_id").stdout.strip() not in ("", boot_id)
    assert fresh_result["failed"] == 0, fresh_result
    assert set(fresh_result["served_by"]) == set(lab.realservers), fresh_result
    assert keep_result["failed"] == 0 and keep_result["connections_opened"] == 1, keep_result
    assert keep_result["requests"] == 60 and list(keep_result["served_by"]) == [host], keep_result
    for director in lab.directors:
        dests = table(lab, director)[f"TCP {VIP}:80"]["dests"]
        assert sorted(dests) == sorted(lab.address(h) for h in lab.realservers), (director, dests)
        assert all(dest["weight"] > 0 for dest in dests.values()), (director, dests)
    # the rebooted real server holds both of its VIPs again (its boot unit): the IPv6 service reaches it too
    result6 = load.finish(run_load(lab, 2, rate=KINDS["dr6"][1], vip=VIP6))["summary"]
    assert result6["failed"] == 0 and set(result6["served_by"]) == set(serving(lab, "dr6")), result6


def test_cluster_comes_back_after_reboot(lab):
    """Last, because it reboots: both directors at once (a site power cut, as far as the VIPs go). With no
    Ansible run in between, keepalived comes back on both with the table it had, exactly one director
    holds the floating addresses (all of them), and traffic through each VIP, the NAT one through the
    floating gateway, reaches all of its real servers. The real servers' own reboot is proven by the
    rolling maintenance above (a DR one, IPv4 and IPv6) and by the methods scenario (every method); six
    guests booting at once cost this scenario about two minutes more than two."""
    figures = lvs.reboot_cluster(lab, hosts=lab.directors)
    wait_vip_on(lab, [MASTER], "every floating address on the master after the reboot", 120)
    figures["served"] = lvs.check_answers(lab.serving(DR), VIP, CLIENT)
    figures["served_nat"] = lvs.check_answers(lab.serving(NAT), NAT_VIP, CLIENT)
    result = load.finish(run_load(lab, 2, rate=KINDS["dr6"][1], vip=VIP6))["summary"]
    assert result["failed"] == 0 and set(result["served_by"]) == set(serving(lab, "dr6")), result
    print(dict(figures, served_v6=result["served_by"]))
