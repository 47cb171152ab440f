"""lvs_doctor's own checks of its input, before it reads or probes anything: every error at once, each
with its field and what is accepted."""
from __future__ import annotations

import pytest

from ansible_collections.lvs.cluster.plugins.module_utils._errors import ValidationError, ValidationErrors
from ansible_collections.lvs.cluster.plugins.modules import lvs_doctor


def params(**over):
    base = {"role": "director", "services": None, "connect": [], "arp": [], "probe_timeout": 1.0, "vrrp_listen": 0.0}
    base.update(over)
    return base


def test_a_director_gets_the_declared_table():
    table = lvs_doctor.checked(params(services=[{"address": "198.51.100.100", "port": 80,
                                                 "destinations": [{"address": "198.51.100.11"}]}]))
    assert table.dest_count() == 1


def test_a_real_server_reads_no_table():
    assert lvs_doctor.checked(params(role="realserver", services=[{"address": "198.51.100.100"}])) is None


def test_every_bad_probe_is_named():
    with pytest.raises(ValidationErrors) as caught:
        lvs_doctor.checked(params(connect=[{"address": "224.0.0.1", "port": 80}, {"address": "nowhere", "port": 0}],
                                  arp=[{"vip": "2001:db8::1"}], probe_timeout=0, vrrp_listen=61))
    fields = [e.field for e in caught.value.errors]
    assert fields == ["connect[0].address", "connect[1].address", "connect[1].port", "arp[0].vip", "vrrp_listen",
                      "probe_timeout"]


def test_a_bad_declared_table_names_its_path():
    with pytest.raises(ValidationError) as caught:
        lvs_doctor.checked(params(services=[{"address": "198.51.100.100", "port": 99999}]))
    assert caught.value.field == "services[0].port"
