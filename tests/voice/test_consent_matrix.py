"""The consent matrix for voice operations (pure consent_rules: no database)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from soundstage.domain.safeguards import (
    VOICE_OPERATIONS,
    Consent,
    ConsentKind,
    ConsentScope,
    JobSpec,
    OperationKind,
    Performer,
)
from soundstage.safeguards.consent_rules import covering_consent, operations_for

NOW = datetime(2026, 12, 6, 10, 0, tzinfo=timezone.utc)
MAYA = Performer("p-maya", "Maya Castell", union_status="sag-aftra")
ADR, DUB, LINE = OperationKind.VOICE_ADR, OperationKind.VOICE_DUB, OperationKind.VOICE_SYNTHETIC_LINE


def consent(kind: ConsentKind, ops, **over) -> Consent:
    scope = {k: over.pop(k) for k in ("scenes", "shots", "media", "territory") if k in over}
    fields = dict(id="c-1", performer_id="p-maya", production_id="prod", kind=kind,
                  scope=ConsentScope(operations=tuple(ops), **scope),
                  description="Synthetic dialogue in Maya's voice for scene 12 pickups and the French dub only",
                  valid_from=NOW - timedelta(days=1), signed_separately=True, representation="union",
                  document_sha256="ab" * 32)
    fields.update(over)
    return Consent(**fields)


def job(op: OperationKind, **over) -> JobSpec:
    fields = dict(id="j-1", production_id="prod", operation=op, requested_by="ken", model_id="studio.tts",
                  prompt="Where were you?", performers=("p-maya",), scene="12", shot="12A", medium="final",
                  territory="FR")
    fields.update(over)
    return JobSpec(**fields)


def test_the_voice_operations_and_which_consent_kinds_cover_them():
    assert VOICE_OPERATIONS == {ADR, DUB, LINE}
    assert {o.value for o in VOICE_OPERATIONS} == {"voice.adr", "voice.dub", "voice.synthetic_line"}
    assert ADR in operations_for(ConsentKind.DIGITAL_ALTERATION)  # a recorded line altered
    assert DUB not in operations_for(ConsentKind.DIGITAL_ALTERATION)
    for kind in (ConsentKind.EMPLOYMENT_BASED_REPLICA, ConsentKind.INDEPENDENTLY_CREATED_REPLICA):
        assert {DUB, LINE} <= set(operations_for(kind)) and ADR not in operations_for(kind)


@pytest.mark.parametrize("op", [ADR, DUB, LINE])
@pytest.mark.parametrize("kind", list(ConsentKind))
@pytest.mark.parametrize("scoped", [(), "same", "other-voice", "likeness-only"])
def test_operation_by_kind_by_scope(op, kind, scoped):
    ops = {(): (), "same": (op,), "other-voice": tuple(VOICE_OPERATIONS - {op}),
           "likeness-only": (OperationKind.LIKENESS_DEAGE,)}[scoped]
    consents = [consent(kind, ops)] if scoped != () else []
    check = covering_consent(job(op), MAYA, consents, NOW)
    kind_covers = op in operations_for(kind)
    assert check.required
    assert check.covered == (scoped == "same" and kind_covers)
    if not consents:
        assert check.failures == ("SAG-CONSENT-MISSING",)
    elif not check.covered:
        assert ("SAG-CONSENT-KIND" in check.failures) == (not kind_covers)
        assert ("SAG-CONSENT-OPERATION" in check.failures) == (scoped != "same")


@pytest.mark.parametrize("change, failure", [
    ({"scenes": ("5",)}, "SAG-CONSENT-SCENE"),
    ({"shots": ("12B",)}, "SAG-CONSENT-SHOT"),
    ({"media": ("previz",)}, "SAG-CONSENT-MEDIUM"),
    ({"territory": ("US", "GB")}, "SAG-CONSENT-TERRITORY"),
    ({"valid_from": NOW + timedelta(days=1)}, "SAG-CONSENT-NOT-YET-VALID"),
    ({"valid_until": NOW - timedelta(hours=1)}, "SAG-CONSENT-EXPIRED"),
    ({"revoked_at": NOW - timedelta(minutes=1)}, "SAG-CONSENT-REVOKED"),
    ({"suspended": True}, "SAG-CONSENT-SUSPENDED"),
    ({"production_id": "other"}, "SAG-CONSENT-PRODUCTION"),
    ({"signed_separately": False}, "SAG-CONSENT-SEPARATE"),
])
@pytest.mark.parametrize("op", [DUB, LINE])
def test_scope_window_territory_revocation(op, change, failure):
    good = consent(ConsentKind.EMPLOYMENT_BASED_REPLICA, (op,), scenes=("12",), shots=("12A",),
                   media=("final",), territory=("FR", "BE"))
    assert covering_consent(job(op), MAYA, [good], NOW).covered
    bad = consent(ConsentKind.EMPLOYMENT_BASED_REPLICA, (op,), **{"scenes": ("12",), "shots": ("12A",),
                                                                   "media": ("final",), "territory": ("FR", "BE"),
                                                                   **change})
    check = covering_consent(job(op), MAYA, [bad], NOW)
    assert not check.covered and failure in check.failures


def test_a_revocation_in_the_future_still_covers_now_and_not_after():
    c = consent(ConsentKind.DIGITAL_ALTERATION, (ADR,), revoked_at=NOW + timedelta(hours=1))
    assert covering_consent(job(ADR), MAYA, [c], NOW).covered
    assert not covering_consent(job(ADR), MAYA, [c], NOW + timedelta(hours=2)).covered


def test_a_likeness_consent_never_covers_the_voice():
    likeness = consent(ConsentKind.DIGITAL_ALTERATION, (OperationKind.LIKENESS_DEAGE,
                                                        OperationKind.PERFORMANCE_ALTERATION))
    check = covering_consent(job(ADR), MAYA, [likeness], NOW)
    assert not check.covered and "SAG-CONSENT-OPERATION" in check.failures


def test_no_customary_exception_waives_a_voice_consent():
    for claim in ("cosmetic", "as_scripted"):
        check = covering_consent(job(ADR, exception_claim=claim), MAYA, [], NOW)
        assert not check.covered and "SAG-EXC-INVALID" in check.failures
