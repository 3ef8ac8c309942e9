"""Does a consent on file cover this likeness operation? A pure function, no database.

The rules come from the SAG-AFTRA 2023 TV/Theatrical terms (as summarised in
docs/shared reference), Netflix's talent-enhancement guidance, CA AB 2602 (Labor Code §927)
and CA AB 1836 (deceased personalities). Every reason a consent does *not* cover carries a
rule id; the default policy pack has a rule with the same id, so a refusal always names it.

Exceptions (no consent, or no *further* consent, needed) are decided here too, because they
are part of what "covered" means:

* digital alterations (cosmetic fixes, performance kept substantially as scripted) need no
  consent at all: claim `cosmetic` (likeness_cosmetic only) or `as_scripted`
  (likeness_cosmetic / performance_alteration with a small alteration_amount);
* using a consented replica needs no *further* consent when the result stays as scripted,
  depicts something unsafe for a human, or leaves the performer unrecognisable: those
  claims waive only the scope checks; the base replica consent must still exist, be for this
  production, in its window, unrevoked, unsuspended, separately signed and enforceable;
* `first_amendment` is a legal judgement: it never waives consent here (the pack escalates it).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Iterable

from soundstage.domain.safeguards import (
    DIGITAL_ALTERATION_OPERATIONS,
    LIKENESS_OPERATIONS,
    REPLICA_KINDS,
    REPLICA_OPERATIONS,
    Consent,
    ConsentCheck,
    ConsentKind,
    JobSpec,
    OperationKind,
    Performer,
    Reason,
)

__all__ = [
    "covering_consent",
    "consent_required",
    "is_reasonably_specific",
    "missing_requirements",
    "operations_for",
    "MISSING_WHAT",
    "FAILURE_RULE_IDS",
    "AS_SCRIPTED_MAX_ALTERATION",
]

#: Above this, a change is not "substantially as scripted/performed" any more.
AS_SCRIPTED_MAX_ALTERATION = 0.2

_KIND_COVERS: dict[ConsentKind, frozenset[OperationKind]] = {
    ConsentKind.DIGITAL_ALTERATION: DIGITAL_ALTERATION_OPERATIONS,
    ConsentKind.EMPLOYMENT_BASED_REPLICA: REPLICA_OPERATIONS,
    ConsentKind.INDEPENDENTLY_CREATED_REPLICA: REPLICA_OPERATIONS,
    ConsentKind.BACKGROUND_ACTOR_REPLICA: REPLICA_OPERATIONS,
}

_VAGUE = re.compile(
    r"\b(any and all|any (?:purpose|use|production|project|media)|all media now known|"
    r"without limitation|in perpetuity|whatsoever|as the producer sees fit)\b",
    re.IGNORECASE,
)
_MIN_SPECIFIC_WORDS = 8

# rule id -> short text; the default pack has a rule for each id.
FAILURE_RULE_IDS: dict[str, str] = {
    "SAG-CONSENT-MISSING": "no consent on file for this performer and production",
    "SAG-CONSENT-PRODUCTION": "consent was given for another production; a new, separate consent is needed",
    "SAG-CONSENT-KIND": "consent kind does not cover this operation",
    "SAG-CONSENT-OPERATION": "operation not in the consent's scope",
    "SAG-CONSENT-SCENE": "scene not in the consent's scope",
    "SAG-CONSENT-SHOT": "shot not in the consent's scope",
    "SAG-CONSENT-ALTERATION": "alteration amount exceeds the consented maximum",
    "SAG-CONSENT-MEDIUM": "medium not in the consent's scope",
    "SAG-CONSENT-TERRITORY": "territory not in the consent's scope",
    "SAG-CONSENT-NOT-YET-VALID": "consent is not valid yet",
    "SAG-CONSENT-EXPIRED": "consent has expired",
    "SAG-CONSENT-REVOKED": "consent was revoked",
    "SAG-CONSENT-SUSPENDED": "consent is suspended (strike)",
    "SAG-CONSENT-SEPARATE": "consent was not separately signed (buried in boilerplate)",
    "SAG-CONSENT-DOCUMENT": "no signed consent document on file",
    "SAG-CONSENT-AUTHORITY": "consent was not granted by the person entitled to give it",
    "SAG-DECEASED": "deceased performer: consent must come from the estate (or union), or from the performer before death",
    "CA-AB2602": "replica clause unenforceable: no specific description of uses and no counsel/union representation",
    "SAG-EXC-INVALID": "the claimed exception does not apply to this operation",
}


#: What a consent lacks, for the failures no job can cure: said as the thing to supply.
MISSING_WHAT: dict[str, str] = {
    "SAG-CONSENT-SEPARATE": "a separate signature (not buried in boilerplate)",
    "SAG-CONSENT-DOCUMENT": "the signed consent document",
    "CA-AB2602": "a reasonably specific description of the intended uses (at least a sentence, no catch-all "
                 "wording) or counsel/union representation",
}


def operations_for(kind: ConsentKind) -> tuple[OperationKind, ...]:
    """The operations a consent of this kind can cover, in declaration order."""
    return tuple(o for o in OperationKind if o in _KIND_COVERS[kind])


def missing_requirements(consent: Consent) -> tuple[str, ...]:
    """Rule ids of what makes this consent unable to authorise *any* job, whatever its scope:
    no separate signature, no signed document, or (replica kinds, unrepresented) no reasonably
    specific description. Empty when the consent is complete. These are the same checks
    :func:`covering_consent` makes per job, so a consent shown complete here fails on none of them."""
    missing = []
    if not consent.signed_separately:
        missing.append("SAG-CONSENT-SEPARATE")
    if not consent.document_sha256:
        missing.append("SAG-CONSENT-DOCUMENT")
    if (consent.kind in REPLICA_KINDS and consent.representation == "none"
            and not is_reasonably_specific(consent.description)):
        missing.append("CA-AB2602")
    return tuple(missing)


def consent_required(job: JobSpec) -> bool:
    """Likeness operations on named performers need consent; everything else does not."""
    return job.operation in LIKENESS_OPERATIONS


def is_reasonably_specific(description: str) -> bool:
    """AB 2602 / SAG-AFTRA: a 'reasonably specific description of the intended use'.

    A mechanical proxy: at least a sentence of content and no catch-all phrasing.
    """
    words = description.split()
    return len(words) >= _MIN_SPECIFIC_WORDS and not _VAGUE.search(description)


def _authority_ok(consent: Consent, performer: Performer) -> str | None:
    """Return a failure id when the grantor was not entitled to consent, else None."""
    if performer.living:
        return None if consent.granted_by == performer.consent_authority else "SAG-CONSENT-AUTHORITY"
    if consent.granted_by == "performer":
        # Given while living counts; a document dated after death cannot be the performer's.
        if performer.died_at is None or consent.valid_from < performer.died_at:
            return None
        return "SAG-DECEASED"
    entitled = performer.consent_authority if performer.consent_authority in ("estate", "union") else "estate"
    return None if consent.granted_by == entitled else "SAG-DECEASED"


def _base_failures(job: JobSpec, performer: Performer, consent: Consent, now: datetime) -> list[str]:
    """Checks no exception can waive: who, which production, when, whether still in force."""
    failures: list[str] = []
    if consent.production_id != job.production_id:
        failures.append("SAG-CONSENT-PRODUCTION")
    if job.operation not in _KIND_COVERS[consent.kind]:
        failures.append("SAG-CONSENT-KIND")
    if now < consent.valid_from:
        failures.append("SAG-CONSENT-NOT-YET-VALID")
    if consent.valid_until is not None and now >= consent.valid_until:
        failures.append("SAG-CONSENT-EXPIRED")
    if consent.revoked_at is not None and consent.revoked_at <= now:
        failures.append("SAG-CONSENT-REVOKED")
    if consent.suspended:
        failures.append("SAG-CONSENT-SUSPENDED")
    authority = _authority_ok(consent, performer)
    if authority:
        failures.append(authority)
    failures.extend(missing_requirements(consent))
    return failures


def _scope_failures(job: JobSpec, consent: Consent) -> list[str]:
    """Checks a replica-use exception may waive: what, where, how much."""
    scope = consent.scope
    failures: list[str] = []
    if job.operation not in scope.operations:
        failures.append("SAG-CONSENT-OPERATION")
    if scope.scenes and job.scene not in scope.scenes:
        failures.append("SAG-CONSENT-SCENE")
    if scope.shots and job.shot not in scope.shots:
        failures.append("SAG-CONSENT-SHOT")
    if job.alteration_amount > scope.max_alteration:
        failures.append("SAG-CONSENT-ALTERATION")
    if job.medium not in scope.media:
        failures.append("SAG-CONSENT-MEDIUM")
    territories = {t.lower() for t in scope.territory}
    if "worldwide" not in territories and job.territory.lower() not in territories:
        failures.append("SAG-CONSENT-TERRITORY")
    return failures


def _alteration_exception(job: JobSpec) -> str | None:
    """Customary digital alterations that need no consent at all (SAG-AFTRA, Netflix 1.6)."""
    claim = job.exception_claim
    if claim == "cosmetic" and job.operation == OperationKind.LIKENESS_COSMETIC:
        return claim
    if (claim == "as_scripted"
            and job.operation in (OperationKind.LIKENESS_COSMETIC, OperationKind.PERFORMANCE_ALTERATION)
            and job.alteration_amount <= AS_SCRIPTED_MAX_ALTERATION):
        return claim
    return None


def _replica_use_exception(job: JobSpec) -> str | None:
    """Claims that waive *further* consent for a consented replica (scope only)."""
    if (job.exception_claim in ("as_scripted", "unsafe_for_human", "unrecognisable")
            and job.operation in (OperationKind.LIKENESS_REPLICA, OperationKind.VOICE_SYNTHESIS)):
        return job.exception_claim
    return None


def _reasons(failures: Iterable[tuple[str, str | None]]) -> tuple[Reason, ...]:
    out = []
    for rule_id, consent_id in failures:
        text = FAILURE_RULE_IDS[rule_id]
        if consent_id:
            text = f"consent {consent_id}: {text}"
        out.append(Reason(rule_id, text, "deny"))
    return tuple(out)


def covering_consent(job: JobSpec, performer: Performer, consents: Iterable[Consent],
                     now: datetime) -> ConsentCheck:
    """Find a consent that covers `performer` for `job` at `now`, or say why none does."""
    if not consent_required(job):
        return ConsentCheck(performer.id, covered=True, required=False)
    exception = _alteration_exception(job)
    if exception:
        return ConsentCheck(performer.id, covered=True, exception=exception,
                            reasons=(Reason(f"SAG-EXC-{exception.upper().replace('_', '-')}",
                                            "customary alteration: no consent needed, recorded", "proceed"),))
    replica_exception = _replica_use_exception(job)
    failures: list[tuple[str, str | None]] = []
    if job.exception_claim and job.exception_claim != "first_amendment" and not replica_exception:
        failures.append(("SAG-EXC-INVALID", None))
    mine = [c for c in consents if c.performer_id == performer.id]
    for consent in sorted(mine, key=lambda c: c.id):
        base = _base_failures(job, performer, consent, now)
        scope = _scope_failures(job, consent)
        if not base and not scope:
            return ConsentCheck(performer.id, covered=True, consent_id=consent.id)
        if not base and replica_exception:
            return ConsentCheck(performer.id, covered=True, consent_id=consent.id, exception=replica_exception,
                                reasons=(Reason(f"SAG-EXC-{replica_exception.upper().replace('_', '-')}",
                                                "consented replica used within an exception: no further "
                                                "consent needed, recorded", "proceed"),))
        failures.extend((f, consent.id) for f in base + scope)
    if not mine:
        failures.append(("SAG-CONSENT-MISSING", None))
    seen: dict[str, None] = {}
    for rule_id, _ in failures:
        seen.setdefault(rule_id)
    return ConsentCheck(performer.id, covered=False, reasons=_reasons(failures), failures=tuple(seen))
