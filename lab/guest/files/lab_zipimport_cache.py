"""Lab guests only: keep the bytecode of modules that Python imports from zip archives.

Every Ansible task sends its module with the module_utils it needs as a zip archive, and Python's
zipimport compiles each source file in it every time (it never writes bytecode). Under software
emulation that compile is about a quarter of a task's time in the guest, and it is the same files
every time. This hook compiles a source once and keeps the code object, keyed by the hash of the
source (and of the Python version), so a changed source is compiled afresh. File names in the code
are set to the archive the module came from, as zipimport itself would, so tracebacks stay true.

Loaded at interpreter start by lab_zipimport_cache.pth; it changes nothing but compile time, and does
nothing if zipimport lacks the function it wraps.
"""
import hashlib
import marshal
import os
import sys
import zipimport

CACHE_DIR = "/var/cache/lab-zipimport"
_CODE = type(compile("", "", "exec"))


def _with_filename(code, filename):
    """The code object, and every code object nested in it, with co_filename set."""
    consts = tuple(_with_filename(c, filename) if isinstance(c, _CODE) else c for c in code.co_consts)
    return code.replace(co_filename=filename, co_consts=consts)


def _key(source):
    digest = hashlib.sha256(sys.version.encode())
    digest.update(source if isinstance(source, bytes) else source.encode())
    return digest.hexdigest()


def caching(compile_source):
    """Wrap zipimport's (pathname, source) -> code compile with the cache."""

    def compile_cached(pathname, source):
        path = os.path.join(CACHE_DIR, _key(source))
        try:
            with open(path, "rb") as handle:
                return _with_filename(marshal.load(handle), pathname)
        except (OSError, EOFError, ValueError, TypeError):
            pass  # not cached yet, or unreadable: compile as zipimport would
        code = compile_source(pathname, source)
        try:
            os.makedirs(CACHE_DIR, exist_ok=True)
            partial = f"{path}.{os.getpid()}"
            with open(partial, "wb") as handle:
                marshal.dump(code, handle)
            os.replace(partial, path)  # atomic: parallel tasks never read half a file
        except OSError:
            pass
        return code

    compile_cached.uncached = compile_source
    return compile_cached


if hasattr(zipimport, "_compile_source") and not hasattr(zipimport._compile_source, "uncached"):
    zipimport._compile_source = caching(zipimport._compile_source)
