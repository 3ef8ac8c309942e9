"""Granting a consent: a misspelled operation is answered with the operations (and a guess), not
the consent kinds; a refusal writes nothing; a consent that cannot authorise anything is stored but
shown not yet valid, and the job relying on it is refused naming what is missing."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from soundstage.domain.safeguards import job_spec_from_mapping
from soundstage.errors import PolicyDeniedError, SpecError
from soundstage.services import jobs_service
from soundstage.services import consent_service
from soundstage.services.ledger import audit_log, verify_audit
from soundstage.testing.identity import signer_for

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "interfaces" / "api"))
from api_helpers import build_production, deage_spec  # noqa: E402

DESCRIPTION = "De-ageing of Noah Fenn by about 20 years in the 1994 flashback, scene 5 only, for the final cut"


@pytest.fixture
def prod(sqlite_workspace, tmp_path):
    prod = build_production(sqlite_workspace, tmp_path)
    prod["ws"] = sqlite_workspace
    return prod


def _grant(prod, **over) -> dict:
    args = dict(kind="digital_alteration", operations=["likeness_deage"], description=DESCRIPTION, scenes=["5"],
                max_alteration=0.5, signer=signer_for(prod["ws"], "Sam Cole"))
    args.update(over)
    return consent_service.grant_consent(prod["ws"], prod["noah"]["id"], **args)


def _submit(prod, performer_id: str) -> dict:
    ws = prod["ws"]
    spec = job_spec_from_mapping({**deage_spec(prod), "performers": [performer_id], "id": jobs_service.new_job_id(),
                                  "production_id": ws.production_id, "requested_by": "Ken Ito"})
    return jobs_service.submit_job(ws, spec, actor="Ken Ito")


@pytest.mark.parametrize("typed, guess", [("deage", "likeness_deage"), ("likeness_deeage", "likeness_deage"),
                                          ("cosmetic", "likeness_cosmetic"), ("zzz", None)])
def test_a_misspelled_operation_lists_the_operations_not_the_kinds(prod, typed, guess):
    before = len(audit_log(prod["ws"]))
    with pytest.raises(SpecError) as refused:
        _grant(prod, operations=["likeness_cosmetic", typed])
    line = refused.value.one_line()
    assert "\n" not in line and f"unknown operation '{typed}'" in line and "field 'operations'" in line
    assert "likeness_deage" in line and "performance_alteration" in line  # the operations this kind covers
    assert "employment_based_replica" not in line and "kinds" not in line  # not the consent kinds
    if guess:
        assert f"did you mean '{guess}'?" in line
    else:
        assert "did you mean" not in line
    # nothing half-written: no consent, no event
    assert [c for c in consent_service.list_consents(prod["ws"]) if c["performer_id"] == prod["noah"]["id"]] == []
    assert len(audit_log(prod["ws"])) == before


def test_a_misspelled_kind_lists_the_kinds(prod):
    with pytest.raises(SpecError) as refused:
        _grant(prod, kind="digital_alterations")
    line = refused.value.one_line()
    assert "field 'kind'" in line and "did you mean 'digital_alteration'?" in line
    assert "employment_based_replica" in line


def test_a_replica_consent_suggests_among_replica_operations(prod):
    with pytest.raises(SpecError) as refused:
        _grant(prod, kind="employment_based_replica", operations=["replica"])
    line = refused.value.one_line()
    assert "did you mean 'likeness_replica'?" in line
    assert "operations a consent of kind employment_based_replica covers: " in line
    assert "likeness_deage" not in line.split("covers: ")[1]  # replicas do not cover de-ageing


def test_an_incomplete_consent_is_stored_not_yet_valid_and_its_job_is_refused_naming_what_is_missing(prod):
    consent = _grant(prod)  # neither separately signed nor documented
    assert consent["status"] == "active" and consent["valid"] is False
    assert [m["rule_id"] for m in consent["missing"]] == ["SAG-CONSENT-SEPARATE", "SAG-CONSENT-DOCUMENT"]
    assert consent_service.show_consent(prod["ws"], consent["id"])["missing"] == consent["missing"]
    job = _submit(prod, prod["noah"]["id"])
    assert job["status"] == "denied"
    with pytest.raises(PolicyDeniedError) as denied:
        jobs_service.raise_for_outcome(job)
    line = denied.value.one_line()
    assert "SAG-CONSENT-SEPARATE" in line and "SAG-CONSENT-DOCUMENT" in line
    assert f"consent {consent['id']}: consent was not separately signed" in line
    assert f"consent {consent['id']}: no signed consent document on file" in line
    assert "a separate signature" in line and "the signed consent document" in line  # the hint
    # not the umbrella rule's text ("...needs the performer's informed, documented consent...")
    assert "informed, documented consent covering this use" not in line
    assert verify_audit(prod["ws"]).ok


def test_a_complete_consent_is_valid_and_its_job_is_not_denied_for_consent(prod, tmp_path):
    document = tmp_path / "noah_consent.pdf"
    document.write_bytes(b"%PDF-1.4 signed digital alteration consent, Noah Fenn, scene 5")
    consent = _grant(prod, signed_separately=True, document=document, representation="union")
    assert consent["valid"] is True and consent["missing"] == []
    job = _submit(prod, prod["noah"]["id"])
    assert job["status"] == "escalated", job["decision"]["reasons"]


def test_the_missing_list_follows_the_record_not_the_request(prod):
    """A vague replica clause signed without representation misses CA AB 2602's description."""
    consent = _grant(prod, kind="employment_based_replica", operations=["likeness_replica"],
                     description="any and all uses in perpetuity", signed_separately=True)
    assert [m["rule_id"] for m in consent["missing"]] == ["SAG-CONSENT-DOCUMENT", "CA-AB2602"]
