"""Upgrading stored job specs (attack 8 of DR006): a JobSpec.1 carried server settings in
``params`` - reference-face paths, the work directory, the Dask address, a second operation name
for the VFX backend. ``upgrade_job_spec`` drops them and yields a JobSpec.2 whose ``operation``
alone says what runs; a request can never claim to be a JobSpec.1 to get the same treatment."""

from __future__ import annotations

import pytest

from soundstage.domain.safeguards import (
    JOB_SPEC_SCHEMA,
    JobSpec,
    OperationKind,
    job_spec_from_mapping,
    job_spec_from_request,
    load_job_spec,
    spec_digest,
    upgrade_job_spec,
)
from soundstage.errors import SpecError

SERVER_PARAMS = {"performer_refs": {"t-noah": "/srv/faces/noah.png"}, "work_dir": "..",
                 "cluster": "tcp://10.0.0.5:8786", "keep_chunks": True, "vfx_operation": "deage",
                 "chunk_frames": 1, "executor": "dask"}


def v1_spec(**over) -> dict:
    spec = {"id": "j-0123456789ab", "production_id": "p1", "operation": "cleanup", "requested_by": "Ken Ito",
            "model_id": "soundstage.vfx-classical", "inputs": ["00000000000000a1", "00000000000000a2"],
            "performers": ["t-noah"], "scene": "5", "alteration_amount": 0.0,
            "params": {**SERVER_PARAMS, "method": "telea", "radius": 7}}
    spec.update(over)
    return spec


def test_a_v1_spec_loses_every_server_setting():
    stored = v1_spec()
    upgraded = upgrade_job_spec(stored)
    assert upgraded["params"] == {"method": "telea", "radius": 7}
    assert "schema" not in upgraded  # the caller builds the JobSpec, which is JobSpec.2
    assert stored["params"]["vfx_operation"] == "deage"  # pure: the stored mapping is not changed
    spec = JobSpec.from_dict(stored)
    assert spec.to_dict()["schema"] == JOB_SPEC_SCHEMA == "JobSpec.2"
    assert spec.operation is OperationKind.CLEANUP
    assert dict(spec.params) == {"method": "telea", "radius": 7}
    assert not set(SERVER_PARAMS) & set(spec.params)
    # everything else survives the upgrade unchanged
    assert (spec.id, spec.inputs, spec.performers, spec.scene) == (
        "j-0123456789ab", ("00000000000000a1", "00000000000000a2"), ("t-noah",), "5")


@pytest.mark.parametrize("name", sorted(SERVER_PARAMS))
def test_each_server_setting_is_dropped(name):
    upgraded = upgrade_job_spec(v1_spec(params={name: SERVER_PARAMS[name], "seed": 3}))
    assert upgraded["params"] == {"seed": 3}


def test_an_explicit_v1_schema_is_upgraded_the_same_way():
    assert upgrade_job_spec({**v1_spec(), "schema": "JobSpec.1"}) == upgrade_job_spec(v1_spec())
    spec = job_spec_from_mapping({**v1_spec(), "schema": "JobSpec.1"})
    assert dict(spec.params) == {"method": "telea", "radius": 7}


def test_a_v1_spec_read_from_yaml_is_upgraded():
    text = ("schema: JobSpec.1\nid: j-0123456789ab\nproduction_id: p1\noperation: cleanup\n"
            "requested_by: Ken Ito\nmodel_id: soundstage.vfx-classical\n"
            "params: {vfx_operation: deage, work_dir: '..', cluster: 'tcp://10.0.0.5:8786', radius: 7}\n")
    assert dict(load_job_spec(text).params) == {"radius": 7}


def test_a_v2_spec_is_left_as_it_is():
    spec = JobSpec.from_dict(v1_spec())
    stored = spec.to_dict()
    assert upgrade_job_spec(stored) == {k: v for k, v in stored.items() if k != "schema"}
    assert JobSpec.from_dict(stored) == spec
    # a JobSpec.2 keeps what it says: an unknown parameter in it is the validator's to refuse, not
    # the upgrade's to drop silently
    with_unknown = {**stored, "params": {"vfx_operation": "deage"}}
    assert upgrade_job_spec(with_unknown)["params"] == {"vfx_operation": "deage"}


def test_the_upgrade_keeps_the_digest_stable():
    """A stored v1 spec digests as the v2 spec it upgrades to (what the guard recomputes)."""
    hashes = {"00000000000000a1": "a" * 64, "00000000000000a2": "b" * 64}
    from_v1 = JobSpec.from_dict(v1_spec())
    from_v2 = JobSpec.from_dict(from_v1.to_dict())
    assert spec_digest(from_v1, hashes) == spec_digest(from_v2, hashes)
    assert spec_digest(from_v1, hashes) != spec_digest(JobSpec.from_dict(v1_spec(scene="6")), hashes)


@pytest.mark.parametrize("schema", ["JobSpec.3", "JobSpec.0", "", None, 2])
def test_an_unknown_schema_is_refused(schema):
    with pytest.raises(SpecError) as err:
        upgrade_job_spec({**v1_spec(), "schema": schema})
    assert err.value.field == "schema"


def test_not_a_mapping_is_refused():
    with pytest.raises(SpecError):
        upgrade_job_spec(["not", "a", "spec"])  # type: ignore[arg-type]


def test_a_request_cannot_ask_for_the_v1_upgrade():
    """The upgrade is for stored specs only: a request saying it is a JobSpec.1 is refused,
    not upgraded (which would silently drop what it asked for)."""
    body = {k: v for k, v in v1_spec().items() if k not in ("id", "requested_by", "production_id")}
    with pytest.raises(SpecError) as err:
        job_spec_from_request({**body, "schema": "JobSpec.1"}, production_id="p1", requested_by="Ken Ito")
    assert err.value.field == "schema"
    # without a schema a request is a JobSpec.2: its parameters are kept whole for the validator
    spec = job_spec_from_request(body, production_id="p1", requested_by="Ken Ito")
    assert spec.params["vfx_operation"] == "deage" and spec.id == ""
