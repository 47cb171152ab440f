"""Running host commands: every call logged on failure with its output, never through a shell."""
from __future__ import annotations

import subprocess
import sys


class CommandError(RuntimeError):
    pass


def run(cmd: list[str], check: bool = True, capture: bool = True, **kw) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, text=True, capture_output=capture, **kw)
    if check and proc.returncode != 0:
        out = ((proc.stdout or "") + (proc.stderr or "")).strip()
        raise CommandError(f"command failed ({proc.returncode}): {' '.join(cmd)}\n{out}")
    return proc


def say(msg: str) -> None:
    print(f"[lab] {msg}", file=sys.stderr, flush=True)
