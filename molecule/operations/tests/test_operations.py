"""Verify of the operations scenario: day-2 changes to a live cluster, made with playbooks/site.yml and
playbooks/rolling_maintenance.yml as an operator makes them, each under the bounded load client
(lab/load.py): fresh connections to the routed VIP's port 80 all along, and one long-lived keep-alive
connection on port 81 (the only load there, so the director's table shows which real server holds it).

The VIP 203.0.113.10 is routed to the director (the lab namespace's route; it is in no LAN's subnet), held
on lo there. The tests run in file order, each step on the cluster the one before left:
  preview   site.yml --check --diff on hosts never configured (no pyroute2 venv): completes, changes nothing
  build     site.yml on the director and rs1, every service served by rs1 alone
  1 add     rs2 joins every service                   (the director and rs2)
  2 weight  rs1's weight changed                      (the director only)
  3 switch  the routed services move from DR to TUN
  4 remove  the firewall-mark services go (their VIPs, rules and unit with them)
  5 rolling each real server drained, rebooted and weighted back, one at a time
  6 drain   the long-lived connection's server leaves (the drain waits for that connection)
  again     site.yml once more: nothing changes anywhere
Every step prints a FIGURES line (requests sent and failed, the long-lived connection's requests, failures
and connections, the step's wall time) and asserts zero failed requests, the long-lived connection
surviving on one connection (except where its own server is drained, where the drain must wait for it),
and what the step should leave on the hosts, read with iproute2, ipvsadm and the files themselves.
By hand, against a lab of your own:
    LVS_LAB_NAME=ops pytest -rA -s molecule/operations/tests/test_operations.py
"""
import base64
import copy
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "molecule" / "resources" / "verify"))
sys.path.insert(0, str(ROOT))
pytest.register_assert_rewrite("lvs_checks")
import lvs_checks as lvs  # noqa: E402
from lab import load  # noqa: E402

INVENTORY = ROOT / "playbooks" / "inventories" / "operations"
VIP = "203.0.113.10"  # routed to the director
WEB, LONG = 80, 81  # fresh connections, the long-lived one
MARKED_VIP, MARKED_VIP6 = "198.51.100.220", "2001:db8:100::220"
ADDED = "rs2"  # serves nothing in the build; joins in step 1
FRESH_RATE = 10  # fresh requests a second
KEEP_RATE = 2  # requests a second over the long-lived connection
HOLD_S = 5  # how long the long-lived connection stays open once its server is drained
DRAIN_TIMEOUT_S = 240
READ_STATE = base64.b64encode((ROOT / "molecule" / "resources" / "verify" / "read_state.py").read_bytes()).decode()
# What each step changed: services and real servers, carried from one test to the next.
STATE: dict = {}


@pytest.fixture(scope="module")
def lab(request):
    return lvs.Lab(*lvs.lab_name("molecule-ops", request.config))


@pytest.fixture(scope="module")
def inventory(lab):
    """The lab's hosts with the operations inventory's group_vars, as an operator's inventory."""
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copy(lvs.STATE_ROOT / lab.name / "inventory.yml", Path(tmp) / "inventory.yml")
        (Path(tmp) / "group_vars").symlink_to(INVENTORY / "group_vars")
        yield Path(tmp)


def inventory_services():
    return yaml.safe_load((INVENTORY / "group_vars" / "all.yml").read_text())["lvs_services"]


def services():
    """The services as the step before left them; before step 1, the inventory's without ADDED."""
    if "services" not in STATE:
        STATE["services"] = [dict(s, destinations=[d for d in s["destinations"] if d["host"] != ADDED])
                             for s in inventory_services()]
    return copy.deepcopy(STATE["services"])


def routed(svcs):
    return [s for s in svcs if s.get("address") == VIP]


def serving():
    """The real servers the routed services send to now."""
    return sorted({d["host"] for s in routed(services()) for d in s["destinations"]})


def playbook(lab, inventory, name, svcs, *extra):
    """ansible-playbook as an operator runs it, with `svcs` as lvs_services (their edited group_vars)."""
    values = inventory / "services.json"
    values.write_text(json.dumps({"lvs_services": svcs}))
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(ROOT / ".build" / "collections"))
    return subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(inventory / "inventory.yml"),
                           "-e", f"@{values}", str(ROOT / "playbooks" / name), *extra], stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, env=env, timeout=2400, check=False)


def tail(run):
    """What a failed run's assertion shows: the ends of its output."""
    return run.stdout[-6000:] + run.stderr[-2000:]


def ssh(lab, host, command, timeout=60):
    return lvs.guest_run(lab, host, command, timeout)


def read_state(lab, host):
    """Addresses, table, files and units of one host (read_state.py, run on the guest)."""
    out = ssh(lab, host, f"echo {READ_STATE} | base64 -d | python3 -")
    assert out.returncode == 0, f"{host}: {out.stderr}"
    return json.loads(out.stdout)


def table(lab):
    return lvs.parse_table(ssh(lab, lab.directors[0], "ipvsadm -Ln").stdout)


def dests(lab, port):
    return table(lab).get(f"TCP {VIP}:{port}", {}).get("dests", {})


class Step:
    """One day-2 step under load: fresh connections to VIP:80 and one keep-alive connection to VIP:81,
    started before the step and ended after it. With `release` (the keep-alive connection's server is
    drained in this step), the connection is closed HOLD_S seconds after its destination got weight 0,
    as a client finishing its work: a drain that waits for it then waits that long."""

    def __init__(self, lab, name, release=False):
        self.lab, self.name, self.release = lab, name, release
        self.fresh = self.keep = self.holder = None
        self.released_at = None
        self.thread = None
        self.done = threading.Event()  # the step is over: stop watching for the drain

    def __enter__(self):
        self.started = time.monotonic()
        self.fresh = load.start(self.lab.name, VIP, port=WEB, count=3600 * FRESH_RATE, rate=FRESH_RATE, timeout=2.0)
        self.keep = load.start(self.lab.name, VIP, port=LONG, count=3600 * KEEP_RATE, rate=KEEP_RATE, timeout=10.0,
                               mode="keepalive")
        try:
            busy = lvs.poll(lambda: [ip for ip, d in dests(self.lab, LONG).items() if d["active"]],
                            lambda ips: len(ips) == 1, "the long-lived connection's real server", 60)
        except AssertionError:
            for proc in (self.fresh, self.keep):
                proc.kill()
                proc.communicate()
            raise
        self.holder = self.lab.rs_by_address()[busy[0]]
        if self.release:
            self.thread = threading.Thread(target=self._release_when_drained, daemon=True)
            self.thread.start()
        return self

    def _release_when_drained(self):
        address = self.lab.address(self.holder)
        while not self.done.is_set():
            if dests(self.lab, LONG).get(address, {"weight": 0})["weight"] == 0:
                time.sleep(HOLD_S)
                self.released_at = time.monotonic()
                self.keep.terminate()  # the client sends nothing more and closes its connection
                return
            self.done.wait(0.5)

    def __exit__(self, *exc):
        self.done.set()
        if self.thread:
            self.thread.join(HOLD_S + 60)
        self.fresh_result = load.finish(self.fresh, early=True)["summary"]
        self.keep_result = load.finish(self.keep, early=True)["summary"]
        self.wall = round(time.monotonic() - self.started, 1)
        return False

    def report(self, **extra):
        lvs.figures(self.name, wall_s=self.wall, requests=self.fresh_result["requests"],
                    failed=self.fresh_result["failed"], errors=self.fresh_result["errors"],
                    served_by=self.fresh_result["served_by"], long_lived_on=self.holder,
                    long_lived_requests=self.keep_result["requests"], long_lived_failed=self.keep_result["failed"],
                    long_lived_connections=self.keep_result.get("connections_opened"), **extra)

    def assert_no_failure(self, survives=True):
        assert self.fresh_result["failed"] == 0, self.fresh_result
        assert self.keep_result["failed"] == 0, self.keep_result
        assert self.keep_result["connections_opened"] == 1, self.keep_result
        assert list(self.keep_result["served_by"]) == [self.holder], self.keep_result
        if survives:
            # still open when the step ended: it outlived the change
            assert self.released_at is None and self.keep_result["requests"] >= self.wall * KEEP_RATE * 0.5, \
                self.keep_result


def site_step(lab, inventory, name, svcs, *extra):
    """site.yml with `svcs` as one Step under load: its FIGURES printed, the run passed, no request failed
    and the long-lived connection outlived it; `svcs` is then the cluster's."""
    with Step(lab, name) as step:
        run = playbook(lab, inventory, "site.yml", svcs, *extra)
    step.report()
    assert run.returncode == 0, tail(run)
    STATE["services"] = svcs
    step.assert_no_failure()


def answered_by(lab, port=WEB, seconds=3):
    result = load.finish(load.start(lab.name, VIP, port=port, count=seconds * FRESH_RATE, rate=FRESH_RATE))["summary"]
    assert result["failed"] == 0, result
    return set(result["served_by"])


def test_preview_on_hosts_never_configured_changes_nothing(lab, inventory):
    """site.yml --check --diff before the first run: on hosts without the pyroute2 venv (the image carries
    one; it is removed, as on a host the roles never prepared) the preview completes, shows what it would
    do, and changes nothing."""
    hosts = lab.directors + ["rs1"]
    for host in hosts:
        assert ssh(lab, host, "rm -rf /opt/lvs-cluster/venv").returncode == 0
    before = {h: read_state(lab, h) for h in hosts}
    started = time.monotonic()
    run = playbook(lab, inventory, "site.yml", services(), "--check", "--diff", "--limit", ",".join(hosts))
    lvs.figures("preview", wall_s=round(time.monotonic() - started, 1))
    assert run.returncode == 0, tail(run)
    assert {h: read_state(lab, h) for h in hosts} == before
    assert "Hold each VIP on its device" in run.stdout
    # the diff shows the marking rules a real run would load
    assert "meta mark set 0x00000005" in run.stdout, run.stdout[-6000:]


def test_build_serves_the_routed_vip(lab, inventory):
    """The first real run, on the director and rs1: the director holds the routed VIP on lo and the marked
    LAN VIP on its LAN interface, rs1 holds them on lo, silent to ARP; both roles installed pyroute2 again
    from the wheel; the client reaches rs1 through the routed VIP and the marked one."""
    STATE["arp_before"] = {h: read_state(lab, h)["arp"] for h in lab.realservers}
    started = time.monotonic()
    run = playbook(lab, inventory, "site.yml", services(), "--limit", ",".join(lab.directors + ["rs1"]))
    lvs.figures("build", wall_s=round(time.monotonic() - started, 1))
    assert run.returncode == 0, tail(run)
    director = read_state(lab, lab.directors[0])
    assert VIP in director["lo"] and f"{VIP}/32 lo" in director["vips_file"], director
    assert MARKED_VIP in director["all"] and MARKED_VIP not in director["lo"], director
    assert "meta mark set 0x00000005" in director["nft"] and director["fwmark_enabled"] == "enabled", director
    assert director["venv"], director
    state = read_state(lab, "rs1")
    assert VIP in state["lo"] and MARKED_VIP in state["lo"] and MARKED_VIP6 in state["ipv6_lo"], state
    assert state["arp"] == ["1", "2"] and state["venv"], state
    assert answered_by(lab) == answered_by(lab, LONG) == {"rs1"}
    marked = subprocess.run(["ip", "netns", "exec", lab.ns, "curl", "-s", "-m", "10", f"http://{MARKED_VIP}:8080/"],
                            capture_output=True, text=True, check=False)
    assert marked.stdout.strip() == "rs1", marked


def test_step1_added_real_server(lab, inventory):
    """rs2 joins every service: the realserver role prepares it, then the director adds it."""
    svcs = inventory_services()
    site_step(lab, inventory, "added_real_server", svcs, "--limit", ",".join(lab.directors + [ADDED]))
    state = read_state(lab, ADDED)
    assert VIP in state["lo"] and MARKED_VIP in state["lo"] and MARKED_VIP6 in state["ipv6_lo"], state
    assert answered_by(lab) == {"rs1", ADDED}


def test_step2_weight_change(lab, inventory):
    svcs = services()
    for svc in routed(svcs):
        svc["destinations"] = [dict(d, weight=3) if d["host"] == "rs1" else d for d in svc["destinations"]]
    site_step(lab, inventory, "weight_change", svcs, "--limit", ",".join(lab.directors))
    assert {lab.rs_by_address()[ip]: d["weight"] for ip, d in dests(lab, WEB).items()} == {"rs1": 3, ADDED: 1}


def test_step3_method_switch_dr_to_tun(lab, inventory):
    """Both routed services move from DR to TUN: the real servers hold the VIP on tunl0 (and no longer on
    lo), clamp the MSS their TUN VIP advertises, and the director encapsulates; the long-lived connection,
    forwarded by DR when it opened, carries on."""
    svcs = services()
    for svc in routed(svcs):
        svc["forwarding"] = "tun"
    site_step(lab, inventory, "method_switch", svcs)
    assert {d["forward"] for d in dests(lab, WEB).values()} == {"Tunnel"}, dests(lab, WEB)
    for host in lab.realservers:
        state = read_state(lab, host)
        assert VIP in state["tunl0"] and VIP not in state["lo"] and MARKED_VIP in state["lo"], state
        assert "maxseg size set" in (state["mss_clamp"] or "") and VIP in (state["mss_file"] or ""), state
        assert f"{VIP}/32 dev lo" not in state["boot_script"] and "tun-mss" in state["boot_script"], state
    assert answered_by(lab) == set(lab.realservers)


def test_step4_service_removal_leaves_nothing(lab, inventory):
    """The two firewall-mark services go: their VIPs leave the director and every real server, and the
    director's marking rules, rules file and unit go with the last of them."""
    svcs = routed(services())
    site_step(lab, inventory, "service_removal", svcs)
    director = read_state(lab, lab.directors[0])
    assert MARKED_VIP not in director["all"] and MARKED_VIP6 not in director["ipv6_all"], director
    assert MARKED_VIP not in director["vips_file"] and "-f 5" not in director["ipvs"], director
    assert "lvs_cluster" not in (director["nft"] or "") and director["fwmark_file"] is None, director
    assert director["fwmark_unit"] is None and director["fwmark_enabled"] != "enabled", director
    for host in lab.realservers:
        state = read_state(lab, host)
        assert MARKED_VIP not in state["all"] and MARKED_VIP6 not in state["ipv6_lo"], state
        assert MARKED_VIP not in state["boot_script"] and state["lo"] == ["127.0.0.1"], state


def test_step5_rolling_maintenance_reboots_each_real_server(lab, inventory):
    """playbooks/rolling_maintenance.yml over every real server, one at a time: drained (the long-lived
    connection's server waits until the client closes it), rebooted, waited for, weighted back."""
    hosts = lab.realservers
    boot_ids = {h: ssh(lab, h, "cat /proc/sys/kernel/random/boot_id").stdout.strip() for h in hosts}
    with Step(lab, "rolling_maintenance", release=True) as step:
        run = playbook(lab, inventory, "rolling_maintenance.yml", services(),
                       "-e", f"lvs_maintenance_drain_timeout={DRAIN_TIMEOUT_S}")
    step.report(hosts=hosts)
    assert run.returncode == 0, tail(run)
    step.assert_no_failure(survives=False)
    assert step.released_at is not None
    for host in hosts:
        now = ssh(lab, host, "cat /proc/sys/kernel/random/boot_id").stdout.strip()
        assert boot_ids[host] and now not in ("", boot_ids[host]), (host, boot_ids[host], now)
    weights = {svc["port"]: {lab.address(d["host"]): d.get("weight", 1) for d in svc["destinations"]}
               for svc in routed(services())}
    for port in (WEB, LONG):
        assert {ip: d["weight"] for ip, d in dests(lab, port).items()} == weights[port], dests(lab, port)
    assert answered_by(lab) == set(hosts)


def test_step6_drained_removal_of_the_long_lived_connections_server(lab, inventory):
    """The real server holding the long-lived connection leaves. The director gives it weight 0 and waits:
    the client closes the connection HOLD_S seconds later, and only then is the server removed. It then
    holds nothing: no VIP, no tunnel address, no MSS clamp, its ARP settings as they were, no boot entry."""
    with Step(lab, "drained_removal", release=True) as step:
        svcs = services()
        for svc in svcs:
            svc["destinations"] = [d for d in svc["destinations"] if d["host"] != step.holder]
        run = playbook(lab, inventory, "site.yml", svcs, "--limit", ",".join(lab.directors + [step.holder]),
                       "-e", f"director_drain_timeout={DRAIN_TIMEOUT_S}", "-e", "director_on_drain_timeout=fail", "-v")
    waited = [float(w) for w in re.findall(r'"waited": ([0-9.]+)', run.stdout)]
    step.report(removed=step.holder, drain_waited_s=max(waited, default=None))
    assert run.returncode == 0, tail(run)
    STATE["services"] = svcs
    step.assert_no_failure(survives=False)
    # the drain waited for the connection: closed HOLD_S s after the weight 0, and the wait covers that
    assert step.released_at is not None and waited and max(waited) >= HOLD_S - 1, (waited, step.released_at)
    address = lab.address(step.holder)
    assert all(address not in dests(lab, port) for port in (WEB, LONG))
    gone = read_state(lab, step.holder)
    assert VIP not in gone["all"] and gone["lo"] == ["127.0.0.1"] and gone["tunl0"] == [], gone
    assert gone["arp"] == STATE["arp_before"][step.holder] and gone["noarp_state"] is None, gone
    assert gone["modules_load"] is None and "arp_ignore" not in (gone["sysctl_d"] or ""), gone
    assert VIP not in (gone["boot_script"] or "") and "tun-mss" not in (gone["boot_script"] or ""), gone
    assert "lvs_realserver" not in (gone["mss_clamp"] or "") and gone["mss_file"] is None, gone
    assert answered_by(lab) == set(lab.realservers) - {step.holder}


def test_site_run_again_changes_nothing(lab, inventory):
    """A second run of the last change, on every host: nothing to do, nothing given up twice."""
    started = time.monotonic()
    again = playbook(lab, inventory, "site.yml", services())
    counts = lvs.play_recap(again.stdout)
    lvs.figures("site_again", wall_s=round(time.monotonic() - started, 1),
                changed={h: c["changed"] for h, c in counts.items()})
    assert again.returncode == 0, tail(again)
    assert set(counts) == set(lab.directors + lab.realservers), counts
    assert all(c["changed"] == 0 for c in counts.values()), again.stdout[-6000:]
