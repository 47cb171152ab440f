"""The collection's documentation, as antsibull-docs (the tool that builds docs.ansible.com) lints it: every
plugin's docs parse, markup is valid, and references to other plugins and options resolve."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def test_antsibull_docs_lint_is_clean(env):
    run = subprocess.run([str(BIN / "antsibull-docs"), "lint-collection-docs", "--plugin-docs",
                          "--validate-collection-refs", "all", "--disallow-unknown-collection-refs", str(REPO)],
                         capture_output=True, text=True, env=env, timeout=900, check=False)
    assert run.returncode == 0, run.stdout + run.stderr
