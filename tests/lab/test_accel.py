"""lab/accel.py: KVM only when a KVM guest proves it runs, TCG after an error, an exit or silence.

QEMU is replaced by small scripts that behave like the three cases met in practice (a working KVM
prints the kernel's first line; this machine's QEMU aborts with -cpu host, or hangs with other CPUs).
The real probe on this machine runs in test_real_probe_on_this_machine_falls_back_or_proves_kvm.
"""
from __future__ import annotations

import os
import stat
import time
from pathlib import Path

import pytest

from lab import accel, image

WORKS = """#!/bin/sh
for a in "$@"; do case "$a" in file:*) echo "[    0.000000] Linux version 6.1" > "${a#file:}";; esac; done
sleep 30
"""
ABORTS = """#!/bin/sh
echo "kvm.c:3183: kvm_buf_set_msrs: Assertion failed." >&2
exit 134
"""
HANGS = """#!/bin/sh
for a in "$@"; do case "$a" in file:*) : > "${a#file:}";; esac; done
echo $$ > "$FAKE_QEMU_PIDFILE"
exec sleep 300
"""
VERSION = 'if [ "$1" = --version ]; then echo "QEMU emulator version 0.0-test"; exit 0; fi\n'


def fake_qemu(tmp_path: Path, body: str, name: str = "qemu") -> str:
    path = tmp_path / name
    lines = body.splitlines(keepends=True)
    path.write_text(lines[0] + VERSION + "".join(lines[1:]))
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return str(path)


@pytest.fixture()
def machine(tmp_path, monkeypatch):
    """A device node stand-in and a cache folder of the test's own; no forced choice."""
    device = tmp_path / "kvm"
    device.write_text("")
    monkeypatch.setattr(accel, "KVM_DEVICE", str(device))
    monkeypatch.setenv("LVS_LAB_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("LVS_LAB_ACCEL", raising=False)
    kernel = tmp_path / "vmlinux"
    kernel.write_text("kernel")
    return kernel


def test_a_guest_that_prints_proves_kvm(machine, tmp_path):
    verdict, why = accel.probe(machine, fake_qemu(tmp_path, WORKS), seconds=10)
    assert verdict == "kvm", why


def test_an_aborting_qemu_falls_back_to_tcg_at_once(machine, tmp_path):
    verdict, why = accel.probe(machine, fake_qemu(tmp_path, ABORTS), seconds=10)
    assert verdict == "tcg" and "kvm_buf_set_msrs" in why


def test_a_silent_guest_falls_back_after_the_deadline_and_is_killed(machine, tmp_path, monkeypatch):
    pidfile = tmp_path / "qemu.pid"
    monkeypatch.setenv("FAKE_QEMU_PIDFILE", str(pidfile))
    started = time.monotonic()
    verdict, why = accel.probe(machine, fake_qemu(tmp_path, HANGS), seconds=1)
    assert verdict == "tcg" and "printed nothing" in why
    # killed at the deadline, not waited for: the fake would hang for 300 s
    assert time.monotonic() - started < 60, "the probe waited for a hanging QEMU instead of killing it"
    assert not Path(f"/proc/{pidfile.read_text().strip()}").exists(), "the hanging probe outlived it"


def test_a_changed_qemu_is_probed_again(machine, tmp_path):
    qemu = fake_qemu(tmp_path, WORKS)
    assert accel.choose(machine, qemu) == "kvm"
    # another QEMU (its --version differs) that aborts under KVM: the kept verdict no longer applies
    Path(qemu).write_text("#!/bin/sh\nexit 99\n")
    assert accel.choose(machine, qemu) == "tcg"
    assert '"accel": "tcg"' in (tmp_path / "cache" / "accel.json").read_text()


def test_same_machine_same_verdict_without_a_probe(machine, tmp_path, monkeypatch):
    qemu = fake_qemu(tmp_path, WORKS)
    assert accel.choose(machine, qemu) == "kvm"
    monkeypatch.setattr(accel, "probe", lambda *a, **k: pytest.fail("probed again"))
    assert accel.choose(machine, qemu) == "kvm"


def test_no_kvm_device_means_tcg_without_a_probe(machine, tmp_path, monkeypatch):
    monkeypatch.setattr(accel, "KVM_DEVICE", str(tmp_path / "missing"))
    monkeypatch.setattr(accel, "probe", lambda *a, **k: pytest.fail("probed without /dev/kvm"))
    assert accel.choose(machine, "qemu") == "tcg"


def test_forced_choices(machine, monkeypatch):
    monkeypatch.setattr(accel, "probe", lambda *a, **k: pytest.fail("probed a forced choice"))
    for forced in ("kvm", "tcg"):
        monkeypatch.setenv("LVS_LAB_ACCEL", forced)
        assert accel.choose(machine) == forced
    monkeypatch.setenv("LVS_LAB_ACCEL", "fast")
    with pytest.raises(ValueError, match="accepted values are auto, kvm, tcg"):
        accel.choose(machine)


def test_real_probe_on_this_machine_falls_back_or_proves_kvm():
    """The real QEMU and the image's kernel (make test builds it first): a verdict within the deadline
    either way, and no probe left running."""
    kernel = image.current().kernel
    assert kernel.is_file(), f"no guest kernel at {kernel}: run make image"
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        assert accel.choose(kernel) == "tcg"
        return
    verdict, why = accel.probe(kernel, seconds=accel.PROBE_SECONDS)
    print(f"KVM probe on this machine: {verdict} ({why})")
    assert verdict in ("kvm", "tcg")
    assert not [pid for pid, cmdline in processes() if b"lvs-kvm-probe-" in cmdline], "the probe outlived it"


def processes():
    """(pid, command line) of every process; one that ends while it is read is skipped."""
    for path in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            yield path.parent.name, path.read_bytes()
        except OSError:
            continue
