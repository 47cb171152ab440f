"""A bounded load client for the lab: a fixed number of HTTP requests at a fixed rate, each one's success
and latency recorded, run from the lab's client namespace.

Open loop: request i starts at i / rate seconds whatever happened to the ones before, so a failover shows
as a run of failures (or of slow requests) at the moment it happens rather than stalling the client. Two
modes:
- `fresh`: every request opens a new TCP connection (what a new client sees; the director schedules it);
- `keepalive`: every request goes over ONE long-lived connection (what an established client sees: it
  survives a director failover only if the backup knows the connection, i.e. with the sync daemon).

The body of the lab's demo web servers names the real server, so each record says who served it.

Bounded by construction: at most `count` requests, each at most `timeout` seconds, the whole run at most
count / rate + timeout + 5 seconds. Standard library only, because `run()` executes inside the namespace:
    python -m lab load LAB --vip 198.51.100.100 --count 200 --rate 20
"""
from __future__ import annotations

import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

MODES = ("fresh", "keepalive")


def _http_get(sock: socket.socket, close: bool) -> str:
    """One GET on a connected socket; returns the body (the demo servers answer with their name)."""
    sock.sendall(b"GET / HTTP/1.1\r\nHost: lvs\r\n" + (b"Connection: close\r\n" if close else b"") + b"\r\n")
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError("connection closed before the reply headers")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status = head.split(b"\r\n", 1)[0]
    length = None
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    if length is None:
        raise ConnectionError(f"reply without Content-Length: {status!r}")
    while len(body) < length:
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError("connection closed inside the reply body")
        body += chunk
    if b" 200 " not in status + b" ":
        raise ConnectionError(f"HTTP status {status.decode(errors='replace')}")
    return body[:length].decode(errors="replace").strip()


def run(vip: str, port: int = 80, count: int = 100, rate: float = 10.0, timeout: float = 2.0,
        mode: str = "fresh", stop: threading.Event | None = None) -> dict:
    """Send `count` requests at `rate` per second; returns every request's record and a summary.
    Setting `stop` (SIGTERM does, see main) ends the run early: no new requests, the started ones finish."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
    records: list = [None] * count
    origin = time.monotonic()
    lock = threading.Lock()  # keepalive mode: requests on the one connection go in order
    conn: dict = {"sock": None, "opened": 0}

    def fresh(i: int) -> None:
        start = time.monotonic()
        try:
            with socket.create_connection((vip, port), timeout=timeout) as sock:
                sock.settimeout(max(0.05, timeout - (time.monotonic() - start)))
                server = _http_get(sock, close=True)
            records[i] = _record(i, origin, start, server=server)
        except OSError as exc:
            records[i] = _record(i, origin, start, error=exc)

    def keepalive(i: int) -> None:
        start = time.monotonic()
        with lock:
            try:
                if conn["sock"] is None:
                    conn["sock"] = socket.create_connection((vip, port), timeout=timeout)
                    conn["opened"] += 1
                conn["sock"].settimeout(timeout)
                server = _http_get(conn["sock"], close=False)
                records[i] = _record(i, origin, start, server=server)
            except OSError as exc:
                records[i] = _record(i, origin, start, error=exc)
                if conn["sock"] is not None:  # the next request opens a new connection, counted
                    conn["sock"].close()
                    conn["sock"] = None

    work = fresh if mode == "fresh" else keepalive
    threads = []
    stop = stop or threading.Event()
    issued = 0
    for i in range(count):
        delay = origin + i / rate - time.monotonic()
        if stop.wait(delay) if delay > 0 else stop.is_set():
            break
        thread = threading.Thread(target=work, args=(i,), daemon=True)
        thread.start()
        threads.append(thread)
        issued = i + 1
    # keepalive requests queue on the lock: each waits at most `timeout`, so the tail is bounded too
    end = time.monotonic() + timeout * (count if mode == "keepalive" else 1) + 5
    for thread in threads:
        thread.join(max(0.0, end - time.monotonic()))
    del records[issued:]  # the requests a stop kept from starting
    if conn["sock"] is not None:
        conn["sock"].close()
    for i, rec in enumerate(records):
        if rec is None:
            records[i] = {"i": i, "t": round(i / rate, 3), "ok": False, "latency": None, "server": None,
                          "error": "client gave up waiting"}
    out = {"vip": vip, "port": port, "count": count, "rate": rate, "timeout": timeout, "mode": mode,
           "records": records, "summary": summarize(records)}
    if mode == "keepalive":
        out["summary"]["connections_opened"] = conn["opened"]
    return out


def _record(i: int, origin: float, start: float, server: str | None = None, error: Exception | None = None) -> dict:
    return {"i": i, "t": round(start - origin, 3), "ok": error is None,
            "latency": round(time.monotonic() - start, 4), "server": server,
            "error": None if error is None else f"{type(error).__name__}: {error}"}


def outage(records: list) -> tuple:
    """(seconds, open): the longest outage a client saw, from the send time of the first request of a
    run of failures to the completion of the first request after it that succeeded; when no request
    after the failures succeeded, the outage lasts to the end of the run and is `open`."""
    records = sorted(records, key=lambda r: r["t"])
    end = max((r["t"] + (r["latency"] or 0.0) for r in records), default=0.0)
    longest, still_open, started = 0.0, False, None
    for rec in records:
        if not rec["ok"]:
            if started is None:
                started = rec["t"]
        elif started is not None:
            longest = max(longest, rec["t"] + rec["latency"] - started)
            started = None
    if started is not None:
        longest, still_open = max(longest, end - started), True
    return longest, still_open


def summarize(records: list) -> dict:
    """Counts, latencies, who served, and the outage: the longer of the longest run of failures
    (outage(), counted to the end of the run when nothing answered after it) and the widest gap between
    consecutive successful completions less one request interval (a stall without errors)."""
    ok = [r for r in records if r["ok"]]
    failed = [r for r in records if not r["ok"]]
    served: dict = {}
    for rec in ok:
        served[rec["server"]] = served.get(rec["server"], 0) + 1
    done = sorted(r["t"] + r["latency"] for r in ok)
    interval = (records[-1]["t"] - records[0]["t"]) / (len(records) - 1) if len(records) > 1 else 0.0
    widest = max((b - a for a, b in zip(done, done[1:])), default=0.0)
    failing, still_open = outage(records)
    latencies = sorted(r["latency"] for r in ok)
    return {
        "requests": len(records), "ok": len(ok), "failed": len(failed),
        "first_failure_t": failed[0]["t"] if failed else None,
        "last_failure_t": failed[-1]["t"] if failed else None,
        "served_by": served,
        "outage_s": round(max(failing, widest - interval, 0.0), 3) if records else None,
        "outage_open": still_open,
        "latency_p50_s": round(statistics.median(latencies), 4) if latencies else None,
        "latency_max_s": round(latencies[-1], 4) if latencies else None,
        "errors": sorted({r["error"].split(":")[0] for r in failed}),
    }


# -- controller side -----------------------------------------------------------------------------------
def command(lab: str, vip: str, port: int = 80, count: int = 100, rate: float = 10.0, timeout: float = 2.0,
            mode: str = "fresh") -> list[str]:
    from .net import namespace  # here, not at the top: run() executes as a plain file in the namespace

    params = {"vip": vip, "port": port, "count": count, "rate": rate, "timeout": timeout, "mode": mode}
    return ["ip", "netns", "exec", namespace(lab), sys.executable, str(Path(__file__).resolve()),
            json.dumps(params)]


def start(lab: str, vip: str, **params) -> subprocess.Popen:
    """Start a load run in the background (e.g. before injecting a fault); `finish()` collects it."""
    return subprocess.Popen(command(lab, vip, **params), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def finish(proc: subprocess.Popen, params_timeout: float = 900, early: bool = False) -> dict:
    """The run's result; `early` ends it now (no new requests; the ones under way complete)."""
    if early:
        proc.terminate()
    try:
        out, err = proc.communicate(timeout=params_timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise
    if proc.returncode != 0:
        raise RuntimeError(f"load client failed ({proc.returncode}): {err.strip()}")
    return json.loads(out)


def main(argv: list) -> int:
    # Inside the namespace, started by command(): one JSON argument, the result on stdout.
    params = json.loads(argv[0])
    # A caller that cannot keep our process object (an Ansible async task) ends the run by this id,
    # never by a pattern that could match another run.
    pidfile = params.pop("pidfile", None)
    if pidfile:
        Path(pidfile).write_text(f"{os.getpid()}\n")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    result = json.dumps(run(**params, stop=stop))
    # a run that ended by itself may be told to stop while it writes: the result is then written whole
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    print(result)
    return 0


if __name__ == "__main__":
    # Run as a file inside the namespace: the relative import above is not available there.
    sys.exit(main(sys.argv[1:]))
