"""Where the lab keeps its cache (images) and its state (running labs). Both live outside the repo."""
from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
GUEST_RECIPE = REPO / "lab" / "guest"
TOPOLOGIES = REPO / "lab" / "topologies"


def cache_dir() -> Path:
    """Guest images, reused across labs and runs; keyed by their recipe."""
    return Path(os.environ.get("LVS_LAB_CACHE", "/var/cache/lvs-lab"))


def state_root() -> Path:
    """One folder per running lab: pids, overlays, SSH key, inventory."""
    return Path(os.environ.get("LVS_LAB_STATE", "/var/tmp/lvs-lab"))


def state_dir(lab: str) -> Path:
    return state_root() / lab
