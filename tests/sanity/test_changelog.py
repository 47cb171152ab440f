"""antsibull-changelog renders the coming release (galaxy.yml's version) from changelogs/: every module,
role and filter once, in the sections it generates itself from their version_added ("New Modules",
"New Roles", "New Plugins" / "Filter"), none announced again by a fragment, and a release summary.

It runs in a copy of the collection (a release rewrites changelogs/ and writes CHANGELOG.rst); it asks
ansible-doc of the main venv for the plugins and roles, so a wrong or missing version_added shows here.
"""
from __future__ import annotations

import collections
import re
import subprocess
import sys
from pathlib import Path

import yaml

from collection_copy import copy_collection

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
# A fragment entry that announces a module, role or filter as new: the generated sections already do.
ANNOUNCES_NEW = re.compile(r"\bnew\b(\s+``?[\w.]+``?)?\s+(module|role|filter|plugin)s?\b", re.I)


def _expected() -> dict:
    filters = {p.stem for p in (REPO / "plugins" / "filter").glob("*.yml")}
    return {
        "New Modules": sorted(p.stem for p in (REPO / "plugins" / "modules").glob("*.py")
                              if not p.stem.startswith("_")),
        "New Roles": sorted(p.parent.parent.name for p in (REPO / "roles").glob("*/meta/argument_specs.yml")),
        "New Plugins / Filter": sorted(filters),
    }


def _sections(rst: str, version: str) -> dict:
    """The release's entries by section ("Minor Changes", "New Plugins / Filter", ...)."""
    lines = rst.splitlines()
    start = lines.index("v" + version)
    sections: dict = collections.defaultdict(list)
    section = subsection = None
    entry = None
    for line, under in zip(lines[start + 2:], lines[start + 3:] + [""]):
        underline = under[:1] if line and len(under) == len(line) and len(set(under)) == 1 else ""
        if underline == "=":
            break  # the next release
        if underline == "-":
            section, subsection, entry = line, None, None
        elif underline == "~":
            subsection, entry = line, None
        elif line.startswith("- "):
            entry = [line[2:]]
            sections[section + (" / " + subsection if subsection else "")].append(entry)
        elif line.startswith("  ") and entry is not None:
            entry.append(line.strip())
        elif line and not set(line) <= set("-~") and section == "Release Summary":
            sections[section].append([line])
    return {name: [" ".join(e) for e in entries] for name, entries in sections.items()}


def test_changelog_release_lists_each_module_role_and_filter_once(tmp_path, copy_env):
    version = yaml.safe_load((REPO / "galaxy.yml").read_text())["version"]
    collection = copy_collection(tmp_path)
    released = yaml.safe_load((collection / "changelogs" / "changelog.yaml").read_text()).get("releases") or {}
    command = ["generate"] if version in released else ["release", "--version", version]
    proc = subprocess.run([str(BIN / "antsibull-changelog")] + command, cwd=collection, env=copy_env,
                          capture_output=True, text=True, timeout=600, check=False)
    output = proc.stdout + proc.stderr
    print(output)
    assert proc.returncode == 0, output
    assert not [line for line in output.splitlines() if line.startswith(("WARNING", "ERROR"))], output

    sections = _sections((collection / "CHANGELOG.rst").read_text(), version)
    assert sections.get("Release Summary"), f"v{version} has no release summary: {sorted(sections)}"
    for section, names in _expected().items():
        listed = [re.match(r"(\S+) - ", entry).group(1) for entry in sections.get(section, [])]
        twice = [name for name, count in collections.Counter(listed).items() if count > 1]
        assert not twice, f"{section}: listed more than once: {twice}"
        assert sorted(listed) == names, f"{section} of v{version}: {sorted(listed)}, expected {names}"
    announced = [entry for section, entries in sections.items() if not section.startswith("New ")
                 for entry in entries if ANNOUNCES_NEW.search(entry)]
    assert not announced, "fragments announce what the generated New ... sections list:\n" + "\n".join(announced)
