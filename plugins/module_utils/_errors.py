# -*- coding: utf-8 -*-
# Copyright (c) the lvs.cluster authors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Domain exceptions of the collection.

They are raised deep inside module_utils and turned into ``fail_json`` only at
the module boundary (``main()``), so the same code can serve modules, filters
and unit tests.
"""

from __future__ import annotations

import errno
import os


class LvsError(Exception):
    """Base class of every error this collection raises on purpose."""

    def fail_kwargs(self):
        """Keyword arguments for ``AnsibleModule.fail_json``."""
        return {'msg': str(self)}


class ValidationError(LvsError):
    """One invalid input value; says which field and what is accepted."""

    def __init__(self, field, message, accepted=None, value=None):
        self.field = field
        self.message = message
        self.accepted = accepted
        self.value = value
        super().__init__(str(self))

    def __str__(self):
        text = '%s: %s' % (self.field or '(input)', self.message)
        if self.accepted is not None:
            text += ' (accepted: %s)' % (self.accepted,)
        return text

    def as_dict(self):
        return {'field': self.field, 'message': self.message,
                'accepted': self.accepted}

    def fail_kwargs(self):
        return {'msg': str(self), 'field': self.field,
                'accepted': self.accepted}


class ValidationErrors(LvsError):
    """Several validation errors collected over a whole declared table."""

    def __init__(self, errors):
        self.errors = list(errors)
        super().__init__(str(self))

    def __str__(self):
        count = len(self.errors)
        head = '%d invalid value%s' % (count, '' if count == 1 else 's')
        return head + ': ' + '; '.join(str(e) for e in self.errors)

    def fail_kwargs(self):
        return {'msg': str(self), 'errors': [e.as_dict() for e in self.errors]}


# Human text per errno, for IPVS requests. The netlink client may replace it
# with a more precise one when it knows the operation (e.g. which scheduler).
_ERRNO_TEXT = {
    errno.ESRCH: 'no such virtual service',
    errno.EEXIST: 'already exists',
    errno.ENOENT: 'not found (missing destination, or scheduler / persistence '
                  'engine kernel module not available)',
    errno.EINVAL: 'invalid argument (the kernel rejected the attributes: e.g. an '
                  'IPv6 persistence prefix outside 1..128, a mixed-family '
                  'destination that is not tun, a mixed-family destination while '
                  'the sync daemon runs, or a non-unicast destination address)',
    errno.ERANGE: 'value out of range (weight, or lower threshold above upper)',
    errno.EPERM: 'operation not permitted: needs root / CAP_NET_ADMIN',
    errno.EACCES: 'permission denied: needs root / CAP_NET_ADMIN',
    errno.EBUSY: 'busy (another dump in progress on this socket)',
    errno.EAFNOSUPPORT: 'address family not supported (IPv6 disabled?)',
    errno.ENOBUFS: 'netlink receive buffer overflow: some replies were lost',
    errno.EOPNOTSUPP: 'operation not supported by this kernel',
}


def errno_text(code):
    return _ERRNO_TEXT.get(code) or os.strerror(code)


class KernelError(LvsError):
    """A netlink request that the kernel answered with an error."""

    def __init__(self, code, message=None, operation=None, kernel_msg=None):
        self.errno = code
        self.operation = operation
        self.kernel_msg = kernel_msg
        self.message = message or errno_text(code)
        super().__init__(str(self))

    def __str__(self):
        name = errno.errorcode.get(self.errno, str(self.errno))
        text = self.message + ' [%s]' % name
        if self.kernel_msg:
            text += ' (kernel: %s)' % self.kernel_msg
        if self.operation:
            text = '%s: %s' % (self.operation, text)
        return text

    def fail_kwargs(self):
        return {'msg': str(self), 'errno': self.errno,
                'errno_name': errno.errorcode.get(self.errno, '')}


class DependencyError(LvsError):
    """A Python library the target host needs is missing or too old."""


class ApplyError(LvsError):
    """The kernel rejected an operation of a plan part-way.

    ``outcome`` is ``ApplyResult.to_dict()``: which operations were applied,
    which failed (with the error), which were not attempted and which got no
    answer. Nothing is rolled back; re-running the task converges.
    """

    def __init__(self, error, outcome):
        self.error = error
        self.outcome = outcome
        super().__init__(str(self))

    def __str__(self):
        return ('%s; %d operation(s) applied, %d failed, %d not attempted, %d unknown. '
                'Nothing was rolled back: fix the cause and re-run, the module is declarative.'
                % (self.error, len(self.outcome.get('applied', [])),
                   len(self.outcome.get('failed', [])),
                   len(self.outcome.get('not_attempted', [])),
                   len(self.outcome.get('unknown', []))))

    def fail_kwargs(self):
        kwargs = {'msg': str(self), 'changed': bool(self.outcome.get('applied'))}
        kwargs.update(self.outcome)
        return kwargs
