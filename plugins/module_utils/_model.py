# -*- coding: utf-8 -*-
# Copyright (c) the lvs.cluster authors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The one schema of an IPVS virtual service and its destinations.

Every reader goes through this file: the modules (argument specs are built
from the option tables below), the diff engine, the netlink client (which
builds model objects from kernel replies) and, later, the roles through a
filter plugin. Values are normalised here so that comparing a declared object
with one read from the kernel is a plain ``==``:

- addresses through ``ipaddress`` (IPv6 in compressed form);
- scheduler and choice values lower-case; ports and numbers ``int``;
- options that do not apply (tunnel options of a non-tun destination,
  netmask of a non-persistent service) take one fixed value.

Validation happens before any kernel change and raises ``ValidationError``
(one field) or ``ValidationErrors`` (a whole table), naming the field path
(``services[2].destinations[0].port``) and the accepted values.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from dataclasses import dataclass, field, fields
from typing import Dict, Optional, Tuple, Union

from ansible_collections.lvs.cluster.plugins.module_utils._errors import (
    ValidationError,
    ValidationErrors,
)
from ansible_collections.lvs.cluster.plugins.module_utils._hostnet import IFNAME_ACCEPTED, is_ifname

# Linux values, written out so the model also runs on a non-Linux controller.
AF_INET = 2
AF_INET6 = 10
FAMILIES = {'ipv4': AF_INET, 'ipv6': AF_INET6}
FAMILY_NAMES = {v: k for k, v in FAMILIES.items()}

PROTOCOLS = {'tcp': 6, 'udp': 17, 'sctp': 132}
PROTOCOL_NAMES = {v: k for k, v in PROTOCOLS.items()}

SCHEDULERS = ('rr', 'wrr', 'lc', 'wlc', 'lblc', 'lblcr', 'dh', 'sh', 'sed',
              'nq', 'fo', 'ovf', 'mh', 'twos')
DEFAULT_SCHEDULER = 'wlc'

# Destination forwarding methods (IP_VS_CONN_F_*) and tunnel encapsulation.
FORWARDING = {'nat': 0, 'local': 1, 'tun': 2, 'dr': 3}
FORWARDING_NAMES = {v: k for k, v in FORWARDING.items()}
FWD_MASK = 0x7
TUNNEL_TYPES = {'ipip': 0, 'gue': 1, 'gre': 2}
TUNNEL_TYPE_NAMES = {v: k for k, v in TUNNEL_TYPES.items()}
TUNNEL_CHECKSUMS = {'nocsum': 0, 'csum': 1, 'remcsum': 2}
TUNNEL_CHECKSUM_NAMES = {v: k for k, v in TUNNEL_CHECKSUMS.items()}
PERSISTENCE_ENGINES = ('sip',)

# Service flag bits (IP_VS_SVC_F_*).
SVC_F_PERSISTENT = 0x1
SVC_F_HASHED = 0x2  # set by the kernel; never compared, never sent
SVC_F_ONEPACKET = 0x4
SVC_F_SCHED1 = 0x8
SVC_F_SCHED2 = 0x10

# Scheduler-specific flags: option name -> (scheduler, bit).
SCHED_FLAG_OPTIONS = {
    'sh_fallback': ('sh', SVC_F_SCHED1),
    'sh_port': ('sh', SVC_F_SCHED2),
    'mh_fallback': ('mh', SVC_F_SCHED1),
    'mh_port': ('mh', SVC_F_SCHED2),
}

SYNC_STATES = {'master': 1, 'backup': 2}
SYNC_STATE_NAMES = {v: k for k, v in SYNC_STATES.items()}

PORT_MAX = 65535
FWMARK_MAX = 0xFFFFFFFF
WEIGHT_MAX = 0x7FFFFFFF  # the kernel stores weight in an int
THRESHOLD_MAX = 65535
PERSISTENCE_TIMEOUT_MAX = 2678400  # 31 days, the limit ipvsadm applies
# Global timeouts are multiplied by HZ into an int; this bound is safe for
# any HZ up to 1000.
GLOBAL_TIMEOUT_MAX = 2147483
SYNC_ID_MAX = 255

DEFAULT_NETMASK = {'ipv4': '255.255.255.255', 'ipv6': 128}

# Option tables: the modules build their argument_spec from these (see
# _ansible.py), and the parsers below take their defaults and choices from
# them, so an option is defined once.
SERVICE_KEY_OPTIONS = {
    'protocol': {'type': 'str', 'choices': sorted(PROTOCOLS)},
    'address': {'type': 'str'},
    'port': {'type': 'int'},
    'fwmark': {'type': 'int'},
    'family': {'type': 'str', 'choices': sorted(FAMILIES)},
}
SERVICE_OPTIONS = {
    'scheduler': {'type': 'str', 'default': DEFAULT_SCHEDULER},
    'one_packet': {'type': 'bool', 'default': False},
    'sh_fallback': {'type': 'bool', 'default': False},
    'sh_port': {'type': 'bool', 'default': False},
    'mh_fallback': {'type': 'bool', 'default': False},
    'mh_port': {'type': 'bool', 'default': False},
    'persistence_timeout': {'type': 'int', 'default': 0},
    'persistence_netmask': {'type': 'raw'},
    'persistence_engine': {'type': 'str', 'choices': list(PERSISTENCE_ENGINES)},
}
DEST_OPTIONS = {
    'address': {'type': 'str', 'required': True},
    'port': {'type': 'int'},
    'forwarding': {'type': 'str', 'choices': sorted(FORWARDING), 'default': 'dr'},
    'weight': {'type': 'int', 'default': 1},
    'upper_threshold': {'type': 'int', 'default': 0},
    'lower_threshold': {'type': 'int', 'default': 0},
    'tunnel_type': {'type': 'str', 'choices': sorted(TUNNEL_TYPES)},
    'tunnel_port': {'type': 'int'},
    'tunnel_checksum': {'type': 'str', 'choices': sorted(TUNNEL_CHECKSUMS)},
}
TIMEOUT_OPTIONS = {
    'tcp': {'type': 'int'},
    'tcpfin': {'type': 'int'},
    'udp': {'type': 'int'},
}
SYNC_DAEMON_OPTIONS = {
    'role': {'type': 'str', 'required': True, 'choices': sorted(SYNC_STATES)},
    'interface': {'type': 'str', 'required': True},
    'sync_id': {'type': 'int', 'default': 0},
    'max_len': {'type': 'int'},
    'group': {'type': 'str'},
    'port': {'type': 'int'},
    'ttl': {'type': 'int'},
}


# --------------------------------------------------------------------------
# Model objects
# --------------------------------------------------------------------------

def format_endpoint(address, port):
    if address is not None and ':' in address:
        return '[%s]:%d' % (address, port)
    return '%s:%d' % (address, port)


@dataclass(frozen=True)
class ServiceKey:
    """What identifies a virtual service; the kernel cannot change it in place."""

    family: str
    protocol: Optional[str] = None
    address: Optional[str] = None
    port: int = 0
    fwmark: int = 0

    def __str__(self):
        if self.fwmark:
            return 'fwmark %d %s' % (self.fwmark, self.family)
        return '%s %s' % (self.protocol, format_endpoint(self.address, self.port))

    def sort_key(self):
        if self.fwmark:
            return (1, self.family, '', 0, 0, self.fwmark)
        return (0, self.family, self.protocol,
                int(ipaddress.ip_address(self.address)), self.port, 0)

    def to_dict(self):
        if self.fwmark:
            return {'fwmark': self.fwmark, 'family': self.family}
        return {'protocol': self.protocol, 'address': self.address,
                'port': self.port, 'family': self.family}


@dataclass(frozen=True)
class Service:
    """A virtual service: its key plus the attributes SET can change."""

    key: ServiceKey
    scheduler: str = DEFAULT_SCHEDULER
    one_packet: bool = False
    sh_fallback: bool = False
    sh_port: bool = False
    mh_fallback: bool = False
    mh_port: bool = False
    persistence_timeout: int = 0
    persistence_netmask: Union[str, int, None] = None
    persistence_engine: Optional[str] = None

    def __post_init__(self):
        # A netmask only matters with persistence; fix it otherwise so that a
        # value left behind by another tool never shows up as a difference.
        if self.persistence_netmask is None or not self.persistence_timeout:
            object.__setattr__(self, 'persistence_netmask',
                               DEFAULT_NETMASK[self.key.family])

    @property
    def flags(self):
        value = 0
        if self.persistence_timeout:
            value |= SVC_F_PERSISTENT
        if self.one_packet:
            value |= SVC_F_ONEPACKET
        if self.sh_fallback or self.mh_fallback:
            value |= SVC_F_SCHED1
        if self.sh_port or self.mh_port:
            value |= SVC_F_SCHED2
        return value

    def settings(self):
        """The attributes compared by the diff (everything but the key)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != 'key'}

    def to_dict(self):
        data = self.key.to_dict()
        data.update(self.settings())
        return data


DestKey = Tuple[str, int]


@dataclass(frozen=True)
class Dest:
    """A destination (real server) of a virtual service."""

    address: str
    port: int
    family: str
    forwarding: str = 'dr'
    weight: int = 1
    upper_threshold: int = 0
    lower_threshold: int = 0
    tunnel_type: Optional[str] = None
    tunnel_port: int = 0
    tunnel_checksum: Optional[str] = None

    @property
    def key(self):
        return (self.address, self.port)

    def __str__(self):
        return format_endpoint(self.address, self.port)

    def settings(self):
        return {f.name: getattr(self, f.name) for f in fields(self)
                if f.name not in ('address', 'port', 'family')}

    def to_dict(self):
        data = {'address': self.address, 'port': self.port, 'family': self.family}
        data.update(self.settings())
        return data


@dataclass(frozen=True)
class Timeouts:
    """Global IPVS timeouts in seconds; 0 means "leave unchanged"."""

    tcp: int = 0
    tcpfin: int = 0
    udp: int = 0

    def to_dict(self):
        return {'tcp': self.tcp, 'tcpfin': self.tcpfin, 'udp': self.udp}


@dataclass(frozen=True)
class SyncDaemon:
    """A connection synchronisation daemon (one per role)."""

    role: str
    interface: str
    sync_id: int = 0
    max_len: Optional[int] = None
    group: Optional[str] = None
    port: Optional[int] = None
    ttl: Optional[int] = None

    def matches(self, current):
        """True if ``current`` (read from the kernel) satisfies this declaration.

        Unset optional values take kernel defaults and are not compared.
        max_len is never compared: the kernel clamps it to the interface MTU.
        """
        if (self.role, self.interface, self.sync_id) != (
                current.role, current.interface, current.sync_id):
            return False
        for name in ('group', 'port', 'ttl'):
            wanted = getattr(self, name)
            if wanted is not None and wanted != getattr(current, name):
                return False
        return True

    def to_dict(self):
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass
class Table:
    """Services and their destinations, keyed for exact comparison."""

    services: Dict[ServiceKey, Service] = field(default_factory=dict)
    dests: Dict[ServiceKey, Dict[DestKey, Dest]] = field(default_factory=dict)

    def add_service(self, service):
        self.services[service.key] = service
        self.dests.setdefault(service.key, {})

    def dest_count(self):
        return sum(len(d) for d in self.dests.values())


# --------------------------------------------------------------------------
# Constructors from kernel values (no validation: the kernel is the truth)
# --------------------------------------------------------------------------

def service_from_kernel(key, scheduler, flags, timeout, netmask, pe_name):
    """Build a Service from raw kernel values; ``netmask`` is already decoded."""
    flags &= ~SVC_F_HASHED
    persistent = bool(flags & SVC_F_PERSISTENT)
    values = {}
    # SCHED1/SCHED2 mean different things per scheduler.
    for option, (sched, bit) in SCHED_FLAG_OPTIONS.items():
        if sched == scheduler:
            values[option] = bool(flags & bit)
    return Service(
        key=key,
        scheduler=scheduler,
        one_packet=bool(flags & SVC_F_ONEPACKET),
        persistence_timeout=timeout if persistent else 0,
        persistence_netmask=netmask,
        persistence_engine=pe_name or None,
        **values)


def built_dest(address, port, family, forwarding, weight, upper_threshold, lower_threshold,
               tunnel_type=None, tunnel_port=0, tunnel_checksum=None):
    """A Dest of values already checked (read from the kernel, or parsed): the same frozen object as
    Dest(...), made without the generated __init__, whose one frozen assignment per field costs more than
    the rest of a dump's decoding (Dest has no __post_init__ to skip)."""
    dest = object.__new__(Dest)
    dest.__dict__.update(address=address, port=port, family=family, forwarding=forwarding, weight=weight,
                         upper_threshold=upper_threshold, lower_threshold=lower_threshold,
                         tunnel_type=tunnel_type, tunnel_port=tunnel_port, tunnel_checksum=tunnel_checksum)
    return dest


def dest_from_kernel(address, port, family, fwd, weight, u_thresh, l_thresh,
                     tun_type=0, tun_port=0, tun_flags=0):
    forwarding = FORWARDING_NAMES.get(fwd & FWD_MASK, 'dr')
    if forwarding == 'tun':
        tunnel_type = TUNNEL_TYPE_NAMES.get(tun_type, str(tun_type))
        return built_dest(address, port, family, forwarding, weight, u_thresh, l_thresh, tunnel_type,
                          tun_port if tunnel_type == 'gue' else 0,
                          TUNNEL_CHECKSUM_NAMES.get(tun_flags, str(tun_flags)))
    return built_dest(address, port, family, forwarding, weight, u_thresh, l_thresh)


# --------------------------------------------------------------------------
# Parsing and validation of declared values
# --------------------------------------------------------------------------

class ErrorCollector:
    """Collects validation errors so a whole table is reported at once."""

    def __init__(self):
        self.items = []

    def add(self, field_path, message, accepted=None, value=None):
        self.items.append(ValidationError(field_path, message, accepted, value))
        return None

    def raise_if_any(self):
        if len(self.items) == 1:
            raise self.items[0]
        if self.items:
            raise ValidationErrors(self.items)


_DECIMAL = re.compile(r'-?[0-9]+')


def decimal_int(text):
    """The int an ASCII decimal string spells (surrounding whitespace allowed), else None. str.isdigit()
    is not enough: it is true for '²', which int() refuses."""
    text = text.strip()
    return int(text) if _DECIMAL.fullmatch(text) else None


def _range_text(low, high):
    return '%d..%d' % (low, high)


def _get_int(params, name, path, errors, low, high, default=None, accepted=None):
    value = params.get(name)
    if value is None:
        return default
    if isinstance(value, bool):
        return errors.add(path + name, 'must be an integer, got a boolean',
                          accepted or _range_text(low, high), value)
    if isinstance(value, str):
        number = decimal_int(value)
        if number is None:
            return errors.add(path + name, 'must be an integer, got %r' % value,
                              accepted or _range_text(low, high), value)
        value = number
    if not isinstance(value, int):
        return errors.add(path + name, 'must be an integer, got %r' % (value,),
                          accepted or _range_text(low, high), value)
    if value < low or value > high:
        return errors.add(path + name, '%d is out of range' % value,
                          accepted or _range_text(low, high), value)
    return value


_TRUE = ('true', 'yes', 'on', '1')
_FALSE = ('false', 'no', 'off', '0')


def _get_bool(params, name, path, errors, default=False):
    value = params.get(name)
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in _TRUE + _FALSE:
        return value.lower() in _TRUE
    return errors.add(path + name, 'must be a boolean, got %r' % (value,),
                      'true, false', value)


def _get_choice(params, name, path, errors, choices, default=None):
    value = params.get(name)
    if value is None:
        return default
    if not isinstance(value, str) or value.strip().lower() not in choices:
        return errors.add(path + name, 'unknown value %r' % (value,),
                          ', '.join(choices), value)
    return value.strip().lower()


_SERVICE_NAMES = frozenset(SERVICE_KEY_OPTIONS) | frozenset(SERVICE_OPTIONS)
_DEST_NAMES = frozenset(DEST_OPTIONS)


def _check_unknown(params, allowed, path, errors):
    for name in params:
        if name not in allowed:
            errors.add(path + str(name), 'unknown option',
                       ', '.join(sorted(allowed)), params[name])


_BROADCAST = ipaddress.IPv4Address('255.255.255.255')


def unicast_problem(ip):
    """Why the ipaddress `ip` cannot be a service's or a real server's address, or None."""
    if ip.is_unspecified:
        return 'the unspecified address'
    if ip.is_multicast:
        return 'a multicast address'
    if ip == _BROADCAST:
        return 'the broadcast address'
    if ip.version == 6 and ip.is_link_local:
        return 'an IPv6 link-local address'
    return None


@functools.lru_cache(maxsize=65536)
def _address_info(text):
    """(ip, why it is unusable or None); cached: big tables repeat real servers."""
    ip = ipaddress.ip_address(text)
    return ip, unicast_problem(ip)


@functools.lru_cache(maxsize=65536)
def _compressed(ip):
    """The normalised text of an address; cached like _address_info (big tables repeat it)."""
    return ip.compressed


def _parse_address(value, field_path, errors, unicast=False):
    """An ipaddress object, or None after recording the error."""
    if value is None:
        return errors.add(field_path, 'is required', 'an IPv4 or IPv6 address')
    try:
        ip, reason = _address_info(str(value).strip())
    except ValueError:
        return errors.add(field_path, 'invalid address %r' % (value,),
                          'an IPv4 or IPv6 address (no prefix length)', value)
    if unicast and reason:
        return errors.add(field_path, 'cannot be %s' % reason,
                          'a unicast IPv4 or IPv6 address', str(ip))
    return ip


def service_key_from_params(params, path='', errors=None):
    """Parse the identifying part of a service (protocol/address/port or fwmark)."""
    own = errors is None
    errors = errors or ErrorCollector()
    key = _service_key(params, path, errors, require_port=True)
    if own:
        errors.raise_if_any()
    return key


def _service_key(params, path, errors, require_port):
    # a mark of 0 is "no mark" to the kernel: given, it is a mistake, not an address service
    fwmark = _get_int(params, 'fwmark', path, errors, 1, FWMARK_MAX,
                      accepted='1..%d, or omit fwmark for an address service' % FWMARK_MAX)
    family = _get_choice(params, 'family', path, errors, tuple(FAMILIES))
    if fwmark is None and params.get('fwmark') is not None:
        return None  # a bad mark, already named: asking for an address as well would only confuse
    if fwmark:
        for name in ('address', 'port', 'protocol'):
            if params.get(name) is not None:
                errors.add(path + name, 'cannot be combined with fwmark',
                           'either fwmark (+ family) or protocol + address + port')
        return ServiceKey(family=family or 'ipv4', fwmark=fwmark)
    protocol = _get_choice(params, 'protocol', path, errors, tuple(PROTOCOLS), 'tcp')
    ip = _parse_address(params.get('address'), path + 'address', errors, unicast=True)
    if ip is not None and family is not None and FAMILIES[family] != (
            AF_INET if ip.version == 4 else AF_INET6):
        errors.add(path + 'family', '%s does not match address %s' % (family, ip),
                   'ipv%d (or omit family)' % ip.version, family)
    port = _get_int(params, 'port', path, errors, 0, PORT_MAX)
    if params.get('port') is None and require_port:
        errors.add(path + 'port', 'is required unless fwmark is set',
                   _range_text(1, PORT_MAX))
    if ip is None or port is None or protocol is None:
        return None
    return ServiceKey(family='ipv4' if ip.version == 4 else 'ipv6',
                      protocol=protocol, address=_compressed(ip), port=port)


def _netmask(value, family, field_path, errors):
    if family == 'ipv6':
        plen = decimal_int(str(value).lstrip().lstrip('/'))
        if isinstance(value, bool) or plen is None or not 1 <= plen <= 128:
            return errors.add(field_path, 'invalid IPv6 persistence prefix length %r' % (value,),
                              'a prefix length 1..128', value)
        return plen
    text = str(value).strip()
    plen = decimal_int(text.lstrip('/'))
    if plen is not None and plen >= 0 and not isinstance(value, bool):
        if plen > 32:
            return errors.add(field_path, 'prefix length %d is out of range' % plen,
                              'a dotted netmask or a prefix length 0..32', value)
        return str(ipaddress.IPv4Network('0.0.0.0/%d' % plen).netmask)
    try:
        mask = int(ipaddress.IPv4Address(text))
    except ValueError:
        return errors.add(field_path, 'invalid IPv4 netmask %r' % (value,),
                          'a dotted netmask such as 255.255.255.0 or a prefix length 0..32', value)
    inverted = ~mask & 0xFFFFFFFF
    if inverted & (inverted + 1):
        return errors.add(field_path, '%s is not a contiguous netmask' % text,
                          'a dotted netmask such as 255.255.255.0 or a prefix length 0..32', value)
    return text


def service_from_params(params, path='', errors=None, extra_keys=()):
    """Parse and validate one declared service (without its destinations)."""
    own = errors is None
    errors = errors or ErrorCollector()
    before = len(errors.items)
    _check_unknown(params, _SERVICE_NAMES | frozenset(extra_keys), path, errors)
    key = _service_key(params, path, errors, require_port=True)
    scheduler = _get_choice(params, 'scheduler', path, errors, SCHEDULERS, DEFAULT_SCHEDULER)
    flags = {}
    for option, (sched, _bit) in SCHED_FLAG_OPTIONS.items():
        flags[option] = _get_bool(params, option, path, errors)
        if flags[option] and scheduler is not None and scheduler != sched:
            errors.add(path + option, 'only applies to scheduler %s, not %s' % (sched, scheduler),
                       'set scheduler: %s, or leave %s false' % (sched, option), True)
    one_packet = _get_bool(params, 'one_packet', path, errors)
    if one_packet and key is not None and not key.fwmark and key.protocol != 'udp':
        errors.add(path + 'one_packet', 'one-packet scheduling only applies to UDP',
                   'protocol udp or a fwmark service', True)
    timeout = _get_int(params, 'persistence_timeout', path, errors, 0,
                       PERSISTENCE_TIMEOUT_MAX, default=0)
    netmask = None
    raw_mask = params.get('persistence_netmask')
    if raw_mask is not None and key is not None:
        if not timeout:
            errors.add(path + 'persistence_netmask', 'only applies to a persistent service',
                       'set persistence_timeout > 0, or omit persistence_netmask', raw_mask)
        else:
            netmask = _netmask(raw_mask, key.family, path + 'persistence_netmask', errors)
    engine = _get_choice(params, 'persistence_engine', path, errors, PERSISTENCE_ENGINES)
    if engine and not timeout:
        errors.add(path + 'persistence_engine', 'only applies to a persistent service',
                   'set persistence_timeout > 0, or omit persistence_engine', engine)
    if key is not None and not key.fwmark and key.port == 0 and not timeout:
        errors.add(path + 'port', 'port 0 (all ports) needs persistence',
                   '1..65535, or 0 with persistence_timeout > 0', 0)
    if own:
        errors.raise_if_any()
    if key is None or len(errors.items) > before:
        return None
    return Service(key=key, scheduler=scheduler, one_packet=one_packet,
                   persistence_timeout=timeout, persistence_netmask=netmask,
                   persistence_engine=engine, **flags)


def dest_from_params(params, service_key, path='', errors=None):
    """Parse and validate one destination of the service ``service_key``.

    DR, TUN and local forwarding cannot map ports (the packet reaches the real
    server unchanged), so for a port-keyed service their port must equal the
    service port: we fail rather than silently ignore a port that would never
    be used. An omitted port means the service port (0 for fwmark services).
    """
    own = errors is None
    errors = errors or ErrorCollector()
    before = len(errors.items)
    _check_unknown(params, _DEST_NAMES, path, errors)
    ip = _parse_address(params.get('address'), path + 'address', errors, unicast=True)
    forwarding = _get_choice(params, 'forwarding', path, errors, tuple(FORWARDING), 'dr')
    family = None
    if ip is not None:
        family = 'ipv4' if ip.version == 4 else 'ipv6'
        if service_key is not None and family != service_key.family and forwarding != 'tun':
            errors.add(path + 'address', 'an %s destination behind an %s service needs tunnelling'
                       % (family, service_key.family),
                       'an %s address, or forwarding: tun' % service_key.family, str(ip))
    default_port = service_key.port if service_key is not None else 0
    port = _get_int(params, 'port', path, errors, 0, PORT_MAX, default=default_port)
    if port is not None and service_key is not None and not service_key.fwmark:
        if forwarding in ('dr', 'tun', 'local') and port != service_key.port:
            errors.add(path + 'port', '%s forwarding cannot map ports (only nat can)' % forwarding,
                       '%d (the service port), or omit port' % service_key.port, port)
        elif forwarding == 'nat' and port == 0 and service_key.port != 0:
            errors.add(path + 'port', 'is out of range', _range_text(1, PORT_MAX), 0)
    weight = _get_int(params, 'weight', path, errors, 0, WEIGHT_MAX, default=1)
    upper = _get_int(params, 'upper_threshold', path, errors, 0, THRESHOLD_MAX, default=0)
    lower = _get_int(params, 'lower_threshold', path, errors, 0, THRESHOLD_MAX, default=0)
    if upper is not None and lower is not None and lower > upper:
        # The kernel refuses this with ERANGE even when upper is 0 (unlimited).
        errors.add(path + 'lower_threshold', '%d is above upper_threshold %d' % (lower, upper),
                   '0..%d (lower_threshold <= upper_threshold)' % upper, lower)
    tunnel = _tunnel_options(params, forwarding, path, errors)
    if own:
        errors.raise_if_any()
    if ip is None or port is None or len(errors.items) > before:
        return None
    return built_dest(_compressed(ip), port, family, forwarding, weight, upper, lower, **tunnel)


def dest_key_from_params(params, service_key, path='', errors=None):
    """Only the identity (address, port) of a destination, e.g. to remove it."""
    own = errors is None
    errors = errors or ErrorCollector()
    ip = _parse_address(params.get('address'), path + 'address', errors)
    default_port = service_key.port if service_key is not None else 0
    port = _get_int(params, 'port', path, errors, 0, PORT_MAX, default=default_port)
    if own:
        errors.raise_if_any()
    if ip is None or port is None:
        return None
    return (_compressed(ip), port)


def _tunnel_options(params, forwarding, path, errors):
    given = [n for n in ('tunnel_type', 'tunnel_port', 'tunnel_checksum')
             if params.get(n) is not None]
    if forwarding != 'tun':
        for name in given:
            errors.add(path + name, 'only applies to forwarding tun, not %s' % forwarding,
                       'omit %s, or set forwarding: tun' % name, params.get(name))
        return {}
    ttype = _get_choice(params, 'tunnel_type', path, errors, tuple(TUNNEL_TYPES), 'ipip')
    tport = _get_int(params, 'tunnel_port', path, errors, 0, PORT_MAX, default=0)
    csum = _get_choice(params, 'tunnel_checksum', path, errors, tuple(TUNNEL_CHECKSUMS), 'nocsum')
    if ttype == 'gue' and not tport:
        errors.add(path + 'tunnel_port', 'is required for tunnel_type gue',
                   _range_text(1, PORT_MAX), tport)
    if ttype in ('ipip', 'gre') and tport:
        errors.add(path + 'tunnel_port', 'only applies to tunnel_type gue',
                   'omit tunnel_port, or tunnel_type: gue', tport)
    allowed = {'ipip': ('nocsum',), 'gre': ('nocsum', 'csum'),
               'gue': ('nocsum', 'csum', 'remcsum')}.get(ttype, ())
    if ttype and csum and csum not in allowed:
        errors.add(path + 'tunnel_checksum', '%s is not available with tunnel_type %s' % (csum, ttype),
                   ', '.join(allowed), csum)
    return {'tunnel_type': ttype, 'tunnel_port': tport or 0, 'tunnel_checksum': csum}


def _cached_dest(params, service_key, spath, index, errors, parsed):
    """dest_from_params for destination ``index`` of the service at ``spath``, remembered for the table: the
    same real server declared alike behind services of the same port and family (many VIPs, one pool) is
    parsed once. A parse depends only on the options and on the service's family, port and whether it is
    a fwmark service; the options' types are part of the memory's key (True == 1, but a weight of true is
    refused). Only clean parses are remembered (dest_from_params returns None whenever it records an
    error), so every error is still reported with its own path."""
    memo = None
    if service_key is not None:
        try:
            memo = (service_key.family, service_key.port, bool(service_key.fwmark),
                    tuple([(name, type(value), value) for name, value in params.items()]))
            dest = parsed.get(memo)
        except TypeError:  # an unhashable value (a list, a dict): parsed, and refused, as usual
            memo = dest = None
        if dest is not None:
            return dest
    dest = dest_from_params(params, service_key, '%sdestinations[%d].' % (spath, index), errors)
    if memo is not None and dest is not None:
        parsed[memo] = dest
    return dest


def parse_table(services, path='services', errors=None):
    """Parse a declared table: a list of service dicts, each with ``destinations``.

    All errors of the whole table are collected before raising, each with its
    path (``services[2].destinations[0].port``).
    """
    own = errors is None
    errors = errors or ErrorCollector()
    table = Table()
    seen = {}
    parsed = {}  # _cached_dest's memory, for this table
    if services is None:
        services = []
    if not isinstance(services, list):
        errors.add(path, 'must be a list of services', 'a list of dicts', services)
        services = []
    for index, params in enumerate(services):
        spath = '%s[%d].' % (path, index)
        if not isinstance(params, dict):
            errors.add(spath[:-1], 'must be a dict', 'a dict of service options', params)
            continue
        service = service_from_params(params, spath, errors, extra_keys=('destinations',))
        if service is None:
            # Still look at the destinations for errors, against the key if any.
            key = _service_key(params, spath, ErrorCollector(), require_port=True)
        else:
            key = service.key
            if key in seen:
                errors.add(spath[:-1], 'duplicate of %s[%d] (%s)' % (path, seen[key], key),
                           'each service key once')
                service = None
            else:
                seen[key] = index
                table.add_service(service)
        dests = params.get('destinations')
        if dests is None:
            dests = []  # omitted (or null): no destinations; any other non-list is refused, even an empty one
        if not isinstance(dests, list):
            errors.add(spath + 'destinations', 'must be a list', 'a list of dicts', dests)
            continue
        dseen = {}
        held = table.dests[key] if service is not None else None
        for dindex, dparams in enumerate(dests):
            if not isinstance(dparams, dict):
                errors.add('%sdestinations[%d]' % (spath, dindex), 'must be a dict', 'a dict of destination options',
                           dparams)
                continue
            dest = _cached_dest(dparams, key, spath, dindex, errors, parsed)
            if dest is None:
                continue
            dkey = (dest.address, dest.port)
            if dkey in dseen:
                errors.add('%sdestinations[%d]' % (spath, dindex),
                           'duplicate of destinations[%d] (%s)' % (dseen[dkey], dest), 'each address:port once per service')
                continue
            dseen[dkey] = dindex
            if held is not None:
                held[dkey] = dest
    if own:
        errors.raise_if_any()
    return table


def timeouts_from_params(params, path='timeouts.', errors=None):
    own = errors is None
    errors = errors or ErrorCollector()
    params = params or {}
    _check_unknown(params, set(TIMEOUT_OPTIONS), path, errors)
    values = {name: _get_int(params, name, path, errors, 0, GLOBAL_TIMEOUT_MAX, default=0)
              for name in TIMEOUT_OPTIONS}
    if own:
        errors.raise_if_any()
    if any(v is None for v in values.values()):
        return None
    return Timeouts(**values)


def sync_daemons_from_params(items, path='sync_daemons', errors=None):
    """Parse the declared sync daemons (at most one per role)."""
    own = errors is None
    errors = errors or ErrorCollector()
    result = {}
    for index, params in enumerate(items or []):
        dpath = '%s[%d].' % (path, index)
        _check_unknown(params, set(SYNC_DAEMON_OPTIONS), dpath, errors)
        role = _get_choice(params, 'role', dpath, errors, tuple(SYNC_STATES))
        if role is None and params.get('role') is None:
            errors.add(dpath + 'role', 'is required', ', '.join(SYNC_STATES))
        interface = params.get('interface')
        if not is_ifname(interface):
            errors.add(dpath + 'interface', 'invalid interface name %r' % (interface,),
                       IFNAME_ACCEPTED, interface)
            interface = None
        sync_id = _get_int(params, 'sync_id', dpath, errors, 0, SYNC_ID_MAX, default=0)
        max_len = _get_int(params, 'max_len', dpath, errors, 1, PORT_MAX)
        port = _get_int(params, 'port', dpath, errors, 1, PORT_MAX)
        ttl = _get_int(params, 'ttl', dpath, errors, 1, 255)
        group = None
        if params.get('group') is not None:
            ip = _parse_address(params.get('group'), dpath + 'group', errors)
            if ip is not None and not ip.is_multicast:
                errors.add(dpath + 'group', '%s is not a multicast address' % ip,
                           'an IPv4 or IPv6 multicast address', str(ip))
            elif ip is not None:
                group = ip.compressed
        if role in result:
            errors.add(dpath + 'role', 'a %s daemon is declared twice' % role,
                       'at most one master and one backup')
        if role and interface and role not in result:
            result[role] = SyncDaemon(role=role, interface=interface, sync_id=sync_id,
                                      max_len=max_len, group=group, port=port, ttl=ttl)
    if own:
        errors.raise_if_any()
    return result


def table_to_dict(table, keys=None):
    """A stable, human-readable view: {"tcp 192.0.2.10:80": {..., destinations: {...}}}."""
    out = {}
    wanted = table.services if keys is None else [k for k in keys if k in table.services]
    for key in sorted(wanted, key=ServiceKey.sort_key):
        entry = table.services[key].to_dict()
        dests = table.dests.get(key, {})
        entry['destinations'] = {
            str(d): d.to_dict() for d in sorted(
                dests.values(), key=lambda d: (int(ipaddress.ip_address(d.address)), d.port))}
        out[str(key)] = entry
    return out
