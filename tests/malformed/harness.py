"""Run the malformed module cases (cases.py) through each module's real main(): Ansible's argument spec
validation, then the module's own, as a task would run them, but all in one Python process.

On a guest (`python harness.py`, next to an `ansible` tree holding module_utils and an
`ansible_collections/lvs/cluster` tree): sets up a baseline (a DR service with one real server), runs
every case in normal and in check mode, and compares the host after each run with the host before it:
`ipvsadm -Sn`, the sync daemons and timeouts, `ip -o address` and `ip -o link`, the ARP and rp_filter
sysctls of every interface and noarp_vip's state file. Prints one JSON report; exits 1 when any case
was accepted, failed without naming its field, or changed the host.

On the controller, tests/unit/test_malformed_inputs.py calls run_case() with the kernel entry points
replaced by tripwires, for the cases that need no host to be judged.
"""
from __future__ import annotations

import contextlib
import glob
import importlib
import io
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
STATE_FILE = '/var/lib/lvs-cluster/noarp_vip.json'


def run_case(module_name, args, check_mode):
    """The module's JSON result for `args`, as Ansible would receive it (a traceback is returned as
    {'exception': ...})."""
    from ansible.module_utils import basic

    module = importlib.import_module('ansible_collections.lvs.cluster.plugins.modules.' + module_name)
    payload = dict(args, _ansible_check_mode=check_mode, _ansible_diff=True)
    basic._ANSIBLE_ARGS = json.dumps({'ANSIBLE_MODULE_ARGS': payload}).encode()
    basic._ANSIBLE_PROFILE = 'legacy'
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out):
            module.main()
    except SystemExit:
        pass
    except Exception as exc:  # noqa: BLE001 - reported as the case's outcome
        return {'exception': '%s: %s' % (type(exc).__name__, exc)}
    try:
        return json.loads(out.getvalue())
    except ValueError:
        return {'exception': 'no JSON result: %r' % out.getvalue()[-500:]}


def judge(result, field):
    """None when the case was refused naming `field` (or every field of a tuple); else what went wrong."""
    if 'exception' in result:
        return 'raised ' + result['exception']
    if not result.get('failed'):
        return 'accepted (changed=%s)' % result.get('changed')
    for name in (field,) if isinstance(field, str) else field:
        if name not in str(result.get('msg', '')):
            return 'failed without naming %s: %s' % (name, result.get('msg'))
    return None


# --- the guest side --------------------------------------------------------------------------------

def sh(*argv):
    return subprocess.run(argv, check=False, capture_output=True, text=True).stdout


def snapshot():
    """Everything a module of this collection could change on a host."""
    sysctls = {}
    for path in sorted(glob.glob('/proc/sys/net/ipv4/conf/*/arp_*') + glob.glob('/proc/sys/net/ipv4/conf/*/rp_filter')):
        with open(path) as handle:
            sysctls[path] = handle.read().strip()
    state = None
    if os.path.exists(STATE_FILE):
        with open(STATE_FILE) as handle:
            state = handle.read()
    return {'ipvs': sh('ipvsadm', '-Sn'), 'daemons': sh('ipvsadm', '-L', '--daemon'),
            'timeouts': sh('ipvsadm', '-L', '--timeout'), 'addresses': sh('ip', '-o', 'address'),
            'links': sh('ip', '-o', 'link'), 'sysctls': sysctls, 'state_file': state}


def changes(before, after):
    return sorted(k for k in before if before[k] != after[k])


def baseline(cases_module, up):
    """Set up (or, with up False, take away) the table the cases are written against, with ipvsadm."""
    vs = '%s:80' % cases_module.VIP
    if up:
        sh('ipvsadm', '-A', '-t', vs, '-s', 'rr')
        sh('ipvsadm', '-a', '-t', vs, '-r', '%s:80' % cases_module.RS, '-g', '-w', '1')
    else:
        sh('ipvsadm', '-D', '-t', vs)


def main():
    sys.path.insert(0, HERE)
    import cases

    baseline(cases, True)
    report = {'cases': 0, 'runs': 0, 'bad': []}
    try:
        before = snapshot()
        if cases.VIP not in before['ipvs']:
            report['bad'].append('baseline: the service was not set up: %s' % before['ipvs'])
        for case_id, module_name, args, field, _host in cases.MODULE_CASES:
            report['cases'] += 1
            for check_mode in (False, True):
                report['runs'] += 1
                result = run_case(module_name, args, check_mode)
                problem = judge(result, field)
                after = snapshot()
                changed = changes(before, after)
                if changed:
                    problem = (problem + '; ' if problem else '') + 'changed the host: ' + ', '.join(changed)
                    before = after  # report each change once
                if problem:
                    report['bad'].append('%s (%s mode): %s' % (case_id, 'check' if check_mode else 'normal',
                                                               problem))
    finally:
        baseline(cases, False)
    print(json.dumps(report, indent=1))
    return 1 if report['bad'] else 0


if __name__ == '__main__':
    sys.exit(main())
