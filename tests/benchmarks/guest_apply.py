"""Runs inside the guest: one whole-table apply in a fresh process (like a module run, without Ansible)."""
import json
import sys
import os

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ansible_collections.lvs.cluster.plugins.module_utils import _diff, _model, _netlink  # noqa: E402

with open(sys.argv[1]) as handle:
    services = json.load(handle)
with _netlink.connect() as client:
    plan = _diff.plan_all(_model.parse_table(services), client.dump_table())
    outcome = client.apply(plan)
    if not outcome.ok:
        raise SystemExit(str(outcome.first_error()))
    print(json.dumps({'mutations': client.mutations}))
