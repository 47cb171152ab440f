"""What the sanity checks share: the venv's tools, run with the collection under development in reach."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def tool_env(collections: bool = True) -> dict:
    """The venv's bin first on PATH, no colour codes in captured output; ANSIBLE_COLLECTIONS_PATH at
    .build/collections (where `make` links this checkout as lvs.cluster), or unset for a tool that must
    see only its own copy (ansible-test)."""
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", ANSIBLE_NOCOLOR="1",
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
def own_copy_env() -> dict:
    """For ansible-test, which must see only the copy it runs in."""
    return tool_env(collections=False)
