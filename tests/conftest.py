"""Skips that could turn CI green fail the run instead.

A test under tests/lab, tests/integration, tests/scenarios or tests/sanity that was skipped (no root,
no git, no QEMU, a lab that did not come up) fails the whole run, unless LVS_ALLOW_SKIPS=1 says the
skip was wanted: otherwise a machine that cannot run the lab would report green with only the unit
tests run. Deselecting with -k is not a skip and stays allowed.
"""
from __future__ import annotations

import os

GUARDED = ("tests/lab/", "tests/integration/", "tests/scenarios/", "tests/sanity/")
_SKIPPED: list = []


def _guarded(nodeid: str) -> bool:
    return nodeid.startswith(GUARDED)


def pytest_runtest_logreport(report):
    if report.skipped and _guarded(report.nodeid) and not hasattr(report, "wasxfail"):
        _SKIPPED.append((report.nodeid, report.longrepr[-1] if isinstance(report.longrepr, tuple) else ""))


def pytest_collectreport(report):
    if report.skipped and _guarded(report.nodeid):
        _SKIPPED.append((report.nodeid, str(report.longrepr)))


def pytest_sessionfinish(session, exitstatus):
    if _SKIPPED and os.environ.get("LVS_ALLOW_SKIPS") != "1" and exitstatus == 0:
        session.exitstatus = 1


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if _SKIPPED and os.environ.get("LVS_ALLOW_SKIPS") != "1":
        terminalreporter.section("skips that fail this run (LVS_ALLOW_SKIPS=1 allows them)", red=True)
        for nodeid, reason in _SKIPPED:
            terminalreporter.line(f"SKIPPED {nodeid}: {reason}")
