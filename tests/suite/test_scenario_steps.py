"""The scenario runner's step timer (tests/scenarios/test_molecule.py), which prints each Molecule step's
wall time in CI's log: read from molecule's own step announcements, stamped as they arrive."""
from importlib.util import module_from_spec, spec_from_file_location
from pathlib import Path

_spec = spec_from_file_location("scenario_runner",
                                Path(__file__).resolve().parents[1] / "scenarios" / "test_molecule.py")
runner = module_from_spec(_spec)
_spec.loader.exec_module(runner)


def test_steps_are_timed_from_their_announcements_and_repeats_add_up():
    stamped = [
        (0.0, "INFO     [tun > destroy] Executing\n"),
        (2.0, "INFO     [tun > destroy] Executed: Successful\n"),
        (2.5, "INFO     [tun > create] Executing\n"),
        (10.0, "TASK [Boot the guests] ***\n"),
        (42.5, "INFO     [tun > create] Executed: Successful\n"),
        (43.0, "INFO     [tun > converge] Executing\n"),
        (200.0, "INFO     [tun > converge] Executed: Failed\n"),
        (201.0, "INFO     [tun > destroy] Executing\n"),
        (204.0, "INFO     [tun > destroy] Executed: Successful\n"),
    ]
    assert runner.step_seconds(stamped) == {"destroy": 5.0, "create": 40.0, "converge": 157.0}


def test_a_step_that_never_ends_is_not_counted():
    assert runner.step_seconds([(0.0, "INFO     [dr > verify] Executing\n")]) == {}


def test_ci_runs_doctor_instead_of_the_scenarios_it_covers():
    assert runner.selected_scenarios({}) == ["doctor", "ha"]
    assert runner.selected_scenarios({"LVS_SCENARIOS": "all"}) == runner.ALL_SCENARIOS
    assert runner.selected_scenarios({"LVS_SCENARIOS": "tun, dr"}) == ["dr", "tun"]


def test_an_unknown_scenario_name_is_refused_with_the_known_ones():
    import pytest

    with pytest.raises(ValueError, match="no scenario dx; known: all, doctor, dr, ha, lab, methods, nat, operations, tun"):
        runner.selected_scenarios({"LVS_SCENARIOS": "dx"})


def test_integration_targets_are_shared_out_longest_first_onto_the_least_loaded_lab():
    spec = spec_from_file_location("it_targets", Path(__file__).resolve().parents[1] / "integration" / "test_targets.py")
    targets = module_from_spec(spec)
    spec.loader.exec_module(targets)
    shares = targets.share_out(["vip", "backend_handover", "ipvs_dest", "boot_rules", "ipvs_table", "new"], 2)
    # 590 | 265, +205 = 470, +200 (unknown: 200) = 670 | 590 + 185 = 775 | 670 + 130 = 800
    assert shares == [["backend_handover", "ipvs_table"], ["ipvs_dest", "boot_rules", "new", "vip"]]
    assert sorted(sum(targets.share_out(targets.NAMES, 3), [])) == sorted(targets.NAMES)
    assert targets.share_out(["vip"], 1) == [["vip"]]


def test_a_failure_message_starts_with_why_the_scenario_failed():
    output = "\n".join([
        "TASK [Run nginx] ***",
        "ok: [rs1]",
        "fatal: [rs2]: FAILED! => {\"msg\": \"nginx did not start\"}",
        "rs2                        : ok=3    changed=0    unreachable=0    failed=1    skipped=0",
        "rs1                        : ok=4    changed=0    unreachable=0    failed=0    skipped=0",
        "    def test_failover(lab):",
        ">       assert outage < 2.0",
        "E       AssertionError: outage 2.4 s",
        "FAILED molecule/ha/tests/test_ha.py::test_failover - AssertionError: outage 2.4 s",
        "INFO     [ha > destroy] Executing",
    ])
    assert runner.failure_digest(output).splitlines() == [
        "fatal: [rs2]: FAILED! => {\"msg\": \"nginx did not start\"}",
        "rs2                        : ok=3    changed=0    unreachable=0    failed=1    skipped=0",
        "E       AssertionError: outage 2.4 s",
        "FAILED molecule/ha/tests/test_ha.py::test_failover - AssertionError: outage 2.4 s",
    ]
    many = "\n".join(f"E  line {n}" for n in range(100))
    digest = runner.failure_digest(many, limit=3).splitlines()
    assert digest == ["E  line 0", "E  line 1", "E  line 2", "... 97 more such lines in the log"]


def test_every_scenarios_lab_name_fits_with_the_longest_suffix():
    """The runner's suffix is "-" and its pid (at most 7 digits: pid_max 4194304): the lab name must still
    fit the lab's rule (24 characters), or the scenario fails on a machine whose pids have grown (seen:
    molecule-operations-13696 refused after a run with a 4-digit pid had passed)."""
    from lab.__main__ import LAB_NAME_RE

    for scenario in runner.ALL_SCENARIOS:
        name = runner.lab_name_of(scenario, suffix="-4194304")
        assert LAB_NAME_RE.match(name), f"molecule/{scenario}/molecule.yml: LVS_LAB_NAME {name!r} is too long"
