# -*- coding: utf-8 -*-
# Copyright (c) the lvs.cluster authors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The only code that talks to the kernel's IPVS (generic netlink family "IPVS"): the socket, the family
lookup and the client. What the bytes mean is _ipvs_codec.py's, by the layout of _ipvs_layout.py.

- The family ("IPVS") is looked up with the generic netlink controller on our own socket, which then
  carries the IPVS requests. No module run imports pyroute2 (importing it costs seconds on an emulated
  guest); the requirement on it stays declared and checked (``require_pyroute2``).
- The whole table is read with one service dump plus one destination dump per service.
- Mutations go in batches: many requests, each with NLM_F_REQUEST|NLM_F_ACK and its own sequence number,
  concatenated into one buffer and sent with one ``send``; then acknowledgements are read until every
  sequence number is answered, and each error is mapped back to the operation that caused it. A batch is
  capped (256 messages, 64 KiB) so the acknowledgements fit in the socket receive buffer. The kernel handles
  the messages of a buffer one after the other and keeps going after an error, so within a batch every
  operation has its own result; after a batch with an error no further batch is sent.
"""

from __future__ import annotations

import errno
import os
import socket
import struct
from dataclasses import dataclass, field
from typing import List, Tuple

from ansible_collections.lvs.cluster.plugins.module_utils._diff import ADD, DEL, Op
from ansible_collections.lvs.cluster.plugins.module_utils._errors import (
    DependencyError,
    KernelError,
)
from ansible_collections.lvs.cluster.plugins.module_utils._ipvs_codec import (
    NLM_F_ACK,
    NLM_F_DUMP,
    NLM_F_DUMP_INTR,
    NLM_F_REQUEST,
    NLMSG_DONE,
    NLMSG_ERROR,
    DestDecoder,
    attr_table,
    decode_daemon,
    decode_dest,
    decode_error,
    decode_service,
    decode_timeouts,
    encode_daemon_attrs,
    encode_message,
    encode_op,
    encode_service_attrs,
    encode_timeouts_attrs,
    error_code,
    iter_messages,
)
from ansible_collections.lvs.cluster.plugins.module_utils._ipvs_layout import CMD, GENL_NAME, nla
from ansible_collections.lvs.cluster.plugins.module_utils._model import (
    SyncDaemon,
    Table,
    Timeouts,
)

MIN_PYROUTE2 = (0, 9, 6)

# the generic netlink controller (linux/genetlink.h): how a family's id is found by its name
NETLINK_GENERIC = 16
GENL_ID_CTRL = 0x10
CTRL_CMD_GETFAMILY = 3
CTRL_ATTR_FAMILY_ID = 1
CTRL_ATTR_FAMILY_NAME = 2
# socket options (linux/netlink.h, asm/socket.h)
SOL_NETLINK = 270
NETLINK_CAP_ACK = 10
NETLINK_EXT_ACK = 11
SO_RCVBUFFORCE = 33

BATCH_MAX_MESSAGES = 256
BATCH_MAX_BYTES = 64 * 1024
RECV_SIZE = 256 * 1024
DUMP_RETRIES = 3
_U16 = struct.Struct('=H')


# --------------------------------------------------------------------------
# pyroute2: the declared requirement, checked without importing it
# --------------------------------------------------------------------------

def _version_tuple(text):
    parts = []
    for piece in str(text).split('.')[:3]:
        digits = ''
        for char in piece:
            if not char.isdigit():
                break
            digits += char
        parts.append(int(digits or 0))
    while len(parts) < 3:
        parts.append(0)
    return tuple(parts)


def _install_hint():
    return ("install it on the target host with: python3 -m pip install 'pyroute2>=%s' "
            "(distribution packages such as Debian's python3-pyroute2 are older and "
            "do not qualify)" % '.'.join(str(p) for p in MIN_PYROUTE2))


def require_pyroute2():
    """Check that pyroute2 is installed and recent enough, or raise DependencyError; return its version tuple.

    Found and read from its metadata, not imported: importing the package takes 2.4 s on an emulated guest
    (it loads ipdb, ndb, conntrack...), and the IPVS path uses none of it (its family lookup is our own,
    _lookup_family). The requirement stays, checked the same way, so that a host the roles have not
    prepared gets the same error (and check mode its preview)."""
    from importlib import metadata, util
    try:
        spec = util.find_spec('pyroute2')
    except (ImportError, ValueError) as exc:
        spec, reason = None, exc
    else:
        reason = 'no module named pyroute2'
    if spec is None:
        raise DependencyError('pyroute2 >= %s is required but cannot be imported (%s); %s'
                              % ('.'.join(str(p) for p in MIN_PYROUTE2), reason, _install_hint()))
    try:
        version = metadata.version('pyroute2')
    except Exception:  # pylint: disable=broad-except
        version = None  # no metadata: taken as too old, with the hint to install it properly
    found = _version_tuple(version or '0')
    if found < MIN_PYROUTE2:
        raise DependencyError('pyroute2 %s is too old: >= %s is required; %s'
                              % (version, '.'.join(str(p) for p in MIN_PYROUTE2), _install_hint()))
    return found


# --------------------------------------------------------------------------
# Transport
# --------------------------------------------------------------------------

class SocketTransport:
    """A bound NETLINK_GENERIC socket and the IPVS family id.

    Anything with ``family_id``, ``send(bytes)``, ``recv() -> bytes`` and
    ``close()`` can stand in for it (the unit tests use a scripted one).
    """

    def __init__(self, sock, family_id, timeout=30.0):
        self.sock = sock
        self.family_id = family_id
        self._buffer = bytearray(RECV_SIZE)
        self._view = memoryview(self._buffer)
        sock.settimeout(timeout)
        for level, option, value in ((SOL_NETLINK, NETLINK_CAP_ACK, 1),
                                     (SOL_NETLINK, NETLINK_EXT_ACK, 1),
                                     (socket.SOL_SOCKET, SO_RCVBUFFORCE, 8 * 1024 * 1024)):
            try:
                sock.setsockopt(level, option, value)
            except OSError:
                pass  # best effort: older kernels or no CAP_NET_ADMIN

    def send(self, data):
        sent = self.sock.sendto(data, (0, 0))
        if sent != len(data):
            raise KernelError(errno.EMSGSIZE, 'short netlink send (%d of %d bytes)' % (sent, len(data)))

    def recv(self):
        # Into one buffer kept for the socket's life, then copied out at its length: sock.recv(RECV_SIZE)
        # allocates RECV_SIZE bytes for every datagram (a 36-byte ack too), which in a fresh process cost
        # two page faults a call, about 1 s of system time for a 1,000-service dump in a guest.
        try:
            size = self.sock.recv_into(self._buffer)
        except socket.timeout:
            raise KernelError(errno.ETIMEDOUT, 'no answer from the kernel within %s s'
                              % self.sock.gettimeout())
        except OSError as exc:
            if exc.errno == errno.ENOBUFS:
                raise KernelError(errno.ENOBUFS)
            raise
        return self._view[:size].tobytes()

    def close(self):
        self.sock.close()


class FamilyLookupError(Exception):
    """The generic netlink controller refused the family lookup; ``code`` is the errno (ENOENT: no such
    family, the ip_vs module is not loaded)."""

    def __init__(self, code):
        self.code = code
        super().__init__(os.strerror(code))


def _lookup_family(name, timeout=30.0):
    """(family id, bound NETLINK_GENERIC socket): the generic netlink controller asked for ``name``
    (CTRL_CMD_GETFAMILY) with our own codec, on the socket that then carries the IPVS requests."""
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_GENERIC)
    try:
        sock.bind((0, 0))
        sock.settimeout(timeout)
        sock.sendto(encode_message(GENL_ID_CTRL, CTRL_CMD_GETFAMILY, 1, NLM_F_REQUEST,
                                   nla(CTRL_ATTR_FAMILY_NAME, name.encode() + b'\0')), (0, 0))
        while True:
            try:
                data = sock.recv(RECV_SIZE)
            except socket.timeout:
                raise KernelError(errno.ETIMEDOUT, 'no answer from the generic netlink controller within %s s'
                                  % timeout, operation='open IPVS netlink family')
            for mtype, flags, seq, start, end in iter_messages(data):
                if seq != 1:
                    continue
                if mtype == NLMSG_ERROR:
                    code, _message = decode_error(data, start, end, flags)
                    raise FamilyLookupError(code or errno.EPROTO)
                span = attr_table(data, start + 4, end).get(CTRL_ATTR_FAMILY_ID)
                if mtype == GENL_ID_CTRL and span is not None:
                    return _U16.unpack_from(data, span[0])[0], sock
                raise FamilyLookupError(errno.EPROTO)
    except BaseException:
        sock.close()
        raise


def open_transport(load_module=None, timeout=30.0):
    """Open the IPVS family; if it is missing, call ``load_module`` once and retry.

    ``load_module`` is a callable such as
    ``lambda: module.run_command(['modprobe', 'ip_vs'])``; if it returns an
    (rc, stdout, stderr) tuple, a failure is included in the error.
    """
    require_pyroute2()
    loaded = None
    for attempt in range(2):
        try:
            family_id, raw = _lookup_family(GENL_NAME, timeout)
            return SocketTransport(raw, family_id, timeout)
        except FamilyLookupError as exc:
            code = exc.code
            if code in (errno.EPERM, errno.EACCES):
                raise KernelError(code, operation='open IPVS netlink family')
            if code != errno.ENOENT or attempt or load_module is None:
                hint = 'the IPVS generic netlink family is not available: load the ip_vs kernel module'
                if loaded and isinstance(loaded, tuple) and loaded and loaded[0]:
                    hint += ' (modprobe ip_vs failed: %s)' % (loaded[2] or loaded[1] or loaded[0])
                raise KernelError(code or errno.ENOENT, hint if code in (0, errno.ENOENT) else None,
                                  operation='open IPVS netlink family')
            loaded = load_module()
    raise KernelError(errno.ENOENT, 'IPVS family lookup failed')


# --------------------------------------------------------------------------
# Client
# --------------------------------------------------------------------------

@dataclass
class ApplyResult:
    """What happened to each operation of a plan."""

    applied: List = field(default_factory=list)
    failed: List[Tuple] = field(default_factory=list)  # (op, KernelError)
    not_attempted: List = field(default_factory=list)
    unknown: List = field(default_factory=list)  # sent, but no answer read

    @property
    def ok(self):
        return not (self.failed or self.not_attempted or self.unknown)

    def to_dict(self):
        return {
            'applied': [op.to_dict() for op in self.applied],
            'failed': [dict(op.to_dict(), error=str(err), errno=err.errno)
                       for op, err in self.failed],
            'not_attempted': [op.to_dict() for op in self.not_attempted],
            'unknown': [op.to_dict() for op in self.unknown],
        }

    def first_error(self):
        if self.failed:
            return self.failed[0][1]
        if self.unknown:
            return KernelError(errno.ENOBUFS, operation=str(self.unknown[0]))
        return None


def explain(op, code, kernel_msg=None):
    """A KernelError whose text fits the operation that failed."""
    message = None
    if code == errno.ENOENT and op.kind == 'service':
        if op.service is not None and op.service.persistence_engine:
            message = ('scheduler %r (module ip_vs_%s) or persistence engine %r '
                       '(module ip_vs_pe_%s) is not available in this kernel'
                       % (op.service.scheduler, op.service.scheduler,
                          op.service.persistence_engine, op.service.persistence_engine))
        elif op.service is not None:
            message = ('scheduler %r is not available in this kernel (module ip_vs_%s)'
                       % (op.service.scheduler, op.service.scheduler))
    elif code == errno.ENOENT and op.kind == 'dest':
        message = 'no such destination'
    elif code == errno.ESRCH and op.kind == 'daemon':
        message = 'no %s sync daemon is running' % op.daemon.role
    elif code == errno.EEXIST and op.kind == 'daemon':
        message = 'a %s sync daemon is already running' % op.daemon.role
    elif code == errno.EEXIST:
        message = 'already exists'
    return KernelError(code, message, operation=str(op), kernel_msg=kernel_msg)


class IpvsClient:
    """IPVS requests over a transport (see ``SocketTransport``).

    ``mutations`` counts the mutating requests sent (add/set/del, config,
    daemon, flush, zero); a one-destination change costs exactly one.
    """

    def __init__(self, transport, batch_messages=BATCH_MAX_MESSAGES,
                 batch_bytes=BATCH_MAX_BYTES):
        self.transport = transport
        self.family_id = transport.family_id
        self.batch_messages = batch_messages
        self.batch_bytes = batch_bytes
        self.mutations = 0
        self.sends = 0
        self._seq = 1000
        # one fast decoder per address family for the client's life: the layout it learns from the first
        # message of a length serves every service's dump (learning it took about 1 ms a service in a guest)
        self._dest_decoders = {}

    def close(self):
        self.transport.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _next_seq(self):
        self._seq = (self._seq + 1) & 0xFFFFFFFF or 1
        return self._seq

    def _send(self, data):
        self.sends += 1
        self.transport.send(data)

    # -- reading ------------------------------------------------------------

    def _dump(self, cmd, attrs=b'', what='dump'):
        """[(data, start, end)] of the family messages of a complete dump."""
        for _attempt in range(DUMP_RETRIES):
            seq = self._next_seq()
            self._send(encode_message(self.family_id, cmd, seq, NLM_F_REQUEST | NLM_F_DUMP, attrs))
            messages = []
            interrupted = False
            done = False
            while not done:
                data = self.transport.recv()
                for mtype, flags, mseq, start, end in iter_messages(data):
                    if mseq != seq:
                        continue  # a stale answer to an earlier request
                    if flags & NLM_F_DUMP_INTR:
                        interrupted = True
                    if mtype == NLMSG_DONE:
                        done = True
                        if end - start >= 4:
                            code = error_code(data, start)
                            if code:
                                raise KernelError(code, operation=what)
                        break
                    if mtype == NLMSG_ERROR:
                        code, kmsg = decode_error(data, start, end, flags)
                        if code:
                            raise KernelError(code, operation=what, kernel_msg=kmsg)
                        done = True
                        break
                    if mtype == self.family_id:
                        messages.append((data, start, end))
            if not interrupted:
                return messages
        raise KernelError(errno.EINTR, 'the table kept changing during the dump; try again',
                          operation=what)

    def _request(self, cmd, attrs=b'', what='request'):
        """A single doit request; returns its reply messages (may be empty)."""
        seq = self._next_seq()
        self._send(encode_message(self.family_id, cmd, seq, NLM_F_REQUEST | NLM_F_ACK, attrs))
        replies = []
        while True:
            data = self.transport.recv()
            for mtype, flags, mseq, start, end in iter_messages(data):
                if mseq != seq:
                    continue
                if mtype == NLMSG_ERROR:
                    code, kmsg = decode_error(data, start, end, flags)
                    if code:
                        raise KernelError(code, operation=what, kernel_msg=kmsg)
                    return replies
                if mtype == self.family_id:
                    replies.append((data, start, end))

    def dump_services(self, with_stats=False):
        """{ServiceKey: Service} (and {ServiceKey: stats} if with_stats)."""
        services = {}
        stats = {}
        for data, start, end in self._dump(CMD.GET_SERVICE, what='dump services'):
            service, svc_stats = decode_service(data, start, end, with_stats)
            services[service.key] = service
            if with_stats:
                stats[service.key] = svc_stats
        return (services, stats) if with_stats else services

    def dump_dests(self, key, with_stats=False):
        """{(address, port): Dest} of one service (and counters if with_stats).

        A service that does not exist dumps as empty (the kernel's behaviour).
        """
        dests = {}
        counters = {}
        messages = self._dump(CMD.GET_DEST, encode_service_attrs(key),
                              what='dump destinations of %s' % key)
        if not with_stats:  # the common case, a table compared with what is declared: the fast decoder
            decode = self._dest_decoders.get(key.family)
            if decode is None:
                decode = self._dest_decoders[key.family] = DestDecoder(key.family)
            for data, start, end in messages:
                dest = decode(data, start, end)
                dests[dest.key] = dest
            return dests
        for data, start, end in messages:
            dest, extra = decode_dest(data, start, end, key.family, with_stats)
            dests[dest.key] = dest
            counters[dest.key] = extra
        return dests, counters

    def dump_table(self, with_stats=False):
        """The whole table: one service dump plus one destination dump per service."""
        table = Table()
        stats = {}
        if with_stats:
            services, svc_stats = self.dump_services(with_stats=True)
        else:
            services = self.dump_services()
        for key in services:
            table.add_service(services[key])
            if with_stats:
                dests, counters = self.dump_dests(key, with_stats=True)
                stats[key] = {'service': svc_stats.get(key), 'dests': counters}
            else:
                dests = self.dump_dests(key)
            table.dests[key] = dests
        return (table, stats) if with_stats else table

    def get_service(self, key):
        """The Service with this key, or None."""
        try:
            replies = self._request(CMD.GET_SERVICE, encode_service_attrs(key),
                                    what='get service %s' % key)
        except KernelError as exc:
            if exc.errno == errno.ESRCH:
                return None
            raise
        for data, start, end in replies:
            return decode_service(data, start, end)[0]
        return None

    def get_timeouts(self):
        for data, start, end in self._request(CMD.GET_CONFIG, what='get timeouts'):
            return decode_timeouts(data, start, end)
        return Timeouts()

    def get_daemons(self):
        """{role: SyncDaemon} of the running sync daemons."""
        daemons = {}
        for data, start, end in self._dump(CMD.GET_DAEMON, what='dump sync daemons'):
            daemon = decode_daemon(data, start, end)
            if daemon is not None:
                daemons[daemon.role] = daemon
        return daemons

    # -- writing ------------------------------------------------------------

    def batches(self, plan):
        """Split a plan into batches of [(seq, op, message bytes)]."""
        batch = []
        size = 0
        for op in plan:
            cmd, attrs = encode_op(op)
            seq = self._next_seq()
            message = encode_message(self.family_id, cmd, seq, NLM_F_REQUEST | NLM_F_ACK, attrs)
            if batch and (len(batch) >= self.batch_messages
                          or size + len(message) > self.batch_bytes):
                yield batch
                batch = []
                size = 0
            batch.append((seq, op, message))
            size += len(message)
        if batch:
            yield batch

    def _collect_acks(self, pending):
        """{seq: (errno, kernel message)} for every sequence number in ``pending``."""
        answers = {}
        while len(answers) < len(pending):
            try:
                data = self.transport.recv()
            except KernelError as exc:
                if exc.errno in (errno.ENOBUFS, errno.ETIMEDOUT):
                    return answers  # acks were lost: the rest stays unknown
                raise
            for mtype, flags, seq, start, end in iter_messages(data):
                if mtype == NLMSG_ERROR and seq in pending and seq not in answers:
                    answers[seq] = decode_error(data, start, end, flags)
        return answers

    def apply(self, plan):
        """Send ``plan`` in batches; return an ApplyResult (never raises for an op error).

        After a batch in which an operation failed, later batches are not
        sent: they are reported as not attempted. Nothing is rolled back.
        """
        result = ApplyResult()
        stopped = False
        for batch in self.batches(plan):
            if stopped:
                result.not_attempted.extend(op for _seq, op, _msg in batch)
                continue
            self._send(b''.join(msg for _seq, _op, msg in batch))
            self.mutations += len(batch)
            answers = self._collect_acks({seq for seq, _op, _msg in batch})
            for seq, op, _msg in batch:
                answer = answers.get(seq)
                if answer is None:
                    result.unknown.append(op)
                elif answer[0]:
                    result.failed.append((op, explain(op, answer[0], answer[1])))
                else:
                    result.applied.append(op)
            stopped = bool(result.failed or result.unknown)
        return result

    def _simple(self, cmd, attrs, what):
        self.mutations += 1
        self._request(cmd, attrs, what=what)

    def flush(self):
        """Delete every service and destination."""
        self._simple(CMD.FLUSH, b'', 'flush')

    def zero(self, key=None):
        """Zero the counters of one service, or of all services."""
        self._simple(CMD.ZERO, encode_service_attrs(key) if key is not None else b'',
                     'zero %s' % (key or 'all'))

    def set_timeouts(self, timeouts):
        self._simple(CMD.SET_CONFIG, encode_timeouts_attrs(timeouts), 'set timeouts')

    def start_daemon(self, daemon):
        self._daemon_request(Op(ADD, 'daemon', daemon=daemon), CMD.NEW_DAEMON, encode_daemon_attrs(daemon))

    def stop_daemon(self, role):
        daemon = SyncDaemon(role=role, interface='')
        self._daemon_request(Op(DEL, 'daemon', daemon=daemon), CMD.DEL_DAEMON, encode_daemon_attrs(daemon, full=False))

    def _daemon_request(self, op, cmd, attrs):
        # The kernel answers ESRCH ("no such process") for a daemon that does not run: reword the
        # errno through explain() so the message is about the daemon, not a virtual service.
        try:
            self._simple(cmd, attrs, str(op))
        except KernelError as exc:
            raise explain(op, exc.errno, exc.kernel_msg)


def connect(load_module=None, timeout=30.0):
    """An IpvsClient on a fresh socket (loads ip_vs through ``load_module`` if needed)."""
    return IpvsClient(open_transport(load_module=load_module, timeout=timeout))
