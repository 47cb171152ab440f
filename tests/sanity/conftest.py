"""What the sanity checks share: the venv's tools, run with the collection under development in reach."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import core_matrix

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def tool_env(collections: bool = True, bin_: Path = BIN) -> dict:
    """The venv's bin first on PATH (or another venv's: an older ansible-core's, tests/sanity/core_matrix.py),
    no colour codes in captured output; ANSIBLE_COLLECTIONS_PATH at .build/collections (where `make` links
    this checkout as lvs.cluster), or unset for a tool that must see only its own copy (ansible-test)."""
    env = dict(os.environ, PATH=f"{bin_}{os.pathsep}{os.environ.get('PATH', '')}", ANSIBLE_NOCOLOR="1",
               NO_COLOR="1")
    if collections:
        env["ANSIBLE_COLLECTIONS_PATH"] = str(REPO / ".build" / "collections")
    else:
        env.pop("ANSIBLE_COLLECTIONS_PATH", None)
    return env


@pytest.fixture()
def env() -> dict:
    """For tools that read the collection under development (ansible-doc, ansible-lint, antsibull-docs)."""
    return tool_env()


@pytest.fixture()
def copy_env() -> dict:
    """For a tool of the main venv that must see only the copy it runs in (antsibull-changelog)."""
    return tool_env(collections=False)


@pytest.fixture(params=core_matrix.series(), ids=lambda series: "core-" + series)
def core(request) -> core_matrix.Core:
    """Each ansible-core series the collection supports (the main venv's, and the older ones' venvs made
    on first use): its version and the bin folder whose ansible-test runs."""
    bin_ = core_matrix.bin_dir(request.param)
    version = subprocess.run([str(bin_ / "ansible-test"), "--version"], capture_output=True, text=True,
                             check=True).stdout.split()[-1]
    assert version.startswith(request.param + "."), f"{bin_}/ansible-test is {version}, not {request.param}"
    return core_matrix.Core(version, bin_)


@pytest.fixture()
def own_copy_env(core) -> dict:
    """For ansible-test, which must see only the copy it runs in; that series' venv first on PATH."""
    return tool_env(collections=False, bin_=core.bin)
