"""lab/demo.py reads the VIP's connection count from ipvsadm's stats (what it waits for before showing them)."""
from lab.demo import service_conns

STATS = """IP Virtual Server version 1.2.1 (size=4096)
Prot LocalAddress:Port               Conns   InPkts  OutPkts  InBytes OutBytes
  -> RemoteAddress:Port
TCP  198.51.100.100:80                   6       36        0     2352        0
  -> 198.51.100.11:80                    3       18        0     1176        0
  -> 198.51.100.12:80                    3       18        0     1176        0
TCP  198.51.100.100:8080                 2       12        0      784        0
"""


def test_the_service_line_not_a_destination_or_another_port():
    assert service_conns(STATS, "198.51.100.100") == 6
    assert service_conns(STATS, "198.51.100.100", 8080) == 2
    assert service_conns(STATS, "198.51.100.11") is None
    assert service_conns("", "198.51.100.100") is None
