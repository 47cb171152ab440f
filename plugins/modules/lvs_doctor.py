#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) the lvs.cluster authors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
module: lvs_doctor
short_description: Read and probe what makes an LVS host forward traffic or not, changing nothing
version_added: 0.1.0
description:
  - Reads, on a director or a real server, what decides whether LVS traffic flows through it
    (interfaces and their addresses and MACs, IPv4 forwarding, the ARP and reverse-path settings, loaded
    kernel modules, the default route, the TCP ports in LISTEN and, on a director, how far the kernel's
    IPVS table is from a declared one), and runs the probes it is given from this host (a TCP connection
    to each real server; an ARP request for each VIP, collecting every MAC that answers).
  - Returns all of it as O(ignore:state). The playbook C(lvs.cluster.doctor) gathers every host's state and
    names what is wrong, on which host, with the evidence and the fix.
  - Changes nothing on any host. The ARP request is one broadcast frame from the interface's own address;
    the TCP probes open and close a connection.
author:
  - LVS cluster maintainers (@lvs-cluster)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
options:
  role:
    description:
      - What the host is in the cluster. A director also reads its IPVS table when O(services) is given.
    type: str
    required: true
    choices: [director, realserver]
  services:
    description:
      - The declared table, in the form M(lvs.cluster.ipvs_table) takes for its O(lvs.cluster.ipvs_table#module:services)
        (the C(lvs.cluster.lvs_table) filter gives it from the roles' C(lvs_services)).
      - On a director, the operations that would make the kernel's table this one are returned in
        RV(state.plan); every error in it is reported at once, with its path.
    type: list
    elements: dict
  connect:
    description:
      - TCP connections to open from this host, each to an O(connect[].address) and O(connect[].port).
    type: list
    elements: dict
    default: []
    suboptions:
      address:
        description: IPv4 or IPv6 address.
        type: str
        required: true
      port:
        description: TCP port, 1..65535.
        type: int
        required: true
  arp:
    description:
      - IPv4 VIPs to ask the LAN about with an ARP request from this host. Each MAC that answers is returned.
    type: list
    elements: dict
    default: []
    suboptions:
      vip:
        description: The IPv4 address asked for.
        type: str
        required: true
      interface:
        description:
          - Where to ask. Default, the interface of this host that holds the VIP and answers ARP; a VIP held
            on no such interface (a routed VIP on C(lo)) is not asked for.
        type: str
  probe_timeout:
    description: Seconds each probe waits for an answer (a connection, ARP replies).
    type: float
    default: 1.0
  vrrp_listen:
    description:
      - Seconds to listen for VRRP adverts (a keepalived director; 1.5 advert intervals or more). A backup
        hears its master, which tells the doctor which director rightly holds a VIP that two of them hold.
      - V(0) does not listen. Accepted - 0 to 60.
    type: float
    default: 0.0
requirements:
  - Linux; pyroute2 >= 0.9.6 on the target host (the pyroute2 role installs it).
  - root (the ARP probe opens a packet socket; the IPVS table is read over netlink).
notes:
  - IPv6 VIPs are not probed for neighbour answers; their other checks apply.
  - The IPVS table is only read when the C(ip_vs) module is loaded; the doctor never loads it.
attributes:
  platform:
    support: full
    platforms: linux
  check_mode:
    support: full
    details: The module reads and probes the same way in check mode; it never changes anything.
  diff_mode:
    support: none
'''

EXAMPLES = r'''
- name: Read a real server
  lvs.cluster.lvs_doctor:
    role: realserver
  register: doctor

- name: Read a director, compare its table, ask who answers ARP for the VIP, connect to a real server
  lvs.cluster.lvs_doctor:
    role: director
    services: "{{ lvs_services | lvs.cluster.lvs_table(hostvars, groups) }}"
    arp:
      - vip: 192.0.2.10
    connect:
      - {address: 198.51.100.11, port: 80}
'''

RETURN = r'''
state:
  description: What was read and probed on the host.
  returned: always
  type: dict
  contains:
    interfaces:
      description: Each interface with C(mac), C(mtu), C(up), C(arp) (false with NOARP), C(kind) (C(loopback),
        C(ipip), C(dummy), ...) and C(addresses) (with prefix length).
      type: dict
    sysctl:
      description: C(net.ipv4.ip_forward), C(net.ipv4.vs.pmtu_disc) (when ip_vs is loaded) and C(arp_ignore), C(arp_announce), C(rp_filter) of C(all),
        C(default) and each interface, as integers.
      type: dict
    modules:
      description: Loaded kernel modules.
      type: list
      elements: str
    default_route:
      description: The IPv4 default route (C(via), C(dev), and its C(mtu) and C(advmss) metrics when set), or null.
      type: dict
    tun_paths:
      description: On a director given O(services), for each TUN destination's address the route's C(dev) and
        C(mtu) (the route's mtu metric, else its device's MTU), against which the doctor judges what fits inside the director's IPIP header.
        An address without a route maps to null.
      type: dict
    mss_clamps:
      description: On a real server, each nftables rule that sets the TCP MSS option (C(table), C(chain),
        C(mss)), read with C(nft -j list ruleset); empty without nft.
      type: list
      elements: dict
    listening:
      description: TCP sockets in LISTEN, as [address, port].
      type: list
      elements: list
    plan:
      description: On a director given O(services), the operations (as M(lvs.cluster.ipvs_table) names them)
        that would make the kernel's table the declared one; empty when they are the same. Null when the
        table was not read (no O(services), or C(ip_vs) not loaded).
      type: list
      elements: str
    vrrp:
      description: With O(vrrp_listen), the VRRP adverts heard (C(adverts) - source, vrid, priority) and an
        C(error); else null.
      type: dict
    probes:
      description: C(connect) (address, port, ok, error, seconds) and C(arp) (vip, interface, sent, replies,
        error) results.
      type: dict
  sample:
    interfaces:
      lo: {mac: '00:00:00:00:00:00', mtu: 65536, up: true, arp: false, kind: loopback, addresses: [127.0.0.1/8]}
    sysctl: {net.ipv4.ip_forward: 1, net.ipv4.conf.all.arp_ignore: 0}
    modules: [ip_vs]
    default_route: {via: 198.51.100.1, dev: eth1}
    listening: [[0.0.0.0, 22]]
    plan: []
    probes: {connect: [], arp: []}
'''

import ipaddress
import json

from ansible_collections.lvs.cluster.plugins.module_utils import _doctor_read as read
from ansible_collections.lvs.cluster.plugins.module_utils._ansible import LvsModule, run_module
from ansible_collections.lvs.cluster.plugins.module_utils._diff import plan_all
from ansible_collections.lvs.cluster.plugins.module_utils._errors import LvsError
from ansible_collections.lvs.cluster.plugins.module_utils._hostnet import open_iproute
from ansible_collections.lvs.cluster.plugins.module_utils._model import ErrorCollector, parse_table, unicast_problem


def build_module():
    return LvsModule(argument_spec={
        'role': {'type': 'str', 'required': True, 'choices': ['director', 'realserver']},
        'services': {'type': 'list', 'elements': 'dict'},
        'connect': {'type': 'list', 'elements': 'dict', 'default': [], 'options': {
            'address': {'type': 'str', 'required': True},
            'port': {'type': 'int', 'required': True}}},
        'arp': {'type': 'list', 'elements': 'dict', 'default': [], 'options': {
            'vip': {'type': 'str', 'required': True},
            'interface': {'type': 'str'}}},
        'probe_timeout': {'type': 'float', 'default': 1.0},
        'vrrp_listen': {'type': 'float', 'default': 0.0},
    }, supports_check_mode=True)


def checked(params):
    """The declared table (or None) and the probes, every error at once."""
    errors = ErrorCollector()
    table = None
    if params['role'] == 'director' and params.get('services') is not None:
        table = parse_table(params['services'], 'services', errors)
    for i, probe in enumerate(params['connect']):
        problem = unicast_problem_text(probe['address'])
        if problem:
            errors.add('connect[%d].address' % i, problem, 'an IPv4 or IPv6 unicast address', probe['address'])
        if not 1 <= probe['port'] <= 65535:
            errors.add('connect[%d].port' % i, '%d is out of range' % probe['port'], '1..65535', probe['port'])
    for i, probe in enumerate(params['arp']):
        problem = unicast_problem_text(probe['vip'])
        if problem or ':' in probe['vip']:
            errors.add('arp[%d].vip' % i, problem or 'not an IPv4 address', 'an IPv4 unicast address', probe['vip'])
    if not 0 <= params['vrrp_listen'] <= 60:
        errors.add('vrrp_listen', '%s is out of range' % params['vrrp_listen'], '0 (do not listen) to 60 seconds',
                   params['vrrp_listen'])
    if not 0 < params['probe_timeout'] <= 60:
        errors.add('probe_timeout', '%s is out of range' % params['probe_timeout'], '0 < seconds <= 60',
                   params['probe_timeout'])
    errors.raise_if_any()
    return table


def unicast_problem_text(text):
    try:
        return unicast_problem(ipaddress.ip_address(text))
    except ValueError:
        return 'not an IP address'


def tun_dests(table):
    """The addresses of the table's TUN destinations, once each: the director's path MTU to each is read."""
    out = []
    for dests in (table.dests.values() if table is not None else ()):
        for dest in dests.values():
            if dest.forwarding == 'tun' and dest.address not in out:
                out.append(dest.address)
    return out


def read_mss_clamps(module):
    """The TCP MSS clamps in nftables (none without nft): what a TUN real server advertises may be lowered there."""
    nft = module.get_bin_path('nft')
    if not nft:
        return []
    rc, out, _err = module.run_command([nft, '-j', 'list', 'ruleset'])
    try:
        return read.mss_clamps(json.loads(out)) if rc == 0 else []
    except ValueError:
        return []


def read_plan(table, modules):
    if table is None or 'ip_vs' not in modules:
        return None
    from ansible_collections.lvs.cluster.plugins.module_utils._netlink import connect
    with connect(load_module=None) as client:
        return [str(op) for op in plan_all(table, client.dump_table(), purge=True)]


def run(module):
    params = module.params
    table = checked(params)
    ipr = open_iproute()
    try:
        interfaces = read.read_interfaces(ipr)
        names = {link['index']: link.get_attr('IFLA_IFNAME') for link in ipr.get_links()}
        default_route = read.read_default_route(ipr, names)
        tun_paths = {address: read.read_path_mtu(ipr, address, interfaces, names) for address in tun_dests(table)}
    finally:
        ipr.close()
    modules = read.read_modules()
    state = {
        'interfaces': interfaces,
        'sysctl': read.read_sysctls(interfaces),
        'modules': modules,
        'default_route': default_route,
        'listening': read.read_listening(),
        'plan': read_plan(table, modules),
        'tun_paths': tun_paths,
        'mss_clamps': read_mss_clamps(module) if params['role'] == 'realserver' else [],
        'probes': {'connect': [], 'arp': []},
        'vrrp': read.listen_vrrp(params['vrrp_listen']) if params['vrrp_listen'] else None,
    }
    timeout = params['probe_timeout']
    for probe in params['connect']:
        state['probes']['connect'].append(read.probe_connect(probe['address'], probe['port'], timeout))
    for probe in params['arp']:
        interface = probe.get('interface') or _arp_interface(interfaces, probe['vip'])
        if interface is None:
            state['probes']['arp'].append({'vip': probe['vip'], 'interface': None, 'sent': False, 'replies': [],
                                           'error': 'held on no interface that answers ARP here: not asked'})
        elif interface not in interfaces:
            raise LvsError('arp: no interface %s on this host (it has %s)' % (interface, ', '.join(sorted(interfaces))))
        else:
            state['probes']['arp'].append(read.probe_arp(interface, interfaces[interface], probe['vip'], timeout))
    return {'changed': False, 'state': state}


def _arp_interface(interfaces, vip):
    for name, nic in sorted(interfaces.items()):
        if nic['arp'] and nic['kind'] != 'loopback' and any(a.split('/')[0] == vip for a in nic['addresses']):
            return name
    return None


def main():
    module = build_module()
    run_module(module, run)


if __name__ == '__main__':
    main()
