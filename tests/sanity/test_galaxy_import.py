"""Galaxy's importer accepts the built tarball: every plugin's documentation loads with ansible-doc, every
role has a README, and ansible-lint (run by the importer, with Galaxy's rules) reports nothing."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def test_galaxy_importer_accepts_the_tarball(tmp_path, env):
    build = subprocess.run([str(BIN / "ansible-galaxy"), "collection", "build", "--output-path", str(tmp_path),
                            str(REPO)], capture_output=True, text=True, env=env, check=False)
    assert build.returncode == 0, build.stdout + build.stderr
    (tarball,) = tmp_path.glob("lvs-cluster-*.tar.gz")
    run = subprocess.run([sys.executable, "-m", "galaxy_importer.main", str(tarball)], cwd=tmp_path,
                         capture_output=True, text=True, env=env, timeout=900, check=False)
    output = run.stdout + run.stderr
    print(output[-3000:])
    assert run.returncode == 0, output
    assert "Importer processing completed successfully" in output, output
    # the importer only warns when a tool is missing or lint finds something: neither may happen
    assert "ansible-lint run complete" in output and "Getting doc strings via ansible-doc" in output, output
    problems = [line for line in output.splitlines() if line.startswith(("WARNING", "ERROR"))]
    assert not problems, "\n".join(problems)
