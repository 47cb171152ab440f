"""lab/pvh.py: the uncompressed kernel is used only when it really has a PVH entry."""
from __future__ import annotations

import gzip
import lzma
import struct

from lab import pvh

SETUP = b"MZ" + b"\0" * 510 + b"HdrS" + b"\x90" * 4000  # stands in for the bzImage's setup code


def note(name: bytes, n_type: int, desc: bytes) -> bytes:
    def pad(b: bytes) -> bytes:
        return b + b"\0" * (-len(b) % 4)
    return struct.pack("<III", len(name) + 1, len(desc), n_type) + pad(name + b"\0") + pad(desc)


def elf64(notes: bytes) -> bytes:
    """A little-endian ELF64 header, one PT_LOAD and one PT_NOTE program header, then the notes."""
    phoff, phentsize, phnum = 64, 56, 2
    notes_at = phoff + phentsize * phnum
    header = (pvh.ELF64_LE + b"\x01" + b"\0" * 9
              + struct.pack("<HHIQQQIHHHHHH", 2, 62, 1, 0x1000000, phoff, 0, 0, 64, phentsize, phnum, 64, 0, 0))
    load = struct.pack("<IIQQQQQQ", 1, 5, 0, 0, 0, notes_at, notes_at, 0x1000)
    pt_note = struct.pack("<IIQQQQQQ", pvh.PT_NOTE, 4, notes_at, 0, 0, len(notes), len(notes), 4)
    return header + load + pt_note + notes


WITH_PVH = elf64(note(b"Xen", 6, b"linux\0") + note(b"Xen", pvh.XEN_ELFNOTE_PHYS32_ENTRY, b"\0\0\0\x01"))
WITHOUT_PVH = elf64(note(b"Xen", 6, b"linux\0") + note(b"GNU", 3, b"\x12" * 20))


def bzimage(vmlinux: bytes, compress=lzma.compress) -> bytes:
    return SETUP + compress(vmlinux) + b"\0" * 16  # trailing bytes after the stream, as in a bzImage


def test_a_kernel_with_a_pvh_entry_is_unpacked_whole():
    assert pvh.pvh_kernel(bzimage(WITH_PVH)) == WITH_PVH


def test_notes_are_read_with_their_names_and_types():
    assert [(n, t) for n, t, _d in pvh.notes(WITH_PVH)] == [("Xen", 6), ("Xen", 18)]


def test_no_pvh_note_keeps_the_bzimage():
    assert pvh.unpack_vmlinux(bzimage(WITHOUT_PVH)) == WITHOUT_PVH
    assert pvh.pvh_kernel(bzimage(WITHOUT_PVH)) is None


def test_other_compressions_and_garbage_keep_the_bzimage():
    assert pvh.pvh_kernel(bzimage(WITH_PVH, gzip.compress)) is None
    assert pvh.pvh_kernel(SETUP + pvh.XZ_MAGIC + b"not xz at all") is None
    assert pvh.pvh_kernel(bzimage(b"\x7fELF\x02\x01" + b"\0" * 10)) is None  # truncated ELF
