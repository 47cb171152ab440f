"""ansible-test sanity on a copy of the collection (git ls-files), offline, and ansible-doc of each module.

ansible-test needs the collection at .../ansible_collections/lvs/cluster; the copy keeps the work tree
clean (tests/output stays in the temp tree). The sanity venvs bootstrap pip with a script that ansible-test
looks for in its cache before downloading it; a stand-in placed there uses ensurepip instead, so the run
needs no network beyond the package index that pip itself is configured with.

ansible-test sanity runs under each ansible-core series from requires_ansible up (2.17, 2.18 and the main
venv's; core_matrix.py makes the older ones' venvs), with the same options for each; ansible-test units
under the main venv's.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

import core_matrix
from collection_copy import copy_under_git

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
MODULES = sorted(p.stem for p in (REPO / "plugins" / "modules").glob("*.py") if not p.stem.startswith("_"))

GET_PIP_STANDIN = '''\
"""Stand-in for pip's bootstrap script, placed by lvs.cluster's sanity test: ensurepip, then pip."""
import subprocess
import sys

# ensurepip in a subprocess: in-process it sets PIP_CONFIG_FILE=/dev/null for the rest of the process.
subprocess.run([sys.executable, "-m", "ensurepip", "--upgrade"], check=True)
args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
subprocess.run([sys.executable, "-m", "pip", "install", "--disable-pip-version-check"] + args, check=True)
'''


def _pip_version_of_ansible_test(core_bin: Path) -> str:
    """The pip version that this series' ansible-test bootstraps (the package ships with ansible-core)."""
    source = core_matrix.ansible_test_source(core_bin) / "_internal" / "python_requirements.py"
    found = re.search(r"\bpip='([^']+)'", source.read_text())
    return found.group(1) if found else "24.2"


def _install_get_pip_standin(core_bin: Path) -> None:
    cache = Path.home() / ".ansible" / "test" / "cache"
    cache.mkdir(parents=True, exist_ok=True)
    path = cache / ("get_pip_%s.py" % _pip_version_of_ansible_test(core_bin).replace(".", "_"))
    if not path.exists() or path.read_text() != GET_PIP_STANDIN:
        # written whole, then renamed: another sanity worker may be reading it (make test runs two)
        fd, tmp = tempfile.mkstemp(dir=cache, prefix=".get_pip-")
        with os.fdopen(fd, "w") as out:
            out.write(GET_PIP_STANDIN)
        os.replace(tmp, path)


# Under the older series, the tests that judge style and formats rather than what the collection needs from
# ansible-core: their verdict does not depend on the series, the main series runs them, and on a fresh
# machine each costs a venv of its own per series (about 5 minutes together for 2.17 and 2.18).
SERIES_INDEPENDENT = ("pylint", "pep8", "yamllint", "changelog")


# One series at a time when the sanity tests run on several workers (make test: pytest -n 2 --dist loadgroup):
# each series' ansible-test makes its test venvs under ~/.ansible/test, where two series may pick the same one.
@pytest.mark.xdist_group("ansible-test-sanity")
@pytest.mark.skipif(shutil.which("git") is None, reason="git is needed to list the collection's files")
def test_ansible_test_sanity(tmp_path, core, own_copy_env):
    _install_get_pip_standin(core.bin)
    collection = copy_under_git(tmp_path)
    older = core.bin != core_matrix.MAIN_BIN
    skips = [arg for name in SERIES_INDEPENDENT for arg in ("--skip-test", name)] if older else []
    proc = subprocess.run([str(core.bin / "ansible-test"), "sanity", "--python", "3.11", "--color", "no", *skips],
                          cwd=collection, env=own_copy_env, capture_output=True, text=True, timeout=3600, check=False)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, "ansible-test sanity failed:\n" + "\n".join(output.splitlines()[-120:])
    # ansible-test exits 0 when it skips a test it cannot run (e.g. "missing virtual environment support")
    skipped = [line for line in output.splitlines() if "kipping sanity test" in line]
    assert not skipped, "ansible-test skipped sanity tests:\n" + "\n".join(skipped)
    ran = re.findall(r'^Running sanity test "([^"]+)"', output, flags=re.M)
    assert len(ran) >= (16 if older else 20), f"only {len(ran)} sanity tests ran: {ran}"
    assert not older or not set(ran) & set(SERIES_INDEPENDENT), ran
    print(f"ansible-core {core.version}: {len(ran)} sanity tests passed: {', '.join(ran)}")  # shown by -rP
    for ignore in (REPO / "tests" / "sanity").glob("ignore-*.txt"):
        assert ignore.read_text().strip() == "", f"{ignore.name} must stay empty"


def unit_tests_collected() -> int:
    """How many tests pytest finds in tests/unit."""
    proc = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", "tests/unit"],
                          cwd=REPO, capture_output=True, text=True, timeout=600, check=False)
    found = re.search(r"^(\d+) tests? collected", proc.stdout, re.MULTILINE)
    assert proc.returncode == 0 and found, f"pytest could not collect tests/unit:\n{proc.stdout[-3000:]}{proc.stderr[-2000:]}"
    return int(found.group(1))


# Units under the main series only: they exercise the collection's own logic, which the older series'
# sanity runs (import, compile, validate-modules) already check for what it needs from ansible-core, and
# each older series' units venv costs minutes of package installs on a fresh CI machine.
@pytest.mark.skipif(shutil.which("git") is None, reason="git is needed to list the collection's files")
@pytest.mark.parametrize("core", [core_matrix.main_series()], indirect=True, ids=lambda series: "core-" + series)
def test_ansible_test_units(tmp_path, core, own_copy_env):
    """The collection's unit tests under the standard tool, as a user of the tarball would run them
    (ansible-test installs tests/unit/requirements.txt into its venv)."""
    _install_get_pip_standin(core.bin)
    collection = copy_under_git(tmp_path)
    with core_matrix.units_venv_home(core) as home:
        # ansible-test keeps its --venv under tests/output/.tmp/delegation: there, one made by an earlier run.
        (collection / "tests" / "output" / ".tmp").mkdir(parents=True)
        (collection / "tests" / "output" / ".tmp" / "delegation").symlink_to(home, target_is_directory=True)
        proc = subprocess.run([str(core.bin / "ansible-test"), "units", "--venv", "--python", "3.11",
                               "--requirements", "--color", "no"], cwd=collection, env=own_copy_env,
                              capture_output=True, text=True, timeout=3600, check=False)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, "ansible-test units failed:\n" + "\n".join(output.splitlines()[-120:])
    # This is the run of tests/unit that `make test` makes (its second session leaves tests/unit out): every
    # test pytest finds there must have passed here, none skipped or left out.
    passed = re.search(r"=+ (\d+) passed(.*) in ", output)
    collected = unit_tests_collected()
    assert passed and int(passed.group(1)) == collected and "skipped" not in passed.group(2), \
        f"ansible-test units passed {passed and passed.group(0)}, of the {collected} tests in tests/unit:\n" + output[-3000:]
    print(f"ansible-core {core.version}: {passed.group(0).strip('= ')}")  # shown by -rP


@pytest.mark.parametrize("module", MODULES)
def test_ansible_doc_renders(module, env):
    proc = subprocess.run([str(BIN / "ansible-doc"), "lvs.cluster.%s" % module], env=env, capture_output=True,
                          text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "lvs.cluster.%s" % module in proc.stdout
    assert "[WARNING]" not in proc.stderr, proc.stderr
