"""Guests restored from the saved template (lab/template.py) are the hosts their topology says, as a cold
boot makes them: name, key, NICs by MAC and slot, addresses, routes, clock; a power cycle then boots them
cold into the same identity; a guest that cannot be restored boots cold instead of failing the lab."""
from __future__ import annotations

import json
import os
import subprocess
import time

import pytest

from lab import accel, image, lab, net, paths, template, topology, vm

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="the lab needs root")

# Two LANs, one guest with two lab NICs, one with a default route through the namespace.
TOPOLOGY = topology.parse({
    "description": "restore test",
    "lans": {"front": {"subnet": "198.51.100.0/24", "subnet6": "2001:db8:100::/64",
                       "namespace": ["198.51.100.1", "2001:db8:100::1"]},
             "back": {"subnet": "203.0.113.0/25", "namespace": "203.0.113.1"}},
    "hosts": {"director": {"role": "director", "nics": {"front": ["198.51.100.10", "2001:db8:100::10"],
                                                        "back": "203.0.113.10"}},
              "rs1": {"role": "realserver", "nics": {"back": "203.0.113.11"}, "routes": {"default": "203.0.113.1"}}},
}, "restore")
LAB = f"t-restore-{os.getpid()}"


def ssh(record: dict, host: str, command: str) -> str:
    key = paths.state_dir(record["lab"]) / "id_ed25519"
    proc = subprocess.run(vm.ssh_base(record["hosts"][host]["ssh_port"], key) + [command], capture_output=True,
                          text=True, timeout=120, check=False)
    assert proc.returncode == 0, f"{host}: {command}: {proc.stderr}"
    return proc.stdout


def in_namespace(record: dict, *command: str) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", "netns", "exec", record["namespace"], *command], capture_output=True, text=True,
                          timeout=60, check=False)


def identity(record: dict, host: str) -> dict:
    out = ssh(record, host, "hostname; cat /root/.ssh/authorized_keys; ip -j address; ip -j route; date +%s")
    name, key_line, addresses, routes, clock = out.strip().splitlines()
    nics = {a["ifname"]: (a["address"], sorted(f"{i['local']}/{i['prefixlen']}" for i in a["addr_info"]
                                               if i.get("scope") == "global"))
            for a in json.loads(addresses) if a["ifname"] != "lo"}
    return {"name": name, "key": key_line.split()[1], "nics": nics,
            "routes": sorted((r["dst"], r.get("gateway")) for r in json.loads(routes) if r.get("gateway")),
            "clock_skew": abs(int(clock) - time.time())}


def expected_nics(record: dict, host: str) -> dict:
    """What the guest's cold-boot command line asks lab-init for: {name: (mac, [addresses])}."""
    command = record["hosts"][host]["command"]
    words = command[command.index("-append") + 1].split()
    nics = {}
    for word in words:
        if word.startswith("lab.if="):
            mac, name, *addrs = word[len("lab.if="):].split(",")
            nics[name] = (mac, sorted(addrs))
    return nics


@pytest.fixture(scope="module")
def restored():
    if template.mode() == "cold":
        pytest.skip("LVS_LAB_BOOT=cold asks for cold boots")
    try:
        yield lab.up(TOPOLOGY, LAB)
    finally:
        lab.down(LAB)


@needs_root
def test_every_guest_is_restored_and_takes_the_identity_its_command_line_gives(restored):
    assert restored["boot"] == "restore"
    lab_key = (paths.state_dir(LAB) / "id_ed25519.pub").read_text().split()[1]
    for host in ("director", "rs1"):
        assert restored["hosts"][host]["boot"] == "restore"
        seen = identity(restored, host)
        assert seen["name"] == host
        assert seen["key"] == lab_key  # the template's key is gone
        assert seen["nics"] == expected_nics(restored, host)
        assert seen["clock_skew"] < 5, seen
    assert identity(restored, "rs1")["routes"] == [("default", "203.0.113.1")]


@needs_root
def test_restored_guests_reach_each_other_and_the_namespace_on_their_lans(restored):
    assert in_namespace(restored, "ping", "-c1", "-W5", "198.51.100.10").returncode == 0
    assert in_namespace(restored, "ping", "-6", "-c1", "-W5", "2001:db8:100::10").returncode == 0
    ssh(restored, "director", "ping -c1 -W5 203.0.113.11")
    # rs1 reaches the other LAN only through its default route to the namespace's router
    ssh(restored, "rs1", "ping -c1 -W5 198.51.100.1")


@needs_root
def test_a_restored_guest_power_cycled_boots_cold_into_the_same_identity(restored):
    before = identity(restored, "rs1")
    boot_id = ssh(restored, "rs1", "cat /proc/sys/kernel/random/boot_id")
    lab.power_off(LAB, "rs1")
    lab.power_on(LAB, "rs1")
    assert ssh(restored, "rs1", "cat /proc/sys/kernel/random/boot_id") != boot_id
    assert "lab.host=rs1 " in ssh(restored, "rs1", "cat /proc/cmdline")  # its own, not the template's
    after = identity(restored, "rs1")
    assert {k: after[k] for k in ("name", "key", "nics", "routes")} == \
        {k: before[k] for k in ("name", "key", "nics", "routes")}


@needs_root
def test_a_guest_that_cannot_be_restored_boots_cold(tmp_path, monkeypatch):
    if template.mode() == "cold":
        pytest.skip("LVS_LAB_BOOT=cold asks for cold boots")
    img = image.ensure()
    good = template.ensure(img, accel.choose(img.kernel))
    assert good is not None, "no template on this machine"
    broken = tmp_path / "broken"
    broken.mkdir()
    for name in ("disk.qcow2", "id_ed25519", "id_ed25519.pub"):
        (broken / name).symlink_to(good.folder / name)
    (broken / "state").write_bytes((good.folder / "state").read_bytes()[:4096])  # cut short: QEMU gives up
    monkeypatch.setattr(template, "ensure", lambda *_args: template.Template(broken))
    name = f"t-cold-{os.getpid()}"
    one = topology.parse({"description": "fallback",
                          "lans": {"lan": {"subnet": "198.51.100.0/24", "namespace": "198.51.100.1"}},
                          "hosts": {"solo": {"role": "director", "nics": {"lan": "198.51.100.10"}}}}, "fallback")
    try:
        record = lab.up(one, name)
        assert record["hosts"]["solo"]["boot"] == "cold after a failed restore"
        assert in_namespace(record, "ping", "-c1", "-W5", "198.51.100.10").returncode == 0
        assert ssh(record, "solo", "hostname").strip() == "solo"
    finally:
        lab.down(name)
        assert not net.ns_exists(net.namespace(name))


def test_boot_mode_is_auto_or_cold(monkeypatch):
    monkeypatch.setenv("LVS_LAB_BOOT", "cold")
    assert template.mode() == "cold" and template.ensure(None, "tcg") is None
    monkeypatch.setenv("LVS_LAB_BOOT", "warm")
    with pytest.raises(ValueError, match="LVS_LAB_BOOT='warm': accepted values are auto, cold"):
        template.mode()


def test_prune_keeps_the_templates_used_last_and_builds_in_progress(tmp_path):
    for age, key in enumerate(["newest", "second", "third", "oldest"]):
        (tmp_path / f"template-{key}").mkdir()
        (tmp_path / f"template-{key}" / "template.json").write_text("{}")
        os.utime(tmp_path / f"template-{key}" / "template.json", (1e9 - age * 100, 1e9 - age * 100))
    (tmp_path / f"template-live.tmp-{os.getpid()}").mkdir()  # a build under way
    (tmp_path / "template-dead.tmp-999999999").mkdir()  # one a killed build left
    template._prune(tmp_path, keep=3)
    assert sorted(p.name for p in tmp_path.iterdir()) == \
        sorted(["template-newest", "template-second", f"template-live.tmp-{os.getpid()}"])
