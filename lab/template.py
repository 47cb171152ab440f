"""A guest booted once per image and saved; lab guests are restored from it instead of booted.

Under software emulation a cold boot costs a guest about 20 s of one core (kernel, initramfs, systemd,
sshd), and every lab guest boots the same image and kernel: only its identity differs (hostname, SSH
key, NICs, addresses, routes). So the lab boots one guest per image with its management NIC only, saves
the running machine (QEMU's migration stream, beside the disk overlay it had, which stays frozen) and
starts each lab guest from that stream: QEMU loads it in about a second. Each guest's own QEMU command
line is its cold-boot one plus -incoming, so its lab NICs sit at the PCI slots a cold boot gives them;
the restored kernel finds them with a PCI rescan, and lab-init gives the guest its identity over SSH
from the words of its own kernel command line (LAB_CMDLINE: /proc/cmdline is still the template's).

Still real boots: power_on() after power_off(), and a reboot inside the guest (QEMU then boots the
kernel with the guest's own command line). What reboot tests prove is never a restore.

Shared by the clones of one template, as the SSH host keys already are by the guests of one image: the
boot_id and machine-id. Not shared: randomness (every QEMU start gives vmgenid a new generation ID, and
Linux reseeds its pool when it changes) and the clock, which finish() sets from the host's.

LVS_LAB_BOOT=cold boots every guest as before; auto (the default) restores when a template can be made
for this image, QEMU and accelerator, and says why when it cannot.
"""
from __future__ import annotations

import fcntl
import hashlib
import importlib.metadata
import json
import os
import shlex
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from . import accel as accel_mod
from . import inventory as inventory_mod
from . import vm
from .image import Image
from .proc import run, say

FORMAT = 1  # bump when what a template holds or how a guest is finished changes
SAVE_DEADLINE = 120  # seconds for QEMU to write the stream
MODES = ("auto", "cold")
KEEP = 3  # templates kept per image (about 190 MB each); see _prune
# Page cache the first task on every guest would otherwise read from disk under emulation: Python and
# the standard library the modules import, and pyroute2 in the modules' venv. Warmed once, restored free.
WARM_UP = ("python3 -c 'import json, zipfile, tempfile, shutil, subprocess, shlex, ipaddress, socket, "
           "struct, select, hashlib, fcntl, glob, platform, locale, runpy' && "
           "/opt/lvs-cluster/venv/bin/python -c 'import pyroute2' 2>/dev/null; sync")
# The first Ansible task on each interpreter of a fresh guest costs 20-35 s under TCG against 5 s for
# the next ones: it compiles ansible-core's module_utils (lab_zipimport_cache.py keeps the bytecode) and
# starts the interpreter's module zygote (lab_module_zygote.py). Tasks run on the template before it is
# saved leave both behind, so every restored guest starts warm. The zygote checks each warm file against
# every task's payload, so a controller with another ansible-core only loses the head start.
INTERPRETERS = ("/usr/bin/python3", "/opt/lvs-cluster/venv/bin/python")
WARM_MODULES = (("ping", ""), ("setup", "gather_subset=!all,!min,network"))


@dataclass
class Template:
    folder: Path

    @property
    def disk(self) -> Path:
        return self.folder / "disk.qcow2"

    @property
    def state(self) -> Path:
        return self.folder / "state"

    @property
    def key(self) -> Path:
        return self.folder / "id_ed25519"

    def incoming_args(self) -> list[str]:
        return ["-incoming", "exec:cat " + shlex.quote(str(self.state))]


def mode() -> str:
    chosen = os.environ.get("LVS_LAB_BOOT", "auto")
    if chosen not in MODES:
        raise ValueError(f"LVS_LAB_BOOT={chosen!r}: accepted values are {', '.join(MODES)}")
    return chosen


def template_key(img: Image, accel: str) -> str:
    """What a saved machine depends on: the image, QEMU, the accelerator and the machine it was given."""
    parts = [img.folder.name, accel_mod.qemu_version(), accel, str(vm.MEMORY_MB), vm.KERNEL_ARGS, vm.MGMT_MAC, str(FORMAT),
             _ansible_version() or "no ansible"]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def ensure(img: Image, accel: str) -> Template | None:
    """The image's template for `accel`, made now if missing; None (and why, once) when guests must boot
    cold. Labs starting at once wait for one another's build instead of building twice."""
    if mode() == "cold":
        return None
    key = template_key(img, accel)
    folder = img.folder / f"template-{key}"
    failed = img.folder / f"template-{key}.failed"
    with open(img.folder / "template.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (folder / "template.json").is_file():
            (folder / "template.json").touch()  # in use: pruned last
            return Template(folder)
        if failed.is_file():
            return None
        _prune(img.folder)
        try:
            return build(img, accel, folder)
        except (RuntimeError, OSError, TimeoutError) as exc:
            failed.write_text(str(exc))
            say(f"template: none for this image ({exc}); guests boot cold")
            return None


def _prune(folder: Path, keep: int = KEEP) -> None:
    """Leave room for one more template: keep the `keep - 1` used last, and what a build still writes.
    Never all: a running lab's guests lie on their template's disk (a power-on opens it again), and two
    checkouts of different versions on one machine each want their own."""
    done = sorted((t for t in folder.glob("template-*") if (t / "template.json").is_file()),
                  key=lambda t: (t / "template.json").stat().st_mtime, reverse=True)
    for old in done[keep - 1:]:
        shutil.rmtree(old, ignore_errors=True)
    for partial in folder.glob("template-*.tmp-*"):
        pid = partial.name.rsplit("-", 1)[-1]
        if not (pid.isdigit() and Path(f"/proc/{pid}").exists()):
            shutil.rmtree(partial, ignore_errors=True)


def build(img: Image, accel: str, folder: Path) -> Template:
    """Boot the template guest, warm it, save it while it runs, and keep the stream with its disk."""
    started = time.monotonic()
    work = folder.with_name(folder.name + f".tmp-{os.getpid()}")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    tpl = Template(work)
    run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "lvs-lab-template", "-f", str(tpl.key)])
    guest = vm.Guest(lab="template", name=work.name[:40], index=0, ssh_port=vm.free_port(), overlay=tpl.disk,
                     pidfile=work / "qemu.pid", console=work / "console.log",
                     nics=[(vm.MGMT_MAC, "eth0", [f"{vm.MGMT_GUEST}/28"], None)])
    run(["qemu-img", "create", "-q", "-f", "qcow2", "-b", str(img.disk), "-F", "qcow2", str(tpl.disk)])
    qmp_path = work / "qmp.sock"
    cmd = vm.command(guest, img, tpl.key.with_suffix(".pub").read_text(), [], accel, daemonize=False)
    cmd += ["-qmp", f"unix:{qmp_path},server=on,wait=off"]
    say(f"template: booting the guest to save ({accel})")
    with open(work / "qemu.log", "w") as log:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
    try:
        while not guest.pidfile.is_file():  # written by QEMU itself once it runs
            if proc.poll() is not None:
                raise RuntimeError(f"QEMU exited ({proc.returncode}): {(work / 'qemu.log').read_text()[-500:]}")
            time.sleep(0.05)
        vm.wait_ssh(guest, tpl.key, time.monotonic() + 600)
        subprocess.run(vm.ssh_base(guest.ssh_port, tpl.key) + [WARM_UP], capture_output=True, timeout=300,
                       check=False)
        _warm_ansible(guest.ssh_port, tpl.key, work)
        status = _save(qmp_path, tpl.state)
        if status.get("status") != "completed":
            raise RuntimeError(f"QEMU did not save the guest: {status}; {(work / 'qemu.log').read_text()[-500:]}")
        _qmp(qmp_path, {"execute": "quit"})
        proc.wait(timeout=60)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    for name in ("qmp.sock", "qemu.pid"):
        (work / name).unlink(missing_ok=True)
    record = {"key": folder.name, "accel": accel, "build_seconds": round(time.monotonic() - started, 1),
              "state_mb": round(tpl.state.stat().st_size / 2**20, 1)}
    (work / "template.json").write_text(json.dumps(record, indent=2))
    work.rename(folder)
    say(f"template: saved in {record['build_seconds']} s ({record['state_mb']} MB)")
    return Template(folder)


def _ansible_version() -> str | None:
    try:
        return importlib.metadata.version("ansible-core")
    except importlib.metadata.PackageNotFoundError:
        return None


def _warm_ansible(port: int, key: Path, work: Path) -> None:
    """Run the warming tasks on the template with this controller's Ansible, when there is one."""
    ansible = Path(sys.executable).parent / "ansible"
    if _ansible_version() is None or not ansible.is_file():
        say("template: no Ansible beside this Python; saved without warm module zygotes")
        return
    inventory = work / "inventory.ini"
    inventory.write_text(f"template ansible_host=127.0.0.1 ansible_port={port} ansible_user=root "
                         f"ansible_ssh_private_key_file={key} ansible_ssh_pipelining=true "
                         f"ansible_ssh_common_args='{inventory_mod.SSH_ARGS}'\n")
    env = dict(os.environ, ANSIBLE_HOST_KEY_CHECKING="False", ANSIBLE_NOCOLOR="1")
    # The SSH control master these runs share ends when the template's QEMU quits (its connection closes).
    try:
        for interpreter in INTERPRETERS:
            for module, args in WARM_MODULES:
                proc = subprocess.run([str(ansible), "template", "-i", str(inventory), "-m", module, "-a", args,
                                       "-e", f"ansible_python_interpreter={interpreter}"],
                                      capture_output=True, text=True, timeout=600, env=env, check=False)
                if proc.returncode != 0:
                    raise RuntimeError(f"warming {module} on {interpreter} failed: {proc.stdout[-500:]}")
    finally:
        inventory.unlink()


def _save(qmp_path: Path, state: Path) -> dict:
    """Migrate the running guest into `state`; the status QEMU ends with."""
    uri = "exec:cat > " + shlex.quote(str(state))
    _qmp(qmp_path, {"execute": "migrate", "arguments": {"uri": uri}})
    deadline = time.monotonic() + SAVE_DEADLINE
    while time.monotonic() < deadline:
        status = _qmp(qmp_path, {"execute": "query-migrate"})
        if status.get("status") not in ("setup", "active", "device", None):
            return status
        time.sleep(0.2)
    raise TimeoutError(f"QEMU did not finish saving the guest in {SAVE_DEADLINE} s")


def _qmp(path: Path, command: dict) -> dict:
    """One QMP command on a fresh connection; its return value (events in between are skipped)."""
    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(30)
        sock.connect(str(path))
        stream = sock.makefile("rw")
        stream.readline()  # the greeting
        for message in ({"execute": "qmp_capabilities"}, command):
            stream.write(json.dumps(message) + "\n")
            stream.flush()
            while True:
                reply = json.loads(stream.readline())
                if "event" not in reply:
                    break
            if "error" in reply:
                raise RuntimeError(f"QMP {message['execute']}: {reply['error'].get('desc')}")
        return reply.get("return", {})


def finish(guest: vm.Guest, saved: Template, append: str, deadline: float) -> None:
    """Give a guest restored from `saved` its own identity: the lab NICs found, the clock set, lab-init run
    with the guest's command line (its SSH key then replaces the template's)."""
    vm.wait_ssh(guest, saved.key, deadline)
    words = shlex.quote(append)
    script = ("set -e; echo 1 > /sys/bus/pci/rescan; echo ready; read -r now; date -s \"@$now\" > /dev/null; "
              f"LAB_CMDLINE={words} /usr/local/sbin/lab-init identity; "
              f"LAB_CMDLINE={words} /usr/local/sbin/lab-init network")
    with subprocess.Popen(vm.ssh_base(guest.ssh_port, saved.key) + [script], stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as proc:
        # the host's time at the moment the guest asks for it, not when the command was sent
        if proc.stdout.readline().strip() == "ready":
            proc.stdin.write(f"{time.time():.3f}\n")
            proc.stdin.flush()
        try:
            out, err = proc.communicate(timeout=max(10.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            raise TimeoutError(f"{guest.name}: the restored guest did not take its identity in time")
    if proc.returncode != 0:
        raise RuntimeError(f"{guest.name}: the restored guest did not take its identity "
                           f"(status {proc.returncode}): {(out + err).strip()[-500:]}")
