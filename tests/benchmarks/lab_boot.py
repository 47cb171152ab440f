"""Benchmark: how fast the lab boots and how much host memory a guest takes. Prints figures; asserts nothing.

    python tests/benchmarks/lab_boot.py [--rebuild] [--runs N]

- image build time: from the cached image's record, or measured now with --rebuild;
- `up` wall time of the 3-guest `dr` topology until every guest answers SSH, guests restored from the
  saved template (lab/template.py) and booted cold, alternately in one run (goal: at most 30 s on 2 cores);
- the template's own build time (boot, warm-up, save), paid once per image;
- peak resident memory (VmHWM) of each QEMU process after `up` (goal: at most 600 MB).
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

from lab import accel, image, lab, template, topology  # noqa: E402

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
    saved = template.ensure(img, accel.choose(img.kernel))
    if saved is None:
        print("no template on this machine: only cold boots are measured")
    topo = topology.load("dr")
    ups: dict = {"restore": [], "cold": []}
    rss: dict = {"restore": [], "cold": []}
    try:
        for _run in range(args.runs):
            for mode in ("restore", "cold") if saved else ("cold",):
                os.environ["LVS_LAB_BOOT"] = "auto" if mode == "restore" else "cold"
                started = time.monotonic()
                lab.up(topo, LAB)
                ups[mode].append(time.monotonic() - started)
                record = lab.status(LAB)
                assert record["boot"] == mode, record["boot"]
                rss[mode].extend(h["peak_rss_mb"] for h in record["hosts"].values())
                lab.down(LAB)
    finally:
        lab.down(LAB, quiet=True)
    print(f"image build (mmdebstrap to qcow2): {build_s:.0f} s {'(measured now)' if args.rebuild else '(cached record)'}")
    if saved:
        built = json.loads((saved.folder / "template.json").read_text())
        print(f"template (boot, warm-up, save; once per image): {built['build_seconds']:.0f} s, {built['state_mb']:.0f} MB")
    for mode in ("restore", "cold"):
        if ups[mode]:
            print(f"up, 3-guest dr topology, {mode}, to SSH-ready: median {statistics.median(ups[mode]):.1f} s "
                  f"(runs: {', '.join(f'{u:.1f}' for u in ups[mode])}; goal <= 30 s)")
            print(f"peak host memory per guest, {mode}: max {max(rss[mode]):.0f} MB, "
                  f"median {statistics.median(rss[mode]):.0f} MB (goal <= 600 MB)")
    if ups["restore"]:
        print(f"restore / cold: {statistics.median(ups['restore']) / statistics.median(ups['cold']):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
