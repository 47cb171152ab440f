"""The ansible-core versions that ansible-test sanity and units run under: meta/runtime.yml says
requires_ansible >=2.17, so every series from 2.17 up to the main venv's.

The main venv (.venv, requirements.txt) holds the newest series. Each older one gets a venv of its own,
.build/core-<series>/, made here on first use from nothing and kept while its stamp (the pin and the
Python it was made with) is unchanged; `make clean` removes them with the rest of .build. They hold
ansible-core alone: `ansible-test units --venv --requirements` installs what the unit tests need
(tests/unit/requirements.txt and ansible-test's own pytest) into a venv of its own, and the sanity tests
that need packages get theirs from ansible-test under ~/.ansible/test/venv.
"""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Iterator, NamedTuple

REPO = Path(__file__).resolve().parents[2]
MAIN_BIN = Path(sys.executable).parent

# The latest patch release of each older series that the package index serves (pinned, like
# requirements.txt, so a new patch release cannot turn CI red on its own; raise them by hand).
EXTRA = {
    "2.17": "2.17.14",
    "2.18": "2.18.19",
}


class Core(NamedTuple):
    version: str  # ansible-test --version
    bin: Path  # the venv's bin folder


def main_series() -> str:
    from ansible.release import __version__  # the main venv's ansible-core

    return ".".join(__version__.split(".")[:2])


def series() -> list:
    """Every series under test, oldest first; the main venv's last."""
    main = main_series()
    return sorted((s for s in EXTRA if s != main), key=lambda s: tuple(map(int, s.split(".")))) + [main]


def _stamp_text(series_: str) -> str:
    return "ansible-core==%s python%d.%d\n" % (EXTRA[series_], *sys.version_info[:2])


def bin_dir(series_: str) -> Path:
    """The bin folder whose ansible-test is of that series: the main venv's, or a venv made here."""
    if series_ == main_series():
        return MAIN_BIN
    venv = REPO / ".build" / ("core-" + series_)
    stamp = venv / ".stamp"
    venv.parent.mkdir(parents=True, exist_ok=True)
    # One maker at a time (two pytest runs side by side would otherwise build the same venv twice).
    with open(venv.parent / (venv.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not stamp.is_file() or stamp.read_text() != _stamp_text(series_):
            subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
            subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet",
                            "--disable-pip-version-check", "ansible-core==" + EXTRA[series_]], check=True)
            stamp.write_text(_stamp_text(series_))
    return venv / "bin"


def ansible_test_source(bin_: Path) -> Path:
    """The ansible_test package beside that bin folder's ansible-core."""
    found = sorted(bin_.parent.glob("lib/python*/site-packages/ansible_test"))
    assert found, f"no ansible_test package under {bin_.parent}"
    return found[0]


@contextlib.contextmanager
def units_venv_home(core: Core) -> Iterator[Path]:
    """A folder kept between runs for `ansible-test units --venv`'s venv (the test links the copy's
    tests/output/.tmp/delegation to it): made once per ansible-core version, Python and
    tests/unit/requirements.txt, so a later run skips about 15 s of venv creation and installs, and a
    change of any of the three starts from an empty one. Held under a lock while ansible-test uses it."""
    key = hashlib.sha256("{}\n{}\n{}".format(core.version, sys.version,
                                              (REPO / "tests" / "unit" / "requirements.txt").read_text())
                         .encode()).hexdigest()[:12]
    root = REPO / ".build" / "units-venvs"
    home = root / f"{core.version}-{key}"
    root.mkdir(parents=True, exist_ok=True)
    with open(root / (core.version + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        for old in root.glob(core.version + "-*"):
            if old != home:
                shutil.rmtree(old)
        home.mkdir(exist_ok=True)
        yield home
