# Copyright (c) the lvs.cluster authors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Restore an IPVS rules file all or nothing, or prove that one restores, with ipvsadm.

    python3 lvs_ipvs_restore.py check RULES [--live]
        Restore RULES into a throwaway network namespace (IPVS tables are per namespace) and read it
        back. Fails, naming each line that did not come back and ipvsadm's reason, unless the table
        read back is exactly the file. With --live, the throwaway table must also equal the live
        table's entries for the services the file declares. The director role runs this before it
        installs a rules file; the live table is untouched.

    python3 lvs_ipvs_restore.py boot RULES [VIPS]
        At boot (lvs-director.service): clear the table, restore RULES, read it back. Any difference
        clears the table again and places no VIP: a director holding a VIP with half a table accepts
        connections it cannot serve. Then places each VIP of VIPS ("ADDRESS/PREFIX DEVICE" a line),
        waiting for its device; a VIP that cannot be placed undoes the VIPs and the table too.

`ipvsadm -R` is not enough on its own: it exits 0 when the kernel refuses a line (an unknown scheduler,
an address that is not unicast) and goes on with the next, leaving a partial table. So the restored
table is always read back with `ipvsadm -S -n` (plus `-L --thresholds` and `-L --timeout` for what -S
does not print) and compared with the file, which the role writes in that same form.
"""
from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import time

IPVSADM = os.environ.get("LVS_IPVSADM", "ipvsadm")
DEVICE_WAIT_S = 90.0
_TIMEOUTS = re.compile(r"Timeout \(tcp tcpfin udp\): (\d+) (\d+) (\d+)")


class RestoreError(Exception):
    pass


# --- pure logic: what the file says, what a table read back says, and how they differ --------------
def read_rules(text: str) -> tuple[list, tuple | None]:
    """([(line number, entry line)], (tcp, tcpfin, udp) or None) of a rules file."""
    entries, timeouts = [], None
    for number, raw in enumerate(text.splitlines(), start=1):
        line = " ".join(raw.split())
        if not line or line.startswith("#"):
            continue
        if line.startswith("--set "):
            values = line.split()[1:]
            if len(values) != 3 or not all(v.isdigit() for v in values):
                raise RestoreError(f"line {number}: {line!r}: --set takes three numbers (tcp tcpfin udp)")
            timeouts = tuple(int(v) for v in values)
        else:
            entries.append((number, line))
    return entries, timeouts


def canonical_table(save: str, thresholds: str) -> list:
    """The lines of `ipvsadm -S -n`, each destination with ` -x U -y L` after its weight when set.

    `-L -n --thresholds` lists the same entries in the same order after three header lines."""
    save_lines = [" ".join(line.split()) for line in save.splitlines() if line.strip()]
    listed = [line for line in thresholds.splitlines()[3:] if line.strip()]
    if len(listed) != len(save_lines):
        raise RestoreError(f"ipvsadm listed {len(listed)} entries with --thresholds and {len(save_lines)} with -S")
    out = []
    for line, row in zip(save_lines, listed):
        if line.startswith("-a "):
            cols = row.split()  # -> ADDRESS:PORT UTHRESHOLD LTHRESHOLD ACTIVE INACTIVE
            extra = [f"-x {cols[2]}"] if cols[2] != "0" else []
            extra += [f"-y {cols[3]}"] if cols[3] != "0" else []
            if extra:
                words = line.split()
                at = words.index("-w") + 2
                line = " ".join(words[:at] + " ".join(extra).split() + words[at:])
        out.append(line)
    return out


def service_of(line: str) -> str:
    """The virtual service an entry line belongs to: `-t VIP:PORT`, `-f 7 -6`..."""
    words = line.split()[1:]
    if words[0] == "-f":
        return " ".join(words[:3] if len(words) > 2 and words[2] == "-6" else words[:2])
    return " ".join(words[:2])


def differences(wanted: list, got: list) -> tuple[list, list]:
    """(lines wanted but not got, lines got but not wanted), as multisets, in their original order."""
    remaining = list(got)
    missing = []
    for line in wanted:
        if line in remaining:
            remaining.remove(line)
        else:
            missing.append(line)
    return missing, remaining


def timeouts_differ(wanted: tuple | None, got: tuple) -> bool:
    """A 0 in the file leaves that timeout alone, so only non-zero values are compared."""
    return bool(wanted) and any(w and w != g for w, g in zip(wanted, got))


# --- ipvsadm and ip, in a namespace or not ---------------------------------------------------------
def run(argv: list, netns: str | None = None, stdin: str | None = None, check: bool = True):
    if netns:
        argv = ["ip", "netns", "exec", netns] + argv
    proc = subprocess.run(argv, input=stdin, capture_output=True, text=True, check=False)
    if check and proc.returncode != 0:
        raise RestoreError(f"{' '.join(argv)}: {(proc.stderr or proc.stdout).strip()}")
    return proc


def read_table(netns: str | None = None) -> tuple[list, tuple]:
    save = run([IPVSADM, "-S", "-n"], netns).stdout
    thresholds = run([IPVSADM, "-L", "-n", "--thresholds"], netns).stdout
    timeouts = _TIMEOUTS.search(run([IPVSADM, "-L", "-n", "--timeout"], netns).stdout)
    return canonical_table(save, thresholds), tuple(int(v) for v in timeouts.groups())


def restore(text: str, netns: str | None = None) -> None:
    """Clear and restore. Its exit code says little (0 with refused lines): verify() reads back."""
    run([IPVSADM, "-C"], netns)
    run([IPVSADM, "-R"], netns, stdin=text, check=False)


def explain(entries: list, missing: list, extra: list, netns: str | None) -> str:
    """Name each line that did not come back, with what ipvsadm says when that line alone is tried.
    Lines ipvsadm takes alone were only cut off: `ipvsadm -R` stops at a line it cannot parse."""
    numbers = {line: number for number, line in reversed(entries)}
    parts, cut_off = [], 0
    for line in missing:
        alone = run([IPVSADM] + shlex.split(line), netns, check=False)
        if alone.returncode == 0:
            cut_off += 1
        elif len(parts) < 5:
            parts.append(f"line {numbers.get(line, '?')}: {line!r} was not restored ({alone.stderr.strip()})")
    if cut_off:
        parts.append(f"{cut_off} line(s) after it were not reached: ipvsadm -R stopped there")
    parts += [f"restored but not in the file: {line!r}" for line in extra[:5]]
    return "; ".join(parts)


def verify(entries: list, timeouts: tuple | None, netns: str | None) -> list:
    """The table read back, once it equals the file; RestoreError naming the lines otherwise."""
    got, got_timeouts = read_table(netns)
    missing, extra = differences([line for _n, line in entries], got)
    if missing or extra:
        raise RestoreError(explain(entries, missing, extra, netns))
    if timeouts_differ(timeouts, got_timeouts):
        raise RestoreError(f"timeouts (tcp tcpfin udp) are {got_timeouts}, the file says {timeouts}")
    return got


# --- the two commands ------------------------------------------------------------------------------
class Throwaway:
    """A network namespace of our own: lo up with default routes, so that IPVS takes any unicast
    destination address as it does on the director."""

    def __init__(self):
        self.name = f"lvs-rules-check-{os.getpid()}"

    def __enter__(self):
        run(["ip", "netns", "add", self.name])
        run(["ip", "-n", self.name, "link", "set", "lo", "up"])
        run(["ip", "-n", self.name, "route", "add", "default", "dev", "lo"])
        run(["ip", "-n", self.name, "-6", "route", "add", "default", "dev", "lo"], check=False)
        return self.name

    def __exit__(self, *exc):
        run(["ip", "netns", "delete", self.name], check=False)


def check(path: str, live: bool) -> None:
    text = open(path, encoding="utf-8").read()
    entries, timeouts = read_rules(text)
    run(["modprobe", "ip_vs"], check=False)
    with Throwaway() as netns:
        restore(text, netns)
        restored = verify(entries, timeouts, netns)
    if live:
        declared = {service_of(line) for line in restored}
        current, current_timeouts = read_table()
        current = [line for line in current if service_of(line) in declared]
        missing, extra = differences(current, restored)
        if missing or extra:
            raise RestoreError("the file restores a table that differs from the live one: live only "
                               f"{missing[:5]}, file only {extra[:5]}")
        if timeouts_differ(timeouts, current_timeouts):
            raise RestoreError(f"the file sets timeouts {timeouts}, the live ones are {current_timeouts}")


def read_vips(path: str | None) -> list:
    """[(line number, ADDRESS/PREFIX, DEVICE)] of a VIPs file; none when there is no file."""
    if not path or not os.path.exists(path):
        return []
    vips = []
    for number, raw in enumerate(open(path, encoding="utf-8").read().splitlines(), start=1):
        if raw.strip() and not raw.lstrip().startswith("#"):
            words = raw.split()
            if len(words) != 2:
                raise RestoreError(f"{path} line {number}: {raw!r}: want ADDRESS/PREFIX DEVICE")
            vips.append((number, words[0], words[1]))
    return vips


def place_vips(path: str | None, vips: list) -> None:
    for number, address, device in vips:
        deadline = time.monotonic() + DEVICE_WAIT_S
        while not os.path.exists(f"/sys/class/net/{device}"):
            if time.monotonic() > deadline:
                raise RestoreError(f"{path} line {number}: device {device} of VIP {address} did not appear "
                                   f"within {DEVICE_WAIT_S:.0f} s")
            time.sleep(0.2)
        proc = run(["ip", "address", "replace", address, "dev", device], check=False)
        if proc.returncode != 0:
            raise RestoreError(f"{path} line {number}: VIP {address} on {device}: {proc.stderr.strip()}")


def boot(path: str, vips_path: str | None) -> None:
    run(["modprobe", "ip_vs"])
    vips = []
    try:
        text = open(path, encoding="utf-8").read()
        entries, timeouts = read_rules(text)
        vips = read_vips(vips_path)
        restore(text)
        verify(entries, timeouts, None)
        place_vips(vips_path, vips)
    except (RestoreError, OSError) as exc:
        # all or nothing: also when the unit is restarted on a running director
        for _number, address, device in vips:
            run(["ip", "address", "delete", address, "dev", device], check=False)
        run([IPVSADM, "-C"], check=False)
        raise RestoreError(f"{exc}; the IPVS table was cleared and no VIP is held") from None
    print(f"restored {len(entries)} entries from {path}; VIPs: "
          + (", ".join(f"{a} on {d}" for _n, a, d in vips) or "none"))


def main(argv: list) -> int:
    try:
        if len(argv) >= 2 and argv[0] == "check" and argv[2:] in ([], ["--live"]):
            check(argv[1], argv[2:] == ["--live"])
            print(f"{argv[1]} restores completely")
        elif len(argv) in (2, 3) and argv[0] == "boot":
            boot(argv[1], argv[2] if len(argv) == 3 else None)
        else:
            print(__doc__, file=sys.stderr)
            return 2
    except (RestoreError, OSError) as exc:
        print(f"lvs-ipvs-restore: {argv[1]}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
