"""QEMU guests under software emulation (TCG): start, wait for SSH, stop.

Every QEMU process carries the name `lvslab-<lab>.<host>`, so a lab left behind by a killed run is found
and stopped from the process table even when its state file is gone.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from . import accel as accel_mod
from .image import Image
from .proc import run

# Management network: QEMU user networking, one private copy per guest, restricted (the guest reaches
# nothing outside); the controller reaches sshd through a 127.0.0.1 port forward. Documentation range.
MGMT_NET = "203.0.113.240/28"
MGMT_HOST = "203.0.113.241"
MGMT_GUEST = "203.0.113.242"
# One MAC for every guest's management NIC: each sits alone on a user network of its own, and a guest
# restored from the saved template (template.py) keeps the template's.
MGMT_MAC = "52:54:00:00:00:01"
MEMORY_MB = 512
PROCESS_PREFIX = "lvslab-"
KERNEL_ARGS = ("root=/dev/vda rw console=ttyS0 net.ifnames=0 mitigations=off "
               # No address-space randomisation (lab guests only): every process then maps its libraries
               # where the last one did, and TCG reuses the code it already translated instead of
               # translating Python again for each module run (12 Ansible pings: 17.2 s against 21.3 s).
               "norandmaps "
               "systemd.show_status=0 systemd.journald.forward_to_console=1 8250.nr_uarts=1 tsc=reliable no_timer_check "
               # Drivers for emulated hardware the lab never uses: loading them costs seconds under TCG.
               "modprobe.blacklist=floppy,pcspkr,ata_piix,ata_generic,pata_acpi,kvm,kvm_amd,kvm_intel,"
               "i2c_piix4,serio_raw,joydev,psmouse,sr_mod,cdrom,aesni_intel,crypto_simd,cryptd,ghash_clmulni_intel")


@dataclass
class Guest:
    lab: str
    name: str
    index: int
    ssh_port: int
    overlay: Path
    pidfile: Path
    console: Path
    # (mac, interface name, [addresses], tap or None for management)
    nics: list

    @property
    def process_name(self) -> str:
        return process_name(self.lab, self.name)


def process_name(lab: str, host: str) -> str:
    """The -name a guest's QEMU carries: how a lab finds its processes without a state file."""
    return f"{PROCESS_PREFIX}{lab}.{host}"


def mac(lab_byte: int, host_index: int, nic_index: int) -> str:
    return f"52:54:00:{lab_byte:02x}:{host_index:02x}:{nic_index:02x}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def command(guest: Guest, image: Image, pubkey: str, routes: list, accel: str = "tcg",
            daemonize: bool = True) -> list[str]:
    """The QEMU command line that cold-boots `guest`. A restore (template.py) adds -incoming to it: the
    devices up to the management NIC, and the machine, must stay those of the saved template."""
    cmd = ["qemu-system-x86_64", "-name", f"{guest.process_name},process={guest.process_name}",
           *accel_mod.qemu_args(accel), "-smp", "1", "-m", str(MEMORY_MB),
           "-nodefaults", "-no-user-config", "-display", "none", "-vga", "none",
           "-serial", f"file:{guest.console}", *(["-daemonize"] if daemonize else []), "-pidfile", str(guest.pidfile),
           "-kernel", str(image.kernel), "-initrd", str(image.initrd),
           "-drive", f"file={guest.overlay},if=none,id=root,format=qcow2,cache=unsafe,discard=unmap",
           "-device", "virtio-blk-pci,drive=root,addr=0x2",
           # A new generation ID at every QEMU start: Linux reseeds its random pool when a restored guest
           # sees it change, so clones of one saved guest do not share their randomness.
           "-device", "vmgenid,guid=auto"]
    return cmd + nic_args(guest.nics, guest.ssh_port) + ["-append", " ".join(append_words(guest, pubkey, routes))]


def append_words(guest: Guest, pubkey: str, routes: list) -> list[str]:
    """The kernel command line: KERNEL_ARGS, then the words lab-init reads (the guest's identity)."""
    key_type, key_blob = pubkey.split()[:2]
    words = [KERNEL_ARGS, f"lab.host={guest.name}", f"lab.key={key_type}:{key_blob}"]
    words += [f"lab.if={nic_mac},{ifname}" + "".join(f",{a}" for a in addrs) for nic_mac, ifname, addrs, _tap in guest.nics]
    return words + [f"lab.route={dest},{via}" for dest, via in routes]


def nic_args(nics: list, ssh_port: int) -> list[str]:
    cmd = []
    for slot, (nic_mac, _ifname, _addrs, tap) in enumerate(nics, start=3):
        netdev = f"n{slot}"
        if tap is None:
            cmd += ["-netdev", f"user,id={netdev},restrict=on,ipv6=off,net={MGMT_NET},host={MGMT_HOST},"
                               f"hostfwd=tcp:127.0.0.1:{ssh_port}-{MGMT_GUEST}:22"]
        else:
            cmd += ["-netdev", f"tap,id={netdev},ifname={tap},script=no,downscript=no"]
        # Pinned PCI slots and MACs: the guest's lab-init names each NIC by its MAC.
        cmd += ["-device", f"virtio-net-pci,netdev={netdev},mac={nic_mac},addr={slot:#x}"]
    return cmd


def start(guest: Guest, image: Image, pubkey: str, routes: list, accel: str = "tcg",
          saved=None) -> tuple[int, list[str]]:
    """A new overlay and a started guest: (pid, the cold-boot command, kept to power the guest on again).
    With `saved` (a template.Template) the guest is restored from it instead of booted: its overlay then
    lies on the template's disk, and template.finish() must give it its identity."""
    backing = saved.disk if saved else image.disk
    run(["qemu-img", "create", "-q", "-f", "qcow2", "-b", str(backing), "-F", "qcow2", str(guest.overlay)])
    cmd = command(guest, image, pubkey, routes, accel)
    return boot(cmd + (saved.incoming_args() if saved else []), guest.pidfile), cmd


def boot(cmd: list[str], pidfile: Path) -> int:
    """Run a (daemonizing) QEMU command line; the guest's disk overlay is whatever it left last time."""
    run(cmd)
    return int(pidfile.read_text().strip())


def power_off(lab: str, host: str) -> list[int]:
    """Pull the plug: SIGKILL, no shutdown inside the guest (what a crashed or unplugged host does)."""
    name = process_name(lab, host)
    pids = [pid for pid, proc_name in lab_processes(lab).items() if proc_name == name]
    for pid in pids:
        _signal(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(alive(pid) for pid in pids):
        time.sleep(0.1)
    return pids


def ssh_base(port: int, key: Path) -> list[str]:
    return ["ssh", "-p", str(port), "-i", str(key), "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
            "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=10",
            "root@127.0.0.1"]


def wait_ssh(guest: Guest, key: Path, deadline: float) -> float:
    """Poll until sshd in the guest runs a command; returns the monotonic time it first did."""
    while True:
        alive = _pid_alive(guest.pidfile)
        if not alive:
            raise RuntimeError(f"{guest.name}: QEMU exited during boot; console log: {guest.console}")
        probe = subprocess.run(ssh_base(guest.ssh_port, key) + ["true"], capture_output=True, timeout=60)
        if probe.returncode == 0:
            return time.monotonic()
        if time.monotonic() > deadline:
            raise TimeoutError(f"{guest.name}: no SSH on 127.0.0.1:{guest.ssh_port} before the deadline; "
                               f"console log: {guest.console}")
        time.sleep(0.5)


def _pid_alive(pidfile: Path) -> bool:
    try:
        pid = int(pidfile.read_text().strip())
        os.kill(pid, 0)
        return True
    except (OSError, ValueError):
        return False


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def lab_processes(lab: str | None = None) -> dict[int, str]:
    """QEMU processes of one lab (or of every lab), found by the name they carry: pid -> name."""
    found = {}
    marker = f"{PROCESS_PREFIX}{lab}." if lab else PROCESS_PREFIX
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            args = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if not args or not args[0].endswith(b"qemu-system-x86_64"):
            continue
        for i, arg in enumerate(args[:-1]):
            if arg == b"-name" and args[i + 1].decode(errors="replace").startswith(marker):
                found[int(proc.name)] = args[i + 1].decode(errors="replace").split(",")[0]
    return found


def stop_all(lab: str | None, timeout: float = 10) -> list[str]:
    procs = lab_processes(lab)
    for pid in procs:
        _signal(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(alive(pid) for pid in procs):
        time.sleep(0.2)
    for pid in procs:
        if alive(pid):
            _signal(pid, signal.SIGKILL)
    return sorted(procs.values())


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    # A zombie is gone for our purposes.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def _signal(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except OSError:
        pass
