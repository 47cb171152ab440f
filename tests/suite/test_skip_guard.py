"""tests/conftest.py: a skipped lab, integration, scenario or sanity test fails the run unless
LVS_ALLOW_SKIPS=1; a skipped unit test does not. Run in a throwaway tree with the real conftest."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

CONFTEST = Path(__file__).resolve().parents[1] / "conftest.py"


@pytest.fixture
def tree(tmp_path):
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    shutil.copy(CONFTEST, tmp_path / "conftest.py")
    for folder in ("lab", "unit"):
        (tmp_path / "tests" / folder).mkdir(parents=True)
        (tmp_path / "tests" / folder / f"test_{folder}.py").write_text(
            "import pytest\n\n\ndef test_ok():\n    pass\n\n\n"
            "@pytest.mark.skipif(True, reason='no root')\ndef test_needs_root():\n    pass\n")
    return tmp_path


def run(tree, *paths, **env):
    environ = {k: v for k, v in os.environ.items() if k != "LVS_ALLOW_SKIPS"}
    environ.update(env)
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *paths], cwd=tree,
                          env=environ, capture_output=True, text=True, check=False)


def test_a_skipped_lab_test_fails_the_run(tree):
    proc = run(tree, "tests/lab")
    assert proc.returncode == 1, proc.stdout
    assert "SKIPPED tests/lab/test_lab.py::test_needs_root: " in proc.stdout


def test_asked_for_skips_pass(tree):
    assert run(tree, "tests/lab", LVS_ALLOW_SKIPS="1").returncode == 0


def test_a_skipped_unit_test_does_not_fail_the_run(tree):
    assert run(tree, "tests/unit").returncode == 0
