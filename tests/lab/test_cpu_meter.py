"""lab/cpu.py: the host CPUs' busy share between two readings of /proc/stat."""
from lab import cpu


def stat_file(tmp_path, line):
    path = tmp_path / "stat"
    path.write_text(line + "\ncpu0 1 2 3 4 5 6 7 8 0 0\n")
    return path


def test_idle_and_iowait_are_not_busy_and_guest_time_is_not_counted_twice(tmp_path):
    # user nice system idle iowait irq softirq steal guest guest_nice
    before = cpu.read(stat_file(tmp_path, "cpu  100 0 50 800 50 0 0 0 90 0"))
    after = cpu.read(stat_file(tmp_path, "cpu  400 0 100 1000 100 0 0 0 390 0"))
    assert before == (150, 1000) and after == (500, 1600)
    # 350 busy ticks of 600: the guest ticks (already in user) do not count again
    assert cpu.busy_percent(before, after) == 58.3


def test_no_answer_rather_than_a_wrong_one(tmp_path):
    assert cpu.read(tmp_path / "missing") == (0, 0)
    assert cpu.read(stat_file(tmp_path, "intr 1 2 3")) == (0, 0)
    assert cpu.busy_percent((0, 0), (10, 20)) is None
    assert cpu.busy_percent((10, 20), (10, 20)) is None
