"""The director role's argument spec describes the role schema (plugin_utils/role_schema.py) key for key,
so that ansible-doc shows every nested option and Ansible's own validation refuses an unknown key before
the role runs. The spec is written by hand (it carries the descriptions); these tests keep it in step
with the schema, and check that it accepts every inventory the project ships."""
from pathlib import Path

import pytest
import yaml
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.lvs.cluster.plugins.module_utils import _model
from ansible_collections.lvs.cluster.plugins.plugin_utils import role_schema

ROOT = Path(__file__).resolve().parents[2]
OPTIONS = yaml.safe_load((ROOT / "roles/director/meta/argument_specs.yml").read_text())[
    "argument_specs"]["main"]["options"]
SERVICES = OPTIONS["director_services"]["options"]


def keys(spec):
    return set(spec["options"]) if "options" in spec else set(spec)


def test_service_options_are_the_module_schema_plus_the_role_keys():
    assert keys(SERVICES) == (set(_model.SERVICE_KEY_OPTIONS) | set(_model.SERVICE_OPTIONS)
                              | set(role_schema.ROLE_SERVICE_KEYS) | {"destinations"})
    assert keys(SERVICES["destinations"]) == set(_model.DEST_OPTIONS) | set(role_schema.ROLE_DEST_KEYS)


@pytest.mark.parametrize("spec, choices", [
    (SERVICES["protocol"], _model.PROTOCOLS), (SERVICES["family"], _model.FAMILIES),
    (SERVICES["persistence_engine"], _model.PERSISTENCE_ENGINES),
    (SERVICES["forwarding"], role_schema.ROLE_FORWARDING),
    (SERVICES["destinations"]["options"]["forwarding"], _model.FORWARDING),
    (SERVICES["destinations"]["options"]["tunnel_type"], _model.TUNNEL_TYPES),
    (SERVICES["destinations"]["options"]["tunnel_checksum"], _model.TUNNEL_CHECKSUMS),
    (SERVICES["healthcheck"]["options"]["type"], role_schema.CHECK_TYPES),
    (OPTIONS["director_healthcheck"]["options"]["type"], role_schema.CHECK_TYPES),
])
def test_choices_are_the_schemas(spec, choices):
    assert set(spec["choices"]) == set(choices)


def test_keepalived_options_are_the_schemas():
    every_check_key = {k for ks in role_schema.CHECK_KEYS.values() for k in ks}
    assert keys(OPTIONS["director_healthcheck"]) == every_check_key == keys(SERVICES["healthcheck"])
    assert keys(SERVICES["sorry_server"]) == {"address", "port"}
    assert keys(OPTIONS["director_vrrp_instances"]) == set(role_schema.INSTANCE_KEYS)
    assert keys(OPTIONS["director_sync_daemon"]) == set(role_schema.SYNC_KEYS)
    assert keys(OPTIONS["director_timeouts"]) == set(_model.TIMEOUT_OPTIONS)


def validate(**variables):
    return ArgumentSpecValidator(OPTIONS).validate(variables)


@pytest.mark.parametrize("inventory", sorted((ROOT / "playbooks/inventories").glob("*/group_vars/all.yml")),
                         ids=lambda p: p.parent.parent.name)
def test_the_spec_accepts_every_shipped_inventory(inventory):
    services = yaml.safe_load(inventory.read_text())["lvs_services"]
    result = validate(director_services=services)
    assert not result.error_messages, result.error_messages


@pytest.mark.parametrize("group_vars", sorted((ROOT / "playbooks/inventories").glob("*/group_vars/directors.yml")),
                         ids=lambda p: p.parent.parent.name)
def test_the_spec_accepts_every_shipped_directors_group(group_vars):
    variables = {k: v for k, v in yaml.safe_load(group_vars.read_text()).items() if k.startswith("director_")}
    assert variables, group_vars
    result = validate(**variables)
    assert not result.error_messages, result.error_messages


def test_the_spec_refuses_an_unknown_nested_key_naming_it():
    result = validate(director_services=[{"address": "192.0.2.1", "port": 80, "destinations": [
        {"host": "rs1", "wieght": 2}]}], director_vrrp_instances=[{"name": "A", "virtual_router_id": 1,
                                                                  "vip": ["192.0.2.1"]}])
    text = " ".join(result.error_messages)
    assert "wieght" in text and "vip" in text, text


def test_the_spec_accepts_the_role_defaults():
    defaults = yaml.safe_load((ROOT / "roles/director/defaults/main.yml").read_text())
    assert not validate(**defaults).error_messages
