"""Shared verify code of the dr, nat, tun and methods Molecule scenarios: traffic from the lab's client namespace,
and what the director and the real servers count while it flows.

Two halves in one file:

- the client (stdlib only): `python lvs_checks.py client JSON` runs INSIDE the lab namespace
  (`ip netns exec lvslab-LAB ...`). It opens bounded numbers of fresh TCP connections to VIP:PORT, sends
  `GET /` (optionally many pipelined on one connection, to get a reply much larger than the request) and,
  at the same time, watches the namespace's LAN bridges with an AF_PACKET socket. So it reports, besides
  the bodies: the layer-2 bytes the client sent and received for its own connections, the MAC addresses
  its requests went to and its replies came from, stray replies from an address other than the VIP, and
  every ARP packet that claims the VIP (who answers ARP for the VIP is who gets the traffic).
- the controller side, imported by the scenario tests: the lab (inventory, testinfra hosts of every
  guest), parsers for ipvsadm's output, polling, and one check function per claim.

The lab is named by LVS_LAB_NAME; if unset, by the `lab_name` of the inventory passed to pytest
(--ansible-inventory); else the scenario's Molecule default. So a hand-made lab can be verified with
    pytest --ansible-inventory=/var/tmp/lvs-lab/vt-dr/inventory.yml molecule/dr/tests/test_dr.py
Only lab addresses are ever contacted.
"""
from __future__ import annotations

import copy
import ipaddress
import json
import os
import re
import socket
import struct
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

STATE_ROOT = Path(os.environ.get("LVS_LAB_STATE", "/var/tmp/lvs-lab"))
NS_PREFIX = "lvslab-"
BRIDGE_PREFIX = "br-"          # the lab's bridge per LAN inside the namespace (lab/net.py)


def contract(first: str, second: str) -> dict:
    """The services every scenario's group_vars declare for a pair of real servers (one VIP), written out
    here as the verify suites' own expectation: port: (scheduler, weights, persistence timeout)."""
    return {80: ("rr", {first: 1, second: 1}, None),
            81: ("wrr", {first: 1, second: 3}, None),
            8080: ("rr", {first: 1, second: 1}, 300)}


CONTRACT_SERVICES = contract("rs1", "rs2")  # the single-method scenarios' real servers
IPIP_OVERHEAD = 20             # bytes an IPIP header adds to each forwarded frame

# --------------------------------------------------------------------------------------------------
# Client: runs inside the lab namespace. Standard library only.
# --------------------------------------------------------------------------------------------------
ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4


def _mac(raw: bytes) -> str:
    return ":".join(f"{b:02x}" for b in raw)


class _Sniffer:
    """Counts the frames of the client's connections on the namespace's bridges (not on the taps, where
    the same frames show up a second time) and every ARP packet whose sender address is the VIP."""

    def __init__(self, interfaces, client: str, vip: str, port: int):
        self.interfaces = set(interfaces)
        self.client, self.vip, self.port = socket.inet_aton(client), socket.inet_aton(vip), port
        self.mtu = min(int(Path(f"/sys/class/net/{i}/mtu").read_text()) for i in self.interfaces)
        self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        self.sock.settimeout(0.1)
        self.stop = threading.Event()
        self.last_match = time.monotonic()
        self.tx = Counter()            # frames, bytes the client sent to VIP:port
        self.rx = Counter()            # frames, bytes the client received from VIP:port
        self.request_dst_macs = Counter()
        self.reply_src_macs = Counter()
        self.reply_interfaces = Counter()
        self.stray = Counter()         # "ip:port" of TCP replies to the client from an address other than the VIP
        self.arp_vip = Counter()       # sender MAC of ARP packets that claim the VIP
        self.thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(5)
        self.sock.close()

    def quiet_for(self, seconds: float, limit: float) -> None:
        """Wait until no matching frame arrived for `seconds` (the closing FIN/ACKs), at most `limit`."""
        end = time.monotonic() + limit
        while time.monotonic() < end and time.monotonic() - self.last_match < seconds:
            time.sleep(0.05)

    def _run(self) -> None:
        while not self.stop.is_set():
            try:
                frame, addr = self.sock.recvfrom(65536)
            except socket.timeout:
                continue
            except OSError:
                return
            if addr[0] in self.interfaces and len(frame) >= 14:
                self._frame(frame, addr[2])

    def _wire(self, frame: bytes, ihl: int) -> tuple:
        """(frames, bytes) as on the wire: the namespace's stack hands the bridge TSO/GRO super-frames
        larger than the MTU; count them as the MTU-sized segments the guests' NICs see."""
        if len(frame) - 14 <= self.mtu or len(frame) < 14 + ihl + 13:
            return 1, len(frame)
        headers = ihl + ((frame[14 + ihl + 12] >> 4) * 4)
        per_segment = self.mtu - headers
        segments = -(-(len(frame) - 14 - headers) // per_segment)
        return segments, len(frame) + (segments - 1) * (14 + headers)

    def _frame(self, frame: bytes, pkttype: int) -> None:
        dst, src, ethertype = frame[0:6], frame[6:12], struct.unpack("!H", frame[12:14])[0]
        if ethertype == 0x0806 and len(frame) >= 42:
            if frame[28:32] == self.vip:        # ARP sender protocol address
                self.arp_vip[_mac(frame[22:28])] += 1
            return
        if ethertype != 0x0800 or len(frame) < 34:
            return
        ihl = (frame[14] & 0x0F) * 4
        proto, ip_src, ip_dst = frame[23], frame[26:30], frame[30:34]
        if proto != 6 or len(frame) < 14 + ihl + 4:
            return
        sport, dport = struct.unpack("!HH", frame[14 + ihl:18 + ihl])
        frames, size = self._wire(frame, ihl)
        if pkttype == PACKET_OUTGOING and ip_src == self.client and ip_dst == self.vip and dport == self.port:
            self.tx["frames"] += frames
            self.tx["bytes"] += size
            self.request_dst_macs[_mac(dst)] += 1
            self.last_match = time.monotonic()
        elif pkttype != PACKET_OUTGOING and ip_dst == self.client and sport == self.port:
            if ip_src == self.vip:
                self.rx["frames"] += frames
                self.rx["bytes"] += size
                self.reply_src_macs[_mac(src)] += 1
                self.last_match = time.monotonic()
            else:
                self.stray[f"{socket.inet_ntoa(ip_src)}:{sport}"] += 1


def _parse_responses(data: bytes) -> list[str]:
    """Bodies of the HTTP responses in `data` (Content-Length framed), in order."""
    bodies = []
    while data:
        head, sep, rest = data.partition(b"\r\n\r\n")
        if not sep:
            break
        match = re.search(rb"(?im)^content-length:\s*(\d+)", head)
        length = int(match.group(1)) if match else len(rest)
        bodies.append(rest[:length].decode(errors="replace"))
        data = rest[length:]
    return bodies


def _exchange(vip: str, port: int, pipeline: int, timeout: float, source: str | None = None, pad: int = 0) -> dict:
    """One fresh TCP connection (from `source`, else the route's address): `pipeline` GETs sent at once, the
    last one closing (with a header of `pad` bytes: a request larger than one full-size segment); read to
    EOF."""
    out: dict = {"error": None, "bodies": [], "peer": None, "local": None, "bytes": 0, "mss": None}
    try:
        with socket.create_connection((vip, port), timeout=timeout,
                                      source_address=(source, 0) if source else None) as sock:
            out["peer"], out["local"] = list(sock.getpeername()), list(sock.getsockname())
            # the largest segment this side may send: what the server advertised, less TCP options
            out["mss"] = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG)
            # short requests: the replies must be much larger than the requests (see measure_bytes)
            one = b"GET / HTTP/1.1\r\nHost:v\r\n\r\n"
            last = b"GET / HTTP/1.1\r\nHost:v\r\n" + (b"X-Pad:" + b"a" * pad + b"\r\n" if pad else b"") \
                + b"Connection:close\r\n\r\n"
            sock.sendall(one * (pipeline - 1) + last)
            chunks = []
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                chunks.append(chunk)
            data = b"".join(chunks)
            out["bytes"] = len(data)
            out["bodies"] = _parse_responses(data)
    except OSError as exc:
        out["error"] = f"{type(exc).__name__}: {exc}"
    return out


def client_main(params: dict) -> dict:
    """params: vip, port (or ports: the connections go to each in turn), client, connections, pipeline (GETs
    per connection), timeout (per connection), deadline (whole run), interfaces (bridges to watch),
    flush_neigh (forget the VIP's MAC first), max_errors (stop after that many failed connections), bind
    (connect from the `client` address), pad (bytes of padding in each last request), flush_pmtu (forget the
    path MTUs learnt first)."""
    vip = params["vip"]
    ports = [int(p) for p in params.get("ports") or [params["port"]]]
    port = ports[0]
    deadline = time.monotonic() + float(params.get("deadline", 120))
    results = []
    errors = 0
    with _Sniffer(params["interfaces"], params["client"], vip, port) as sniff:
        if params.get("flush_neigh"):
            subprocess.run(["ip", "neigh", "flush", "to", vip], check=False)
        if params.get("flush_pmtu"):
            subprocess.run(["ip", "route", "flush", "cache"], check=False)
        for _connection in range(int(params["connections"])):
            if time.monotonic() > deadline:
                results.append({"error": "client deadline reached", "bodies": []})
                break
            results.append(_exchange(vip, ports[_connection % len(ports)], int(params.get("pipeline", 1)),
                                     float(params.get("timeout", 5)), params["client"] if params.get("bind") else None,
                                     int(params.get("pad", 0))))
            errors += results[-1]["error"] is not None
            if errors >= int(params.get("max_errors", 3)):
                break  # bounded: a broken setup fails in a few timeouts, not in one per connection
        sniff.quiet_for(0.5, 3.0)
    neigh = subprocess.run(["ip", "-j", "neigh", "show", "to", vip], capture_output=True, text=True,
                           check=False).stdout
    return {
        "results": results,
        "tx": dict(sniff.tx), "rx": dict(sniff.rx),
        "request_dst_macs": dict(sniff.request_dst_macs), "reply_src_macs": dict(sniff.reply_src_macs),
        "stray": dict(sniff.stray), "arp_vip": dict(sniff.arp_vip),
        "neigh": json.loads(neigh or "[]"),
    }


# --------------------------------------------------------------------------------------------------
# Controller side: the lab, ipvsadm output, polling.
# --------------------------------------------------------------------------------------------------
def poll(probe, ok, what: str, deadline: float = 60.0, interval: float = 1.0):
    """Call probe() until ok(value), at most `deadline` seconds; the last value on success."""
    end = time.monotonic() + deadline
    while True:
        value = probe()
        if ok(value):
            return value
        if time.monotonic() >= end:
            raise AssertionError(f"{what}: not reached within {deadline:.0f} s; last seen: {value!r}")
        time.sleep(interval)


class Lab:
    """A running lab: its namespace, inventory variables and a testinfra host per guest."""

    def __init__(self, name: str, inventory: str | None = None):
        import testinfra  # only the controller side needs it

        self.name = name
        self.ns = NS_PREFIX + name
        script = STATE_ROOT / name / "inventory.script.json"
        if not script.is_file():
            raise RuntimeError(f"no running lab {name!r}: {script} is missing (LVS_LAB_NAME, --ansible-inventory)")
        data = json.loads(script.read_text())
        self.vars = data["all"]["vars"]
        self.hostvars = data["_meta"]["hostvars"]
        self.groups = {g: list(body.get("hosts", [])) for g, body in data.items() if g != "_meta" and g != "all"}
        self.directors = self.groups["directors"]
        self.realservers = self.groups["realservers"]
        inventory = inventory or str(STATE_ROOT / name / "inventory.yml")
        self.hosts = {h: testinfra.get_host(f"ansible://{h}", ansible_inventory=inventory)
                      for h in self.directors + self.realservers}
        self.director = self.hosts[self.directors[0]]
        self._macs: dict = {}

    def serving(self, group: str) -> "Lab":
        """The same lab, seen as the real servers of inventory group `group` only (one VIP's servers in a
        lab where each method has its own): every check then expects traffic on those alone."""
        assert self.groups.get(group), f"lab {self.name} has no real servers in group {group!r}: {self.groups}"
        view = copy.copy(self)
        view.realservers = list(self.groups[group])
        return view

    # addresses and interfaces, all from the inventory
    def address(self, host: str) -> str:
        return self.hostvars[host]["lab_address"]

    def rs_by_address(self) -> dict:
        return {self.address(h): h for h in self.realservers}

    def nic_towards(self, host: str, address: str) -> dict:
        """The host's NIC on the LAN that holds `address` (e.g. the director's NIC facing the client)."""
        for nic in self.hostvars[host]["lab_nics"].values():
            if nic["address"] and ipaddress.ip_address(address) in ipaddress.ip_interface(
                    f"{nic['address']}/{nic['prefix']}").network:
                return nic
        raise AssertionError(f"{host} has no NIC on the LAN of {address}: {self.hostvars[host]['lab_nics']}")

    def bridges(self) -> list:
        return [BRIDGE_PREFIX + lan for lan, body in self.vars["lab_lans"].items() if body["namespace"]]

    def mac(self, host: str, interface: str) -> str:
        key = (host, interface)
        if key not in self._macs:
            self._macs[key] = self.hosts[host].check_output(f"cat /sys/class/net/{interface}/address").strip()
        return self._macs[key]

    # traffic from the client namespace
    def client(self, vip: str, port: int, client: str, connections: int, pipeline: int = 1,
               flush_neigh: bool = False, timeout: float = 5.0, deadline: float = 120.0,
               ports: list | None = None, bind: bool = False, pad: int = 0, max_errors: int = 3) -> dict:
        """`ports`: the connections go to each in turn instead of `port`; `bind`: from the `client` address
        (one the namespace holds), not the one its route picks; `pad`: bytes of padding in each request, which
        also makes the client forget the path MTUs it learnt."""
        params = {"vip": vip, "port": port, "client": client, "connections": connections, "pipeline": pipeline,
                  "timeout": timeout, "deadline": deadline, "interfaces": self.bridges(),
                  "flush_neigh": flush_neigh, "ports": ports, "bind": bind, "pad": pad, "flush_pmtu": pad > 0,
                  "max_errors": max_errors}
        proc = subprocess.run(["ip", "netns", "exec", self.ns, sys.executable, str(Path(__file__).resolve()),
                               "client", json.dumps(params)],
                              capture_output=True, text=True, timeout=deadline + 30, check=False)
        assert proc.returncode == 0, f"client in {self.ns} failed: {proc.stderr}"
        return json.loads(proc.stdout)


def figures(name: str, **values) -> None:
    """One FIGURES line of measured values: the scenario runner copies these into CI's log."""
    print(f"FIGURES {name} " + json.dumps(values, sort_keys=True))


def play_recap(output: str) -> dict:
    """{host: {"ok": n, "changed": n, ...}} from ansible-playbook's PLAY RECAP."""
    recap = {}
    for line in output.split("PLAY RECAP", 1)[-1].splitlines():
        host, colon, counts = line.partition(":")
        if colon and counts.split()[:1] and counts.split()[0].startswith("ok="):
            recap[host.strip()] = {k: int(v) for k, v in (w.split("=") for w in counts.split())}
    return recap


def lab_name(default: str, config=None) -> tuple[str, str | None]:
    """(lab name, inventory given to pytest). LVS_LAB_NAME wins, then the inventory's lab_name."""
    inventory = getattr(getattr(config, "option", None), "ansible_inventory", None) if config else None
    name = os.environ.get("LVS_LAB_NAME")
    if inventory:
        from testinfra.utils.ansible_runner import AnsibleRunner

        runner = AnsibleRunner(inventory)
        hosts = runner.get_hosts("all")
        in_inventory = runner.get_variables(hosts[0]).get("lab_name") if hosts else None
        if name and in_inventory and name != in_inventory:
            raise RuntimeError(f"LVS_LAB_NAME={name} but the inventory {inventory} is lab {in_inventory}")
        name = name or in_inventory
    return name or default, inventory


# ipvsadm -Ln: "TCP  198.51.100.100:8080 rr persistent 300" / "  -> 198.51.100.11:8080  Route  1  0  0"
_SVC = re.compile(r"^(TCP|UDP|SCTP|FWM)\s+(\S+)\s+(\S+)(.*)$")
_DEST = re.compile(r"^\s+->\s+(\S+):(\d+)\s+(\S+)\s+(\d+)\s+(\d+)\s+(\d+)")
_STATS = re.compile(r"^(?:(TCP|UDP|SCTP|FWM)|\s+->)\s+(\S+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*$")


def parse_table(text: str) -> dict:
    """{"TCP 198.51.100.100:80": {"scheduler", "flags", "dests": {"ip": {"forward", "weight", ...}}}}"""
    table: dict = {}
    current = None
    for line in text.splitlines():
        m = _SVC.match(line)
        if m:
            current = {"scheduler": m.group(3), "flags": m.group(4).strip(), "dests": {}}
            table[f"{m.group(1)} {m.group(2)}"] = current
            continue
        m = _DEST.match(line)
        if m and current is not None:
            current["dests"][m.group(1)] = {"port": int(m.group(2)), "forward": m.group(3),
                                            "weight": int(m.group(4)), "active": int(m.group(5)),
                                            "inactive": int(m.group(6))}
    return table


def parse_stats(text: str) -> dict:
    """ipvsadm -Ln --stats --exact -> {"TCP vip:port": {"conns",..., "dests": {"ip": {...}}}}"""
    stats: dict = {}
    current = None
    for line in text.splitlines():
        m = _STATS.match(line)
        if not m:
            continue
        values = dict(zip(("conns", "inpkts", "outpkts", "inbytes", "outbytes"), map(int, m.groups()[2:])))
        if m.group(1):
            current = {**values, "dests": {}}
            stats[f"{m.group(1)} {m.group(2)}"] = current
        elif current is not None:
            current["dests"][m.group(2).rsplit(":", 1)[0]] = values
    return stats


def read_stats(lab: Lab, vip: str, port: int) -> dict:
    out = lab.director.check_output(f"ipvsadm -Ln --stats --exact -t {vip}:{port}")
    return parse_stats(out)[f"TCP {vip}:{port}"]


def settle_and_zero(lab: Lab, deadline: float = 60.0) -> None:
    """IPVS folds its per-CPU counters into what it reports only every 2 s, and `ipvsadm -Z` zeroes what
    was folded. Earlier traffic would leak into the next measurement: wait for two equal reads 2.5 s
    apart (all folded), then zero."""
    end = time.monotonic() + deadline
    before = lab.director.check_output("ipvsadm -Ln --stats --exact")
    while True:
        time.sleep(2.5)
        now = lab.director.check_output("ipvsadm -Ln --stats --exact")
        if now == before or time.monotonic() > end:
            break
        before = now
    lab.director.check_output("ipvsadm -Z")


def tx_bytes(host, interface: str) -> int:
    return int(host.check_output(f"cat /sys/class/net/{interface}/statistics/tx_bytes"))


def rx_packets(host, interface: str) -> int:
    return int(host.check_output(f"cat /sys/class/net/{interface}/statistics/rx_packets"))


# --------------------------------------------------------------------------------------------------
# Checks: each asserts one claim and returns the figures it measured.
# --------------------------------------------------------------------------------------------------
def served_by(run: dict, realservers: list) -> Counter:
    """Which real server answered each connection; every connection must have answered exactly
    '<hostname>\\n' for a known real server."""
    counts: Counter = Counter()
    expected = {f"{h}\n": h for h in realservers}
    seen = (f"(client saw: replies from MACs {run['reply_src_macs']}, replies from other addresses than the"
            f" VIP {run['stray']}, requests to MACs {run['request_dst_macs']})")
    for i, result in enumerate(run["results"]):
        assert result["error"] is None, f"connection {i}: {result['error']} {seen}"
        assert len(result["bodies"]) >= 1, f"connection {i}: no HTTP response"
        for body in result["bodies"]:
            assert body in expected, f"connection {i}: body {body!r} is not one of {sorted(expected)}"
        counts[expected[result["bodies"][0]]] += 1
    return counts


def check_table(lab: Lab, vip: str, forward: str, services: dict, director: str | None = None) -> dict:
    """The director's table holds the contracted services: {port: (scheduler, {rs: weight}, persistent)}.
    forward: ipvsadm's word, Route (DR), Masq (NAT) or Tunnel (TUN). director: a host (default the first)."""
    host = lab.hosts[director] if director else lab.director
    table = parse_table(host.check_output("ipvsadm -Ln"))
    for port, (scheduler, weights, persistent) in services.items():
        key = f"TCP {vip}:{port}"
        assert key in table, f"no service {key} on the director; table: {sorted(table)}"
        svc = table[key]
        assert svc["scheduler"] == scheduler, f"{key}: scheduler {svc['scheduler']}, want {scheduler}"
        if persistent:
            assert f"persistent {persistent}" in svc["flags"], f"{key}: flags {svc['flags']!r}, want persistent {persistent}"
        else:
            assert "persistent" not in svc["flags"], f"{key}: unexpectedly persistent"
        want = {lab.address(rs): w for rs, w in weights.items()}
        got = {ip: d["weight"] for ip, d in svc["dests"].items()}
        assert got == want, f"{key}: destinations and weights {got}, want {want}"
        for ip, d in svc["dests"].items():
            assert d["forward"] == forward, f"{key} -> {ip}: forwarding {d['forward']}, want {forward}"
            assert d["port"] == port, f"{key} -> {ip}: port {d['port']}, want {port}"
    return table


def check_distribution(lab: Lab, vip: str, client: str, port: int, weights: dict, connections: int = 40,
                       tolerance: int = 1) -> dict:
    """`connections` fresh connections reach every real server in proportion to its weight (rr/wrr are
    deterministic), and the director's per-destination connection counters agree with the client."""
    settle_and_zero(lab)
    run = lab.client(vip, port, client, connections)
    counts = served_by(run, lab.realservers)
    total_weight = sum(weights.values())
    want = {rs: connections * w / total_weight for rs, w in weights.items()}
    for rs in lab.realservers:
        assert abs(counts[rs] - want[rs]) <= tolerance, \
            f"port {port}: {dict(counts)} over {connections} connections, want about {want}"
    by_addr = lab.rs_by_address()

    def director_counts():
        dests = read_stats(lab, vip, port)["dests"]
        return {by_addr.get(ip, ip): d["conns"] for ip, d in dests.items()}

    seen = poll(director_counts, lambda c: c == dict(counts),
                f"port {port}: director Conns per destination equal the client's {dict(counts)}",
                deadline=30, interval=1.5)
    return {"client": dict(counts), "director": seen}


def check_persistence(lab: Lab, vip: str, client: str, port: int, connections: int = 12) -> dict:
    """Every connection from the one client lands on the same real server, and the director holds one
    persistence template (client:0 -> VIP:port) pointing at it."""
    run = lab.client(vip, port, client, connections)
    counts = served_by(run, lab.realservers)
    assert len(counts) == 1, f"port {port} is persistent but {connections} connections went to {dict(counts)}"
    (rs,) = counts
    out = lab.director.check_output("ipvsadm -Lnc")
    # a persistence template has source port 0; its state reads NONE or ASSURED depending on the kernel
    templates = [f for f in (line.split() for line in out.splitlines())
                 if len(f) >= 6 and f[3] == f"{client}:0" and f[4] == f"{vip}:{port}"]
    assert len(templates) == 1, f"want one persistence template for {client}:0 -> {vip}:{port}:\n{out}"
    assert templates[0][-1].rsplit(":", 1)[0] == lab.address(rs), \
        f"template points at {templates[0][-1]}, connections went to {rs}:\n{out}"
    return {"server": rs, "connections": connections}


def check_outpkts(lab: Lab, vip: str, client: str, port: int, through_director: bool,
                  connections: int = 10) -> dict:
    """NAT: the director counts the replies it rewrites (OutPkts > 0). DR/TUN: replies bypass it, OutPkts
    stays 0 although InPkts counted the requests."""
    settle_and_zero(lab)
    run = lab.client(vip, port, client, connections)
    served_by(run, lab.realservers)
    # The counters are read once IPVS has folded them (two equal reads 2.5 s apart). Waiting for Conns to
    # reach `connections` instead hung once at 8 of 10 for 30 s: a new connection that IPVS matches to a
    # lingering entry of an earlier one (same client port, conn_reuse_mode) is not counted again.
    # Exact per-destination counts are check_distribution's claim; this one is about OutPkts.
    reads = []

    def folded():
        reads.append(read_stats(lab, vip, port))
        return reads[-2:]

    stats = poll(folded, lambda last: len(last) == 2 and last[0] == last[1] and last[1]["inpkts"] > 0,
                 f"director counters on {vip}:{port} settled after {connections} connections", deadline=60,
                 interval=2.5)[-1]
    assert stats["conns"] >= connections // 2, f"the director saw {stats['conns']} of {connections} connections"
    if through_director:
        # the folding of per-CPU counters may lag the Conns counter: poll for OutPkts too
        stats = poll(lambda: read_stats(lab, vip, port), lambda s: s["outpkts"] >= connections,
                     "NAT: director OutPkts counts the replies", deadline=30, interval=1.5)
        for ip, d in stats["dests"].items():
            assert d["outpkts"] > 0, f"NAT: destination {ip} has OutPkts 0: {stats}"
    else:
        assert stats["outpkts"] == 0 and all(d["outpkts"] == 0 for d in stats["dests"].values()), \
            f"replies passed through the director (OutPkts > 0): {stats}"
    return {k: stats[k] for k in ("conns", "inpkts", "outpkts", "inbytes", "outbytes")}


def measure_bytes(lab: Lab, vip: str, client: str, port: int, connections: int = 4, pipeline: int = 500) -> dict:
    """Director TX on its client-facing NIC versus the layer-2 bytes the client sent and received for its
    connections. Each connection pipelines `pipeline` GETs, so the replies are several times the size of
    the requests even though the contract's body is only '<hostname>\\n'."""
    nic = lab.nic_towards(lab.directors[0], client)["interface"]
    before = tx_bytes(lab.director, nic)
    run = lab.client(vip, port, client, connections, pipeline=pipeline)
    after = tx_bytes(lab.director, nic)
    bodies = sum(len(r["bodies"]) for r in run["results"])
    served_by(run, lab.realservers)
    assert bodies == connections * pipeline, f"{bodies} responses, want {connections * pipeline}"
    return {"director_interface": nic, "director_tx": after - before,
            "client_tx": run["tx"].get("bytes", 0), "client_tx_frames": run["tx"].get("frames", 0),
            "client_rx": run["rx"].get("bytes", 0), "client_rx_frames": run["rx"].get("frames", 0),
            "requests": bodies, "run": run}


def check_replies_bypass_director(lab: Lab, vip: str, client: str, port: int = 80, encap: int = 0) -> dict:
    """DR/TUN: the director only forwards the client's half: its TX on the client-facing NIC is about the
    client's own request bytes (plus `encap` bytes a frame for IPIP), far below the reply bytes; the
    replies reach the client from the real servers' MACs, never the director's."""
    fig = measure_bytes(lab, vip, client, port)
    run = fig.pop("run")
    director_mac = lab.mac(lab.directors[0], fig["director_interface"])
    # Replies twice the requests keep the two claims below apart; TCP coalescing varies the ratio (about 3x).
    assert fig["client_rx"] > 2 * fig["client_tx"], f"the measurement needs replies larger than requests: {fig}"
    forwarded = fig["client_tx"] + encap * fig["client_tx_frames"]
    slack = 4096  # ARP, neighbour discovery
    assert fig["director_tx"] <= forwarded * 1.05 + slack, \
        f"the director sent more than the client's requests: replies pass through it: {fig}"
    assert fig["director_tx"] < 0.5 * fig["client_rx"], f"director TX not far below the reply bytes: {fig}"
    assert director_mac not in run["reply_src_macs"], \
        f"replies came from the director's MAC {director_mac}: {run['reply_src_macs']}"
    fig["reply_src_macs"] = run["reply_src_macs"]
    return fig


def check_replies_through_director(lab: Lab, vip: str, client: str, port: int = 80) -> dict:
    """NAT: every reply byte leaves the director towards the client, from the director's MAC, with the VIP
    as its source; nothing reaches the client from a real server's own address."""
    fig = measure_bytes(lab, vip, client, port)
    run = fig.pop("run")
    director_mac = lab.mac(lab.directors[0], fig["director_interface"])
    assert fig["director_tx"] >= 0.9 * fig["client_rx"], f"director TX is below the reply bytes: {fig}"
    assert set(run["reply_src_macs"]) == {director_mac}, \
        f"replies came from {run['reply_src_macs']}, want only the director {director_mac}"
    assert not run["stray"], f"replies reached the client from other addresses than the VIP: {run['stray']}"
    peers = {tuple(r["peer"]) for r in run["results"]}
    assert peers == {(vip, port)}, f"the client's sockets were connected to {peers}, want {(vip, port)}"
    fig["reply_src_macs"] = run["reply_src_macs"]
    return fig


def check_vip_owned_by_director(lab: Lab, vip: str, client: str, port: int = 80, connections: int = 6,
                                flush_on_realservers: bool = True) -> dict:
    """No false load balancing: the client forgets the VIP's MAC (and the real servers forget the
    client's, so that they ARP again: with arp_announce 0 they would ask with the VIP as sender) and
    connects again. Every ARP packet claiming the VIP must come from the director, the client's
    neighbour entry and the destination MAC of every request must be the director's."""
    director_mac = lab.mac(lab.directors[0], lab.nic_towards(lab.directors[0], client)["interface"])
    if flush_on_realservers:
        for rs in lab.realservers:
            lab.hosts[rs].run(f"ip neigh flush to {client}")
    run = lab.client(vip, port, client, connections, flush_neigh=True)
    served_by(run, lab.realservers)
    assert run["arp_vip"], "no ARP for the VIP was seen after flushing the client's neighbour entry"
    assert set(run["arp_vip"]) == {director_mac}, \
        f"ARP for the VIP {vip} answered/claimed by {run['arp_vip']}, want only the director {director_mac}"
    assert set(run["request_dst_macs"]) == {director_mac}, \
        f"requests to the VIP went to {run['request_dst_macs']}, want the director {director_mac}"
    macs = {entry.get("lladdr") for entry in run["neigh"]}
    assert macs == {director_mac}, f"client neighbour entry for {vip}: {run['neigh']}, want {director_mac}"
    return {"director_mac": director_mac, "arp_vip": run["arp_vip"], "neigh": run["neigh"]}


def check_arp_sysctls(lab: Lab, interfaces_of) -> dict:
    """Each real server: arp_ignore >= 1 and arp_announce == 2 in effect (the kernel takes the larger of
    `all` and the interface) on every interface returned by interfaces_of(rs)."""
    seen = {}
    for rs in lab.realservers:
        host = lab.hosts[rs]
        for iface in interfaces_of(rs):
            values = {}
            for key in ("arp_ignore", "arp_announce"):
                both = host.check_output(f"cat /proc/sys/net/ipv4/conf/all/{key} /proc/sys/net/ipv4/conf/{iface}/{key}")
                values[key] = max(int(v) for v in both.split())
            assert values["arp_ignore"] >= 1 and values["arp_announce"] == 2, \
                f"{rs} {iface}: effective {values}, want arp_ignore >= 1 and arp_announce 2"
            seen[f"{rs}:{iface}"] = values
    return seen


def check_rp_filter_off(lab: Lab, interface: str) -> dict:
    """Each real server: reverse-path filtering is not strict (0 or 2; the kernel takes the larger of
    `all` and the interface) on `interface`: decapsulated requests come in on tunl0 while the route back
    to the client leaves by the LAN NIC."""
    seen = {}
    for rs in lab.realservers:
        both = lab.hosts[rs].check_output(
            f"cat /proc/sys/net/ipv4/conf/all/rp_filter /proc/sys/net/ipv4/conf/{interface}/rp_filter")
        value = max(int(v) for v in both.split())
        assert value in (0, 2), f"{rs} {interface}: effective rp_filter {value}, want 0 or 2"
        seen[rs] = value
    return seen


def check_tunnel_carries(lab: Lab, vip: str, client: str, port: int = 80, connections: int = 20,
                         interface: str = "tunl0") -> dict:
    """The packets of the client's connections reach every real server through its tunnel device:
    its RX packet counter grows by at least 3 packets (SYN, ACK, request, ...) per connection it served."""
    def counters():
        return {rs: rx_packets(lab.hosts[rs], interface) for rs in lab.realservers}

    before = counters()
    run = lab.client(vip, port, client, connections)
    counts = served_by(run, lab.realservers)
    after = counters()
    grown = {rs: after[rs] - before[rs] for rs in lab.realservers}
    for rs in lab.realservers:
        assert counts[rs] > 0, f"{rs} served none of {connections} connections: {dict(counts)}"
        assert grown[rs] >= 3 * counts[rs], \
            f"{rs}: {interface} RX grew by {grown[rs]} packets for {counts[rs]} connections: {grown}"
    return {"served": dict(counts), f"{interface}_rx_packets": grown}


def check_vip_on(lab: Lab, vip: str, interface: str | None = None) -> dict:
    """Each real server holds the VIP as a /32: on `interface` if given (tunl0 for TUN), else on lo or
    another device that never answers ARP (NOARP, e.g. a dummy), as DR needs."""
    seen = {}
    for rs in lab.realservers:
        host = lab.hosts[rs]
        out = host.check_output(f"ip -o -4 addr show to {vip}/32")
        devs = [line.split()[1] for line in out.splitlines() if f"inet {vip}/32 " in line]
        assert len(devs) == 1, f"{rs}: want the VIP {vip}/32 on exactly one device: {out!r}"
        dev = devs[0]
        if interface:
            assert dev == interface, f"{rs}: VIP {vip}/32 on {dev}, want {interface}"
        elif dev != "lo":
            flags = host.check_output(f"ip -o link show dev {dev}")
            assert "NOARP" in flags, f"{rs}: VIP {vip}/32 on {dev}, which answers ARP: {flags!r}"
        seen[rs] = dev
    return seen


# --------------------------------------------------------------------------------------------------
# Reboot survival: what the roles set comes back with no Ansible run in between.
# --------------------------------------------------------------------------------------------------
BOOT_UNITS = ("lvs-fwmark.service", "lvs-director.service", "lvs-realserver.service", "keepalived.service")


def guest_run(lab: Lab, host: str, command: str, timeout: float = 60) -> subprocess.CompletedProcess:
    """A command on a guest over a fresh SSH connection of its own (no shared master connection, which
    a reboot would leave dangling); a timeout is a failed command, never a hang."""
    cmd = ["ssh", "-p", str(lab.hostvars[host]["ansible_port"]), "-i", str(STATE_ROOT / lab.name / "id_ed25519"),
           "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
           "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=10", "-o", "ControlMaster=no", "-o", "ControlPath=none",
           "root@127.0.0.1", command]
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return subprocess.CompletedProcess(cmd, 255, "", f"timeout after {timeout} s")


def reboot(lab: Lab, hosts: list, deadline: float = 600.0) -> dict:
    """Reboot `hosts` at once and wait until each has booted again (a new boot id) and finished booting.
    Returns {host: systemd's state after boot} ("running", or "degraded" when a unit failed)."""
    boot_ids = {}
    for host in hosts:
        out = guest_run(lab, host, "cat /proc/sys/kernel/random/boot_id")
        assert out.returncode == 0 and out.stdout.strip(), f"{host}: no boot id before the reboot: {out.stderr}"
        boot_ids[host] = out.stdout.strip()
    for host in hosts:
        out = guest_run(lab, host, "systemd-run --on-active=1 systemctl reboot")
        assert out.returncode == 0, f"{host}: reboot not scheduled: {out.stderr}"
    states: dict = {}

    def probe():
        for host in hosts:
            if host not in states:
                out = guest_run(lab, host, "cat /proc/sys/kernel/random/boot_id; systemctl is-system-running --wait",
                                timeout=240)
                lines = out.stdout.split()
                if len(lines) == 2 and lines[0] != boot_ids[host]:
                    states[host] = lines[1]
        return dict(states)

    poll(probe, lambda seen: len(seen) == len(hosts), f"{hosts} back from a reboot", deadline=deadline, interval=2)
    return states


def boot_units(lab: Lab, host: str) -> dict:
    """{unit: state} of this collection's boot units (and keepalived) that are enabled on `host`."""
    units = {}
    for unit in BOOT_UNITS:
        if guest_run(lab, host, f"systemctl -q is-enabled {unit}").returncode == 0:
            units[unit] = guest_run(lab, host, f"systemctl is-active {unit}").stdout.strip()
    return units


def check_reboot(lab: Lab, vip: str, client: str, port: int = 80, settle: float = 120.0) -> dict:
    """Every guest rebooted at once; then, with no Ansible run: every enabled boot unit of the roles is
    active, each director's table is what it was (`ipvsadm -Sn`, as a multiset of lines), and fresh
    connections through the VIP reach every real server. `settle` bounds how long a director may take
    to rebuild its table (keepalived adds real servers as its first checks pass)."""
    figures = reboot_cluster(lab, settle)
    figures["served"] = check_answers(lab, vip, client, port, settle)
    return figures


def reboot_cluster(lab: Lab, settle: float = 120.0, hosts: list | None = None) -> dict:
    """check_reboot's first half: every guest (or `hosts`) rebooted at once, its boot units active, each
    director's table back as it was."""
    hosts = list(hosts or lab.directors + lab.realservers)
    tables = {}
    for director in lab.directors:
        out = guest_run(lab, director, "ipvsadm -Sn")
        assert out.returncode == 0 and "-A " in out.stdout, f"{director}: no table before the reboot: {out!r}"
        tables[director] = sorted(out.stdout.splitlines())
    started = time.monotonic()
    states = reboot(lab, hosts)
    booted_s = time.monotonic() - started
    for host in hosts:
        units = boot_units(lab, host)
        failed = {u: s for u, s in units.items() if s != "active"}
        journal = "".join(guest_run(lab, host, f"journalctl -b -u {u} --no-pager | tail -n 15").stdout
                          for u in failed)
        assert not failed, f"{host} after the reboot: {failed} (systemd: {states[host]})\n{journal}"
        assert units, f"{host}: none of {BOOT_UNITS} is enabled: nothing would restore it at boot"
    for director, before in tables.items():
        poll(lambda d=director: sorted(guest_run(lab, d, "ipvsadm -Sn").stdout.splitlines()),
             lambda now, b=before: now == b, f"{director}: the table of before the reboot", deadline=settle)
    return {"reboot_to_running_s": round(booted_s, 1), "systemd": states}


def check_answers(lab: Lab, vip: str, client: str, port: int = 80, settle: float = 120.0) -> dict:
    """Fresh connections to VIP:port reach every real server of `lab` (polled up to `settle` s)."""
    def answers():
        try:
            return served_by(lab.client(vip, port, client, 2 * len(lab.realservers) + 2, timeout=3.0,
                                        deadline=60.0), lab.realservers)
        except AssertionError as exc:
            return str(exc)

    counts = poll(answers, lambda c: isinstance(c, Counter) and set(c) == set(lab.realservers),
                  f"fresh connections to {vip}:{port} reach every real server", deadline=settle, interval=2)
    return dict(counts)


def check_tun_mss(lab: Lab, vip: str, client: str, port: int = 80, path_mtu: int = 1500) -> dict:
    """Through the TUN VIP, every real server tells the client a segment size that still fits the director's
    path once it adds its IPIP header (the realserver role's clamp), where the same server, reached directly,
    advertises the full size: the clamp, not the path, lowers it."""
    fits = path_mtu - IPIP_OVERHEAD - 40
    fig = lab.client(vip, port, client, 2 * len(lab.realservers) + 2, timeout=5.0, deadline=60.0)
    by_server: dict = {}
    for result in fig["results"]:
        assert result["error"] is None and result["bodies"], f"{vip}:{port}: {result}"
        by_server.setdefault(result["bodies"][0].strip(), set()).add(result["mss"])
    assert set(by_server) == set(lab.realservers), f"served by {sorted(by_server)}, want {lab.realservers}"
    for server, sizes in sorted(by_server.items()):
        assert max(sizes) <= fits, f"{server} through {vip}: MSS {sorted(sizes)}, more than the {fits} that fit the tunnel"
        direct = lab.client(lab.address(server), port, client, 1, timeout=5.0, deadline=30.0)["results"][0]
        assert direct["error"] is None and direct["mss"] > fits, \
            f"{server} reached directly: {direct} (the clamp must only touch what leaves from the VIP)"
        by_server[server] = {"through_vip": sorted(sizes), "direct": direct["mss"]}
    return {"fits": fits, "mss": by_server}


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "client":
        print(json.dumps(client_main(json.loads(sys.argv[2]))))
    else:
        sys.exit("usage: lvs_checks.py client JSON   (inside the lab namespace)")
