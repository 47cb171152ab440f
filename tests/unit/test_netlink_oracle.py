# -*- coding: utf-8 -*-
# Copyright (c) the lvs.cluster authors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The codec against the kernel and ipvsadm, not against our own description of ip_vs.h.

fixtures/ipvs_capture.json holds what ipvsadm 1.31 and Debian bookworm's 6.1 kernel said to each other
over generic netlink (captured in a lab guest by fixtures/ipvs_capture.py, which says how). Each request
we encode for a declared change must carry the attributes ipvsadm sends for the same change, with the
same bytes; each kernel reply must decode to what ipvsadm itself printed from it."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from ansible_collections.lvs.cluster.plugins.module_utils import _ipvs_codec as codec
from ansible_collections.lvs.cluster.plugins.module_utils import _ipvs_layout as layout
from ansible_collections.lvs.cluster.plugins.module_utils._diff import Op
from ansible_collections.lvs.cluster.plugins.module_utils._model import (
    SyncDaemon,
    Timeouts,
    parse_table,
    sync_daemons_from_params,
)

CAPTURE = json.loads((Path(__file__).parent / "fixtures" / "ipvs_capture.json").read_text())
BY_COMMAND = {c["command"]: c for c in CAPTURE["captures"]}
NESTS = (layout.TOP.SERVICE, layout.TOP.DEST, layout.TOP.DAEMON)


def tree(data, start, end, nested=NESTS):
    """{attribute type: bytes, or the same for a nested attribute}."""
    return {atype: (tree(data, s, e, ()) if atype in nested else bytes(data[s:e]))
            for atype, (s, e) in codec.attr_table(data, start, end).items()}


def message(hexdata):
    """(genl command, attribute tree) of one captured message."""
    data = bytes.fromhex(hexdata)
    return data[16], tree(data, 20, len(data))


def ipvsadm_request(command):
    """The change ipvsadm asked for: every command first asks for the IPVS info (GET_INFO, 15)."""
    capture = BY_COMMAND[command]
    assert capture["rc"] == 0, capture
    requests = [message(h) for h in capture["requests"]]
    assert [cmd for cmd, _attrs in requests[:1]] == [15], requests
    return requests[1]


def ours(op):
    cmd, attrs = codec.encode_op(op)
    return message(codec.encode_message(CAPTURE["family_id"], cmd, 1, codec.NLM_F_REQUEST | codec.NLM_F_ACK, attrs).hex())


def service(action, params):
    """Our operation on the service declared by `params` (ipvs_table's schema)."""
    table = parse_table([dict(params, destinations=[])])
    [(key, svc)] = list(table.services.items())
    return Op(action, "service", key=key, service=svc if action != "del" else None)


def dest(action, service_params, dest_params):
    """Our operation on the one destination declared by `dest_params`."""
    table = parse_table([dict(service_params, destinations=[dest_params])])
    [(key, dests)] = list(table.dests.items())
    [d] = list(dests.values())
    return Op(action, "dest", key=key, dest=d)


WEB = {"address": "192.0.2.10", "port": 80}
DNS6 = {"address": "2001:db8::10", "port": 53, "protocol": "udp"}
FWM3 = {"fwmark": 3}

# ipvsadm command -> the operation our modules plan for the same declared change
SERVICE_CHANGES = [
    ("ipvsadm -A -t 192.0.2.10:80 -s wrr", lambda: service("add", dict(WEB, scheduler="wrr"))),
    ("ipvsadm -A -t 192.0.2.11:443 -s sh -b sh-port -p 300 -M 255.255.255.0 --pe sip",
     lambda: service("add", {"address": "192.0.2.11", "port": 443, "scheduler": "sh", "sh_port": True,
                             "persistence_timeout": 300, "persistence_netmask": "255.255.255.0",
                             "persistence_engine": "sip"})),
    ("ipvsadm -A -u [2001:db8::10]:53 -s mh -b mh-port,mh-fallback -p 60 -M 64",
     lambda: service("add", dict(DNS6, scheduler="mh", mh_port=True, mh_fallback=True,
                                 persistence_timeout=60, persistence_netmask=64))),
    ("ipvsadm -A -f 3 -s rr -o", lambda: service("add", dict(FWM3, scheduler="rr", one_packet=True))),
    ("ipvsadm -A -f 4 -6 -s lc", lambda: service("add", {"fwmark": 4, "family": "ipv6", "scheduler": "lc"})),
    ("ipvsadm -E -t 192.0.2.10:80 -s wlc -p 120",
     lambda: service("set", dict(WEB, scheduler="wlc", persistence_timeout=120))),
    ("ipvsadm --set 901 121 301", lambda: Op("set", "timeouts", timeouts=Timeouts(tcp=901, tcpfin=121, udp=301))),
    ("ipvsadm --start-daemon master --mcast-interface eth1 --syncid 7 --sync-maxlen 1400"
     " --mcast-group 239.1.2.3 --mcast-port 9999 --mcast-ttl 3",
     lambda: Op("add", "daemon", daemon=sync_daemons_from_params([{
         "role": "master", "interface": "eth1", "sync_id": 7, "max_len": 1400, "group": "239.1.2.3", "port": 9999,
         "ttl": 3}])["master"])),
]
# Destination changes name their service by its key alone: ipvsadm adds placeholder settings (an empty
# scheduler, no flags, no timeout, a full netmask) that the kernel ignores there, and we do not.
DEST_CHANGES = [
    ("ipvsadm -a -t 192.0.2.10:80 -r 198.51.100.11:80 -g -w 10 -x 500 -y 100",
     lambda: dest("add", WEB, {"address": "198.51.100.11", "weight": 10, "upper_threshold": 500,
                               "lower_threshold": 100})),
    ("ipvsadm -a -t 192.0.2.10:80 -r 198.51.100.12:80 -i -w 0",
     lambda: dest("add", WEB, {"address": "198.51.100.12", "forwarding": "tun", "weight": 0})),
    ("ipvsadm -a -t 192.0.2.10:80 -r 198.51.100.13:80 -i -w 2 --tun-type gue --tun-port 5555 --tun-nocsum",
     lambda: dest("add", WEB, {"address": "198.51.100.13", "forwarding": "tun", "weight": 2,
                               "tunnel_type": "gue", "tunnel_port": 5555, "tunnel_checksum": "nocsum"})),
    ("ipvsadm -a -t 192.0.2.10:80 -r 198.51.100.14:80 -i --tun-type gre --tun-csum",
     lambda: dest("add", WEB, {"address": "198.51.100.14", "forwarding": "tun", "tunnel_type": "gre",
                               "tunnel_checksum": "csum"})),
    ("ipvsadm -a -u [2001:db8::10]:53 -r [2001:db8:100::11]:5353 -m -w 3",
     lambda: dest("add", DNS6, {"address": "2001:db8:100::11", "port": 5353, "forwarding": "nat",
                                "weight": 3})),
    ("ipvsadm -a -f 3 -r 198.51.100.15:0 -g", lambda: dest("add", FWM3, {"address": "198.51.100.15"})),
    ("ipvsadm -e -t 192.0.2.10:80 -r 198.51.100.11:80 -g -w 11 -x 600 -y 50",
     lambda: dest("set", WEB, {"address": "198.51.100.11", "weight": 11, "upper_threshold": 600,
                               "lower_threshold": 50})),
]
# Removals: the kernel finds what to remove by its key alone, which is all we send; ipvsadm sends the
# settings too. Our attributes must be a subset of ipvsadm's, byte for byte.
REMOVALS = [
    ("ipvsadm -d -t 192.0.2.10:80 -r 198.51.100.14:80",
     lambda: dest("del", WEB, {"address": "198.51.100.14", "forwarding": "tun", "tunnel_type": "gre",
                               "tunnel_checksum": "csum"})),
    ("ipvsadm -D -f 4 -6", lambda: service("del", {"fwmark": 4, "family": "ipv6"})),
    ("ipvsadm --stop-daemon master", lambda: Op("del", "daemon", daemon=SyncDaemon(role="master", interface="eth1"))),
]


PLACEHOLDERS = {layout.SVC.SCHED_NAME, layout.SVC.FLAGS, layout.SVC.TIMEOUT, layout.SVC.NETMASK}


@pytest.mark.parametrize("command, build", SERVICE_CHANGES, ids=[c for c, _build in SERVICE_CHANGES])
def test_a_change_is_encoded_as_ipvsadm_encodes_it(command, build):
    their_cmd, theirs = ipvsadm_request(command)
    our_cmd, mine = ours(build())
    assert our_cmd == their_cmd
    assert mine == theirs


@pytest.mark.parametrize("command, build", DEST_CHANGES, ids=[c for c, _build in DEST_CHANGES])
def test_a_destination_change_is_encoded_as_ipvsadm_encodes_it(command, build):
    their_cmd, theirs = ipvsadm_request(command)
    our_cmd, mine = ours(build())
    assert our_cmd == their_cmd and set(mine) == set(theirs) == {layout.TOP.SERVICE, layout.TOP.DEST}
    assert mine[layout.TOP.DEST] == theirs[layout.TOP.DEST]
    named, their_named = mine[layout.TOP.SERVICE], theirs[layout.TOP.SERVICE]
    assert named.items() <= their_named.items() and set(their_named) - set(named) == PLACEHOLDERS


@pytest.mark.parametrize("command, build", REMOVALS, ids=[c for c, _build in REMOVALS])
def test_a_removal_sends_the_key_ipvsadm_sends(command, build):
    their_cmd, theirs = ipvsadm_request(command)
    our_cmd, mine = ours(build())
    assert our_cmd == their_cmd
    assert set(mine) == set(theirs)
    for nest, attrs in mine.items():
        assert attrs.items() <= theirs[nest].items(), (nest, attrs, theirs[nest])


def test_flush_and_zero_are_bare_commands_as_ipvsadm_sends_them():
    # the last `ipvsadm -C` of the capture (the first one's request is the same)
    assert ipvsadm_request("ipvsadm -Z") == (layout.CMD.ZERO, {})
    flush = [message(h) for h in BY_COMMAND["ipvsadm -C"]["requests"]][1]
    assert flush == (layout.CMD.FLUSH, {})


LISTED_SERVICE = re.compile(r"^(TCP|UDP|SCTP|FWM)\s+(\S+)\s+(.*)$")
LISTED_DEST = re.compile(r"^\s+->\s+(\S+)\s+(\w+)\s+(\d+)\s+")
FORWARD = {"dr": "Route", "tun": "Tunnel", "nat": "Masq", "local": "Local"}


def listed_by_ipvsadm():
    """{service line: [(dest, forward, weight)]} from ipvsadm's own -Ln text of the same replies."""
    listing, current = {}, None
    for line in BY_COMMAND["ipvsadm -Ln"]["stdout"].splitlines():
        service_line, dest_line = LISTED_SERVICE.match(line), LISTED_DEST.match(line)
        if service_line:
            current = " ".join(line.split())
            listing[current] = []
        elif dest_line and current:
            listing[current].append(dest_line.groups())
    return listing


def test_kernel_replies_decode_to_what_ipvsadm_printed_from_them():
    listing = listed_by_ipvsadm()
    capture = BY_COMMAND["ipvsadm -Ln"]
    requests = [message(h) for h in capture["requests"]]
    replies = [bytes.fromhex(h) for h in capture["replies"]]
    services = [codec.decode_service(r, 16, len(r), with_stats=True)[0] for r in replies if r[16] == layout.CMD.NEW_SERVICE]
    # ipvsadm dumps the destinations of each service in the order the service dump gave them
    dest_requests = [attrs for cmd, attrs in requests if cmd == layout.CMD.GET_DEST]
    assert len(dest_requests) == len(services) == len(listing) == 5
    dests = [codec.decode_dest(r, 16, len(r), "ipv4", with_stats=True)[0] for r in replies if r[16] == layout.CMD.NEW_DEST]
    ours_listed = {}
    for svc in services:
        key = svc.key
        proto = "FWM" if key.fwmark else key.protocol.upper()
        where = str(key.fwmark) if key.fwmark else ("[%s]:%d" % (key.address, key.port) if key.family == "ipv6"
                                                    else "%s:%d" % (key.address, key.port))
        ours_listed[(proto, where)] = svc
    for line, listed_dests in listing.items():
        proto, where = line.split()[:2]
        svc = ours_listed[(proto, where)]
        words = line.split()[2:]
        assert svc.scheduler == words[0 if proto != "FWM" or words[0] != "IPv6" else 1], (line, svc)
        if "persistent" in words:
            assert svc.persistence_timeout == int(words[words.index("persistent") + 1]), (line, svc)
        else:
            assert svc.persistence_timeout == 0, (line, svc)
        if "mask" in words:
            assert str(svc.persistence_netmask) == words[words.index("mask") + 1], (line, svc)
        if "pe" in words:
            assert svc.persistence_engine == words[words.index("pe") + 1], (line, svc)
        assert svc.one_packet == ("ops" in words), (line, svc)
        assert (svc.sh_port, svc.mh_port, svc.mh_fallback) == (
            "(sh-port)" in words, "mh-port" in line, "mh-fallback" in line), (line, svc)
        for address_port, forward, weight in listed_dests:
            match = [d for d in dests if "%s:%d" % ("[%s]" % d.address if d.family == "ipv6" else d.address, d.port)
                     == address_port]
            assert len(match) == 1, (address_port, dests)
            assert FORWARD[match[0].forwarding] == forward and match[0].weight == int(weight), (line, match[0])
    # what -Ln does not print, as the commands set it
    by_address = {d.address: d for d in dests}
    assert (by_address["198.51.100.11"].upper_threshold, by_address["198.51.100.11"].lower_threshold) == (600, 50)
    assert (by_address["198.51.100.13"].tunnel_type, by_address["198.51.100.13"].tunnel_port,
            by_address["198.51.100.13"].tunnel_checksum) == ("gue", 5555, "nocsum")
    assert (by_address["198.51.100.14"].tunnel_type, by_address["198.51.100.14"].tunnel_checksum) == ("gre", "csum")
    assert by_address["198.51.100.12"].tunnel_type == "ipip"
    assert by_address["2001:db8:100::11"].family == "ipv6" and by_address["2001:db8:100::11"].port == 5353


def test_timeouts_and_daemon_replies_decode_to_what_ipvsadm_printed():
    timeouts = BY_COMMAND["ipvsadm -Ln --timeout"]
    reply = [bytes.fromhex(h) for h in timeouts["replies"] if bytes.fromhex(h)[16] == layout.CMD.SET_CONFIG]
    decoded = codec.decode_timeouts(reply[0], 16, len(reply[0]))
    assert "Timeout (tcp tcpfin udp): %d %d %d" % (decoded.tcp, decoded.tcpfin, decoded.udp) in timeouts["stdout"]
    assert decoded == Timeouts(tcp=901, tcpfin=121, udp=301)
    daemon = BY_COMMAND["ipvsadm -Ln --daemon"]
    reply = [bytes.fromhex(h) for h in daemon["replies"] if bytes.fromhex(h)[16] == layout.CMD.NEW_DAEMON]
    decoded = codec.decode_daemon(reply[0], 16, len(reply[0]))
    assert decoded == SyncDaemon(role="master", interface="eth1", sync_id=7, max_len=1400, group="239.1.2.3",
                                 port=9999, ttl=3)
    assert ("master sync daemon (mcast=eth1, syncid=7, maxlen=1400, group=239.1.2.3, port=9999, ttl=3)"
            in daemon["stdout"])


def test_the_fast_destination_decoder_reads_the_kernel_replies_as_decode_dest_does():
    """DestDecoder reads a message laid out like an earlier one with one struct call; on the kernel's own
    replies it must give exactly what decode_dest gives, and it must really take its fast path there."""
    replies = [bytes.fromhex(h) for h in BY_COMMAND["ipvsadm -Ln"]["replies"]]
    dests = [r for r in replies if r[16] == layout.CMD.NEW_DEST]
    decoder = codec.DestDecoder("ipv4")
    fast = []
    for reply in dests:
        assert decoder(reply, 16, len(reply)) == codec.decode_dest(reply, 16, len(reply), "ipv4")[0]
        found = decoder._layouts.get(len(reply) - 16)  # pylint: disable=protected-access
        fast.append(found is not None and found.decode(reply, 16, "ipv4") is not None)
    assert len(dests) >= 6 and all(fast), fast
