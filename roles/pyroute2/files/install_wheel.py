# Copyright (c) the lvs.cluster authors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Install a pure-Python wheel into the running interpreter's site-packages, without pip.

    VENV/bin/python install_wheel.py WHEEL

A wheel whose WHEEL file says `Root-Is-Purelib: true` is, for an installer, a zip to spread into
purelib: that is all pip would do with pyroute2's (its console scripts are not needed here). A venv
made without pip costs a second to create, where ensurepip costs about a minute on a small or
emulated machine. A previous version's package and metadata folders are removed first.
"""
import shutil
import sys
import sysconfig
import zipfile
from pathlib import Path


def main(wheel: str) -> int:
    purelib = Path(sysconfig.get_paths()["purelib"])
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        meta = [n for n in names if n.count("/") == 1 and n.endswith(".dist-info/WHEEL")]
        if len(meta) != 1 or "Root-Is-Purelib: true" not in archive.read(meta[0]).decode():
            print(f"{wheel}: not a pure-Python wheel; install it with pip", file=sys.stderr)
            return 2
        project = meta[0].split("-")[0]
        tops = {n.split("/")[0] for n in names}
        if any(t.endswith(".data") for t in tops):
            print(f"{wheel}: has a .data folder; install it with pip", file=sys.stderr)
            return 2
        for old in list(purelib.glob(f"{project}-*.dist-info")) + [purelib / t for t in tops
                                                                   if not t.endswith(".dist-info")]:
            if old.is_dir():
                shutil.rmtree(old)
        archive.extractall(purelib)
    print(f"{Path(wheel).name} -> {purelib}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]) if len(sys.argv) == 2 else 2)
