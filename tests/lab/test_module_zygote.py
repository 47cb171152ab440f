"""The guests' module zygote (lab/guest/files/lab_module_zygote.py), on the host, with real Ansible.

An interpreter like a guest's (a venv whose site-packages holds the hook and its .pth file) runs real
ansible-playbook tasks over the local connection with pipelining, as the lab's SSH runs them. Each task's
result with the zygote must equal its result without it, the zygote must serve the tasks after the first,
and every way it can be wrong-footed (module_utils that differ from the payload's, a dead zygote, a script
on stdin that is not Ansible's) must end in the usual run.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from lab.vm import alive

REPO = Path(__file__).resolve().parents[2]
HOOK = REPO / "lab" / "guest" / "files" / "lab_module_zygote.py"
BIN = Path(sys.executable).parent

MODULES = {
    # What a module sees of its process: it must be the same with and without the zygote.
    "zyg_probe.py": '''
import os, sys
from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils import basic


def main():
    module = AnsibleModule(argument_spec={})
    scratch = module.tmpdir
    umask = os.umask(0o022)
    os.umask(umask)
    module.exit_json(cwd=os.getcwd(), umask=umask, argv=sys.argv, env=os.environ.get("ZYG_VALUE"),
                     doctored=hasattr(basic, "LAB_DOCTORED"), main=sys.modules["__main__"].__name__,
                     basic_from_payload=basic.__file__.startswith(sys.path[0]), scratch=scratch)


if __name__ == "__main__":
    main()
''',
    "zyg_boom.py": '''
from ansible.module_utils.basic import AnsibleModule


def main():
    AnsibleModule(argument_spec={})
    raise RuntimeError("boom from the module")


if __name__ == "__main__":
    main()
''',
    "zyg_exit.py": '''
import sys
from ansible.module_utils.basic import AnsibleModule


def main():
    AnsibleModule(argument_spec={})
    sys.stderr.write("leaving without a result\\n")
    sys.exit(5)


if __name__ == "__main__":
    main()
''',
    "zyg_kill.py": '''
import os, signal
from ansible.module_utils.basic import AnsibleModule


def main():
    AnsibleModule(argument_spec={})
    os.kill(os.getpid(), signal.SIGKILL)


if __name__ == "__main__":
    main()
''',
}

PLAY = """
- hosts: localhost
  gather_facts: false
  tasks:
    - {name: probe, zyg_probe: {}, environment: {ZYG_VALUE: hello}, register: probe}
    - {name: command, ansible.builtin.command: printenv ZYG_VALUE, environment: {ZYG_VALUE: there}, register: command}
    - {name: false, ansible.builtin.command: /bin/false, register: false_, ignore_errors: true}
    - {name: bad argument, ansible.builtin.stat: {path: /etc/hostname, bogus: 1}, register: bad, ignore_errors: true}
    - {name: boom, zyg_boom: {}, register: boom, ignore_errors: true}
    - {name: exit, zyg_exit: {}, register: exit_, ignore_errors: true}
    - {name: kill, zyg_kill: {}, register: kill, ignore_errors: true}
    - name: keep the results
      ansible.builtin.copy:
        dest: "{{ out }}"
        mode: "0600"
        content: "{{ {'probe': probe, 'command': command, 'false': false_, 'bad': bad, 'boom': boom,
                      'exit': exit_, 'kill': kill} | to_json }}"
"""
# What differs between any two runs of a task, zygote or not.
VOLATILE = ("start", "end", "delta", "scratch", "basic_from_payload")


@pytest.fixture()
def guestlike(tmp_path):
    """A venv with the hook installed as in the guest image, its zygotes' folder, and, whatever
    happened, no zygote left afterwards."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             check=True, capture_output=True, text=True).stdout.strip()
    shutil.copy(HOOK, purelib)
    Path(purelib, "lab_module_zygote.pth").write_text("import lab_module_zygote; lab_module_zygote.install()\n")
    (tmp_path / "library").mkdir()
    for name, source in MODULES.items():
        (tmp_path / "library" / name).write_text(source)
    (tmp_path / "play.yml").write_text(PLAY)
    state = tmp_path / "state"
    # The killed task's payload folder outlives it: it goes to the test's own temporary folder.
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    env = dict(os.environ, ANSIBLE_PIPELINING="1", LAB_MODULE_ZYGOTE_DIR=str(state), TMPDIR=str(scratch),
               ANSIBLE_LIBRARY=str(tmp_path / "library"), ANSIBLE_LOCALHOST_WARNING="0")
    env.pop("LAB_MODULE_ZYGOTE", None)
    lab = {"tmp": tmp_path, "python": python, "state": state, "env": env}
    yield lab
    for pid in zygote_pids(state):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + 30
    while any(alive(p) for p in zygote_pids(state)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [p for p in zygote_pids(state) if alive(p)], "a zygote outlived its test"


def log_lines(state: Path) -> list[str]:
    return [line for log in sorted(state.glob("*.log")) for line in log.read_text().splitlines()]


def zygote_pids(state: Path) -> list[int]:
    return [int(m.group(1)) for line in log_lines(state) for m in [re.search(r"ready pid=(\d+)", line)] if m]


def socket_of(state: Path) -> list[Path]:
    return sorted(state.glob("*.sock")) if state.exists() else []


def wait_for(condition, what: str, seconds: float = 60):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"waited {seconds} s for {what}"
        time.sleep(0.1)


def play(lab, zygote: bool, name: str) -> dict:
    out = lab["tmp"] / f"{name}.json"
    env = dict(lab["env"], LAB_MODULE_ZYGOTE="1" if zygote else "0")
    proc = subprocess.run([str(BIN / "ansible-playbook"), "-i", "localhost,", "-c", "local",
                           "-e", f"ansible_python_interpreter={lab['python']}", "-e", f"out={out}",
                           str(lab["tmp"] / "play.yml")], env=env, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    return json.loads(out.read_text())


def comparable(value):
    """A result without what differs between any two runs: times, the payload's temporary folder."""
    if isinstance(value, dict):
        return {k: comparable(v) for k, v in value.items() if k not in VOLATILE}
    if isinstance(value, list):
        return [comparable(v) for v in value]
    if isinstance(value, str):
        return re.sub(r"ansible_\w+?_payload_\w+", "PAYLOAD", value)
    return value


def served(state: Path) -> int:
    return sum(" served " in line for line in log_lines(state))


def test_results_with_the_zygote_equal_the_usual_run(guestlike):
    usual = play(guestlike, zygote=False, name="usual")
    assert not socket_of(guestlike["state"]), "LAB_MODULE_ZYGOTE=0 started a zygote"
    play(guestlike, zygote=True, name="first")  # starts the zygote
    wait_for(lambda: socket_of(guestlike["state"]), "the zygote's socket")
    before = served(guestlike["state"])
    warm = play(guestlike, zygote=True, name="warm")
    # Every module of the play ran in a child of the zygote: 7 tasks and the copy's stat and copy.
    assert served(guestlike["state"]) - before == 9
    assert comparable(warm) == comparable(usual)
    probe = warm["probe"]
    assert probe["env"] == "hello" and probe["main"] == "__main__" and probe["basic_from_payload"] is False
    assert not probe["doctored"]
    assert not Path(probe["scratch"]).exists(), "the module's atexit cleanup did not run in the child"
    assert warm["kill"]["rc"] == 137 and warm["exit"]["rc"] == 5
    assert "boom from the module" in json.dumps(warm["boom"])


def test_module_utils_that_differ_from_the_payload_are_not_used(guestlike):
    """A zygote warmed on a doctored basic.py: the child drops what it imported, the task runs on its
    payload's own module_utils, and the zygote retires; the next task starts a new one."""
    play(guestlike, zygote=True, name="first")
    wait_for(lambda: socket_of(guestlike["state"]), "the first zygote")
    first = zygote_pids(guestlike["state"])[0]
    os.kill(first, signal.SIGKILL)
    wait_for(lambda: not alive(first), "the first zygote's end")
    copy = next(guestlike["state"].glob("*.zip"))
    doctored = copy.with_name("doctored.zip")
    with zipfile.ZipFile(copy) as src, zipfile.ZipFile(doctored, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "ansible/module_utils/basic.py":
                data += b"\nLAB_DOCTORED = True\n"
            dst.writestr(info, data)
    code = ("import lab_module_zygote, sys; lab_module_zygote.serve(sys.argv[1])")
    subprocess.Popen([str(guestlike["python"]), "-c", code, str(doctored)], env=guestlike["env"],
                     start_new_session=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    wait_for(lambda: len(zygote_pids(guestlike["state"])) == 2, "the doctored zygote")
    doctored_pid = zygote_pids(guestlike["state"])[1]
    result = play(guestlike, zygote=True, name="after")
    assert result["probe"]["doctored"] is False and result["probe"]["basic_from_payload"] is True
    assert any("retiring" in line for line in log_lines(guestlike["state"]))
    wait_for(lambda: not alive(doctored_pid), "the doctored zygote's retirement")
    wait_for(lambda: len(zygote_pids(guestlike["state"])) == 3, "a new zygote")
    assert play(guestlike, zygote=True, name="again")["probe"]["basic_from_payload"] is False


def test_a_dead_zygote_is_replaced_and_its_tasks_run_as_usual(guestlike):
    play(guestlike, zygote=True, name="first")
    wait_for(lambda: socket_of(guestlike["state"]), "the zygote")
    pid = zygote_pids(guestlike["state"])[0]
    os.kill(pid, signal.SIGKILL)  # its socket file stays behind
    wait_for(lambda: not alive(pid), "the zygote's end")
    assert socket_of(guestlike["state"])
    result = play(guestlike, zygote=True, name="after")
    assert result["probe"]["env"] == "hello" and result["probe"]["basic_from_payload"] is True
    wait_for(lambda: len(zygote_pids(guestlike["state"])) == 2, "a new zygote")


def test_a_script_on_stdin_that_is_not_ansibles_runs_as_usual(guestlike):
    play(guestlike, zygote=True, name="first")
    wait_for(lambda: socket_of(guestlike["state"]), "the zygote")
    before = served(guestlike["state"])
    for script, status, output in (("print('from stdin')", 0, "from stdin\n"),
                                   ("import sys; print(sys.argv); sys.exit(3)", 3, "['']\n")):
        proc = subprocess.run([str(guestlike["python"])], input=script, env=guestlike["env"],
                              capture_output=True, text=True, check=False)
        assert (proc.returncode, proc.stdout) == (status, output), proc.stderr
    assert served(guestlike["state"]) == before


def test_a_zygote_that_never_starts_the_task_leaves_it_to_the_interpreter(guestlike):
    """Something answers on the zygote's socket, reads the request and hangs up without a child: each
    task's interpreter gets its script back and runs it as usual."""
    import socket
    import threading
    where = subprocess.run([str(guestlike["python"]), "-c", "import lab_module_zygote as z; print(z.paths()[0])"],
                           env=guestlike["env"], check=True, capture_output=True, text=True).stdout.strip()
    guestlike["state"].mkdir(exist_ok=True)
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(where)
    server.listen(16)
    taken = []

    def take():
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn:
                taken.append(len(conn.recv(1 << 16)))
    threading.Thread(target=take, daemon=True).start()
    try:
        usual = play(guestlike, zygote=False, name="usual")
        refused = play(guestlike, zygote=True, name="refused")
    finally:
        server.close()
    assert len(taken) >= 9 and all(taken), taken
    assert comparable(refused) == comparable(usual)
    assert refused["probe"]["basic_from_payload"] is True
