"""Lab guests only: run Ansible's modules from a warm interpreter instead of a cold one.

Under software emulation a task's interpreter spends most of its time in the guest starting up and
importing the same code every time: the wrapper's zipfile and friends, then ansible-core's own
module_utils (`basic` and what it pulls in, about 2.7 s of a 4 s `ping`). Here the first task on an
interpreter starts a zygote: a process of that interpreter that imports those once, from a copy of the
task's payload, and waits on a Unix socket. Each later task's interpreter, while `site` loads this file
and before anything else, hands the zygote Ansible's wrapper script (its stdin) with its stdout, stderr,
environment and working directory; the zygote forks a child that runs the wrapper as the interpreter
would have, and sends back the exit status, which the task's interpreter exits with.

What a child shares with the zygote is ansible-core's module_utils and the standard library. Each
module_utils file is checked against the task's payload by its CRC before the wrapper imports it; on any
difference the child drops them all and imports the payload's own (and the zygote retires). The
collection's modules and module_utils, and third-party libraries such as pyroute2, are imported fresh
from each task's payload, as on any host.

LAB_MODULE_ZYGOTE=0 in a task's environment runs it the usual way (the benchmarks do, to time what
users' hosts do). Anything unexpected before the module starts falls back to the usual way: this hook may
cost a task time, never its result.
"""
import builtins
import os
import sys

ENV_SWITCH = "LAB_MODULE_ZYGOTE"
ENV_DIR = "LAB_MODULE_ZYGOTE_DIR"
DEFAULT_DIR = "/run/lab-zygote"
IDLE_SECONDS = 1800
# ansible-core's AnsiballZ wrapper (2.19): how to know it, and the closure that imports `ansible` from the
# payload it has just written.
WRAPPER_MARKS = (b"_ANSIBALLZ_WRAPPER = True", b"def _ansiballz_main(")
WRAPPER_FUNCTION = "invoke_module"
PAYLOAD_SUFFIX = "_payload.zip"
# Imported by the zygote beyond what the wrapper and its loader pull in: standard library only.
STDLIB_WARM = ("base64", "zipfile", "tempfile", "shutil", "subprocess", "shlex", "ipaddress", "socket",
               "struct", "select", "errno", "hashlib", "fcntl", "glob", "pwd", "grp", "platform", "locale",
               "signal", "runpy", "json")

_refused = False  # a socket was there but no zygote answered: the wrapper's import starts a new one


def state_dir():
    return os.environ.get(ENV_DIR) or DEFAULT_DIR


def paths():
    """(socket, lock, payload copy, log) of this interpreter's zygote: one per interpreter and user (a
    short name: a Unix socket's path has at most 107 bytes)."""
    import zlib
    name = f"{os.getuid()}-{sys.hexversion:x}-{zlib.crc32(os.fsencode(sys.executable)):08x}"
    base = os.path.join(state_dir(), name)
    return base + ".sock", base + ".lock", base + ".zip", base + ".log"


# ---------------------------------------------------------------- the task's interpreter


# The task's side imports only built-in modules (_socket, marshal, array, resource): each import of
# socket's or pickle's Python layers costs an emulated guest tens of milliseconds on every task.
def _send(conn, obj, fds=()):
    import _socket
    import array
    import marshal
    data = marshal.dumps(obj)
    ancillary = [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, array.array("i", fds).tobytes())] if fds else []
    conn.sendmsg([len(data).to_bytes(8, "big") + data], ancillary)


def _lines(conn):
    """The lines the zygote sends, as they come."""
    pending = b""
    while True:
        while b"\n" not in pending:
            more = conn.recv(256)
            if not more:
                return
            pending += more
        line, pending = pending.split(b"\n", 1)
        yield line


def _read_stdin():
    chunks = []
    while True:
        chunk = os.read(0, 1 << 20)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def _give_back_stdin(script):
    """Put what was read from stdin back, so the interpreter reads the script itself."""
    fd = os.memfd_create("lab-stdin")
    view = memoryview(script)
    while view:
        view = view[os.write(fd, view):]
    os.lseek(fd, 0, os.SEEK_SET)
    os.dup2(fd, 0)
    os.close(fd)


def _hand_over():
    """Run this interpreter's stdin script in the zygote and exit with its status; return when the
    zygote cannot take it (the interpreter then goes on as usual)."""
    global _refused
    sock = paths()[0]
    if not os.path.exists(sock):
        return
    import _socket
    conn = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        conn.connect(sock)
    except OSError:
        conn.close()
        _refused = True
        return
    script = _read_stdin()
    lines = _lines(conn)
    child = None
    try:
        if all(mark in script for mark in WRAPPER_MARKS):
            import resource
            umask = os.umask(0o022)
            os.umask(umask)
            request = {"script": script, "env": dict(os.environb), "cwd": os.getcwd(), "argv": list(sys.argv),
                       "umask": umask, "nofile": resource.getrlimit(resource.RLIMIT_NOFILE)}
            _send(conn, request, fds=(0, 1, 2))
            first = next(lines, b"")
            if first.startswith(b"pid "):
                child = int(first.split()[1])
    except Exception:  # stdin was read: whatever failed, it must be given back below
        child = None
    if child is None:  # the module has not started: run it here
        conn.close()
        _give_back_stdin(script)
        return
    import signal

    def forward(signum, _frame):
        try:
            os.kill(child, signum)
        except OSError:
            pass
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, forward)
    try:
        line = next(lines, b"")
    except OSError:
        line = b""
    # The module ran: whatever happens now, it must not run a second time, so this ends here.
    code = 1
    try:
        if line.startswith(b"exit "):
            code = int(line.split()[1])
        else:
            os.write(2, b"lab_module_zygote: the module's process ended without a status\n")
        if code < 0:  # killed by a signal: end the same way, so the shell reports it as it would
            if -code != signal.SIGKILL:
                signal.signal(-code, signal.SIG_DFL)
            os.kill(os.getpid(), -code)
            code = 128 - code
    finally:
        os._exit(code)


class _Spawner:
    """A meta path finder that sees Ansible's wrapper import `ansible` from its payload when no zygote
    took the task, and starts one from a copy of that payload."""

    @staticmethod
    def find_spec(name, path=None, target=None):
        if name != "ansible" or path is not None:
            return None
        try:
            sys.meta_path.remove(_Spawner)
        except ValueError:
            return None
        try:
            if sys.path and sys.path[0].endswith(PAYLOAD_SUFFIX) and _called_by_wrapper():
                sock = paths()[0]
                if _refused or not os.path.exists(sock):
                    _spawn(sys.path[0])
        except Exception:  # starting a zygote is an optimisation; the task goes on regardless
            pass
        return None


def _called_by_wrapper():
    frame = sys._getframe(2)
    for _ in range(30):
        if frame is None:
            return False
        if frame.f_code.co_name == WRAPPER_FUNCTION and "modlib_path" in frame.f_locals:
            return True
        frame = frame.f_back
    return False


def _spawn(payload):
    import shutil
    import subprocess
    os.makedirs(state_dir(), mode=0o700, exist_ok=True)
    fresh = f"{paths()[2]}.{os.getpid()}.new"
    shutil.copyfile(payload, fresh)
    here = os.path.dirname(os.path.abspath(__file__))
    code = (f"import sys\nif {here!r} not in sys.path: sys.path.append({here!r})\n"
            f"import lab_module_zygote\nlab_module_zygote.serve({fresh!r})\n")
    subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                     stderr=subprocess.DEVNULL, start_new_session=True, close_fds=True, cwd="/",
                     env=dict(os.environ, **{ENV_DIR: state_dir()}))


def install():
    """Called by the .pth file at every interpreter start: a script on stdin goes to the zygote."""
    if os.environ.get(ENV_SWITCH, "1") == "0":
        return
    if sys.argv == [""] and not os.isatty(0):
        try:
            _hand_over()
        except Exception:  # nothing was handed over: the interpreter goes on as usual
            pass
    if _Spawner not in sys.meta_path:
        sys.meta_path.insert(0, _Spawner)


# ---------------------------------------------------------------- the zygote


def _receive(conn):
    import array
    import marshal
    import socket
    fds = array.array("i")
    data, ancdata, _flags, _addr = conn.recvmsg(1 << 16, socket.CMSG_LEN(3 * fds.itemsize))
    for level, kind, payload in ancdata:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(payload[:len(payload) - len(payload) % fds.itemsize])
    if len(data) < 8:
        raise OSError("short request")
    size = int.from_bytes(data[:8], "big")
    body = bytearray(data[8:])
    while len(body) < size:
        more = conn.recv(min(1 << 20, size - len(body)))
        if not more:
            raise OSError("truncated request")
        body += more
    return marshal.loads(body), list(fds)


def _warm(copy):
    """Import what every task's start imports, from the payload copy; {archive name: CRC} of the files."""
    import importlib
    import zipfile
    sys.path.insert(0, copy)
    importlib.import_module("ansible.module_utils._internal._ansiballz._loader")
    for name in STDLIB_WARM:
        importlib.import_module(name)
    with zipfile.ZipFile(copy) as archive:
        crcs = {info.filename: info.CRC for info in archive.infolist()}
    sys.path.remove(copy)
    prefix = copy + os.sep
    return {origin[len(prefix):]: crcs[origin[len(prefix):]]
            for origin in (getattr(m, "__file__", None) or "" for m in list(sys.modules.values()))
            if origin.startswith(prefix)}


class _PayloadCheck:
    """In a child: at the wrapper's first import of `ansible`, after it wrote its payload, point the warm
    packages at that payload, or drop them when a file differs."""

    def __init__(self, copy, files, original_import):
        self.copy, self.files, self.original_import = copy, files, original_import

    def __call__(self, name, *args, **kwargs):
        if name.startswith("ansible") and sys.path and sys.path[0].endswith(PAYLOAD_SUFFIX):
            builtins.__import__ = self.original_import
            self.adopt(sys.path[0])
        return self.original_import(name, *args, **kwargs)

    def adopt(self, payload):
        import zipfile
        with zipfile.ZipFile(payload) as archive:
            crcs = {info.filename: info.CRC for info in archive.infolist()}
        old, new = self.copy + os.sep, payload + os.sep
        if all(crcs.get(name) == crc for name, crc in self.files.items()):
            # Submodules the zygote did not import come from this task's payload, as they would.
            for module in list(sys.modules.values()):
                search = getattr(module, "__path__", None)
                if isinstance(search, list):
                    search[:] = [new + p[len(old):] if p.startswith(old) else p for p in search]
            return
        import signal
        for name, module in list(sys.modules.items()):
            origin = getattr(module, "__file__", None) or ""
            search = getattr(module, "__path__", None) or []
            if origin.startswith(old) or any(str(p).startswith(old) for p in search):
                del sys.modules[name]
        os.kill(os.getppid(), signal.SIGUSR1)  # this zygote's module_utils are not the controller's


def _child(request, fds, copy, files, base_path, closing):
    """In the forked child: run the task, and end here whatever happens (never back in the zygote's loop)."""
    status = 70
    try:
        status = _run_task(request, fds, copy, files, base_path, closing)
    finally:
        os._exit(status)


def _run_task(request, fds, copy, files, base_path, closing):
    """Become the task's interpreter and run its script; its exit status."""
    import atexit
    import resource
    import signal
    import types
    for fd in closing:
        os.close(fd)
    signal.set_wakeup_fd(-1)
    for signum in (signal.SIGCHLD, signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGUSR1):
        signal.signal(signum, signal.SIG_DFL)
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
    for fd in fds:
        if fd > 2:
            os.close(fd)
    os.chdir(request["cwd"])
    os.umask(request["umask"])
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, tuple(request["nofile"]))
    except (ValueError, OSError):
        pass
    os.environb.clear()
    os.environb.update(request["env"])
    sys.argv[:] = request["argv"]
    sys.path[:] = base_path
    atexit._clear()
    main = types.ModuleType("__main__")
    main.__builtins__ = builtins
    sys.modules["__main__"] = main
    builtins.__import__ = _PayloadCheck(copy, files, builtins.__import__)
    status = 0
    try:
        exec(compile(request["script"], "<stdin>", "exec"), main.__dict__)
    except SystemExit as exit_:
        code = exit_.code
        if code is None:
            status = 0
        elif isinstance(code, int):
            status = code
        else:
            sys.stderr.write(f"{code}\n")
            status = 1
    except BaseException:
        import traceback
        traceback.print_exc()
        status = 1
    threading = sys.modules.get("threading")
    if threading is not None:
        threading._shutdown()
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    return status


def serve(fresh):
    """The zygote's life: warm up from the payload copy `fresh`, then fork a child per task until idle."""
    import fcntl
    import select
    import signal
    import socket
    import time
    sys.meta_path[:] = [f for f in sys.meta_path if f is not _Spawner]
    sock_path, lock_path, copy, log_path = paths()
    lock = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.unlink(fresh)
        return  # another zygote of this interpreter is starting or serving
    os.replace(fresh, copy)
    log = open(log_path, "a", encoding="utf-8", buffering=1)
    try:
        base_path = list(sys.path)
        files = _warm(copy)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        staging = f"{sock_path}.{os.getpid()}"
        listener.bind(staging)
        os.chmod(staging, 0o600)
        listener.listen(16)
        os.replace(staging, sock_path)  # ready: tasks may come
    except Exception as error:
        log.write(f"{time.time():.3f} failed to start pid={os.getpid()}: {error!r}\n")
        raise
    log.write(f"{time.time():.3f} ready pid={os.getpid()} files={len(files)} executable={sys.executable}\n")

    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    retire = []
    signal.signal(signal.SIGCHLD, lambda *_: None)
    signal.signal(signal.SIGUSR1, lambda *_: retire.append(True))
    running = {}  # child pid -> connection to its task's interpreter
    orphans = set()  # children whose interpreter went away (told to stop)
    last = time.monotonic()
    try:
        while True:
            watched = [s for s in (listener, wake_r) if s is not None]
            watched += [c for p, c in running.items() if p not in orphans]
            ready, _, _ = select.select(watched, [], [], 60)
            if wake_r in ready:
                os.read(wake_r, 512)
            while running:
                try:
                    pid, wstatus = os.waitpid(-1, os.WNOHANG)
                except ChildProcessError:
                    break
                if pid == 0:
                    break
                conn = running.pop(pid, None)
                orphans.discard(pid)
                if conn is not None:
                    code = os.waitstatus_to_exitcode(wstatus)
                    try:
                        conn.sendall(f"exit {code}\n".encode())
                    except OSError:
                        pass
                    conn.close()
                last = time.monotonic()
            for pid, conn in list(running.items()):
                if conn in ready and pid not in orphans:
                    orphans.add(pid)
                    try:
                        os.kill(pid, signal.SIGTERM)
                    except OSError:
                        pass
            if retire and listener is not None:
                # Tasks queued on the socket see it close before their module starts and run as usual.
                _unlink_if_ours(sock_path, listener)
                listener.close()
                listener = None
                log.write(f"{time.time():.3f} retiring: a payload's module_utils differ\n")
            if retire and not running:
                return
            if listener is not None and listener in ready:
                _accept(listener, running, log, copy, files, base_path,
                        [wake_r, wake_w, lock, log.fileno()])
                last = time.monotonic()
            if not running and time.monotonic() - last > IDLE_SECONDS:
                return
    finally:
        if listener is not None:
            _unlink_if_ours(sock_path, listener)
        log.write(f"{time.time():.3f} gone pid={os.getpid()}\n")


def _unlink_if_ours(sock_path, listener):
    try:
        if os.stat(sock_path).st_ino == os.fstat(listener.fileno()).st_ino:
            os.unlink(sock_path)
    except OSError:
        pass


def _accept(listener, running, log, copy, files, base_path, own_fds):
    import socket
    import struct
    import time
    conn, _ = listener.accept()
    fds = []
    try:
        creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
        if struct.unpack("3i", creds)[1] != os.getuid():
            raise OSError("a task of another user")
        conn.settimeout(30)
        request, fds = _receive(conn)
        conn.settimeout(None)
        if len(fds) != 3:
            raise OSError("a request without its three streams")
    except (OSError, ValueError, EOFError, KeyError):
        conn.close()
        for fd in fds:
            os.close(fd)
        return
    pid = os.fork()
    if pid == 0:
        _child(request, fds, copy, files, base_path,
               [listener.fileno(), conn.fileno(), *own_fds, *[c.fileno() for c in running.values()]])
    for fd in fds:
        os.close(fd)
    try:
        conn.sendall(f"pid {pid}\n".encode())
    except OSError:
        pass
    running[pid] = conn
    log.write(f"{time.time():.3f} served pid={pid}\n")
