"""Up and down of a whole lab. `up` first clears whatever a killed run left under the same name."""
from __future__ import annotations

import hashlib
import json
import shutil
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from . import accel as accel_mod
from . import image as image_mod
from . import inventory, net, paths, prereq, template, vm
from .proc import CommandError, run, say
from .topology import Topology

PORT_ATTEMPTS = 5
BOOT_DEADLINE = 600  # seconds; emulated guests on a busy machine can be slow, never flaky


def up(topo: Topology, lab: str, replace: bool = False) -> dict:
    """Boot the lab. A running lab of the same name is someone's (a developer's kept lab, another test
    run): it is refused unless `replace`; what a dead one left behind is cleaned up."""
    prereq.check(space_dir=paths.state_root(), space_gb=1)
    running = vm.lab_processes(lab)
    if running and not replace:
        raise RuntimeError(f"lab {lab} is running ({len(running)} guests); take it down first "
                           f"(python -m lab down {lab}) or start this one under another name")
    down(lab, quiet=True)
    img = image_mod.ensure()
    accel = accel_mod.choose(img.kernel)
    saved = template.ensure(img, accel)
    state = paths.state_dir(lab)
    state.mkdir(parents=True)
    started = time.monotonic()
    record = {"lab": lab, "topology": topo.name, "namespace": net.namespace(lab), "accel": accel,
              "boot": "restore" if saved else "cold", "hosts": {}}
    _save(state, record)
    key = state / "id_ed25519"
    run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"lvs-lab-{lab}", "-f", str(key)])
    pubkey = key.with_suffix(".pub").read_text()
    try:
        net.create(topo, lab)
        guests = _start_guests(topo, lab, img, state, pubkey, record, accel, saved)
        say(f"{lab}: {len(guests)} guests {'restored' if saved else 'started'} ({accel}); waiting for SSH")
        deadline = time.monotonic() + BOOT_DEADLINE
        with ThreadPoolExecutor(max_workers=len(guests)) as pool:
            ready = dict(zip(guests, pool.map(lambda g: _ready(lab, g, key, saved, record, deadline),
                                              guests.values())))
        for name, guest in guests.items():
            record["hosts"][name]["ssh_ready_s"] = round(ready[name] - started, 1)
        record["up_seconds"] = round(max(ready.values()) - started, 1)
        inv = inventory.build(topo, lab, {n: g.ssh_port for n, g in guests.items()}, key, img.wheels)
        record["inventory"] = str(inventory.write(inv, state))
        _save(state, record)
    except BaseException:
        say(f"{lab}: up failed; removing what it made (console logs kept in {state})")
        _teardown(lab, keep_logs=True)
        raise
    say(f"{lab}: up in {record['up_seconds']} s; inventory {record['inventory']}")
    return record


def _ready(lab: str, guest: vm.Guest, key: Path, saved, record: dict, deadline: float) -> float:
    """When `guest` answers SSH with the lab's key; a restored guest is first given its identity, and one
    that cannot take it is booted cold instead (and says why)."""
    entry = record["hosts"][guest.name]
    if entry["boot"] == "restore":
        append = entry["command"][entry["command"].index("-append") + 1]
        try:
            template.finish(guest, saved, append, deadline)
        except (RuntimeError, TimeoutError, OSError) as exc:
            say(f"{lab}: {guest.name} could not be restored ({exc}); booting it cold")
            vm.power_off(lab, guest.name)
            power_on(lab, guest.name, wait=False, record=record)
            entry["boot"] = "cold after a failed restore"
    return vm.wait_ssh(guest, key, deadline)


def _start_guests(topo: Topology, lab: str, img, state: Path, pubkey: str, record: dict, accel: str,
                  saved) -> dict:
    lab_byte = hashlib.sha1(lab.encode()).digest()[0]
    guests = {}
    for index, host in enumerate(topo.hosts.values(), start=1):
        nics = [(vm.MGMT_MAC, "eth0", [f"{vm.MGMT_GUEST}/28"], None)]
        for n, nic in enumerate(host.nics, start=1):
            tap = net.tap_name(lab, index, n)
            net.create_tap(tap)
            nics.append((vm.mac(lab_byte, index, n), nic.interface, [str(a) for a in nic.addresses], tap))
        # A free port can be taken by another lab starting at the same moment before QEMU binds it:
        # QEMU then refuses the forward, and the guest gets another port.
        for attempt in range(PORT_ATTEMPTS):
            guest = vm.Guest(lab=lab, name=host.name, index=index, ssh_port=vm.free_port(),
                             overlay=state / f"{host.name}.qcow2", pidfile=state / f"{host.name}.pid",
                             console=state / f"{host.name}.console.log", nics=nics)
            try:
                pid, cmd = vm.start(guest, img, pubkey, list(host.routes), accel, saved)
                break
            except CommandError as err:
                if "host forwarding" not in str(err) or attempt == PORT_ATTEMPTS - 1:
                    raise
        taps = [[tap, nic.lan] for (_, _, _, tap), nic in zip(nics[1:], host.nics)]
        # the command and taps are kept so that power_on() can boot this guest again from its own disk
        record["hosts"][host.name] = {"pid": pid, "ssh_port": guest.ssh_port, "command": cmd, "taps": taps,
                                      "pidfile": str(guest.pidfile), "console": str(guest.console),
                                      "boot": "restore" if saved else "cold"}
        _save(state, record)
        for tap, lan in taps:
            net.attach_tap(lab, tap, lan)
        guests[host.name] = guest
    return guests


def power_off(lab: str, host: str) -> None:
    """Hard power-off of one guest (QEMU killed); its disk and network stay for power_on()."""
    _host_record(lab, host)  # refuses a host the lab does not have
    if not vm.power_off(lab, host):
        raise RuntimeError(f"{lab}: {host} is not running")
    say(f"{lab}: {host} powered off")


def power_on(lab: str, host: str, wait: bool = True, record: dict | None = None) -> float:
    """Boot a powered-off guest again from its own disk; returns seconds until SSH answers (or 0)."""
    record = record or _host_record(lab, host)
    entry = record["hosts"][host]
    if vm.process_name(lab, host) in vm.lab_processes(lab).values():
        raise RuntimeError(f"{lab}: {host} is already running")
    started = time.monotonic()
    for tap, _lan in entry["taps"]:  # QEMU opens its tap in our namespace, then we move it to the lab's
        net.delete_tap(lab, tap)
        net.create_tap(tap)
    entry["pid"] = vm.boot(entry["command"], Path(entry["pidfile"]))
    for tap, lan in entry["taps"]:
        net.attach_tap(lab, tap, lan)
    _save(paths.state_dir(lab), record)
    if not wait:
        return 0.0
    guest = vm.Guest(lab=lab, name=host, index=0, ssh_port=entry["ssh_port"], overlay=Path(),
                     pidfile=Path(entry["pidfile"]), console=Path(entry["console"]), nics=[])
    ready = vm.wait_ssh(guest, paths.state_dir(lab) / "id_ed25519", time.monotonic() + BOOT_DEADLINE)
    say(f"{lab}: {host} powered on, SSH after {ready - started:.1f} s")
    return ready - started


def _host_record(lab: str, host: str) -> dict:
    path = paths.state_dir(lab) / "state.json"
    if not path.exists():
        raise RuntimeError(f"no running lab {lab}")
    record = json.loads(path.read_text())
    if host not in record["hosts"] or "command" not in record["hosts"][host]:
        raise RuntimeError(f"{lab}: no host {host} (or the lab was started by an older version)")
    return record


def down(lab: str, quiet: bool = False) -> list[str]:
    """Stop every QEMU of the lab, remove taps, namespace and state. Works after a crash: it finds what
    to remove by name, not only from the state file."""
    found = bool(vm.lab_processes(lab)) or net.ns_exists(net.namespace(lab)) or paths.state_dir(lab).exists()
    stopped = _teardown(lab, keep_logs=False)
    if found and not quiet:
        say(f"{lab}: down (stopped {', '.join(stopped) or 'no guests'})")
    elif found:
        say(f"{lab}: cleared a stale lab left by an earlier run")
    return stopped


def _teardown(lab: str, keep_logs: bool) -> list[str]:
    stopped = vm.stop_all(lab)
    net.destroy(lab)
    state = paths.state_dir(lab)
    if state.exists():
        if keep_logs:
            for path in state.iterdir():
                if not path.name.endswith(".console.log"):
                    path.unlink() if path.is_file() else shutil.rmtree(path)
        else:
            shutil.rmtree(state)
    return stopped


def down_all() -> list[str]:
    labs = set(net.labs_with_namespace())
    labs.update(name[len(vm.PROCESS_PREFIX):].split(".")[0] for name in vm.lab_processes().values())
    if paths.state_root().exists():
        labs.update(p.name for p in paths.state_root().iterdir() if p.is_dir())
    for lab in sorted(labs):
        down(lab)
    return sorted(labs)


def status(lab: str) -> dict | None:
    path = paths.state_dir(lab) / "state.json"
    if not path.exists():
        return None
    record = json.loads(path.read_text())
    for host in record.get("hosts", {}).values():
        try:
            host["peak_rss_mb"] = round(vm.peak_rss_mb(host["pid"]), 1)
            host["running"] = True
        except OSError:
            host["running"] = False
    return record


def _save(state: Path, record: dict) -> None:
    tmp = state / f"state.json.tmp-{threading.get_ident()}"  # guests are readied in threads
    tmp.write_text(json.dumps(record, indent=2))
    tmp.replace(state / "state.json")
