"""Read and check a lab topology file (YAML).

    description: one line
    lans:
      NAME: {subnet: 198.51.100.0/24, subnet6: 2001:db8:1::/64, namespace: 198.51.100.1}
    hosts:
      NAME:
        role: director | realserver | client      (inventory group: the role + "s")
        nics: {LAN: ADDRESS or [ADDRESS, ADDRESS6]}   (in order: eth1, eth2, ...; eth0 is management)
        routes: {default: 198.51.100.1, 192.0.2.0/24: 203.0.113.1}
        groups: [dr_realservers]                  (more inventory groups the host is in)
    vars: {...}                                    (inventory variables for every host)
    routes: {203.0.113.0/24: 198.51.100.10}        (the namespace's own routes: a VIP routed to a director)
    router: true | false   (default: true when the namespace joins more than one LAN)

`namespace` is the lab namespace's own address on that LAN: it makes the namespace a client there, and
a router between every LAN it joins. Every mistake is reported with its place in the file.
"""
from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from . import paths

NAME_RE = re.compile(r"^[a-z][a-z0-9-]{0,14}$")
GROUP_RE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
ROLES = ("director", "realserver", "client")
MAX_NICS = 4


class TopologyError(ValueError):
    pass


def group_of(role: str) -> str:
    """The inventory group of a role's hosts."""
    return role + "s"


@dataclass(frozen=True)
class Nic:
    lan: str
    interface: str
    addresses: tuple  # ipaddress.IPv4Interface / IPv6Interface, with the LAN's prefix


@dataclass(frozen=True)
class Host:
    name: str
    role: str
    nics: tuple
    routes: tuple  # (destination, gateway) strings
    groups: tuple = ()  # inventory groups beside the role's


@dataclass(frozen=True)
class Lan:
    name: str
    subnets: tuple  # ip_network, IPv4 first
    namespace: tuple  # the namespace's addresses on this LAN (interfaces), may be empty


@dataclass(frozen=True)
class Topology:
    name: str
    description: str
    lans: dict
    hosts: dict
    vars: dict = field(default_factory=dict)
    router: bool = False  # the namespace forwards between the LANs it joins
    routes: tuple = ()  # the namespace's own (destination, gateway) routes


def path_of(name_or_path: str) -> Path:
    """A shipped topology by name (dr, nat, tun, ha) or a path to a YAML file."""
    candidate = Path(name_or_path)
    if candidate.suffix in (".yml", ".yaml") or candidate.exists():
        return candidate
    shipped = paths.TOPOLOGIES / f"{name_or_path}.yml"
    if not shipped.exists():
        known = ", ".join(sorted(p.stem for p in paths.TOPOLOGIES.glob("*.yml")))
        raise TopologyError(f"no topology {name_or_path!r}; shipped ones: {known}; or give a .yml path")
    return shipped


def load(name_or_path: str) -> Topology:
    path = path_of(name_or_path)
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise TopologyError(f"{path}: cannot read: {exc}") from exc
    return parse(data, name=path.stem, where=str(path))


def parse(data, name: str, where: str = "topology") -> Topology:
    if not isinstance(data, dict):
        raise TopologyError(f"{where}: expected a mapping with 'lans' and 'hosts'")
    unknown = set(data) - {"description", "lans", "hosts", "vars", "router", "routes"}
    if unknown:
        raise TopologyError(f"{where}: unknown keys {sorted(unknown)}; "
                            "accepted: description, lans, hosts, vars, router, routes")
    router = data.get("router")
    if router not in (None, True, False):
        raise TopologyError(f"{where}: router must be true or false")
    lans = {lan: _lan(lan, spec, f"{where}: lans.{lan}") for lan, spec in _mapping(data, "lans", where).items()}
    hosts = {}
    used: dict = {}
    for hname, spec in _mapping(data, "hosts", where).items():
        host = _host(hname, spec, lans, f"{where}: hosts.{hname}")
        for nic in host.nics:
            for addr in nic.addresses:
                if addr.ip in used:
                    raise TopologyError(f"{where}: hosts.{hname}: address {addr.ip} is already used by {used[addr.ip]}")
                used[addr.ip] = hname
        hosts[hname] = host
    for lan in lans.values():
        for addr in lan.namespace:
            if addr.ip in used:
                raise TopologyError(f"{where}: lans.{lan.name}.namespace {addr.ip} is already used by {used[addr.ip]}")
    variables = data.get("vars") or {}
    if not isinstance(variables, dict):
        raise TopologyError(f"{where}: vars must be a mapping")
    joined = sum(1 for lan in lans.values() if lan.namespace)
    own = [addr for lan in lans.values() for addr in lan.namespace]
    routes = _routes(data.get("routes"), own, f"{where}: routes", "the namespace's LANs")
    return Topology(name=name, description=str(data.get("description", "")), lans=lans, hosts=hosts,
                    vars=variables, router=joined > 1 if router is None else router, routes=routes)


def _routes(spec, addresses: list, where: str, whose: str) -> tuple:
    """(destination, gateway) pairs; each gateway must be on one of `addresses`' networks."""
    if spec is not None and not isinstance(spec, dict):
        raise TopologyError(f"{where}: expected a mapping of destination to gateway")
    routes = []
    for dest, via in (spec or {}).items():
        try:
            if dest != "default":
                ipaddress.ip_network(str(dest))
            gateway = ipaddress.ip_address(str(via))
        except ValueError as exc:
            raise TopologyError(f"{where}.{dest}: {exc}") from exc
        if not any(gateway in a.network for a in addresses):
            raise TopologyError(f"{where}.{dest}: gateway {gateway} is on none of {whose}")
        routes.append((str(dest), str(gateway)))
    return tuple(routes)


def _mapping(data: dict, key: str, where: str) -> dict:
    value = data.get(key)
    if not isinstance(value, dict) or not value:
        raise TopologyError(f"{where}: '{key}' must be a non-empty mapping")
    for name in value:
        if not isinstance(name, str) or not NAME_RE.match(name):
            raise TopologyError(f"{where}: {key}.{name}: names are lowercase letters, digits and '-', "
                                "starting with a letter, at most 15 characters")
    return value


def _lan(name: str, spec, where: str) -> Lan:
    if not isinstance(spec, dict) or "subnet" not in spec:
        raise TopologyError(f"{where}: needs 'subnet' (e.g. 198.51.100.0/24)")
    unknown = set(spec) - {"subnet", "subnet6", "namespace"}
    if unknown:
        raise TopologyError(f"{where}: unknown keys {sorted(unknown)}; accepted: subnet, subnet6, namespace")
    subnets = []
    for key, version in (("subnet", 4), ("subnet6", 6)):
        if key in spec:
            try:
                net = ipaddress.ip_network(str(spec[key]))
            except ValueError as exc:
                raise TopologyError(f"{where}.{key}: {exc}") from exc
            if net.version != version:
                raise TopologyError(f"{where}.{key}: expected an IPv{version} network, got {net}")
            subnets.append(net)
    lan = Lan(name=name, subnets=tuple(subnets), namespace=())
    return Lan(name=name, subnets=lan.subnets,
               namespace=_addresses(spec.get("namespace", []), lan, f"{where}.namespace"))


def _addresses(value, lan: Lan, where: str) -> tuple:
    values = value if isinstance(value, list) else [value]
    result = []
    for raw in values:
        try:
            ip = ipaddress.ip_address(str(raw))
        except ValueError as exc:
            raise TopologyError(f"{where}: {exc}") from exc
        nets = [n for n in lan.subnets if n.version == ip.version]
        if not nets or ip not in nets[0]:
            raise TopologyError(f"{where}: {ip} is not inside LAN {lan.name}'s subnets "
                                f"({', '.join(map(str, lan.subnets))})")
        if ip in (nets[0].network_address, nets[0].broadcast_address):
            raise TopologyError(f"{where}: {ip} is the network or broadcast address of {nets[0]}")
        result.append(ipaddress.ip_interface(f"{ip}/{nets[0].prefixlen}"))
    return tuple(result)


def _host(name: str, spec, lans: dict, where: str) -> Host:
    if not isinstance(spec, dict):
        raise TopologyError(f"{where}: expected a mapping with role and nics")
    unknown = set(spec) - {"role", "nics", "routes", "groups"}
    if unknown:
        raise TopologyError(f"{where}: unknown keys {sorted(unknown)}; accepted: role, nics, routes, groups")
    role = spec.get("role")
    if role not in ROLES:
        raise TopologyError(f"{where}.role: {role!r} is not one of {', '.join(ROLES)}")
    nics_spec = spec.get("nics")
    if not isinstance(nics_spec, dict) or not nics_spec:
        raise TopologyError(f"{where}.nics: a mapping LAN -> address, at least one")
    if len(nics_spec) > MAX_NICS:
        raise TopologyError(f"{where}.nics: at most {MAX_NICS} LANs per host")
    nics = []
    for index, (lan_name, addrs) in enumerate(nics_spec.items(), start=1):
        if lan_name not in lans:
            raise TopologyError(f"{where}.nics.{lan_name}: no such LAN; LANs: {', '.join(lans)}")
        nics.append(Nic(lan=lan_name, interface=f"eth{index}",
                        addresses=_addresses(addrs, lans[lan_name], f"{where}.nics.{lan_name}")))
    routes = _routes(spec.get("routes"), [a for nic in nics for a in nic.addresses], f"{where}.routes",
                     "the host's LANs")
    return Host(name=name, role=role, nics=tuple(nics), routes=routes,
                groups=_groups(spec.get("groups") or [], role, f"{where}.groups"))


def _groups(value, role: str, where: str) -> tuple:
    if not isinstance(value, list):
        raise TopologyError(f"{where}: a list of inventory group names")
    for group in value:
        if not isinstance(group, str) or not GROUP_RE.match(group):
            raise TopologyError(f"{where}: {group!r}: group names are lowercase letters, digits and '_', "
                                "starting with a letter, at most 40 characters")
        if group == "all" or group in (group_of(r) for r in ROLES):
            raise TopologyError(f"{where}: {group!r} is Ansible's or a role's own group (the role sets it)")
    return tuple(dict.fromkeys(value))
