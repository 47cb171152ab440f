#!/usr/bin/env python
"""Ansible inventory script: the running lab named by LVS_LAB_NAME, or an empty inventory.

Molecule links this into every scenario's inventory, so plays and testinfra see the lab's groups and
host variables (lab_nics, lab_address) as `lab up` wrote them. Standard library only.
"""
import json
import os
import sys
from pathlib import Path

state = Path(os.environ.get("LVS_LAB_STATE", "/var/tmp/lvs-lab")) / os.environ.get("LVS_LAB_NAME", "")
script_json = state / "inventory.script.json"
if "--host" in sys.argv:
    print("{}")
elif os.environ.get("LVS_LAB_NAME") and script_json.is_file():
    print(script_json.read_text())
else:
    print(json.dumps({"_meta": {"hostvars": {}}}))
