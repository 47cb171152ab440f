"""Runs inside the guest: one whole-table apply in a fresh process (like a module run, without Ansible).

Prints the netlink mutations it sent, its peak resident memory and where its time went (import, dump and
decode, parse, plan, send)."""
import json
import os
import resource
import sys
import time

started = time.perf_counter()
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ansible_collections.lvs.cluster.plugins.module_utils import _diff, _model, _netlink  # noqa: E402

seconds = {'import': time.perf_counter() - started}
with open(sys.argv[1]) as handle:
    services = json.load(handle)
with _netlink.connect() as client:
    mark = time.perf_counter()
    current = client.dump_table()
    seconds['dump'] = time.perf_counter() - mark
    mark = time.perf_counter()
    table = _model.parse_table(services)
    seconds['parse'] = time.perf_counter() - mark
    mark = time.perf_counter()
    plan = _diff.plan_all(table, current)
    seconds['plan'] = time.perf_counter() - mark
    mark = time.perf_counter()
    outcome = client.apply(plan)
    seconds['send'] = time.perf_counter() - mark
    if not outcome.ok:
        raise SystemExit(str(outcome.first_error()))
    print(json.dumps({'mutations': client.mutations, 'seconds': {k: round(v, 3) for k, v in seconds.items()},
                      'maxrss_kb': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
