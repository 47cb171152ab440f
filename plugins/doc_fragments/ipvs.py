# -*- coding: utf-8 -*-
# Copyright (c) the lvs.cluster authors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Shared documentation of the IPVS modules (mirrors plugins/module_utils/_model.py)."""

from __future__ import annotations


class ModuleDocFragment:

    # Requirements and notes common to every module that talks to IPVS.
    DOCUMENTATION = r'''
options: {}
requirements:
  - Linux with the C(ip_vs) kernel module (loaded on demand with C(modprobe ip_vs)).
  - pyroute2 >= 0.9.6 on the target host (C(python3 -m pip install 'pyroute2>=0.9.6'));
    distribution packages are older and do not qualify.
  - root or C(CAP_NET_ADMIN) on the target host.
notes:
  - The module talks to the kernel over generic netlink (family C(IPVS)); it does not run C(ipvsadm).
  - Runtime state only; persisting the table across reboots is the director role's job.
'''

    SERVICE_KEY = r'''
options:
  protocol:
    description:
      - Protocol of the virtual service. Defaults to V(tcp) for address services.
      - Not allowed together with O(fwmark).
    type: str
    choices: [sctp, tcp, udp]
  address:
    description:
      - Virtual IP address (IPv4 or IPv6) of the service. Required unless O(fwmark) is set.
    type: str
  port:
    description:
      - Port of the virtual service, 1..65535. Required unless O(fwmark) is set.
      - V(0) means all ports and is only allowed with persistence (O(persistence_timeout) > 0).
    type: int
  fwmark:
    description:
      - Firewall mark that identifies the service instead of protocol, address and port.
    type: int
  family:
    description:
      - Address family. For an address service it follows the address; for a fwmark service it defaults to V(ipv4).
    type: str
    choices: [ipv4, ipv6]
'''

    SERVICE = r'''
options:
  scheduler:
    description:
      - Scheduler, case-insensitive. One of V(rr), V(wrr), V(lc), V(wlc), V(lblc), V(lblcr), V(dh), V(sh),
        V(sed), V(nq), V(fo), V(ovf), V(mh), V(twos).
      - V(twos) is in the kernel since 5.12 but needs C(CONFIG_IP_VS_TWOS); Debian bookworm's 6.1 kernel is
        built without it. A scheduler the kernel lacks fails the task naming it.
      - Changed in place (SET); connections and counters survive.
    type: str
    default: wlc
  one_packet:
    description:
      - One-packet scheduling (flag C(ops)); UDP services and fwmark services only.
    type: bool
    default: false
  sh_fallback:
    description:
      - Source hashing falls back to another destination when the chosen one is unavailable. Scheduler V(sh) only.
    type: bool
    default: false
  sh_port:
    description:
      - Source hashing also hashes the source port. Scheduler V(sh) only.
    type: bool
    default: false
  mh_fallback:
    description:
      - Maglev hashing falls back to another destination when the chosen one is unavailable. Scheduler V(mh) only.
    type: bool
    default: false
  mh_port:
    description:
      - Maglev hashing also hashes the source port. Scheduler V(mh) only.
    type: bool
    default: false
  persistence_timeout:
    description:
      - Persistence timeout in seconds, 0..2678400; V(0) turns persistence off.
    type: int
    default: 0
  persistence_netmask:
    description:
      - Granularity of persistence. IPv4 services take a dotted netmask (V(255.255.255.0)) or a prefix
        length 0..32; IPv6 services take a prefix length 1..128.
      - Defaults to a single client address (V(255.255.255.255) or V(128)). Only with O(persistence_timeout) > 0.
    type: raw
  persistence_engine:
    description:
      - Persistence engine (V(sip) uses the SIP Call-ID). Only with O(persistence_timeout) > 0.
    type: str
    choices: [sip]
'''

    DEST = r'''
options:
  address:
    description:
      - Address of the real server. An IPv4 destination behind an IPv6 service (or the reverse) needs
        O(forwarding=tun).
    type: str
    required: true
  port:
    description:
      - Port of the real server. Omitted means the service port (0 for fwmark services).
      - Only O(forwarding=nat) can map ports; with V(dr), V(tun) and V(local) a port different from the
        service port is rejected rather than silently ignored.
    type: int
  forwarding:
    description:
      - Forwarding method, V(dr) (direct routing, ipvsadm's gatewaying), V(nat) (masquerading),
        V(tun) (IP tunnelling) or V(local). Changed in place (SET).
    type: str
    choices: [dr, local, nat, tun]
    default: dr
  weight:
    description:
      - Weight 0..2147483647. V(0) quiesces the destination (no new connections; existing ones continue).
    type: int
    default: 1
  upper_threshold:
    description:
      - Maximum number of connections, 0..65535; V(0) means no limit.
    type: int
    default: 0
  lower_threshold:
    description:
      - Connection count under which an overloaded destination takes new connections again, 0..65535.
      - Must not exceed O(upper_threshold) (the kernel refuses it even when O(upper_threshold) is 0).
    type: int
    default: 0
  tunnel_type:
    description:
      - Encapsulation for O(forwarding=tun) (V(gue) needs kernel 5.2, V(gre) 5.3). Defaults to V(ipip).
    type: str
    choices: [gre, gue, ipip]
  tunnel_port:
    description:
      - Destination UDP port of the GUE encapsulation; required with O(tunnel_type=gue), not allowed otherwise.
    type: int
  tunnel_checksum:
    description:
      - Tunnel checksum mode; V(csum) with V(gue) or V(gre), V(remcsum) with V(gue) only. Defaults to V(nocsum).
    type: str
    choices: [csum, nocsum, remcsum]
'''
