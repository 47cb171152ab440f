"""KVM where it works, software emulation (TCG) everywhere else.

Under KVM the guests run several times faster. But /dev/kvm existing proves little: on nested machines
like ours it opens, and the guest then hangs after the firmware. So the lab proves KVM once per machine:
it boots the image's kernel under KVM with no root and waits, bounded, for the kernel's first console
line. A line means KVM runs guest code; an error, an exit without the line, or silence until the
deadline means TCG. The verdict is kept in the image cache, keyed by what it depends on (QEMU, the host
kernel, the guest kernel), so the probe's few seconds are paid once.

LVS_LAB_ACCEL=kvm|tcg forces a choice (kvm then fails loudly where it does not work); auto is the default.
"""
from __future__ import annotations

import hashlib
import json
import os
import platform
import subprocess
import tempfile
import time
from pathlib import Path

from . import paths
from .proc import say

KVM_DEVICE = "/dev/kvm"
PROBE_SECONDS = 20.0
SIGN_OF_LIFE = b"Linux version"
# What each accelerator puts on QEMU's command line.
TCG_TB_SIZE_MB = 256  # without a cap each QEMU takes 1.1-1.6 GB for translated code
ARGS = {"kvm": ["-accel", "kvm", "-cpu", "host"],
        "tcg": ["-accel", f"tcg,thread=multi,tb-size={TCG_TB_SIZE_MB}", "-cpu", "max"]}


def qemu_args(accel: str) -> list[str]:
    return list(ARGS[accel])


def choose(kernel: Path, qemu: str = "qemu-system-x86_64") -> str:
    """'kvm' or 'tcg' for guests booting `kernel`."""
    forced = os.environ.get("LVS_LAB_ACCEL", "auto")
    if forced in ARGS:
        return forced
    if forced != "auto":
        raise ValueError(f"LVS_LAB_ACCEL={forced!r}: accepted values are auto, kvm, tcg")
    if not os.access(KVM_DEVICE, os.R_OK | os.W_OK):
        return "tcg"
    record = paths.cache_dir() / "accel.json"
    key = _probe_key(kernel, qemu)
    try:
        known = json.loads(record.read_text())
        if known.get("key") == key:
            return known["accel"]
    except (OSError, ValueError, KeyError):
        pass
    accel, why = probe(kernel, qemu)
    say(f"accelerator: {accel} ({why})")
    record.parent.mkdir(parents=True, exist_ok=True)
    record.write_text(json.dumps({"key": key, "accel": accel, "why": why}))
    return accel


def probe(kernel: Path, qemu: str = "qemu-system-x86_64", seconds: float = PROBE_SECONDS) -> tuple[str, str]:
    """Boot `kernel` under KVM, no disk, no network; ('kvm'|'tcg', why)."""
    with tempfile.TemporaryDirectory(prefix="lvs-kvm-probe-") as tmp:
        console = Path(tmp) / "console.log"
        cmd = [qemu, *ARGS["kvm"], "-m", "256", "-nodefaults", "-no-user-config", "-display", "none",
               "-no-reboot", "-serial", f"file:{console}", "-kernel", str(kernel),
               "-append", "console=ttyS0 panic=-1"]
        started = time.monotonic()
        try:
            proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.PIPE)
        except OSError as exc:
            return "tcg", f"KVM probe could not start QEMU: {exc}"
        try:
            while time.monotonic() - started < seconds:
                if console.is_file() and SIGN_OF_LIFE in console.read_bytes():
                    return "kvm", f"a KVM guest printed its first line after {time.monotonic() - started:.1f} s"
                if proc.poll() is not None:
                    err = proc.stderr.read().decode(errors="replace").strip().splitlines()
                    return "tcg", f"QEMU under KVM exited ({proc.returncode}): {err[-1] if err else 'no message'}"
                time.sleep(0.1)
            return "tcg", f"a KVM guest printed nothing in {seconds:.0f} s (nested KVM that hangs)"
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
            proc.stderr.close()


def qemu_version(qemu: str = "qemu-system-x86_64") -> str:
    """QEMU's version line(s), or "none" when it cannot run: part of what a cached verdict or a saved
    guest (template.py) depends on."""
    try:
        return subprocess.run([qemu, "--version"], capture_output=True, text=True, check=False).stdout.strip()
    except OSError:
        return "none"


def _probe_key(kernel: Path, qemu: str) -> str:
    parts = [qemu_version(qemu), platform.release(), str(kernel.resolve()), str(os.stat(KVM_DEVICE).st_rdev)]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]
