# Copyright (c) the lvs.cluster authors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Wall time of every task of a play run, for finding where a converge spends its time.

Enabled by the scenario runner (tests/scenarios) and `make profile` with
    ANSIBLE_CALLBACK_PLUGINS=tests/profile/callback_plugins ANSIBLE_CALLBACKS_ENABLED=task_timer
At the end of the run it prints `TASKTIME <seconds> <task>` lines, slowest first (the time from a task's
start to the next task's start, all hosts together), and a `TASKTIME total` line. With LVS_TASK_TIMES
set to a path, it also appends the figures there as one JSON line per run.
"""
from __future__ import annotations

import json
import os
import time

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = r'''
name: task_timer
type: aggregate
short_description: wall time per task, slowest first
description: A development aid of the lvs.cluster test suite; see the module docstring.
'''

TOP = int(os.environ.get("LVS_TASK_TIMES_TOP", "15"))


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "task_timer"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super().__init__()
        self.started = time.monotonic()
        self.current = None
        self.since = None
        self.times: dict = {}

    def _close(self):
        if self.current is not None:
            self.times[self.current] = self.times.get(self.current, 0.0) + time.monotonic() - self.since
            self.current = None

    def _open(self, task):
        self._close()
        role = getattr(task, "_role", None)
        self.current = (f"{role.get_name()} : " if role else "") + task.get_name().strip()
        self.since = time.monotonic()

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._open(task)

    def v2_playbook_on_handler_task_start(self, task):
        self._open(task)

    def v2_playbook_on_stats(self, stats):
        self._close()
        total = time.monotonic() - self.started
        slowest = sorted(self.times.items(), key=lambda kv: -kv[1])
        for name, seconds in slowest[:TOP]:
            self._display.display(f"TASKTIME {seconds:7.1f} {name}")
        self._display.display(f"TASKTIME {total:7.1f} total ({len(self.times)} tasks)")
        path = os.environ.get("LVS_TASK_TIMES")
        if path:
            with open(path, "a", encoding="utf-8") as out:
                out.write(json.dumps({"total_s": round(total, 1),
                                      "tasks": {k: round(v, 2) for k, v in slowest}}) + "\n")
