"""The bounded load client against a web server on loopback: what it counts when requests succeed, when
the server goes away mid-run, and that a stop ends a run early. No lab needed."""
import http.server
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from lab import load


class Named(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):  # noqa: N802 (http.server's name)
        body = b"rs-loop\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture()
def server():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Named)
    srv.daemon_threads = True
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


@pytest.mark.parametrize("mode", load.MODES)
def test_every_request_answered_is_counted_with_its_server(server, mode):
    result = load.run("127.0.0.1", server.server_address[1], count=20, rate=100, timeout=2, mode=mode)
    summary = result["summary"]
    assert summary["ok"] == 20 and summary["failed"] == 0 and summary["served_by"] == {"rs-loop": 20}
    assert all(r["latency"] is not None for r in result["records"])
    if mode == "keepalive":
        assert summary["connections_opened"] == 1


def test_a_server_that_goes_away_shows_as_failures_and_an_outage(server):
    port = server.server_address[1]

    def outage():
        time.sleep(0.5)
        server.shutdown()
        server.server_close()

    threading.Thread(target=outage, daemon=True).start()
    result = load.run("127.0.0.1", port, count=40, rate=40, timeout=1)
    summary = result["summary"]
    assert summary["failed"] > 0 and summary["ok"] > 0
    assert summary["failed"] + summary["ok"] == 40
    assert summary["first_failure_t"] >= 0.4
    assert "ConnectionRefusedError" in summary["errors"]


def records_of(pattern, latency=0.01):
    return [{"t": round(i * 0.1, 3), "latency": latency, "ok": ok == "+", "server": "a",
             "error": None if ok == "+" else "OSError: x"} for i, ok in enumerate(pattern)]


def test_outage_runs_from_the_first_failure_to_the_next_answer():
    summary = load.summarize(records_of("++--++"))
    assert summary["outage_s"] == pytest.approx(0.21) and not summary["outage_open"]
    assert (summary["failed"], summary["first_failure_t"], summary["last_failure_t"]) == (2, 0.2, 0.3)


def test_an_outage_that_lasts_to_the_end_is_counted_and_open():
    """Issue 15: only gaps between answers were measured, so failures to the end of a run counted 0."""
    summary = load.summarize(records_of("+++-----"))
    assert summary["outage_s"] == pytest.approx(0.7 + 0.01 - 0.3) and summary["outage_open"]


def test_a_stall_without_errors_is_an_outage_too():
    records = records_of("++++")
    records[2]["latency"] = 1.5  # answered, but late: the gap between answers shows it
    assert load.summarize(records)["outage_s"] == pytest.approx(1.7 - 0.31 - 0.1, abs=1e-3)


def test_stop_ends_a_run_early_and_keeps_only_sent_requests(server):
    stop = threading.Event()
    threading.Timer(0.3, stop.set).start()
    started = time.monotonic()
    result = load.run("127.0.0.1", server.server_address[1], count=1000, rate=50, timeout=1, stop=stop)
    assert time.monotonic() - started < 5
    assert 5 <= len(result["records"]) < 1000 and result["summary"]["failed"] == 0


def test_unknown_mode_is_refused():
    with pytest.raises(ValueError, match="mode must be one of"):
        load.run("127.0.0.1", 1, count=1, mode="burst")


def test_nothing_listens_means_every_request_fails_fast():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = load.run("127.0.0.1", port, count=5, rate=50, timeout=1)
    assert result["summary"]["failed"] == 5 and result["summary"]["outage_open"]


def test_a_run_started_as_a_script_ends_by_the_process_id_it_wrote(server, tmp_path):
    """Ansible's async tasks cannot keep the process object: they end the run by the id in `pidfile`."""
    pidfile = tmp_path / "load.pid"
    params = {"vip": "127.0.0.1", "port": server.server_address[1], "count": 1000, "rate": 10,
              "timeout": 1, "pidfile": str(pidfile)}
    proc = subprocess.Popen([sys.executable, str(Path(load.__file__)), json.dumps(params)],
                            stdout=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while not (pidfile.exists() and pidfile.read_text().strip()):
            assert time.monotonic() < deadline and proc.poll() is None, "no process id written"
            time.sleep(0.05)
        assert int(pidfile.read_text()) == proc.pid
        time.sleep(0.5)
        os.kill(int(pidfile.read_text()), signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    summary = json.loads(out)["summary"]
    assert proc.returncode == 0 and 0 < summary["requests"] < 1000 and summary["failed"] == 0, summary
