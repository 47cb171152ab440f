"""Runs inside the guest: times ipvsadm -R and our core apply on the same table (medians)."""
import json
import statistics
import subprocess
import sys
import time

sys.path.insert(0, sys.argv[1])
from kernel import empty_kernel, sh  # noqa: E402

RUNS = int(sys.argv[3])
with open(sys.argv[2]) as handle:
    SERVICES = json.load(handle)
RULES = sys.argv[2] + '.rules'
APPLY = sys.argv[1] + '/apply.py'


def timed(func, before=None):
    values = []
    for _run in range(RUNS):
        if before:
            before()
        start = time.perf_counter()
        func()
        values.append(time.perf_counter() - start)
    return statistics.median(values)


def restore():
    with open(RULES) as handle:
        sh('ipvsadm -R', stdin=handle)


def apply_process(services_file):
    out = subprocess.run([sys.executable, APPLY, services_file], check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


from ansible_collections.lvs.cluster.plugins.module_utils import _diff, _model, _netlink  # noqa: E402


def apply_in_process(services):
    with _netlink.connect() as client:
        table = _model.parse_table(services)
        plan = _diff.plan_all(table, client.dump_table())
        outcome = client.apply(plan)
        assert outcome.ok, outcome.first_error()
        return client.mutations


changed = json.loads(json.dumps(SERVICES))
changed[500]['destinations'][3]['weight'] = 7
with open(sys.argv[2] + '.changed', 'w') as handle:
    json.dump(changed, handle)

figures = {}
figures['ipvsadm_restore'] = timed(restore, before=empty_kernel)
figures['ipvsadm_save'] = timed(lambda: sh('ipvsadm -Sn'))
figures['core_process_empty'] = timed(lambda: apply_process(sys.argv[2]), before=empty_kernel)
figures['core_process_noop'] = timed(lambda: apply_process(sys.argv[2]))
figures['core_empty'] = timed(lambda: apply_in_process(SERVICES), before=empty_kernel)
figures['core_noop'] = timed(lambda: apply_in_process(SERVICES))
figures['core_one_change'] = timed(lambda: apply_in_process(changed), before=lambda: apply_in_process(SERVICES))
apply_in_process(SERVICES)
figures['one_change_mutations'] = apply_in_process(changed)
figures['python_import'] = timed(lambda: sh(sys.executable + ' -c "import pyroute2"'))
# the guest's speed at plain Python, to compare runs of this benchmark (a TCG guest's speed varies between
# boots and with the host's load, and more for Python than for ipvsadm)
figures['python_loop'] = timed(lambda: sum(range(10 ** 7)))

# What an ipvs_table task does with its parameters: ansible-core's argument validation on the module's own
# spec (a list of dicts, and a deep copy of it), then our conversion and parse.
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator  # noqa: E402
from ansible_collections.lvs.cluster.plugins.module_utils._ansible import convert_table  # noqa: E402
from ansible_collections.lvs.cluster.plugins.modules import ipvs_table  # noqa: E402

validated = {}


def validate():
    result = ArgumentSpecValidator(ipvs_table.argument_spec()).validate({'services': SERVICES})
    assert not result.error_messages, result.error_messages[:3]
    validated['services'] = result.validated_parameters['services']


figures['argspec_validate'] = timed(validate)
figures['parse_validated'] = timed(lambda: _model.parse_table(convert_table(validated['services'])))
print(json.dumps(figures))
