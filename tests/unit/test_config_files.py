"""config_files writes real files here (no kernel involved): one run for many files, idempotent, check
mode that writes nothing, diffs, validation before the rename, and refusals that touch nothing."""
import os
import stat
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "malformed"))
from harness import run_case  # noqa: E402


def run(files, check=False, **extra):
    return run_case("config_files", dict({"files": files}, **extra), check)


def mode_of(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_writes_every_file_then_changes_nothing(tmp_path):
    files = [{"path": str(tmp_path / "a" / "b" / "script"), "content": "#!/bin/sh\ntrue\n", "mode": "0755"},
             {"path": str(tmp_path / "unit"), "content": "[Unit]\n"}]
    first = run(files)
    assert first["changed"] and first["changed_paths"] == [f["path"] for f in files], first
    assert Path(files[0]["path"]).read_text() == "#!/bin/sh\ntrue\n" and mode_of(files[0]["path"]) == 0o755
    assert mode_of(files[1]["path"]) == 0o644 and mode_of(tmp_path / "a") == 0o755
    again = run(files)
    assert not again["changed"] and again["changed_paths"] == [] and again["diff"] == [], again
    assert sorted(p.name for p in (tmp_path / "a" / "b").iterdir()) == ["script"]  # no temporary left


def test_check_mode_reports_and_writes_nothing(tmp_path):
    old = tmp_path / "conf"
    old.write_text("old\n")
    result = run([{"path": str(old), "content": "new\n"}, {"path": str(tmp_path / "new"), "content": "x"},
                  {"path": str(tmp_path / "gone"), "state": "absent"}], check=True)
    assert result["changed"] and result["changed_paths"] == [str(old), str(tmp_path / "new")], result
    assert result["diff"][0] == {"before_header": str(old), "after_header": str(old), "before": "old\n", "after": "new\n"}
    assert old.read_text() == "old\n" and not (tmp_path / "new").exists()


def test_mode_only_and_removal(tmp_path):
    conf, gone = tmp_path / "conf", tmp_path / "gone"
    conf.write_text("same\n")
    os.chmod(conf, 0o600)
    gone.write_text("x")
    result = run([{"path": str(conf), "content": "same\n", "mode": "0644"}, {"path": str(gone), "state": "absent"}])
    assert result["changed_paths"] == [str(conf), str(gone)], result
    assert mode_of(conf) == 0o644 and conf.read_text() == "same\n" and not gone.exists()
    assert result["diff"][0]["before"] == "mode 0600\n" and result["diff"][1]["after"] == ""
    assert not run([{"path": str(gone), "state": "absent"}])["changed"]


def test_a_failed_validation_keeps_the_file_and_names_what_was_written(tmp_path):
    first, rules = tmp_path / "tool", tmp_path / "rules"
    rules.write_text("good\n")
    result = run([{"path": str(first), "content": "tool\n"},
                  {"path": str(rules), "content": "bad\n", "validate": "grep -q good %s"},
                  {"path": str(tmp_path / "after"), "content": "x"}])
    assert result.get("failed") and "validation of %s failed" % rules in result["msg"], result
    assert "written before it: %s" % first in result["msg"] and result["changed_paths"] == [str(first)]
    assert result["rc"] == 1 and result["stderr"] == "", result
    assert rules.read_text() == "good\n" and first.read_text() == "tool\n" and not (tmp_path / "after").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rules", "tool"]  # the temporary is gone
    ok = run([{"path": str(rules), "content": "good too\n", "validate": "grep -q good %s"}])
    assert ok["changed"] and rules.read_text() == "good too\n", ok


@pytest.mark.parametrize("entry, field", [
    ({"path": "relative/file", "content": "x"}, "files[1].path"),
    ({"path": "/tmp/", "content": "x"}, "files[1].path"),
    ({"path": "{first}", "content": "x"}, "files[1].path"),
    ({"path": "/x/y"}, "files[1].content"),
    ({"path": "/x/y", "state": "absent", "content": "x"}, "files[1].content"),
    ({"path": "/x/y", "content": "x", "mode": "0999"}, "files[1].mode"),
    ({"path": "/x/y", "content": "x", "mode": "rw-r--r--"}, "files[1].mode"),
    ({"path": "/x/y", "content": "x", "mode": "17777"}, "files[1].mode"),
    ({"path": "/x/y", "content": "x", "validate": "check"}, "files[1].validate"),
])
def test_refused_naming_the_field_with_nothing_written(tmp_path, entry, field):
    first = tmp_path / "first"
    entry = dict(entry, path=entry["path"].format(first=first))
    result = run([{"path": str(first), "content": "x"}, entry])
    assert result.get("failed") and field in result["msg"] and "accepted" in result["msg"], result
    assert not first.exists()


def test_a_directory_in_the_way_is_refused_before_anything(tmp_path):
    (tmp_path / "dir").mkdir()
    result = run([{"path": str(tmp_path / "first"), "content": "x"}, {"path": str(tmp_path / "dir"), "content": "x"}])
    assert result.get("failed") and "not a regular file" in result["msg"], result
    assert not (tmp_path / "first").exists()


def test_directory_mode_is_checked(tmp_path):
    result = run([{"path": str(tmp_path / "f"), "content": "x"}], directory_mode="8")
    assert result.get("failed") and "directory_mode" in result["msg"], result


def test_a_link_is_removed_not_followed_and_never_written_through(tmp_path):
    target = tmp_path / "target"
    target.write_text("kept\n")
    (tmp_path / "link").symlink_to(target)
    refused = run([{"path": str(tmp_path / "link"), "content": "x"}])
    assert refused.get("failed") and "not a regular file" in refused["msg"], refused
    removed = run([{"path": str(tmp_path / "link"), "state": "absent"}])
    assert removed["changed"] and not (tmp_path / "link").exists() and target.read_text() == "kept\n", removed
