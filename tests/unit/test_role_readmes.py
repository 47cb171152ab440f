"""Every role has a README (Galaxy's importer refuses a collection without) that names every variable
of the role's argument spec, so the README cannot fall behind the spec silently."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

ROLES = sorted(p for p in (Path(__file__).resolve().parents[2] / "roles").iterdir() if p.is_dir())


@pytest.mark.parametrize("role", ROLES, ids=[r.name for r in ROLES])
def test_readme_names_every_variable(role):
    readme = role / "README.md"
    assert readme.is_file(), f"{role.name} has no README.md"
    text = readme.read_text()
    options = yaml.safe_load((role / "meta" / "argument_specs.yml").read_text())["argument_specs"]["main"]["options"]
    missing = [name for name in options if f"`{name}`" not in text]
    assert not missing, f"roles/{role.name}/README.md does not name {missing}"
