"""How busy the host's CPUs were over a stretch of time, from /proc/stat.

Under TCG the guests' work is the host's CPU work, so a phase that leaves cores idle (waiting for a
timer, a reboot, a load run in real time) is one that could share the machine, and a phase at 100% gains
nothing from running beside another. The test runners print this figure beside each phase's wall time.
"""
from __future__ import annotations

from pathlib import Path

STAT = Path("/proc/stat")


def read(stat: Path = STAT) -> tuple[int, int]:
    """(busy, total) clock ticks of all CPUs since boot; (0, 0) where /proc/stat cannot be read."""
    try:
        first = stat.read_text().splitlines()[0].split()
    except (OSError, IndexError):
        return 0, 0
    if first[:1] != ["cpu"]:
        return 0, 0
    ticks = [int(v) for v in first[1:]]
    # user nice system idle iowait irq softirq steal [guest guest_nice: already counted in user and nice]
    ticks = ticks[:8]
    idle = ticks[3] + (ticks[4] if len(ticks) > 4 else 0)
    total = sum(ticks)
    return total - idle, total


def busy_percent(before: tuple[int, int], after: tuple[int, int]) -> float | None:
    """Percent of the CPUs' time spent busy between two readings; None when no time passed between them
    or a reading failed."""
    busy, total = after[0] - before[0], after[1] - before[1]
    if total <= 0 or before == (0, 0) or after == (0, 0):
        return None
    return round(100.0 * busy / total, 1)
