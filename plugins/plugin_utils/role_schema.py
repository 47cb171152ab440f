# -*- coding: utf-8 -*-
# Copyright (c) the lvs.cluster authors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The role schema: what the director and realserver roles, and site.yml, take as services, VRRP
instances, health checks and a sync daemon.

It extends the module schema (module_utils/_model.py) with the keys only the roles know: a service's
default `forwarding`, destinations named by inventory `host`, and the keepalived backend's settings.
The whole input is validated here once, every error collected with its field path, and what comes out
is typed: parsed and normalised addresses, ints in range, booleans by Ansible's rules, interface names by
the kernel's. The filters (lvs_table, lvs_keepalived_conf, lvs_keepalived_sync) only format these values;
none of them reads a raw input string.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Dict, Optional, Tuple

from ansible.module_utils.parsing.convert_bool import boolean
from ansible_collections.lvs.cluster.plugins.module_utils import _model
from ansible_collections.lvs.cluster.plugins.module_utils._errors import ValidationError, ValidationErrors
from ansible_collections.lvs.cluster.plugins.module_utils._hostnet import IFNAME_ACCEPTED, is_ifname
from ansible_collections.lvs.cluster.plugins.plugin_utils import fwmark

# Keys a role service takes on top of the module's schema; the keepalived ones only matter to the
# keepalived backend, but are checked for every backend so that a switch of backend finds no surprise.
ROLE_SERVICE_KEYS = ('forwarding', 'name', 'vip_device', 'healthcheck', 'sorry_server', 'inhibit_on_failure',
                     'match')
ROLE_DEST_KEYS = ('host',)
# The kernel takes weights up to 2^31-1 (and so do the modules), but ipvsadm, which restores the table at
# boot, and keepalived stop at 65535.
ROLE_WEIGHT_MAX = 65535
ROLE_FORWARDING = ('dr', 'nat', 'tun', 'local')
DEFAULT_FORWARDING = _model.DEST_OPTIONS['forwarding']['default']

# Health checks (keepalived backend): option -> (default, low, high) for the integers.
CHECK_TYPES = ('tcp', 'http', 'misc', 'none')
CHECK_KEYS = {
    'tcp': ('type', 'delay_loop', 'port', 'connect_timeout', 'retry', 'delay_before_retry'),
    'http': ('type', 'delay_loop', 'port', 'connect_timeout', 'retry', 'delay_before_retry', 'path',
             'status_code'),
    'misc': ('type', 'delay_loop', 'misc_path', 'misc_timeout', 'retry', 'delay_before_retry'),
    'none': ('type', 'delay_loop'),
}
CHECK_INTS = {'delay_loop': (5, 1, 3600), 'port': (None, 1, 65535), 'connect_timeout': (3, 1, 3600),
              'retry': (1, 0, 100), 'delay_before_retry': (1, 0, 3600), 'status_code': (200, 100, 599),
              'misc_timeout': (5, 1, 3600)}
INSTANCE_KEYS = ('name', 'virtual_router_id', 'vips', 'addresses', 'sync_group', 'interface', 'priority',
                 'advert_int', 'preempt', 'preempt_delay')
DEFAULT_INSTANCES = ({'name': 'VI_LVS', 'virtual_router_id': 51},)
SYNC_KEYS = ('enabled', 'interface', 'instance', 'id', 'refresh_period')
REFRESH_DEFAULT = 10  # seconds between re-sends of an active connection's state
REFRESH_MAX = 3600
AUTH_PASS_MAX = 8  # VRRPv2 simple password: keepalived silently truncates longer ones
VRRP_VERSIONS = (2, 3)
# VRRPv2 advertises whole seconds (an 8-bit field); VRRPv3 centiseconds (a 12-bit field, RFC 5798 5.2.7).
ADVERT_V2 = (1, 255)
ADVERT_V3_CS = (1, 4095)
ADVERT_ACCEPTED = {2: 'whole seconds from 1 to 255 (director_vrrp_version 3 for sub-second adverts)',
                   3: 'seconds from 0.01 to 40.95 in steps of 0.01'}

# keepalived splits a line into words at whitespace, and '#' or '!' start a comment, so a newline, a
# space or a comment character in a value would add or cut directives that --config-test accepts.
# Matched with fullmatch: a pattern ending in '$' would also take a value with a trailing newline.
_WORD = re.compile(r'[A-Za-z0-9_.-]{1,64}')
_INSTANCE_NAME = re.compile(r'[A-Za-z0-9_-]{1,64}')
_HTTP_PATH = re.compile(r"/[A-Za-z0-9._~%/?&=+,;:@$*()-]{0,1023}")
_MISC_PATH = re.compile(r'/[\x20-\x7e]{0,1023}')
_DECIMAL_SECONDS = re.compile(r'[0-9]{1,3}(\.[0-9]{1,6})?')
_AUTH_PASS = re.compile(r'[\x21-\x7e]{1,%d}' % AUTH_PASS_MAX)
_COMMENT_OR_QUOTE = set('#!"\\{}')
HTTP_PATH_ACCEPTED = ('"/" then up to 1023 of letters, digits and - . _ ~ % / ? & = + , ; : @ $ * ( ); no '
                      'spaces, quotes, "#" or "!"')
MISC_PATH_ACCEPTED = ('an absolute path and arguments, printable ASCII without quotes, backslashes, braces, '
                      '"#" or "!"; at most 1024 characters')


# --------------------------------------------------------------------------
# Typed values out
# --------------------------------------------------------------------------

@dataclass(frozen=True)
class HealthCheck:
    type: str
    delay_loop: int
    port: Optional[int] = None
    connect_timeout: int = 3
    retry: int = 1
    delay_before_retry: int = 1
    path: str = '/'
    status_code: int = 200
    misc_path: Optional[str] = None
    misc_timeout: int = 5


@dataclass(frozen=True)
class SorryServer:
    address: str
    port: int


@dataclass(frozen=True)
class RoleService:
    """One service of the roles: the module schema's Service and Dests, plus the role's keys."""

    service: _model.Service
    dests: Tuple[_model.Dest, ...]
    forwarding: str  # that of the first destination, else the service's: keepalived's lvs_method
    index: int = 0  # in the role's list of services, for error paths
    name: Optional[str] = None
    vip_device: Optional[str] = None  # where the director holds the VIP; None: the interface on its LAN
    healthcheck: Optional[HealthCheck] = None  # only parsed for the keepalived backend
    sorry_server: Optional[SorryServer] = None
    inhibit_on_failure: bool = False
    match: Tuple[fwmark.Match, ...] = ()  # what the director marks for a fwmark service (plugin_utils/fwmark.py)

    @property
    def key(self):
        return self.service.key

    @property
    def vips(self):
        """The addresses a director holds for this service: its VIP, or those its matches name."""
        return fwmark.vips_of(self)

    def module_params(self):
        """The service as lvs.cluster.ipvs_table takes it, written from the typed values (defaults left
        out, so that the module applies its own; every destination names its forwarding)."""
        return dict(_service_params(self.service), destinations=[_dest_params(d) for d in self.dests])


@dataclass(frozen=True)
class VrrpInstance:
    name: str
    vrid: int
    vips: Tuple[str, ...]
    interface: str
    priority: int
    advert_int: Decimal  # seconds: whole under VRRPv2, hundredths under VRRPv3
    preempt: bool
    preempt_delay: int
    addresses: Tuple[str, ...] = ()  # floating addresses that are no service's VIP (a NAT gateway)
    sync_group: Optional[str] = None  # instances of one sync group change state together


@dataclass(frozen=True)
class SyncSettings:
    interface: str
    sync_id: int
    refresh_period: int


@dataclass(frozen=True)
class KeepalivedDirector:
    """Everything keepalived.conf and the sync daemons of one director are made of."""

    router_id: str
    services: Tuple[RoleService, ...]
    instances: Tuple[VrrpInstance, ...]
    sync: Optional[SyncSettings]
    auth_pass: str
    vip_devices: Dict[str, str] = field(default_factory=dict)  # VIP -> device, where not the instance's interface
    vrrp_version: int = 2

    @property
    def sync_groups(self):
        """((group, (its instances' names...)), ...) in the order the groups first appear."""
        return sync_groups(self.instances)


def _service_params(service):
    out = service.key.to_dict()
    defaults = _model.Service(key=service.key)
    for name, value in service.settings().items():
        if name == 'persistence_netmask' and not service.persistence_timeout:
            continue
        if value != getattr(defaults, name):
            out[name] = value
    return out


def _dest_params(dest):
    out = {'address': dest.address, 'port': dest.port, 'forwarding': dest.forwarding, 'weight': dest.weight}
    for name in ('upper_threshold', 'lower_threshold'):
        if getattr(dest, name):
            out[name] = getattr(dest, name)
    if dest.forwarding == 'tun':
        out['tunnel_type'] = dest.tunnel_type
        out['tunnel_checksum'] = dest.tunnel_checksum
        if dest.tunnel_port:
            out['tunnel_port'] = dest.tunnel_port
    return out


# --------------------------------------------------------------------------
# Errors: all of them, each once, with its field
# --------------------------------------------------------------------------

class Errors(_model.ErrorCollector):
    """The model's collector, keeping each message once (a default shared by every service is reported
    where it is written, not once per service)."""

    def add(self, field_path, message, accepted=None, value=None):
        error = ValidationError(field_path, message, accepted, value)
        if str(error) not in (str(e) for e in self.items):
            self.items.append(error)

    def check(self):
        """Raise ValidationError (one) or ValidationErrors (several)."""
        self.raise_if_any()


def as_int(value, where, low, high, errors, default=None):
    """An int in [low, high]: an int or a string of digits; floats are refused, not truncated."""
    if value is None:
        return default
    number = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str):
        number = _model.decimal_int(value)
    if number is None or not low <= number <= high:
        return errors.add(where, 'must be an integer from %d to %d, got %r' % (low, high, value))
    return number


def as_advert_int(value, where, version, errors):
    """VRRP's advertisement interval in seconds, as a Decimal: whole seconds under VRRPv2, hundredths of a
    second under VRRPv3. A float, an int or a decimal string; a value the protocol cannot carry (0.015 s,
    0.5 s under VRRPv2) is refused rather than rounded, as keepalived would round it with only a log line."""
    if value is None:
        return Decimal(1)
    number = None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        number = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    elif isinstance(value, str) and _DECIMAL_SECONDS.fullmatch(value.strip()):
        number = Decimal(value.strip())
    if number is not None and number.is_finite():
        if version == 2 and number == number.to_integral_value() and ADVERT_V2[0] <= number <= ADVERT_V2[1]:
            return Decimal(int(number))
        centiseconds = number * 100
        if version == 3 and centiseconds == centiseconds.to_integral_value() \
                and ADVERT_V3_CS[0] <= centiseconds <= ADVERT_V3_CS[1]:
            return (centiseconds / 100).quantize(Decimal('0.01'))
    return errors.add(where, 'VRRPv%s cannot advertise every %r seconds' % (version, value),
                      ADVERT_ACCEPTED[version])


def as_bool(value, where, errors, default=False):
    """A boolean by Ansible's rules: "no" and "false" are false, "maybe" is an error."""
    if value is None:
        return default
    try:
        return boolean(value, strict=True)
    except TypeError:
        return errors.add(where, 'must be a boolean (true/false, yes/no, 1/0), got %r' % (value,))


def as_ifname(value, where, errors):
    if not is_ifname(value):
        return errors.add(where, 'invalid interface name %r' % (value,), IFNAME_ACCEPTED)
    return value


def as_address(value, where, errors):
    """The compressed text of an address."""
    try:
        return ipaddress.ip_address(str(value).strip()).compressed
    except ValueError:
        return errors.add(where, '%r is not an IPv4 or IPv6 address' % (value,))


def as_dict(value, where, errors, what):
    if value is None:
        return {}
    if not isinstance(value, dict):
        return errors.add(where, 'must be a dict (%s), got %s' % (what, type(value).__name__))
    return value


def unknown_keys(data, allowed, where, errors):
    extra = sorted(str(k) for k in set(data) - set(allowed))
    if extra:
        errors.add(where, 'unknown key(s) %s; accepted: %s' % (', '.join(extra), ', '.join(allowed)))


# --------------------------------------------------------------------------
# Services
# --------------------------------------------------------------------------

def parse_services(services, hostvars, groups, realserver_group='realservers', address_var='lvs_address',
                   healthcheck=None, errors=None, path='services'):
    """The role's services, expanded against the inventory and validated: a tuple of RoleService.

    Per service, `forwarding` is the default of its destinations. A destination may name an inventory
    `host` instead of an address (its `address_var` host variable is used); a service without
    `destinations` gets every host of `realserver_group`, on the service's port. With `healthcheck` (the
    director's default check, keepalived backend) each service's check is merged over it and typed.
    """
    own = errors is None
    errors = errors if errors is not None else Errors()
    if services is None:
        services = []
    if not isinstance(services, list):
        errors.add(path, 'must be a list of services, got %s' % type(services).__name__)
        services = []
    default_check = None
    if healthcheck is not None:
        default_check = _check_dict(healthcheck, {}, 'director_healthcheck', errors)
    module_params, extras = [], []
    for index, raw in enumerate(services):
        where = '%s[%d]' % (path, index)
        if not isinstance(raw, dict):
            # the model names it ("must be a dict"), at the same index
            module_params.append(raw)
            extras.append(None)
            continue
        params, extra = _expand_service(raw, where, hostvars, groups, realserver_group, address_var, errors)
        extra['index'] = index
        if default_check is not None:
            extra['healthcheck'] = _service_check(raw.get('healthcheck'), healthcheck, default_check,
                                                  where + '.healthcheck', errors)
        module_params.append(params)
        extras.append(extra)
    table = _model.parse_table(module_params, path, errors)
    out = ()
    if not errors.items:
        out = tuple(_role_service(service, table, extra, path, errors)
                    for service, extra in zip(table.services.values(), extras))
        fwmark.check_overlaps(out, path, errors)
    if own:
        errors.check()
    return out


def _expand_service(raw, where, hostvars, groups, realserver_group, address_var, errors):
    """(the service in the module's schema, the role's own keys typed)."""
    params = {k: v for k, v in raw.items() if k not in ROLE_SERVICE_KEYS}
    extra = {}
    forwarding = raw.get('forwarding')
    if forwarding is not None and forwarding not in ROLE_FORWARDING:
        errors.add(where + '.forwarding', '%r is not a forwarding method' % (forwarding,), ', '.join(ROLE_FORWARDING))
        forwarding = None
    extra['forwarding'] = forwarding
    name = raw.get('name')
    if name is not None and not isinstance(name, str):
        errors.add(where + '.name', 'must be a string (a label), got %r' % (name,))
    extra['name'] = name if isinstance(name, str) else None
    extra['inhibit_on_failure'] = as_bool(raw.get('inhibit_on_failure'), where + '.inhibit_on_failure', errors)
    device = raw.get('vip_device')
    extra['vip_device'] = None if device in (None, '') else as_ifname(device, where + '.vip_device', errors)
    extra['sorry_server'] = raw.get('sorry_server')  # typed once the service's family is known
    extra['match'] = raw.get('match')  # typed once the service's key is known
    dests = raw.get('destinations')
    if dests is None:
        if realserver_group not in groups:
            errors.add(where, 'has no destinations, and the inventory has no group %r to take them from (the '
                              'real server group; groups: %s)' % (realserver_group, ', '.join(sorted(groups))))
            dests = []
        else:
            dests = [{'host': h} for h in groups.get(realserver_group) or []]
    if not isinstance(dests, list):
        errors.add(where + '.destinations', 'must be a list of dicts, got %s' % type(dests).__name__)
        dests = []
    expanded = []
    for dindex, dest in enumerate(dests):
        dwhere = '%s.destinations[%d]' % (where, dindex)
        if not isinstance(dest, dict):
            errors.add(dwhere, 'must be a dict (address or host, port, weight, ...), got %r' % (dest,))
            continue
        dest = dict(dest)
        host = dest.pop('host', None)
        if host is not None:
            if 'address' in dest:
                errors.add(dwhere, 'give host or address, not both')
                continue
            address = _host_address(host, hostvars, address_var, dwhere + '.host', errors, _family(raw))
            if address is None:
                continue
            dest['address'] = address
        if forwarding is not None:
            dest.setdefault('forwarding', forwarding)
        if params.get('port') is not None:
            dest.setdefault('port', params['port'])
        weight = dest.get('weight')
        if isinstance(weight, str) and _model.decimal_int(weight) is not None:
            weight = _model.decimal_int(weight)
        if isinstance(weight, int) and not isinstance(weight, bool) and weight > ROLE_WEIGHT_MAX:
            errors.add(dwhere + '.weight', '%d is more than the boot restore (ipvsadm -R) and keepalived take'
                       % weight, '0..%d' % ROLE_WEIGHT_MAX)
            continue
        expanded.append(dest)
    params['destinations'] = expanded
    return params, extra


def _family(raw):
    """4 or 6: the address family of a raw service (that of its address, or of a fwmark's `family`)."""
    try:
        return ipaddress.ip_address(str(raw.get('address')).strip()).version
    except ValueError:
        return 6 if raw.get('family') == 'ipv6' else 4


def host_addresses(value):
    """A host's address variable as a list: one address, or a list of them (one per family, say)."""
    if value in (None, ''):
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _host_address(host, hostvars, address_var, where, errors, family=4):
    """The address of inventory `host` for a service of `family`: its address variable holds one address,
    or a list (IPv4 and IPv6): the first of the service's family, else the first (a TUN service may
    tunnel to the other family; the model refuses the mixes the kernel does)."""
    if not isinstance(host, str) or host not in hostvars:
        return errors.add(where, '%r is not in the inventory' % (host,))
    addresses = host_addresses((hostvars[host] or {}).get(address_var))
    if not addresses:
        return errors.add(where, '%s has no %s variable (its address on the cluster LAN)' % (host, address_var))
    for address in addresses:
        try:
            if ipaddress.ip_address(str(address).strip()).version == family:
                return address
        except ValueError:
            return errors.add(where, '%s: %r in its %s is not an IPv4 or IPv6 address' % (host, address, address_var))
    return addresses[0]


def _role_service(service, table, extra, path, errors):
    dests = tuple(table.dests[service.key].values())
    where = '%s[%d]' % (path, extra['index'])
    forwarding = dests[0].forwarding if dests else (extra['forwarding'] or DEFAULT_FORWARDING)
    match = fwmark.parse_matches(extra['match'], service.key, where + '.match', errors)
    return RoleService(service=service, dests=dests, forwarding=forwarding, index=extra['index'],
                       name=extra['name'], vip_device=extra['vip_device'],
                       healthcheck=_check_port(extra.get('healthcheck'), service.key, dests, match, where, errors),
                       sorry_server=_sorry_server(extra['sorry_server'], service, where + '.sorry_server', errors),
                       inhibit_on_failure=bool(extra['inhibit_on_failure']), match=match)


def _check_port(check, key, dests, match, where, errors):
    """A TCP or HTTP check of a real server on port 0 (of a fwmark or all-ports service) would connect to
    port 0 and find it down: it checks the first port the service matches, else the operator must name
    one."""
    if check is None or check.type not in ('tcp', 'http') or check.port or all(d.port for d in dests):
        return check
    ports = [m.ports[0][0] for m in match if m.ports]
    if ports:
        return replace(check, port=ports[0])
    errors.add(where + '.healthcheck.port', 'is required: %s has real servers on port 0, nothing for the %s check '
               'to connect to' % (key, check.type), "1..65535, or a fwmark service's match with ports")
    return check


def _sorry_server(raw, service, where, errors):
    if not raw:
        return None
    if not isinstance(raw, dict) or not raw.get('address'):
        return errors.add(where, 'a dict with address and port (default: the service port)')
    unknown_keys(raw, ('address', 'port'), where, errors)
    port = as_int(raw.get('port', service.key.port or None), where + '.port', 1, 65535, errors)
    if raw.get('port') is None and not service.key.port:
        errors.add(where + '.port', 'is required for a fwmark or all-ports service', '1..65535')
    address = as_address(raw['address'], where + '.address', errors)
    if address is None or port is None:
        return None
    family = 'ipv4' if ipaddress.ip_address(address).version == 4 else 'ipv6'
    if family != service.key.family:
        # keepalived --config-test refuses it ("address family ... don't match")
        return errors.add(where + '.address', '%s is %s, the service is %s' % (address, family, service.key.family),
                          "an address of the service's family")
    return SorryServer(address=address, port=port)


# --------------------------------------------------------------------------
# Health checks
# --------------------------------------------------------------------------

def _check_dict(raw, base, where, errors, base_where=None):
    """The check as a dict of checked values: `raw` merged over `base` (the director's default). An
    error in a key that came from `base` names `base_where`, where it was written."""
    raw = as_dict(raw, where, errors, 'type and its keys')
    if raw is None:
        return None
    check = dict(base)
    if raw.get('type') and raw.get('type') != base.get('type'):
        # another type keeps only how often the check runs
        check = {'delay_loop': base['delay_loop']} if base.get('delay_loop') else {}
    check.update(raw)
    kind = check.setdefault('type', 'tcp')
    if kind not in CHECK_TYPES:
        return errors.add(where + '.type', 'must be one of %s, got %r' % (', '.join(CHECK_TYPES), kind))
    unknown_keys(check, CHECK_KEYS[kind], where + ' (type %s)' % kind, errors)
    out = {'type': kind}
    for name in CHECK_KEYS[kind][1:]:
        value = check.get(name)
        field = '%s.%s' % (where if name in raw or base_where is None else base_where, name)
        if name in CHECK_INTS:
            default, low, high = CHECK_INTS[name]
            out[name] = as_int(value, field, low, high, errors, default)
        elif name == 'path':
            out[name] = _checked_text(value if value is not None else '/', _HTTP_PATH, field,
                                      'is not a URL path keepalived can check', HTTP_PATH_ACCEPTED, errors)
        elif name == 'misc_path':
            if not value:
                errors.add(field, 'required with type misc (the command keepalived runs; exit 0 = healthy)')
            else:
                out[name] = _checked_text(value, _MISC_PATH, field,
                                          'is not a command keepalived can run', MISC_PATH_ACCEPTED, errors)
    return out


def _service_check(raw, default_raw, default_check, where, errors):
    """The HealthCheck of one service; errors in keys that came from the default name the default."""
    if default_check is None:
        return None
    own = as_dict(raw, where, errors, 'type and its keys')
    if own is None:
        return None
    if not own:
        check = default_check
    else:
        base = as_dict(default_raw, 'director_healthcheck', errors, 'type and its keys') or {}
        check = _check_dict(own, base, where, errors, 'director_healthcheck')
    if check is None or None in [v for k, v in check.items() if k not in ('port',)]:
        return None
    return HealthCheck(**check)


def _checked_text(value, pattern, where, what, accepted, errors):
    if not isinstance(value, str) or not pattern.fullmatch(value) or set(value) & _COMMENT_OR_QUOTE:
        return errors.add(where, '%r %s' % (value, what), accepted)
    return value


# --------------------------------------------------------------------------
# A director's VIPs: where each is held, and which of the ones it held before must go
# --------------------------------------------------------------------------

def director_vips(table, default_device='', errors=None):
    """[(VIP, device or None)] in the order of the services: the service's vip_device, else the director's
    default_device, else None (the interface whose LAN holds the VIP). One VIP, one device: services that
    share a VIP and name two devices are an error."""
    own = errors is None
    errors = errors if errors is not None else Errors()
    default = None if default_device in (None, '') else as_ifname(default_device, 'director_vip_device', errors)
    placed, first = {}, {}
    for rs in table:
        device = rs.vip_device or default
        for vip in rs.vips:
            if vip in placed and placed[vip] != device:
                errors.add('services[%d].vip_device' % rs.index, '%s is held on %s for services[%d]; one VIP, one '
                           'device' % (vip, placed[vip] or 'its LAN interface', first[vip]),
                           'the same vip_device on every service of the VIP')
            placed.setdefault(vip, device)
            first.setdefault(vip, rs.index)
    if own:
        errors.check()
    return list(placed.items())


def stale_vips(previous, current):
    """The (VIP, device) pairs of `previous` (the text of the director's vips file: ADDRESS/PREFIX DEVICE per
    line) that `current` ([(VIP, device)] as placed now) no longer holds there: a VIP no service has any
    more, or one that moved to another device. Lines that are not of that form are ignored: the file is
    rewritten from the current placement right after."""
    now = dict(current)
    out = []
    for line in (previous or '').splitlines():
        words = line.split()
        if len(words) != 2 or line.lstrip().startswith('#') or '/' not in words[0]:
            continue
        address, device = words[0].split('/', 1)[0], words[1]
        try:
            address = ipaddress.ip_address(address).compressed
        except ValueError:
            continue
        if not is_ifname(device):
            continue
        if address not in now or (now[address] is not None and now[address] != device):
            out.append((address, device))
    return out


# --------------------------------------------------------------------------
# A real server: the VIPs it holds, by method, and its NAT gateway
# --------------------------------------------------------------------------

@dataclass(frozen=True)
class RealServer:
    dr: Tuple[str, ...]
    tun: Tuple[str, ...]
    nat: Tuple[str, ...]
    nat_gateway: str  # '' when the host serves no NAT service and none was given
    remove: Tuple[Tuple[str, str], ...] = ()  # (VIP, device) held by noarp_vip that no service needs there


def parse_realserver(services, hostvars, groups, host, realserver_group='realservers', address_var='lvs_address',
                     nat_gateway='', held=None):
    """What the realserver role sets up on `host`: the VIPs of the services that have a destination at the
    host's `address_var` address, by forwarding method, and the gateway of its NAT replies (an address,
    required when it serves a NAT service: it goes into the boot script's `ip route` line).

    `held` is what noarp_vip recorded on the host ({address: device}, from its state file): the pairs no
    service needs any more (a service removed, or moved to another method) come out in `remove`."""
    errors = Errors()
    table = parse_services(services, hostvars, groups, realserver_group, address_var, errors=errors)
    own = host_addresses(((hostvars or {}).get(host) or {}).get(address_var))
    mine = {as_address(a, '%s (of %s)' % (address_var, host), errors) for a in own} - {None}
    vips = {'dr': [], 'tun': [], 'nat': []}
    for rs in table:
        for dest in rs.dests:
            by_method = vips.get(dest.forwarding)
            if dest.address in mine and by_method is not None:
                by_method.extend(vip for vip in rs.vips if vip not in by_method)
    gateway = ''
    if nat_gateway not in (None, ''):
        gateway = as_address(nat_gateway, 'realserver_nat_gateway', errors) or ''
    elif vips['nat']:
        errors.add('realserver_nat_gateway', "%s serves NAT services (%s): set it to the director's address on "
                   "this host's LAN" % (host, ', '.join(vips['nat'])), 'an IPv4 or IPv6 address')
    errors.check()
    wanted = {(vip, 'lo') for vip in vips['dr']} | {(vip, 'tunl0') for vip in vips['tun']}
    remove = []
    for address, device in sorted((held or {}).items()):
        if isinstance(address, str) and is_ifname(device) and (address, device) not in wanted:
            remove.append((address, device))
    return RealServer(dr=tuple(vips['dr']), tun=tuple(vips['tun']), nat=tuple(vips['nat']), nat_gateway=gateway,
                      remove=tuple(remove))


# --------------------------------------------------------------------------
# keepalived: VRRP instances, sync daemon, password, router_id
# --------------------------------------------------------------------------

def parse_keepalived(services, hostvars, groups, host, realserver_group='realservers', address_var='lvs_address',
                     instances=None, priority=100, auth_pass='', healthcheck=None, sync_daemon=None, facts=None,
                     vip_device='', vrrp_version=2, checks=True):
    """A KeepalivedDirector for `host`, or ValidationError(s) naming every bad field at once. With `checks`
    false the health checks are not read (their services get none): for what does not render them.

    `facts` (the host's ansible_facts) give each VRRP instance its interface when the instance names
    none: the interface whose network holds the instance's first VIP."""
    errors = Errors()
    table = parse_services(services, hostvars, groups, realserver_group, address_var,
                           healthcheck=(healthcheck if healthcheck is not None else {}) if checks else None,
                           errors=errors)
    for rs in table:
        if 'local' in [rs.forwarding] + [d.forwarding for d in rs.dests]:
            errors.add('services[%d]' % rs.index, 'forwarding local has no keepalived equivalent',
                       'nat, dr, tun')
    services_ok = not errors.items
    vips = []
    for rs in table:
        vips.extend(vip for vip in rs.vips if vip not in vips)
    default_priority = as_int(priority, 'director_vrrp_priority', 1, 254, errors)
    if priority is None:
        errors.add('director_vrrp_priority', 'is required (null given)', '1..254')
    version = as_int(vrrp_version, 'director_vrrp_version', VRRP_VERSIONS[0], VRRP_VERSIONS[-1], errors, 2)
    if vrrp_version is None:
        errors.add('director_vrrp_version', 'is required (null given)', '2 or 3')
    parsed = _instances(instances, vips if services_ok else None, default_priority, facts or {}, errors,
                        version or 2)
    devices = dict(director_vips(table, vip_device, errors))
    sync = _sync_settings(sync_daemon, parsed, errors)
    if not _WORD.fullmatch(str(host)):
        errors.add('inventory_hostname', "%r cannot be keepalived's router_id" % (host,),
                   '1 to 64 letters, digits, "_", "." and "-"')
    auth = auth_pass or ''
    if auth and (not isinstance(auth, str) or not _AUTH_PASS.fullmatch(auth) or set(auth) & _COMMENT_OR_QUOTE):
        errors.add('director_vrrp_auth_pass', '1 to %d printable ASCII characters without spaces, quotes, '
                   'backslashes, braces, "#" or "!" (VRRPv2 PASS); the given value does not fit (not shown)'
                   % AUTH_PASS_MAX)
    if auth and version == 3:
        # keepalived drops the password of a VRRPv3 instance with a log line: the operator would believe
        # the adverts authenticated
        errors.add('director_vrrp_auth_pass', 'VRRPv3 has no authentication (director_vrrp_version is 3)',
                   'an empty director_vrrp_auth_pass, or director_vrrp_version 2')
    errors.check()
    if sync is not None and sync.refresh_period:
        # A returning master waits until its peer has re-sent every active connection to it (one refresh
        # period after its backup daemon started, which follows keepalived's start), or the connections
        # opened meanwhile would be reset when it takes the VIP back.
        parsed = [inst if inst.preempt_delay is not None else
                  _with_delay(inst, 2 * sync.refresh_period + 2) for inst in parsed]
    parsed = tuple(_with_delay(inst, 0) if inst.preempt_delay is None else inst for inst in parsed)
    return KeepalivedDirector(router_id=str(host), services=table, instances=parsed, sync=sync, auth_pass=auth,
                              vip_devices={vip: device for vip, device in devices.items() if device},
                              vrrp_version=version)


def _with_delay(inst, delay):
    return VrrpInstance(**dict(inst.__dict__, preempt_delay=delay))


def _instances(instances, vips, priority, facts, errors, version=2):
    """The VRRP instances that hold a VIP or a floating address. `vips` is None when the services had
    errors: the instances are then checked on their own, without the checks against the services."""
    where_all = 'director_vrrp_instances'
    if instances is None:
        instances = list(DEFAULT_INSTANCES)
    if not isinstance(instances, list) or not instances:
        errors.add(where_all, 'must be a non-empty list of instances (dicts of %s)' % ', '.join(INSTANCE_KEYS))
        return []
    out, claimed, names, ids, floating = [], {}, set(), set(), {}
    for index, inst in enumerate(instances):
        where = '%s[%d]' % (where_all, index)
        if not isinstance(inst, dict):
            errors.add(where, 'must be a dict (%s)' % ', '.join(INSTANCE_KEYS))
            continue
        unknown_keys(inst, INSTANCE_KEYS, where, errors)
        name = inst.get('name')
        if not isinstance(name, str) or not _INSTANCE_NAME.fullmatch(name):
            errors.add(where + '.name', 'letters, digits, "_" and "-" only, got %r' % (name,))
            name = None
        vrid = as_int(inst.get('virtual_router_id'), where + '.virtual_router_id', 1, 255, errors)
        if inst.get('virtual_router_id') is None:
            errors.add(where + '.virtual_router_id', 'is required', '1..255')
        if (name is not None and name in names) or (vrid is not None and vrid in ids):
            errors.add(where, 'name %s and virtual_router_id %s must be unique among the instances' % (name, vrid))
        names.add(name)
        ids.add(vrid)
        inst_vips = _address_list(inst.get('vips'), where + '.vips', 'VIPs', errors)
        for vip in inst_vips:
            if vips is not None and vip not in vips:
                errors.add(where + '.vips', '%s is the address of no service; services have %s'
                           % (vip, ', '.join(vips) or 'none'),
                           'the VIPs of services; a floating address that is no VIP goes in addresses')
            claimed.setdefault(vip, name)
        addresses = _address_list(inst.get('addresses'), where + '.addresses', 'addresses', errors)
        for address in addresses:
            if vips is not None and address in vips:
                errors.add(where + '.addresses', '%s is the VIP of a service: list it in vips' % address)
            if address in floating:
                errors.add(where + '.addresses', '%s is already held by instance %s; one holder per address'
                           % (address, floating[address]))
            floating.setdefault(address, name)
        group = inst.get('sync_group')
        if group is not None and not (isinstance(group, str) and _INSTANCE_NAME.fullmatch(group)):
            group = errors.add(where + '.sync_group', 'letters, digits, "_" and "-" only, got %r' % (group,))
        interface = inst.get('interface')
        if interface is not None:
            interface = as_ifname(interface, where + '.interface', errors)
            if interface == 'lo':
                interface = errors.add(where + '.interface', 'lo cannot carry VRRP adverts to the other director',
                                       'the interface on the LAN the directors share; a VIP routed to the '
                                       'directors goes on lo with vip_device')
        delay = inst.get('preempt_delay')
        if delay is not None:
            delay = as_int(delay, where + '.preempt_delay', 0, 1000, errors)
        out.append({'index': index, 'name': name, 'vrid': vrid, 'vips': inst_vips, 'addresses': tuple(addresses),
                    'sync_group': group, 'interface': interface,
                    'priority': as_int(inst.get('priority'), where + '.priority', 1, 254, errors, priority),
                    'advert_int': as_advert_int(inst.get('advert_int'), where + '.advert_int', version, errors),
                    'preempt': as_bool(inst.get('preempt'), where + '.preempt', errors, True),
                    'preempt_delay': delay})
    if vips is None or errors.items:
        return []
    # VIPs no instance names go to the first instance that lists no VIPs and no addresses (the default
    # catch-all)
    rest = [v for v in vips if v not in claimed]
    catch_all = [inst for inst in out if not inst['vips'] and not inst['addresses']]
    if rest:
        if not catch_all:
            errors.add(where_all, 'VIP(s) %s belong to no instance; list them in one, or leave one instance '
                                  'without vips to take the rest' % ', '.join(rest))
            return []
        catch_all[0]['vips'] = rest
    typed = []
    for inst in out:
        if not inst['vips'] and not inst['addresses']:
            continue
        if not _one_family(inst, version, errors):
            continue
        if not inst['interface']:
            inst['interface'] = _interface_for((inst['vips'] + list(inst['addresses']))[0], facts, inst, errors)
        inst['vips'] = tuple(inst['vips'])
        typed.append(VrrpInstance(**{k: v for k, v in inst.items() if k != 'index'}))
    _check_sync_groups(out, typed, errors)
    return typed


def _address_list(raw, where, what, errors):
    """A list of addresses, each normalised; the bad ones named (and left out)."""
    raw = raw or []
    if not isinstance(raw, list):
        errors.add(where, 'must be a list of %s, got %r' % (what, raw))
        return []
    parsed = [as_address(v, '%s[%d]' % (where, i), errors) for i, v in enumerate(raw)]
    return [v for v in parsed if v]


def _check_sync_groups(raw, typed, errors):
    """A sync group moves two or more instances together (keepalived drops a group of one with a log line,
    and an instance holding nothing is not rendered)."""
    rendered_groups = dict(sync_groups(typed))
    first = {}
    for inst in raw:
        if inst['sync_group']:
            first.setdefault(inst['sync_group'], inst['index'])
    for group, index in first.items():
        rendered = rendered_groups.get(group, ())
        if len(rendered) < 2:
            errors.add('director_vrrp_instances[%d].sync_group' % index,
                       'sync group %s would hold %s: a sync group moves two or more instances together'
                       % (group, ' and '.join(rendered) or 'no instance that holds an address'),
                       'the same sync_group on two or more instances that hold VIPs or addresses')


def sync_groups(instances):
    """((group, (instance names...)), ...) in the order the groups first appear."""
    groups = {}
    for inst in instances:
        if inst.sync_group:
            groups.setdefault(inst.sync_group, []).append(inst.name)
    return tuple((group, tuple(names)) for group, names in groups.items())


def _one_family(inst, version, errors):
    """An instance advertises one address family: keepalived drops a VIP of the other family from it with
    only a configuration error. IPv6 takes VRRPv3 (VRRPv2 is IPv4 only)."""
    where = 'director_vrrp_instances[%d]' % inst.get('index', 0)
    held = list(inst['vips']) + list(inst['addresses'])
    v4 = [v for v in held if ipaddress.ip_address(v).version == 4]
    v6 = [v for v in held if ipaddress.ip_address(v).version == 6]
    if v4 and v6:
        errors.add(where + '.vips', 'instance %s would hold IPv4 VIPs (%s) and IPv6 VIPs (%s); VRRP advertises '
                   'one address family per instance' % (inst['name'], ', '.join(v4), ', '.join(v6)),
                   'an instance of their own for the IPv6 VIPs (its own name and virtual_router_id), '
                   'listing them in its vips')
        return False
    if v6 and version != 3:
        errors.add('director_vrrp_version', 'instance %s holds IPv6 VIPs (%s), which VRRPv2 cannot advertise'
                   % (inst['name'], ', '.join(v6)), '3')
        return False
    return True


def _interface_for(vip, facts, inst, errors):
    """The interface whose network holds `vip`, from the network facts; never a loopback, which cannot carry
    VRRP adverts (a VIP routed to the director may be held on lo, but then the instance names its LAN)."""
    address = ipaddress.ip_address(vip)
    for ifname in facts.get('interfaces', []):
        data = facts.get(str(ifname).replace('-', '_').replace('.', '_')) or {}
        if ifname == 'lo' or data.get('type') == 'loopback':
            continue
        nets = [data.get('ipv4')] + list(data.get('ipv4_secondaries') or []) if address.version == 4 \
            else list(data.get('ipv6') or [])
        for net in nets:
            if not net or not net.get('address'):
                continue
            mask = net.get('netmask') or net.get('prefix')
            try:
                network = ipaddress.ip_interface('%s/%s' % (str(net['address']).split('%', maxsplit=1)[0], mask)).network
            except ValueError:
                continue  # a fact this schema cannot read holds no VIP
            if mask and address in network:
                return as_ifname(ifname, 'the interface of %s in the network facts' % vip, errors)
    index = inst.get('index', 0)
    return errors.add('director_vrrp_instances[%d].interface' % index,
                      'instance %s names no interface, and no interface of this host (loopback aside) is on the '
                      'network of %s' % (inst['name'], vip),
                      'the interface on the LAN the directors share (for a VIP routed to the directors, with '
                      'vip_device: lo); or gather network facts')


def _sync_settings(sync, instances, errors):
    """None when no daemon runs; else the interface, sync ID and refresh period, typed."""
    sync = as_dict(sync, 'director_sync_daemon', errors, ', '.join(SYNC_KEYS))
    if sync is None:
        return None
    unknown_keys(sync, SYNC_KEYS, 'director_sync_daemon', errors)
    enabled = as_bool(sync.get('enabled'), 'director_sync_daemon.enabled', errors, True)
    sync_id = as_int(sync.get('id'), 'director_sync_daemon.id', 0, _model.SYNC_ID_MAX, errors, 0)
    refresh = as_int(sync.get('refresh_period'), 'director_sync_daemon.refresh_period', 0, REFRESH_MAX, errors,
                     REFRESH_DEFAULT)
    interface = sync.get('interface')
    if interface is not None:
        interface = as_ifname(interface, 'director_sync_daemon.interface', errors)
    if not enabled or not instances:
        return None
    name = sync.get('instance') or instances[0].name
    match = [i for i in instances if i.name == name]
    if not match:
        return errors.add('director_sync_daemon.instance', '%s is not an instance; instances: %s'
                          % (name, ', '.join(i.name for i in instances)))
    # Both daemons run on every director, whatever its VRRP state: the master daemon sends the
    # connections this director forwards, the backup daemon takes in its peer's. keepalived's
    # lvs_sync_daemon, which switches them at each VRRP transition, hangs keepalived 2.2.7's VRRP process
    # in an IPVS call when a director leaves MASTER just after entering it (both directors starting
    # together): it then keeps the VIP and sends no advert, a split brain until keepalived restarts.
    if None in (sync_id, refresh) or (sync.get('interface') is not None and interface is None):
        return None
    return SyncSettings(interface=interface or match[0].interface, sync_id=sync_id, refresh_period=refresh)


__all__ = ['ValidationError', 'ValidationErrors', 'parse_services', 'parse_keepalived', 'parse_realserver',
           'RealServer', 'RoleService',
           'KeepalivedDirector', 'VrrpInstance', 'SyncSettings', 'HealthCheck', 'SorryServer']
