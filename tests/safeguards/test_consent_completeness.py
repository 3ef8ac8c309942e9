"""A consent that cannot authorise any job (no separate signature, no document, a vague replica
clause signed alone) is recognised as such, by the same checks every job's consent check makes."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from soundstage.domain.safeguards import (
    Consent,
    ConsentKind,
    ConsentScope,
    JobSpec,
    OperationKind,
    Performer,
)
from soundstage.safeguards.consent_rules import (
    MISSING_WHAT,
    covering_consent,
    missing_requirements,
    operations_for,
)

NOW = datetime(2026, 6, 1, tzinfo=timezone.utc)
SPECIFIC = "De-ageing of Maya Castell by about 30 years in the 1994 flashback, scene 5 only, for the final cut"


def _performer() -> Performer:
    return Performer(id="t-maya", name="Maya Castell", union_status="sag-aftra", living=True, died_at=None,
                     consent_authority="performer", representatives=())


def _consent(**over) -> Consent:
    fields = dict(id="c-1", performer_id="t-maya", production_id="prod", kind=ConsentKind.DIGITAL_ALTERATION,
                  scope=ConsentScope(operations=(OperationKind.LIKENESS_DEAGE, OperationKind.LIKENESS_REPLICA),
                                     scenes=(), shots=(), max_alteration=0.5, media=("previz", "final"),
                                     territory=("worldwide",)),
                  description=SPECIFIC, valid_from=NOW - timedelta(days=1), valid_until=None, signed_separately=True,
                  representation="none", compensation_ref="", document_sha256="ab" * 32, granted_by="performer",
                  revoked_at=None, suspended=False)
    fields.update(over)
    return Consent(**fields)


def _job(operation=OperationKind.LIKENESS_DEAGE, **over) -> JobSpec:
    fields = dict(id="j-1", production_id="prod", operation=operation, requested_by="Ken Ito",
                  model_id="soundstage.retouch", performers=("t-maya",), scene="5", shot="5A",
                  alteration_amount=0.3, deliverable="final", medium="final")
    fields.update(over)
    return JobSpec(**fields)


def test_a_complete_consent_misses_nothing_and_covers_its_job():
    consent = _consent()
    assert missing_requirements(consent) == ()
    assert covering_consent(_job(), _performer(), [consent], NOW).covered


@pytest.mark.parametrize("over, missing", [
    ({"signed_separately": False}, ("SAG-CONSENT-SEPARATE",)),
    ({"document_sha256": None}, ("SAG-CONSENT-DOCUMENT",)),
    ({"document_sha256": ""}, ("SAG-CONSENT-DOCUMENT",)),
    ({"signed_separately": False, "document_sha256": None}, ("SAG-CONSENT-SEPARATE", "SAG-CONSENT-DOCUMENT")),
    ({"kind": ConsentKind.EMPLOYMENT_BASED_REPLICA, "description": "any and all uses in perpetuity"},
     ("CA-AB2602",)),
])
def test_what_is_missing_is_named_and_every_job_fails_on_exactly_that(over, missing):
    consent = _consent(**over)
    assert missing_requirements(consent) == missing
    assert all(MISSING_WHAT[rule] for rule in missing)
    operation = (OperationKind.LIKENESS_REPLICA if consent.kind is ConsentKind.EMPLOYMENT_BASED_REPLICA
                 else OperationKind.LIKENESS_DEAGE)
    check = covering_consent(_job(operation), _performer(), [consent], NOW)
    assert not check.covered
    assert set(missing) <= set(check.failures)
    texts = " ".join(r.text for r in check.reasons)
    assert "consent c-1" in texts


def test_a_vague_replica_clause_is_enough_when_counsel_or_the_union_represented_the_performer():
    vague = _consent(kind=ConsentKind.EMPLOYMENT_BASED_REPLICA, description="any and all uses in perpetuity")
    assert missing_requirements(replace(vague, representation="union")) == ()
    assert missing_requirements(replace(vague, representation="counsel")) == ()
    # a vague digital alteration is not a replica clause: AB 2602 does not apply to it
    assert missing_requirements(_consent(description="any and all uses")) == ()


def test_no_exception_claim_rescues_an_incomplete_consent():
    """The adversary: claim the replica-use exceptions, which waive the scope checks, on a consent
    that was never separately signed nor documented."""
    consent = _consent(kind=ConsentKind.EMPLOYMENT_BASED_REPLICA, signed_separately=False, document_sha256=None)
    for claim in ("as_scripted", "unsafe_for_human", "unrecognisable"):
        check = covering_consent(_job(OperationKind.LIKENESS_REPLICA, exception_claim=claim, scene="99"),
                                 _performer(), [consent], NOW)
        assert not check.covered and {"SAG-CONSENT-SEPARATE", "SAG-CONSENT-DOCUMENT"} <= set(check.failures)


def test_operations_a_kind_covers():
    alteration = operations_for(ConsentKind.DIGITAL_ALTERATION)
    replica = operations_for(ConsentKind.EMPLOYMENT_BASED_REPLICA)
    assert OperationKind.LIKENESS_DEAGE in alteration and OperationKind.LIKENESS_REPLICA not in alteration
    assert OperationKind.LIKENESS_REPLICA in replica and OperationKind.IDEATION not in replica
    for kind in ConsentKind:
        for op in operations_for(kind):
            check = covering_consent(_job(op), _performer(), [_consent(kind=kind, scope=replace(
                _consent().scope, operations=(op,)))], NOW)
            assert "SAG-CONSENT-KIND" not in check.failures
