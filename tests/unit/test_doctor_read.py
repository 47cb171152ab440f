"""What lvs_doctor reads from files and sockets (module_utils/_doctor_read.py), on the host: /proc formats
from fixtures, the ARP frames it sends and recognises, and a TCP probe over loopback. The ARP probe on a
LAN and the rtnetlink reads run in the guests (the doctor scenario)."""
from __future__ import annotations

import socket
import struct

from ansible_collections.lvs.cluster.plugins.module_utils import _doctor_read as read

# /proc/net/tcp and tcp6 lines: 0.0.0.0:80 and 127.0.0.1:22 listening, one established; [::]:8080 listening
TCP = """  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000:0050 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0 100 0 0 10 0
   1: 0100007F:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2 1 0 100 0 0 10 0
   2: 0A0A0A0A:0016 0B0B0B0B:C350 01 00000000:00000000 00:00000000 00000000     0        0 3 1 0 100 0 0 10 0
"""
TCP6 = """  sl  local_address                         remote_address                        st tx_queue rx_queue
   0: 00000000000000000000000000000000:1F90 00000000000000000000000000000000:0000 0A 00000000:00000000
   1: B80D0120000000000000000001000000:0050 00000000000000000000000000000000:0000 0A 00000000:00000000
"""


def test_listening_sockets_from_proc(tmp_path):
    (tmp_path / "tcp").write_text(TCP)
    (tmp_path / "tcp6").write_text(TCP6)
    assert read.read_listening(str(tmp_path)) == [
        ["0.0.0.0", 80], ["127.0.0.1", 22], ["2001:db8::1", 80], ["::", 8080]]


def test_sysctls_as_integers_and_missing_ones_left_out(tmp_path):
    for path, value in {"net/ipv4/ip_forward": "1", "net/ipv4/conf/all/arp_ignore": "1",
                        "net/ipv4/conf/eth1/rp_filter": "2\n"}.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(value)
    assert read.read_sysctls(["eth1"], str(tmp_path)) == {
        "net.ipv4.ip_forward": 1, "net.ipv4.conf.all.arp_ignore": 1, "net.ipv4.conf.eth1.rp_filter": 2}


def test_modules_from_proc(tmp_path):
    (tmp_path / "modules").write_text("ip_vs 188416 0 - Live 0x0\nipip 32768 0 - Live 0x0\n")
    assert read.read_modules(str(tmp_path / "modules")) == ["ip_vs", "ipip"]
    assert read.read_modules(str(tmp_path / "none")) == []


def reply(sender_mac: str, sender_ip: str, op: int = 2) -> bytes:
    mac = bytes.fromhex(sender_mac.replace(":", ""))
    arp = struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, op, mac, socket.inet_aton(sender_ip), b"\1" * 6,
                      socket.inet_aton("198.51.100.10"))
    return b"\1" * 6 + mac + struct.pack("!H", 0x0806) + arp


def test_the_request_asks_for_the_vip_from_our_own_address():
    frame = read.arp_request("52:54:00:00:01:01", "198.51.100.10", "198.51.100.100")
    assert frame[:6] == b"\xff" * 6 and frame[6:12] == bytes.fromhex("525400000101") and frame[12:14] == b"\x08\x06"
    htype, ptype, hlen, plen, op, sha, spa, tha, tpa = struct.unpack("!HHBBH6s4s6s4s", frame[14:42])
    assert (htype, ptype, hlen, plen, op) == (1, 0x0800, 6, 4, 1)
    assert socket.inet_ntoa(spa) == "198.51.100.10" and socket.inet_ntoa(tpa) == "198.51.100.100"


def test_only_replies_for_the_vip_name_a_mac():
    assert read.arp_reply_sender(reply("52:54:00:00:02:01", "198.51.100.100"), "198.51.100.100") == "52:54:00:00:02:01"
    assert read.arp_reply_sender(reply("52:54:00:00:02:01", "198.51.100.101"), "198.51.100.100") is None  # another IP
    assert read.arp_reply_sender(reply("52:54:00:00:02:01", "198.51.100.100", op=1), "198.51.100.100") is None  # a request
    assert read.arp_reply_sender(b"\0" * 20, "198.51.100.100") is None


def test_a_tcp_probe_over_loopback():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        port = server.getsockname()[1]
        answered = read.probe_connect("127.0.0.1", port, 2.0)
    assert answered["ok"] and answered["error"] is None and answered["port"] == port
    refused = read.probe_connect("127.0.0.1", port, 2.0)  # the listener is closed now
    assert not refused["ok"] and refused["error"]


def test_mss_clamps_from_nft_json():
    ruleset = {"nftables": [
        {"metainfo": {"json_schema_version": 1}},
        {"table": {"family": "ip", "name": "lvs_realserver"}},
        {"rule": {"family": "ip", "table": "lvs_realserver", "chain": "tun_mss", "expr": [
            {"match": {"op": ">", "left": {"tcp option": {"name": "maxseg", "field": "size"}}, "right": 1440}},
            {"mangle": {"key": {"tcp option": {"name": "maxseg", "field": "size"}}, "value": 1440}}]}},
        {"rule": {"family": "inet", "table": "fw", "chain": "fwd", "expr": [  # set to the route's MTU: no number
            {"mangle": {"key": {"tcp option": {"name": "maxseg", "field": "size"}}, "value": {"rt": {"key": "mtu"}}}}]}},
        {"rule": {"family": "inet", "table": "fw", "chain": "out", "expr": [{"accept": None}]}}]}
    assert read.mss_clamps(ruleset) == [{"table": "ip lvs_realserver", "chain": "tun_mss", "mss": 1440}]
    assert read.mss_clamps({}) == [] and read.mss_clamps(None) == []


def test_a_vrrp_advert_names_its_source_vrid_and_priority():
    header = struct.pack("!BBHHHBBH4s4s", 0x45, 0xC0, 40, 0, 0, 255, 112, 0, socket.inet_aton("198.51.100.20"),
                         socket.inet_aton("224.0.0.18"))
    assert read.vrrp_advert(header + bytes([0x31, 51, 150, 1, 0, 10, 0, 0])) == \
        {"source": "198.51.100.20", "vrid": 51, "priority": 150}
    assert read.vrrp_advert(header + bytes([0x32, 51, 150, 1])) is None  # type 2 is no advert
    assert read.vrrp_advert(header[:9] + bytes([6]) + header[10:] + bytes(8)) is None  # TCP
