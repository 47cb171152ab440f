# -*- coding: utf-8 -*-
# Copyright (c) the lvs.cluster authors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Glue between AnsibleModule and the model: argument specs built from the
model's option tables, and the one place where domain errors become
``fail_json``."""

from __future__ import annotations

import contextlib
import copy

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.validation import (
    check_type_bool,
    check_type_dict,
    check_type_int,
    check_type_list,
    check_type_str,
)
from ansible_collections.lvs.cluster.plugins.module_utils._errors import ApplyError, DependencyError, LvsError
from ansible_collections.lvs.cluster.plugins.module_utils._model import (
    DEST_OPTIONS,
    SERVICE_KEY_OPTIONS,
    SERVICE_OPTIONS,
    SYNC_DAEMON_OPTIONS,
    TIMEOUT_OPTIONS,
)
from ansible_collections.lvs.cluster.plugins.module_utils._preview import WARNING as PREVIEW_WARNING


class LvsModule(AnsibleModule):
    """AnsibleModule that reports every argument error at once. Ansible's own message is that of the
    first error only, and some first errors name no option (a string where a list of dicts belongs
    fails with "dictionary requested"), while the next one does."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._lvs_validated = True

    def fail_json(self, msg=None, **kwargs):
        result = getattr(self, 'validation_result', None)
        errors = getattr(getattr(result, 'errors', None), 'errors', [])
        if not getattr(self, '_lvs_validated', False) and len(errors) > 1:
            messages = []
            for error in errors:
                text = getattr(error, 'error_message', str(error))
                if text not in messages:
                    messages.append(text)
            msg = '%s (all argument errors: %s)' % (msg, '; '.join(messages))
        super().fail_json(msg=msg, **kwargs)


def service_key_spec():
    return copy.deepcopy(SERVICE_KEY_OPTIONS)


def service_spec():
    spec = service_key_spec()
    spec.update(copy.deepcopy(SERVICE_OPTIONS))
    return spec


def dest_spec():
    return copy.deepcopy(DEST_OPTIONS)


def table_service_spec():
    spec = service_spec()
    spec['destinations'] = {'type': 'list', 'elements': 'dict', 'default': [],
                            'options': dest_spec()}
    return spec


# AnsibleModule's conversions by declared type, each with the type it leaves alone (a bool given for an int
# stays a bool, as check_type_int leaves it, for the model to refuse)
_CONVERTERS = {'int': (int, check_type_int), 'bool': (bool, check_type_bool), 'str': (str, check_type_str),
               'list': (list, check_type_list)}


def _converters(spec):
    """{option: (native type, conversion)} of the options of ``spec`` that AnsibleModule converts."""
    return {name: _CONVERTERS[entry.get('type', 'str')] for name, entry in spec.items()
            if entry.get('type', 'str') in _CONVERTERS}


def _convert(params, converters):
    """In place: each option's value converted to its declared type as AnsibleModule converts it ("80" to
    80, "yes" to true); a value that does not convert stays as it is, for the model to reject by name."""
    for name, value in params.items():
        pair = converters.get(name)
        if pair is None or value is None or isinstance(value, pair[0]):
            continue
        try:
            params[name] = pair[1](value)
        except (TypeError, ValueError, ArithmeticError):  # ArithmeticError: core's int check of an infinite float
            pass


def convert_table(services):
    """ansible-core's type conversions of a declared table (``services``), in place, without its validation.

    ipvs_table leaves its ``services`` to the model (parse_table), which validates every service and
    destination, names each bad field by its path and reports them all at once. AnsibleModule's own check
    of the same suboptions repeats that work element by element: 7-8 s for 11,000 entries in an emulated
    guest, where the whole no-op apply takes about 2 s. Only its conversions are kept, so that a table
    AnsibleModule accepted before (a port "80", a bool "yes", a destination given as "address=...") is
    accepted the same."""
    if not isinstance(services, list):
        return services
    service_options, dest_options = _converters(table_service_spec()), _converters(dest_spec())
    for service in services:
        if not isinstance(service, dict):
            continue
        _convert(service, service_options)
        dests = service.get('destinations')
        if not isinstance(dests, list):
            continue
        for index, dest in enumerate(dests):
            if isinstance(dest, str):
                try:
                    dests[index] = dest = check_type_dict(dest)
                except (TypeError, ValueError):
                    continue
            if isinstance(dest, dict):
                _convert(dest, dest_options)
    return services


def timeouts_spec():
    return copy.deepcopy(TIMEOUT_OPTIONS)


def sync_daemon_spec():
    return copy.deepcopy(SYNC_DAEMON_OPTIONS)


def drain_spec():
    """The drain options that ipvs_dest and ipvs_table share (module_utils/_drain.py does the waiting)."""
    return {
        'drain': {'type': 'bool', 'default': False},
        'drain_timeout': {'type': 'int', 'default': 300},
        'on_drain_timeout': {'type': 'str', 'choices': ['delete', 'fail'], 'default': 'fail'},
    }


def pick(params, names):
    """The subset of module params that the model reads."""
    return {name: params.get(name) for name in names}


def modprobe(module, name='ip_vs'):
    """A loader callable for the netlink client (runs only if the family is missing)."""
    return lambda: module.run_command(['modprobe', name])


def ipvs_client(module, connect_client=None):
    """The IPVS client of one module run, for a ``with`` block that closes it whatever happens: a fresh
    netlink socket (loading ip_vs when the kernel lacks the family), or the unit tests' stand-in."""
    if connect_client is None:
        from ansible_collections.lvs.cluster.plugins.module_utils._netlink import connect

        def connect_client():
            return connect(load_module=modprobe(module))
    return contextlib.closing(connect_client())


def run_module(module, run, preview=None):
    """Call ``run(module)`` and exit; domain errors become fail_json here only.

    In check mode on a host without pyroute2 (one the roles have not prepared yet), ``preview(module)``
    shows what a real run would apply to a host that holds nothing, with a warning, instead of failing."""
    try:
        try:
            result = run(module)
        except DependencyError as exc:
            if not (module.check_mode and preview is not None):
                raise
            result = preview(module)
            result['preview'] = PREVIEW_WARNING % exc
            module.warn(result['preview'])
    except LvsError as exc:
        module.fail_json(**exc.fail_kwargs())
    module.exit_json(**result)


def apply_plan(client, plan, result):
    """Send a plan; record the mutations in ``result``; raise ApplyError naming
    what was applied and what failed if the kernel refused any operation."""
    outcome = client.apply(plan)
    result['mutations'] = client.mutations
    if not outcome.ok:
        raise ApplyError(outcome.first_error(), outcome.to_dict())
