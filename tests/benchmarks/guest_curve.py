"""Runs inside the guest: one point of the scaling curve (one run each, a table of the size given).

    python guest_curve.py BENCH_DIR TABLE_JSON

ipvsadm -R from empty, then our apply in a fresh process from empty, as a no-op and as a one-destination
weight change; prints the times, the change's mutations and each run's peak memory as one JSON line."""
import json
import subprocess
import sys
import time

BENCH, TABLE = sys.argv[1], sys.argv[2]
sys.path.insert(0, BENCH)
from kernel import empty_kernel, sh  # noqa: E402


def apply(path):
    start = time.perf_counter()
    out = subprocess.run([sys.executable, BENCH + '/apply.py', path], check=True, capture_output=True, text=True)
    return dict(json.loads(out.stdout), wall=time.perf_counter() - start)


with open(TABLE) as handle:
    services = json.load(handle)
changed = json.loads(json.dumps(services))
changed[len(changed) // 2]['destinations'][3]['weight'] = 7
with open(TABLE + '.changed', 'w') as handle:
    json.dump(changed, handle)

empty_kernel()
start = time.perf_counter()
with open(TABLE + '.rules') as handle:
    sh('ipvsadm -R', stdin=handle)
restore = time.perf_counter() - start
empty_kernel()
empty, noop, change = apply(TABLE), apply(TABLE), apply(TABLE + '.changed')
empty_kernel()
print(json.dumps({'ipvsadm_restore': restore, 'empty': empty, 'noop': noop, 'change': change}))
