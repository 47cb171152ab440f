"""The lab scenario: each guest has a kernel with IPVS, and the lab network carries traffic."""
import json
import subprocess
from pathlib import Path


def lab_vars(host):
    return host.ansible.get_variables()


def test_ip_vs_module_loads(host):
    host.run_expect([0], "modprobe ip_vs")
    assert host.file("/proc/net/ip_vs").exists


def test_ipvsadm_answers(host):
    out = host.check_output("ipvsadm -Ln")
    assert out.startswith("IP Virtual Server version")


def test_tunnel_and_dummy_modules_load(host):
    host.run_expect([0], "modprobe ipip && modprobe dummy")
    assert host.interface("tunl0").exists


def test_client_namespace_reaches_lan_address(host):
    variables = lab_vars(host)
    ns = "lvslab-" + variables["lab_name"]
    for lan in variables["lab_nics"].values():
        ping = subprocess.run(["ip", "netns", "exec", ns, "ping", "-c", "1", "-W", "10", lan["address"]],
                              capture_output=True, text=True)
        assert ping.returncode == 0, ping.stdout + ping.stderr


def lab_hostvars(variables):
    # Every guest's variables, as `lab up` wrote them for the inventory script.
    path = Path("/var/tmp/lvs-lab", variables["lab_name"], "inventory.script.json")
    return json.loads(path.read_text())["_meta"]["hostvars"]


def test_director_reaches_real_servers_across_the_routed_hop(host):
    # tun topology: the director's LAN and the real servers' LAN are joined only by the namespace router.
    variables = lab_vars(host)
    if variables["lab_role"] != "director":
        return
    hostvars = lab_hostvars(variables)
    realservers = variables["groups"]["realservers"]
    assert realservers
    for rs in realservers:
        host.run_expect([0], f"ping -c 1 -W 10 {hostvars[rs]['lab_address']}")


def test_the_inventory_holds_every_guest_of_the_lab():
    """Every test above runs once per inventory host: an empty inventory (the lab's state missing, which
    the inventory script answers with no host) would run none of them and pass. So the inventory must
    hold every guest the lab booted."""
    import os

    state_dir = Path(os.environ.get("LVS_LAB_STATE", "/var/tmp/lvs-lab"), os.environ.get("LVS_LAB_NAME", "molecule-lab"))
    booted = json.loads((state_dir / "state.json").read_text())
    inventory = json.loads((state_dir / "inventory.script.json").read_text())["_meta"]["hostvars"]
    guests = set(booted["hosts"])
    assert guests and set(inventory) == guests, (sorted(guests), sorted(inventory))
