"""Build and cache the guest image: Debian bookworm, Debian's kernel (IPVS, ipip, dummy), sshd, python3,
ipvsadm, keepalived, curl, nginx, and the pyroute2 wheel handed over from the controller.

The cache key is a hash of the recipe (package list, customize hook, guest files, wheel pins), so an image
is rebuilt only when the recipe changes. A build goes into a temporary folder and is renamed into place
only when complete: a killed build never leaves a half image that looks ready.
"""
from __future__ import annotations

import hashlib
import json
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from . import paths, prereq, pvh
from .proc import run, say

SUITE = "bookworm"
# pyroute2 >= 0.9.6 is what our modules need on the targets; distro packages are far older.
WHEELS = ["pyroute2==0.9.7"]
# The pyroute2 role's own installer: the image carries pyroute2 installed where the role would put it
# (roles/pyroute2/defaults: pyroute2_venv), so a converge finds it ready; the day2 integration target
# and the operations scenario remove it and have both roles install it again, which keeps that path tested.
WHEEL_INSTALLER = paths.REPO / "roles" / "pyroute2" / "files" / "install_wheel.py"
DISK_SIZE = "2G"
FORMAT = 2  # bump when the build steps below change in a way the recipe files do not show
MACHINE_SOURCES = Path("/etc/apt/sources.list.d/debian.sources")
# Docs, man pages and translations are dead weight in a lab guest.
DPKG_EXCLUDES = ["/usr/share/doc/*", "/usr/share/man/*", "/usr/share/locale/*", "/usr/share/info/*"]


@dataclass(frozen=True)
class Image:
    folder: Path

    @property
    def disk(self) -> Path:
        return self.folder / "base.qcow2"

    @property
    def kernel(self) -> Path:
        """The uncompressed kernel when the build could make one (see pvh.py), else the bzImage."""
        vmlinux = self.folder / "vmlinux"
        return vmlinux if vmlinux.is_file() else self.folder / "vmlinuz"

    @property
    def initrd(self) -> Path:
        return self.folder / "initrd.img"

    @property
    def wheels(self) -> Path:
        return self.folder / "wheels"

    def ready(self) -> bool:
        return (self.folder / "recipe.json").is_file() and self.disk.is_file()


def packages() -> list[str]:
    lines = (paths.GUEST_RECIPE / "packages.txt").read_text().splitlines()
    return [ln.strip() for ln in lines if ln.strip() and not ln.startswith("#")]


def recipe_key() -> str:
    digest = hashlib.sha256()
    digest.update(json.dumps({"suite": SUITE, "wheels": WHEELS, "size": DISK_SIZE, "format": FORMAT,
                              "excludes": DPKG_EXCLUDES}).encode())
    for path in sorted(paths.GUEST_RECIPE.rglob("*")):
        if path.is_file():
            digest.update(str(path.relative_to(paths.GUEST_RECIPE)).encode())
            digest.update(path.read_bytes())
    digest.update(WHEEL_INSTALLER.read_bytes())
    return digest.hexdigest()[:16]


def current() -> Image:
    return Image(paths.cache_dir() / f"image-{recipe_key()}")


def ensure() -> Image:
    """The image for the current recipe, built first if the cache lacks it."""
    image = current()
    if image.ready():
        return image
    return build()


def build() -> Image:
    image = current()
    prereq.check(build=True, space_dir=paths.cache_dir(), space_gb=4)
    paths.cache_dir().mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="build-", dir=paths.cache_dir()))
    started = time.monotonic()
    try:
        wheels = work / "wheels"
        say(f"image {image.folder.name}: fetching wheels {WHEELS} on the controller")
        run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
             "--dest", str(wheels), *WHEELS])
        shutil.copy(WHEEL_INSTALLER, wheels / "install_wheel.py")
        rootfs = work / "rootfs"
        say(f"image: bootstrapping Debian {SUITE} with {len(packages())} packages (mmdebstrap, about 1-2 min)")
        hook = (f'sh {paths.GUEST_RECIPE / "customize.sh"} "$1" '
                f'{paths.GUEST_RECIPE / "files"} {wheels}')
        cmd = ["mmdebstrap", "--variant=apt", "--mode=root", "--include=" + ",".join(packages()),
               *[f"--dpkgopt=path-exclude={p}" for p in DPKG_EXCLUDES],
               "--customize-hook=" + hook, SUITE, str(rootfs)]
        # The machine's own apt sources (same mirror as the host); without them mmdebstrap's default.
        if MACHINE_SOURCES.is_file():
            cmd.append(str(MACHINE_SOURCES))
        run(cmd, capture=False)  # mmdebstrap prints its own progress
        _extract_boot(rootfs, work)
        say("image: writing the ext4 disk and converting to qcow2")
        raw = work / "root.raw"
        run(["mkfs.ext4", "-q", "-F", "-L", "lvsroot", "-d", str(rootfs), str(raw), DISK_SIZE])
        run(["qemu-img", "convert", "-O", "qcow2", str(raw), str(work / "base.qcow2")])
        raw.unlink()
        shutil.rmtree(rootfs)
        seconds = time.monotonic() - started
        (work / "recipe.json").write_text(json.dumps(
            {"key": image.folder.name, "suite": SUITE, "packages": packages(), "wheels": WHEELS,
             "build_seconds": round(seconds, 1)}, indent=2))
        if image.folder.exists():
            shutil.rmtree(image.folder)
        work.rename(image.folder)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    say(f"image: built in {seconds:.0f} s at {image.folder}")
    _prune_other_images(image)
    return image


def _extract_boot(rootfs: Path, dest: Path) -> None:
    kernels = sorted((rootfs / "boot").glob("vmlinuz-*"))
    initrds = sorted((rootfs / "boot").glob("initrd.img-*"))
    if not kernels or not initrds:
        raise RuntimeError(f"no kernel or initrd under {rootfs / 'boot'}: is linux-image-amd64 in packages.txt?")
    shutil.copy(kernels[-1], dest / "vmlinuz")
    shutil.copy(initrds[-1], dest / "initrd.img")
    vmlinux = pvh.pvh_kernel(kernels[-1].read_bytes())
    if vmlinux is None:
        say("image: the kernel has no PVH entry; guests boot the compressed kernel (about 2.5 s slower)")
    else:
        (dest / "vmlinux").write_bytes(vmlinux)


def _prune_other_images(keep: Image) -> None:
    for old in paths.cache_dir().glob("image-*"):
        if old != keep.folder:
            say(f"image: removing outdated {old.name}")
            shutil.rmtree(old, ignore_errors=True)
