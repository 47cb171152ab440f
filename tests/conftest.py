"""Skips that could turn CI green fail the run instead.

A test under tests/lab, tests/integration, tests/scenarios or tests/sanity that was skipped (no root,
no git, no QEMU, a lab that did not come up) fails the whole run, unless LVS_ALLOW_SKIPS=1 says the
skip was wanted: otherwise a machine that cannot run the lab would report green with only the unit
tests run. Deselecting with -k is not a skip and stays allowed.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

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


def _scenario_runner(session):
    """tests/scenarios/test_molecule.py as this session imported it, when it collected a scenario."""
    for item in getattr(session, "items", None) or []:
        module = getattr(item, "module", None)
        if module is not None and hasattr(module, "start_early"):
            return module
    return None


def pytest_collection_finish(session):
    # Scenarios that bound no time start now, beside the integration targets (test_molecule.BESIDE).
    runner = _scenario_runner(session)
    if runner is not None and not session.config.option.collectonly:
        runner.start_early(session, Path(tempfile.mkdtemp(prefix="lvs-molecule-logs-")))


def pytest_sessionfinish(session, exitstatus):
    runner = _scenario_runner(session)
    if runner is not None:
        runner.close_runs()
    if _SKIPPED and os.environ.get("LVS_ALLOW_SKIPS") != "1" and exitstatus == 0:
        session.exitstatus = 1


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if _SKIPPED and os.environ.get("LVS_ALLOW_SKIPS") != "1":
        terminalreporter.section("skips that fail this run (LVS_ALLOW_SKIPS=1 allows them)", red=True)
        for nodeid, reason in _SKIPPED:
            terminalreporter.line(f"SKIPPED {nodeid}: {reason}")
