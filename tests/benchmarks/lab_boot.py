"""Benchmark: how fast the lab boots and how much host memory a guest takes. Prints figures; asserts nothing.

    python tests/benchmarks/lab_boot.py [--rebuild] [--runs N]

- image build time: from the cached image's record, or measured now with --rebuild;
- `up` wall time of the 3-guest `dr` topology until every guest answers SSH (goal: at most 30 s on 2 cores);
- peak resident memory (VmHWM) of each QEMU process after boot (goal: at most 600 MB).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from lab import image, lab, topology  # noqa: E402

LAB = f"boot-{os.getpid()}"  # a name of its own: another run's lab is never taken down


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rebuild", action="store_true", help="measure a fresh image build too")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    if args.rebuild:
        started = time.monotonic()
        img = image.build()
        build_s = time.monotonic() - started
    else:
        img = image.ensure()
        build_s = json.loads((img.folder / "recipe.json").read_text())["build_seconds"]
    topo = topology.load("dr")
    ups, rss = [], []
    try:
        for _run in range(args.runs):
            started = time.monotonic()
            lab.up(topo, LAB)
            ups.append(time.monotonic() - started)
            record = lab.status(LAB)
            rss.extend(h["peak_rss_mb"] for h in record["hosts"].values())
            lab.down(LAB)
    finally:
        lab.down(LAB, quiet=True)
    print(f"image build (mmdebstrap to qcow2): {build_s:.0f} s {'(measured now)' if args.rebuild else '(cached record)'}")
    print(f"up, 3-guest dr topology, to SSH-ready: median {statistics.median(ups):.1f} s "
          f"(runs: {', '.join(f'{u:.1f}' for u in ups)}; goal <= 30 s)")
    print(f"peak host memory per guest: max {max(rss):.0f} MB, median {statistics.median(rss):.0f} MB "
          f"(goal <= 600 MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
