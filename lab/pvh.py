"""The guest kernel as an uncompressed ELF that QEMU starts at its PVH entry point.

Debian ships the kernel as a bzImage: under software emulation the guest first spends about 2.5 s
unpacking it (xz) before the kernel prints its first line. QEMU can load the uncompressed kernel
(vmlinux) itself and jump straight to it, if the kernel carries a PVH entry (the Xen ELF note
PHYS32_ENTRY, which Debian's x86-64 kernels have). This module unpacks the vmlinux from a bzImage and
checks that note; the image keeps the bzImage when either fails, and boots as before.
"""
from __future__ import annotations

import lzma
import struct

XZ_MAGIC = b"\xfd7zXZ\x00"
ELF64_LE = b"\x7fELF\x02\x01"
PT_NOTE = 4
XEN_ELFNOTE_PHYS32_ENTRY = 18


def unpack_vmlinux(bzimage: bytes) -> bytes | None:
    """The vmlinux inside an xz-compressed bzImage, or None (another compression, or no ELF inside)."""
    start = bzimage.find(XZ_MAGIC)
    if start < 0:
        return None
    try:
        vmlinux = lzma.LZMADecompressor(format=lzma.FORMAT_XZ).decompress(bzimage[start:])
    except lzma.LZMAError:
        return None
    return vmlinux if vmlinux.startswith(ELF64_LE) else None


def notes(elf: bytes):
    """(name, type, description) of every note in the PT_NOTE segments of a little-endian ELF64."""
    phoff, = struct.unpack_from("<Q", elf, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", elf, 0x36)
    for index in range(phnum):
        p_type, _flags, p_offset, _vaddr, _paddr, p_filesz = struct.unpack_from(
            "<IIQQQQ", elf, phoff + index * phentsize)
        if p_type != PT_NOTE:
            continue
        at, end = p_offset, p_offset + p_filesz
        while at + 12 <= end:
            namesz, descsz, n_type = struct.unpack_from("<III", elf, at)
            name_at = at + 12
            desc_at = name_at + (namesz + 3) // 4 * 4
            yield (elf[name_at:name_at + namesz].rstrip(b"\0").decode("ascii", "replace"), n_type,
                   elf[desc_at:desc_at + descsz])
            at = desc_at + (descsz + 3) // 4 * 4


def has_pvh_entry(elf: bytes) -> bool:
    try:
        return any(name == "Xen" and n_type == XEN_ELFNOTE_PHYS32_ENTRY for name, n_type, _d in notes(elf))
    except struct.error:
        return False


def pvh_kernel(bzimage: bytes) -> bytes | None:
    """The vmlinux to boot directly, or None when the bzImage must be booted as it is."""
    vmlinux = unpack_vmlinux(bzimage)
    return vmlinux if vmlinux is not None and has_pvh_entry(vmlinux) else None
