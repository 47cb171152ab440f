"""The Ansible inventory of a running lab: SSH over 127.0.0.1 forwards, key auth, a group per role.

Each host also gets `lab_nics` (LAN -> interface, addresses), `lab_address` (its first LAN address) and
`lab_addresses` (every address of its first NIC: IPv4, then IPv6 where the LAN has it), so playbooks and tests read the topology from the inventory instead of repeating it.
"""
from __future__ import annotations

import json
from pathlib import Path

import yaml

from .topology import Topology, group_of

SSH_ARGS = ("-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR "
            "-o ControlMaster=auto -o ControlPersist=300s")


def build(topo: Topology, lab: str, ports: dict, key: Path, wheels: Path | None = None) -> dict:
    hosts = {}
    groups: dict = {}
    for host in topo.hosts.values():
        nics = {}
        for nic in host.nics:
            v4 = [a for a in nic.addresses if a.version == 4]
            v6 = [a for a in nic.addresses if a.version == 6]
            nics[nic.lan] = {
                "interface": nic.interface,
                "address": str(v4[0].ip) if v4 else None,
                "prefix": v4[0].network.prefixlen if v4 else None,
                "address6": str(v6[0].ip) if v6 else None,
                "prefix6": v6[0].network.prefixlen if v6 else None,
            }
        first = host.nics[0].addresses[0]
        hosts[host.name] = {
            "ansible_host": "127.0.0.1",
            "ansible_port": ports[host.name],
            "ansible_user": "root",
            "ansible_ssh_private_key_file": str(key),
            "lab_role": host.role,
            "lab_address": str(first.ip),
            "lab_addresses": [str(a.ip) for a in host.nics[0].addresses],
            "lab_nics": nics,
        }
        groups.setdefault(group_of(host.role), []).append(host.name)
        for extra in host.groups:
            groups.setdefault(extra, []).append(host.name)
    lans = {
        lan.name: {"subnets": [str(n) for n in lan.subnets], "namespace": [str(a.ip) for a in lan.namespace]}
        for lan in topo.lans.values()
    }
    common = {
        "ansible_python_interpreter": "/usr/bin/python3",
        "ansible_ssh_common_args": SSH_ARGS,
        "ansible_ssh_pipelining": True,
        "lab_name": lab,
        "lab_topology": topo.name,
        "lab_lans": lans,
        # Guests reach no package index: roles install pyroute2 from this wheel on the controller.
        "lab_pyroute2_wheel": str(next(iter(sorted(wheels.glob("pyroute2-*.whl"))), "")) if wheels else "",
        **topo.vars,
    }
    return {
        "all": {
            "vars": common,
            # a host's variables once, in its role's group; other groups list it by name only
            "children": {g: {"hosts": {h: hosts[h] if g == group_of(topo.hosts[h].role) else None
                                       for h in members}} for g, members in groups.items()},
        }
    }


def write(inventory: dict, folder: Path) -> Path:
    """inventory.yml for people and `ansible-playbook -i`; inventory.json as built; inventory.script.json
    in the form an inventory script prints (Molecule's scenarios read that one)."""
    (folder / "inventory.json").write_text(json.dumps(inventory, indent=2))
    (folder / "inventory.script.json").write_text(json.dumps(to_script_json(inventory), indent=2))
    path = folder / "inventory.yml"
    path.write_text("# Written by the lab for a running lab; removed by `lab down`.\n"
                    + yaml.safe_dump(inventory, sort_keys=False))
    return path


def to_script_json(inventory: dict) -> dict:
    """The same inventory in the JSON form an executable inventory script prints."""
    out: dict = {"_meta": {"hostvars": {}}, "all": {"vars": inventory["all"]["vars"], "children": []}}
    for group, body in inventory["all"]["children"].items():
        out["all"]["children"].append(group)
        out[group] = {"hosts": list(body["hosts"])}
        out["_meta"]["hostvars"].update({h: v for h, v in body["hosts"].items() if v is not None})
    return out
