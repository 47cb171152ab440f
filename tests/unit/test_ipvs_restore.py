"""The pure logic of roles/director/files/lvs_ipvs_restore.py: reading a rules file, merging what
`ipvsadm -S` and `ipvsadm -L --thresholds` print into one comparable table, and the comparison.
The restore itself runs against the kernel in the boot_rules integration target and the reboot tests."""
from importlib.machinery import SourceFileLoader
from importlib.util import module_from_spec, spec_from_loader
from pathlib import Path

import pytest

PATH = Path(__file__).resolve().parents[2] / "roles" / "director" / "files" / "lvs_ipvs_restore.py"
_loader = SourceFileLoader("lvs_ipvs_restore", str(PATH))
tool = module_from_spec(spec_from_loader("lvs_ipvs_restore", _loader))
_loader.exec_module(tool)

SAVE = """-A -t 198.51.100.100:80 -s rr
-a -t 198.51.100.100:80 -r 203.0.113.11:80 -i -w 1 --tun-type ipip
-a -t 198.51.100.100:80 -r 203.0.113.13:80 -i -w 1 --tun-type gue --tun-port 6080 --tun-remcsum
-A -f 7 -6 -s rr
-a -f 7 -6 -r [2001:db8::5]:0 -g -w 3
"""
THRESHOLDS = """IP Virtual Server version 1.2.1 (size=4096)
Prot LocalAddress:Port            Uthreshold Lthreshold ActiveConn InActConn
  -> RemoteAddress:Port
TCP  198.51.100.100:80 rr
  -> 203.0.113.11:80              0          0          0          0
  -> 203.0.113.13:80              100        10         0          0
FWM  7 IPv6 rr
  -> [2001:db8::5]:0              0          5          0          0
"""


def test_thresholds_join_their_destination_line_after_the_weight():
    assert tool.canonical_table(SAVE, THRESHOLDS) == [
        "-A -t 198.51.100.100:80 -s rr",
        "-a -t 198.51.100.100:80 -r 203.0.113.11:80 -i -w 1 --tun-type ipip",
        "-a -t 198.51.100.100:80 -r 203.0.113.13:80 -i -w 1 -x 100 -y 10 --tun-type gue --tun-port 6080 --tun-remcsum",
        "-A -f 7 -6 -s rr",
        "-a -f 7 -6 -r [2001:db8::5]:0 -g -w 3 -y 5",
    ]


def test_listings_that_disagree_are_an_error_not_a_guess():
    with pytest.raises(tool.RestoreError, match="listed 2 entries"):
        tool.canonical_table(SAVE, "\n".join(THRESHOLDS.splitlines()[:5]))


def test_rules_file_lines_are_numbered_and_timeouts_read():
    entries, timeouts = tool.read_rules("# made by the role\n--set 900 0 300\n\n-A -t 198.51.100.100:80  -s rr\n")
    assert entries == [(4, "-A -t 198.51.100.100:80 -s rr")]
    assert timeouts == (900, 0, 300)
    with pytest.raises(tool.RestoreError, match="line 1"):
        tool.read_rules("--set 900 x\n")


def test_differences_are_multisets_in_file_order():
    wanted = ["-A -t a:80 -s rr", "-a -t a:80 -r b:80 -g -w 1", "-a -t a:80 -r c:80 -g -w 1"]
    got = ["-a -t a:80 -r c:80 -g -w 2", "-A -t a:80 -s rr", "-a -t a:80 -r b:80 -g -w 1"]
    assert tool.differences(wanted, got) == (["-a -t a:80 -r c:80 -g -w 1"], ["-a -t a:80 -r c:80 -g -w 2"])
    assert tool.differences(wanted, list(reversed(wanted))) == ([], [])


def test_an_entry_belongs_to_its_service():
    assert tool.service_of("-a -t 198.51.100.100:80 -r 203.0.113.11:80 -i -w 1") == "-t 198.51.100.100:80"
    assert tool.service_of("-A -f 7 -6 -s rr") == "-f 7 -6"
    assert tool.service_of("-a -f 7 -r 203.0.113.11:0 -g -w 1") == "-f 7"


def test_a_zero_timeout_in_the_file_is_not_compared():
    assert not tool.timeouts_differ((900, 0, 300), (900, 120, 300))
    assert tool.timeouts_differ((900, 0, 300), (800, 120, 300))
    assert not tool.timeouts_differ(None, (1, 2, 3))


def test_vips_file_lines_name_address_and_device(tmp_path):
    path = tmp_path / "vips"
    path.write_text("# comment\n198.51.100.100/32 eth1\n\n2001:db8::100/128 eth1\n")
    assert tool.read_vips(str(path)) == [(2, "198.51.100.100/32", "eth1"), (4, "2001:db8::100/128", "eth1")]
    path.write_text("198.51.100.100/32\n")
    with pytest.raises(tool.RestoreError, match="line 1"):
        tool.read_vips(str(path))
    assert tool.read_vips(str(tmp_path / "none")) == []


def test_usage_errors_exit_2(capsys):
    assert tool.main(["nonsense"]) == 2
    assert tool.main(["check", "a", "--nope"]) == 2
