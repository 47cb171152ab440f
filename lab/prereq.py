"""Checks that the host can run the lab, with a message that says what to install."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

APT_HINT = "apt-get install -y qemu-system-x86 qemu-utils mmdebstrap e2fsprogs iproute2 openssh-client"

TOOLS = {
    "qemu-system-x86_64": "qemu-system-x86",
    "qemu-img": "qemu-utils",
    "ip": "iproute2",
    "ssh": "openssh-client",
    "ssh-keygen": "openssh-client",
}
BUILD_TOOLS = {"mmdebstrap": "mmdebstrap", "mkfs.ext4": "e2fsprogs"}


class PrerequisiteError(RuntimeError):
    pass


def check(build: bool = False, space_dir: Path | None = None, space_gb: float = 0) -> None:
    problems = []
    if os.geteuid() != 0:
        problems.append("the lab needs root (network namespaces, taps, mmdebstrap): run it as root")
    tools = dict(TOOLS, **(BUILD_TOOLS if build else {}))
    missing = sorted({pkg for tool, pkg in tools.items() if shutil.which(tool) is None})
    if missing:
        problems.append(f"missing commands; install them with: apt-get install -y {' '.join(missing)}")
    if not Path("/dev/net/tun").exists():
        problems.append("/dev/net/tun is missing: the host kernel needs tun/tap support")
    if space_dir is not None and space_gb:
        probe = space_dir
        while not probe.exists():
            probe = probe.parent
        free_gb = shutil.disk_usage(probe).free / 2**30
        if free_gb < space_gb:
            problems.append(f"only {free_gb:.1f} GB free under {probe}; the lab needs {space_gb:.0f} GB there"
                            " (set LVS_LAB_CACHE / LVS_LAB_STATE to another disk)")
    if problems:
        raise PrerequisiteError("cannot run the lab:\n  - " + "\n  - ".join(problems)
                                + f"\n(on Debian/Ubuntu: {APT_HINT})")
