"""The lab's network: one namespace per lab holding a bridge per LAN; guests' taps join the bridges.

Nothing here touches the host's own interfaces or routes: the bridges and every lab address live inside
the namespace, so lab traffic cannot leave it. QEMU must open its tap in the host namespace, so a tap is
created there and moved into the lab namespace once QEMU holds it open.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

from .proc import run
from .topology import Topology

NS_PREFIX = "lvslab-"


def namespace(lab: str) -> str:
    return NS_PREFIX + lab


def tap_prefix(lab: str) -> str:
    # Interface names are at most 15 characters: a short hash of the lab name keeps labs apart.
    return "lv" + hashlib.sha1(lab.encode()).hexdigest()[:5]


def tap_name(lab: str, host_index: int, nic_index: int) -> str:
    return f"{tap_prefix(lab)}{host_index:02d}{nic_index}"


def bridge_name(lan: str) -> str:
    return ("br-" + lan)[:15]


def ns_exists(ns: str) -> bool:
    return Path("/run/netns", ns).exists()


def ns_sysctl(ns: str, key: str, value: str) -> None:
    run(["ip", "netns", "exec", ns, "sysctl", "-qw", f"{key}={value}"])


def create(topo: Topology, lab: str) -> None:
    ns = namespace(lab)
    run(["ip", "netns", "add", ns])
    run(["ip", "-n", ns, "link", "set", "lo", "up"])
    # The namespace is a client whose replies may arrive on another LAN than its request left by (TUN):
    # no reverse-path filter; it forwards only when the topology makes it a router.
    ns_sysctl(ns, "net.ipv4.conf.all.rp_filter", "0")
    ns_sysctl(ns, "net.ipv4.conf.default.rp_filter", "0")
    ns_sysctl(ns, "net.ipv4.ip_forward", "1" if topo.router else "0")
    ns_sysctl(ns, "net.ipv6.conf.all.forwarding", "1" if topo.router else "0")
    ns_sysctl(ns, "net.ipv6.conf.default.accept_dad", "0")
    lab_byte = hashlib.sha1(lab.encode()).digest()[0]
    for lan_index, lan in enumerate(topo.lans.values(), start=1):
        br = bridge_name(lan.name)
        # A fixed MAC: a bridge without one takes the lowest of its ports', so it would change when a
        # powered-off guest's tap goes, and guests would send the client's replies to a stale MAC.
        # Host index 0 is never a guest's (vm.mac).
        run(["ip", "-n", ns, "link", "add", br, "address", f"52:54:00:{lab_byte:02x}:00:{lan_index:02x}",
             "type", "bridge", "stp_state", "0", "forward_delay", "0"])
        ns_sysctl(ns, f"net.ipv6.conf.{br}.accept_dad", "0")
        run(["ip", "-n", ns, "link", "set", br, "up"])
        for addr in lan.namespace:
            run(["ip", "-n", ns, "address", "add", str(addr), "dev", br])
    # A VIP routed to a director (in no LAN's subnet) is reached through it, as a client's router would.
    for dest, gateway in topo.routes:
        run(["ip", "-n", ns, "route", "add", dest, "via", gateway])


def create_tap(name: str) -> None:
    run(["ip", "tuntap", "add", "dev", name, "mode", "tap"])


def delete_tap(lab: str, name: str) -> None:
    """Remove a tap wherever it is (our namespace or the lab's); absent is fine."""
    if name in _links(None):
        run(["ip", "link", "del", name])
    ns = namespace(lab)
    if ns_exists(ns) and name in _links(ns):
        run(["ip", "-n", ns, "link", "del", name])


def attach_tap(lab: str, tap: str, lan: str) -> None:
    ns = namespace(lab)
    run(["ip", "link", "set", tap, "netns", ns])
    run(["ip", "-n", ns, "link", "set", tap, "master", bridge_name(lan), "up"])


def _links(ns: str | None) -> list[str]:
    cmd = ["ip", "-o", "link", "show"] if ns is None else ["ip", "-n", ns, "-o", "link", "show"]
    proc = run(cmd, check=False)
    return [line.split(":")[1].strip().split("@")[0] for line in proc.stdout.splitlines() if ":" in line]


def destroy(lab: str) -> None:
    """Remove the lab's taps (wherever they are) and namespace. Safe to run on a half-made lab."""
    ns, prefix = namespace(lab), tap_prefix(lab)
    for link in _links(None):
        if link.startswith(prefix):
            run(["ip", "link", "del", link], check=False)
    if ns_exists(ns):
        for link in _links(ns):
            if link.startswith(prefix):
                run(["ip", "-n", ns, "link", "del", link], check=False)
        run(["ip", "netns", "del", ns], check=False)


def labs_with_namespace() -> list[str]:
    root = Path("/run/netns")
    return sorted(p.name[len(NS_PREFIX):] for p in root.glob(NS_PREFIX + "*")) if root.exists() else []
