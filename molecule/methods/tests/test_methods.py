"""Verify of the methods scenario: one director, a VIP per forwarding method on the client's LAN, each
served by its own pair of real servers (DR on the client's LAN, NAT behind the director, TUN a routed
hop away). Every check of the dr, nat and tun scenarios runs on its own VIP and pair
(molecule/resources/verify/method_suites.py); one reboot of the director and a real server of each
method closes the run.

Runs against the lab named by LVS_LAB_NAME, else the `lab_name` of the inventory given to pytest, else
molecule-methods. By hand, against a lab of your own:
    pytest -rA --ansible-inventory=/var/tmp/lvs-lab/NAME/inventory.yml molecule/methods/tests/test_methods.py
"""
import re
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "resources" / "verify"))
pytest.register_assert_rewrite("lvs_checks", "method_suites")
import lvs_checks as lvs  # noqa: E402
import method_suites as suites  # noqa: E402

CLIENT = "198.51.100.1"
# VIP and real-server group of each method (playbooks/inventories/methods)
# dr-both-ports of playbooks/inventories/methods: TCP 80 and 8080 of this VIP marked 1, one persistent service
FWMARK_VIP, FWMARK, FWMARK_PORTS = "198.51.100.130", 1, [80, 8080]
SECOND_CLIENT = "198.51.100.2"  # added to the namespace's front bridge for one test
SITES = {"dr": ("198.51.100.100", "dr_realservers", suites.DrChecks),
         "nat": ("198.51.100.110", "nat_realservers", suites.NatChecks),
         "tun": ("198.51.100.120", "tun_realservers", suites.TunChecks)}


@pytest.fixture(scope="module")
def lab(request):
    return lvs.Lab(*lvs.lab_name("molecule-methods", request.config))


def site_of(lab, method: str) -> suites.Site:
    vip, group, _suite = SITES[method]
    return suites.Site(lab.serving(group), vip, CLIENT)


def test_one_director_serves_every_method(lab):
    """The three VIPs are on the one director, each with only its own pair behind it."""
    table = lvs.parse_table(lab.director.check_output("ipvsadm -Ln"))
    for method, (vip, group, _suite) in SITES.items():
        pair = {lab.address(rs) for rs in lab.groups[group]}
        for port in (80, 81, 8080):
            dests = set(table[f"TCP {vip}:{port}"]["dests"])
            assert dests == pair, f"{method} {vip}:{port} -> {sorted(dests)}, want its own pair {sorted(pair)}"


class TestDr(suites.DrChecks):
    @pytest.fixture(scope="class")
    def site(self, lab):
        return site_of(lab, "dr")


class TestNat(suites.NatChecks):
    @pytest.fixture(scope="class")
    def site(self, lab):
        return site_of(lab, "nat")


class TestTun(suites.TunChecks):
    @pytest.fixture(scope="class")
    def site(self, lab):
        return site_of(lab, "tun")


@pytest.fixture
def second_client(lab):
    """A second client address on the front LAN, in the namespace, for one test."""
    command = ["ip", "-n", lab.ns, "address", "{}", f"{SECOND_CLIENT}/24", "dev", lvs.BRIDGE_PREFIX + "front"]
    subprocess.run([w.format("add") for w in command], check=True)
    try:
        yield SECOND_CLIENT
    finally:
        subprocess.run([w.format("del") for w in command], check=False)


def fwmark_server(lab, client: str, connections: int = 8) -> str:
    """The one DR real server that answers `client`'s connections, which go to each port of the fwmark
    service in turn."""
    run = lab.client(FWMARK_VIP, FWMARK_PORTS[0], client, connections, ports=FWMARK_PORTS, bind=True)
    ports = sorted({result["peer"][1] for result in run["results"] if result["peer"]})
    assert ports == FWMARK_PORTS, f"{client}: connections reached ports {ports}, want each of {FWMARK_PORTS}"
    counts = lvs.served_by(run, lab.serving("dr_realservers").realservers)
    assert len(counts) == 1, f"{client}: {connections} connections over ports {FWMARK_PORTS} went to {dict(counts)}"
    return next(iter(counts))


def test_fwmark_service_keeps_each_client_on_one_server_across_its_ports(lab, second_client):
    """Two ports of one VIP as one persistent fwmark service: the director marks what the service matches
    (in the collection's own nftables table), IPVS holds it as one service, each client's connections to
    both ports land on one real server, and two clients land on different ones (rr)."""
    rules = lab.director.check_output("nft list table inet lvs_cluster")
    assert re.search(r"ip daddr 198\.51\.100\.130 tcp dport \{ 80, 8080 \} meta mark set 0x0*1\b", rules), rules
    service = lvs.parse_table(lab.director.check_output("ipvsadm -Ln")).get(f"FWM {FWMARK}")
    pair = {lab.address(rs) for rs in lab.groups["dr_realservers"]}
    assert service and service["flags"].startswith("persistent 300") and set(service["dests"]) == pair, service
    assert {d["forward"] for d in service["dests"].values()} == {"Route"}, service
    first, second = fwmark_server(lab, CLIENT), fwmark_server(lab, second_client)
    assert first != second, f"both clients went to {first}: rr should have spread their first connections"
    # the persistence template binds each client for both ports: a second round stays where it was
    assert (fwmark_server(lab, CLIENT), fwmark_server(lab, second_client)) == (first, second)


def check_fwmark_after_reboot(lab) -> dict:
    """The marks were loaded before the table was restored, and the fwmark service answers again."""
    def monotonic(unit, prop):
        return int(lab.director.check_output(f"systemctl show -p {prop} --value {unit}").strip())
    marked = monotonic("lvs-fwmark.service", "ExecMainExitTimestampMonotonic")
    restored = monotonic("lvs-director.service", "ExecMainStartTimestampMonotonic")
    assert 0 < marked <= restored, f"marks loaded at {marked} us, table restore started at {restored} us"
    server = lvs.poll(lambda: _answered(lab), lambda s: s is not None and not s.startswith("!"),
                      f"{FWMARK_VIP} ports {FWMARK_PORTS} answer after the reboot", deadline=120, interval=2)
    return {"fwmark_server": server, "marks_before_restore_ms": round((restored - marked) / 1000, 1)}


def _answered(lab):
    try:
        return fwmark_server(lab, CLIENT, connections=4)
    except AssertionError as exc:
        return f"!{exc}"


def test_cluster_comes_back_after_reboot(lab):
    """Last, because it reboots: the director and one real server of each method at once (a power cut, as
    far as each method's boot units go; the other of each pair was built by the same role from the same
    variables, and its reboot would cost this scenario a cold boot each, about 15 s of a core under TCG).
    With no Ansible run in between, each VIP answers from its own pair again and what each method's suite
    names after a reboot is back, the fwmark service's marks included."""
    hosts = lab.directors + [sorted(lab.groups[group])[0] for _vip, group, _suite in SITES.values()]
    print(suites.check_reboot(lab, [(suite, site_of(lab, method)) for method, (_v, _g, suite) in SITES.items()],
                              hosts=hosts))
    print(check_fwmark_after_reboot(lab))
