"""The guests' initramfs runs the lab's own /init (lab/guest/files/lab-initramfs-init), and when that
init cannot boot the guest it says why on the console and powers off: QEMU exits and the lab reports
the console at once, instead of waiting out an SSH deadline. That every cold boot gets through it is
shown by each lab and test that boots a guest cold (tests/lab/test_template.py power-cycles one)."""
from __future__ import annotations

import subprocess

from lab import accel, image

MARK = b"lab-initramfs: "


def test_the_image_initramfs_holds_the_lab_init():
    img = image.ensure()
    # Stored uncompressed (customize.sh), so the script's text is in the archive as written.
    found = MARK in img.initrd.read_bytes()
    assert found, f"{img.initrd}: not the lab's /init"


def test_an_init_that_cannot_boot_says_why_and_powers_off(tmp_path):
    img = image.ensure()
    console = tmp_path / "console.log"
    # No disk and no root= on the command line: the init must refuse at once.
    cmd = ["qemu-system-x86_64", *accel.qemu_args(accel.choose(img.kernel)), "-m", "256",
           "-nodefaults", "-no-user-config", "-display", "none", "-serial", f"file:{console}",
           "-kernel", str(img.kernel), "-initrd", str(img.initrd), "-append", "console=ttyS0 panic=-1"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        status = proc.wait(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    text = console.read_text(errors="replace")
    assert status == 0, f"QEMU status {status}; console:\n{text[-2000:]}"
    assert "lab-initramfs: no root=/dev/... on the kernel command line" in text, text[-2000:]
    assert "powering off" in text and "reboot: Power down" in text, text[-2000:]
