"""Lab guests only: keep the bytecode of modules that Python imports from zip archives.

Every Ansible task sends its module with the module_utils it needs as a zip archive, and Python's
zipimport compiles each source file in it every time (it never writes bytecode). Under software
emulation that compile is about a quarter of a task's time in the guest, and it is the same files
every time. This hook compiles a source once and keeps the code object, keyed by the hash of the
source (and of the Python version), so a changed source is compiled afresh. File names in the code
are set to the archive the module came from, as zipimport itself would, so tracebacks stay true.

Each entry keeps the file name the code was compiled with. The archive's folder is new for every task,
so the name is changed in the marshalled bytes before loading (one string, written once and referred to
by every nested code object); rebuilding every nested code object instead cost a task 0.19 s in a guest,
and is only the fallback. An entry is read in one piece: marshal.load on a file object reads it in small
pieces, five times slower under emulation (0.4 s against 0.08 s for a task's module_utils).

Loaded at interpreter start by lab_zipimport_cache.pth; it changes nothing but compile time, and does
nothing if zipimport lacks the function it wraps.
"""
import hashlib
import marshal
import os
import sys
import zipimport

CACHE_DIR = "/var/cache/lab-zipimport"
MAGIC = b"LZC2"
_CODE = type(compile("", "", "exec"))


def _with_filename(code, filename):
    """The code object, and every code object nested in it, with co_filename set."""
    consts = tuple(_with_filename(c, filename) if isinstance(c, _CODE) else c for c in code.co_consts)
    return code.replace(co_filename=filename, co_consts=consts)


def _key(source):
    digest = hashlib.sha256(sys.version.encode())
    digest.update(source if isinstance(source, bytes) else source.encode())
    return digest.hexdigest()


# marshal's short ASCII strings (with or without its reference flag): a type byte, a length byte, the text
_SHORT_ASCII = (ord("z"), ord("Z"))


def _entry(code, pathname):
    """A cache entry: MAGIC, the length and text of the file name the code carries, the marshalled code."""
    named = pathname.encode("utf-8", "surrogatepass")
    return MAGIC + len(named).to_bytes(4, "little") + named + marshal.dumps(code)


def _renamed(body, old, new):
    """The marshalled code with its file name `old` replaced by `new` in place, or None where that is not
    certain: both names short ASCII strings, and `old` written exactly once."""
    try:
        old_b, new_b = old.encode("ascii"), new.encode("ascii")
    except UnicodeEncodeError:
        return None
    if len(old_b) > 255 or len(new_b) > 255:
        return None
    needle = bytes([len(old_b)]) + old_b
    at = body.find(needle)
    if at < 1 or body.find(needle, at + 1) != -1 or body[at - 1] & 0x7F not in _SHORT_ASCII:
        return None
    return body[:at] + bytes([len(new_b)]) + new_b + body[at + len(needle):]


def _code_of(entry, pathname):
    """The code of a cache entry, named after `pathname`; None for an entry of another format."""
    if not entry.startswith(MAGIC):
        return None
    size = int.from_bytes(entry[len(MAGIC):len(MAGIC) + 4], "little")
    start = len(MAGIC) + 4 + size
    stored, body = entry[len(MAGIC) + 4:start].decode("utf-8", "surrogatepass"), entry[start:]
    if stored == pathname:
        return marshal.loads(body)
    renamed = _renamed(body, stored, pathname)
    if renamed is not None:
        code = marshal.loads(renamed)
        if code.co_filename == pathname:
            return code
    return _with_filename(marshal.loads(body), pathname)


def caching(compile_source):
    """Wrap zipimport's (pathname, source) -> code compile with the cache."""

    def compile_cached(pathname, source):
        path = os.path.join(CACHE_DIR, _key(source))
        try:
            with open(path, "rb") as handle:
                code = _code_of(handle.read(), pathname)
            if code is not None:
                return code
        except (OSError, EOFError, ValueError, TypeError, UnicodeDecodeError):
            pass  # not cached yet, or unreadable: compile as zipimport would
        code = compile_source(pathname, source)
        try:
            os.makedirs(CACHE_DIR, exist_ok=True)
            partial = f"{path}.{os.getpid()}"
            with open(partial, "wb") as handle:
                handle.write(_entry(code, pathname))
            os.replace(partial, path)  # atomic: parallel tasks never read half a file
        except OSError:
            pass
        return code

    compile_cached.uncached = compile_source
    return compile_cached


if hasattr(zipimport, "_compile_source") and not hasattr(zipimport._compile_source, "uncached"):
    zipimport._compile_source = caching(zipimport._compile_source)
