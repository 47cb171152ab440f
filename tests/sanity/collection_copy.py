"""A copy of the collection as `ansible-galaxy collection build` would ship it (galaxy.yml's build_ignore
applied to the tracked and new files), for tools that must see only that: ansible-test, antsibull-changelog."""
from __future__ import annotations

import fnmatch
import shutil
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _build_ignore() -> list:
    """galaxy.yml's build_ignore: sanity checks the collection as it is built, not the lab tooling."""
    import yaml

    return yaml.safe_load((REPO / "galaxy.yml").read_text()).get("build_ignore") or []


def _ignored(name: str, patterns: list) -> bool:
    """ansible-galaxy's rule: a pattern matches the path from the collection root, or a folder above it
    (so `requirements.txt` is only the root one; `*.qcow2` matches anywhere, `*` crossing folders)."""
    return any(fnmatch.fnmatch(name, pattern) or name.startswith(pattern.rstrip("/") + "/")
               for pattern in patterns)


def copy_collection(dest_root: Path) -> Path:
    """The collection as galaxy.yml builds it, at dest_root/ansible_collections/lvs/cluster."""
    # Tracked files plus new files not yet committed (not the git-ignored ones).
    files = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                           capture_output=True, check=True).stdout.decode().split("\0")
    target = dest_root / "ansible_collections" / "lvs" / "cluster"
    patterns = _build_ignore()
    for name in filter(None, files):
        src = REPO / name
        if not src.is_file() or _ignored(name, patterns):
            continue
        out = target / name
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, out)
    return target


def copy_under_git(dest_root: Path) -> Path:
    """The copy, as a git work tree: ansible-test lists the files it checks with git."""
    collection = copy_collection(dest_root)
    subprocess.run(["git", "init", "-q"], cwd=collection, check=True)
    subprocess.run(["git", "add", "-A"], cwd=collection, check=True)
    return collection
