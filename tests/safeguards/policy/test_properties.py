"""Property-based tests: no combination of jobs, consents and clocks sneaks a likeness through.

The central property, stated precisely (checked by an oracle written independently of
consent_rules.py):

    For every job whose operation is a likeness operation (likeness_cosmetic, likeness_deage,
    likeness_replica, performance_alteration, voice_synthesis, training), if the decision is
    not DENY then the job names at least one performer and, for EVERY performer p it names,
    either
      (a) a consent c is on file with c.performer_id == p, c.production_id == job.production_id,
          c.valid_from <= now < c.valid_until (open-ended if None), not revoked at or before now,
          not strike-suspended, separately signed, with a document hash, of a kind that covers
          the operation, and EITHER listing the operation in its scope OR the decision cites
          one of the replica-use exception rules (SAG-EXC-UNRECOGNISABLE / -UNSAFE / -AS-SCRIPTED)
          for a replica/voice operation; or
      (b) the operation is a digital alteration of recorded performance (likeness_cosmetic or
          performance_alteration), the job explicitly claims `cosmetic` or `as_scripted`, and the
          decision cites SAG-EXC-COSMETIC or SAG-EXC-AS-SCRIPTED.
    Nothing else (escalation, approvers, another pack) can stand in for consent.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from soundstage.domain.safeguards import (
    Consent,
    ConsentScope,
    JobSpec,
    OperationKind,
    Outcome,
    Performer,
)
from soundstage.safeguards.consent_rules import covering_consent
from soundstage.safeguards.policy import PolicyEngine, build_context, default_pack, load_pack

from .conftest import MODELS, PERFORMERS, SHA

T0 = datetime(2025, 1, 1, tzinfo=timezone.utc)
LIKENESS = ["likeness_cosmetic", "likeness_deage", "likeness_replica", "performance_alteration",
            "voice_synthesis", "training"]
KIND_OPS = {
    "digital_alteration": {"likeness_cosmetic", "likeness_deage", "performance_alteration"},
    "employment_based_replica": {"likeness_replica", "voice_synthesis", "training"},
    "independently_created_replica": {"likeness_replica", "voice_synthesis", "training"},
    "background_actor_replica": {"likeness_replica", "voice_synthesis", "training"},
}
PRODUCTIONS = ["prod-a", "prod-b"]
PERFORMER_IDS = ["lead", "legend", "journalist"]
BY_ID = {p.id: p for p in PERFORMERS}
ENGINE = PolicyEngine([default_pack()])

times = st.integers(min_value=0, max_value=400).map(lambda d: T0 + timedelta(days=d))
descriptions = st.sampled_from([
    "Re-age the character for the flashback in scenes one to three of this production only.",
    "Any and all uses in all media now known.",
    "",
])


@st.composite
def consents(draw, performer_id=None, production_id=None) -> Consent:
    start = draw(times)
    until = draw(st.one_of(st.none(), times.filter(lambda t: t > start)))
    return Consent(
        id=f"c-{draw(st.integers(0, 10_000))}",
        performer_id=performer_id or draw(st.sampled_from(PERFORMER_IDS)),
        production_id=production_id or draw(st.sampled_from(PRODUCTIONS)),
        kind=draw(st.sampled_from(sorted(KIND_OPS))),
        scope=ConsentScope(
            operations=tuple(draw(st.lists(st.sampled_from(LIKENESS), unique=True))),
            scenes=tuple(draw(st.lists(st.sampled_from(["1", "2", "3"]), unique=True, max_size=2))),
            max_alteration=draw(st.floats(0, 1)),
            media=tuple(draw(st.lists(st.sampled_from(["previz", "final"]), unique=True))),
            territory=tuple(draw(st.lists(st.sampled_from(["worldwide", "US", "FR"]), unique=True))),
        ),
        description=draw(descriptions),
        valid_from=start,
        valid_until=until,
        signed_separately=draw(st.booleans()),
        representation=draw(st.sampled_from(["counsel", "union", "none"])),
        document_sha256=draw(st.sampled_from([SHA, None])),
        granted_by=draw(st.sampled_from(["performer", "estate", "union"])),
        revoked_at=draw(st.one_of(st.none(), times)),
        suspended=draw(st.booleans()),
    )


@st.composite
def jobs(draw, operations=LIKENESS, production_id=None) -> JobSpec:
    return JobSpec(
        id="job",
        production_id=production_id or draw(st.sampled_from(PRODUCTIONS)),
        operation=draw(st.sampled_from(operations)),
        requested_by="u",
        # mostly attested models, so decisions are not denied for reasons unrelated to consent
        model_id=draw(st.sampled_from(["studio-diffusion"] * 4 + ["saas-clean", "blender"] + sorted(MODELS))),
        prompt=draw(st.sampled_from(["", "a quiet street", "in the style of Studio Ghibli"])),
        performers=tuple(draw(st.one_of(
            st.lists(st.sampled_from(PERFORMER_IDS), unique=True, min_size=1, max_size=2),
            st.lists(st.sampled_from(PERFORMER_IDS + ["stranger"]), unique=True, max_size=3)))),
        scene=draw(st.sampled_from([None, "1", "3", "5"])),
        alteration_amount=draw(st.floats(0, 1)),
        deliverable=draw(st.sampled_from(["temporary", "final"])),
        medium=draw(st.sampled_from(["previz", "final"])),
        territory=draw(st.sampled_from(["worldwide", "US", "FR"])),
        exception_claim=draw(st.sampled_from([None, "cosmetic", "as_scripted", "unrecognisable",
                                              "unsafe_for_human", "first_amendment"])),
        story_relevant=draw(st.booleans()),
    )


MUTATIONS = ["production", "not_yet", "expired", "revoked", "suspended", "boilerplate", "no_document", "kind",
             "operation", "scene", "alteration", "medium", "territory", "grantor", "vague"]


@st.composite
def near_misses(draw, job: JobSpec, now: datetime, performer_id: str | None = None) -> Consent:
    """A consent that would cover `job` at `now`, then broken in 0-2 random ways.

    Uniformly random consents almost never cover anything, which would make the properties
    vacuous; near misses exercise every single condition on its own and in pairs.
    """
    from dataclasses import replace

    pid = performer_id or draw(st.sampled_from(list(job.performers) or PERFORMER_IDS))
    performer = BY_ID.get(pid)
    kind = draw(st.sampled_from(sorted(k for k, ops in KIND_OPS.items() if job.operation in ops) or ["digital_alteration"]))
    grantor = "performer" if performer is None or performer.living else "estate"
    consent = Consent(
        id=f"c-{draw(st.integers(0, 10_000))}", performer_id=pid, production_id=job.production_id, kind=kind,
        scope=ConsentScope(operations=(job.operation,), scenes=(job.scene,) if job.scene else (),
                           max_alteration=job.alteration_amount, media=(job.medium,), territory=(job.territory,)),
        description="Re-age the character for the flashback in scenes one to three of this production only.",
        valid_from=now - timedelta(days=draw(st.integers(0, 30))),
        valid_until=draw(st.one_of(st.none(), st.just(now + timedelta(days=draw(st.integers(1, 30)))))),
        signed_separately=True, representation=draw(st.sampled_from(["counsel", "union", "none"])),
        document_sha256=SHA, granted_by=grantor,
        revoked_at=draw(st.one_of(st.none(), st.just(now + timedelta(hours=draw(st.integers(1, 100)))))),
    )
    for mutation in draw(st.lists(st.sampled_from(MUTATIONS), max_size=2, unique=True)):
        if mutation == "production":
            consent = replace(consent, production_id="prod-other")
        elif mutation == "not_yet":
            consent = replace(consent, valid_from=now + timedelta(seconds=draw(st.integers(1, 10**6))))
        elif mutation == "expired":
            consent = replace(consent, valid_until=now - timedelta(seconds=draw(st.integers(0, 10**6))),
                              valid_from=now - timedelta(days=400))
        elif mutation == "revoked":
            consent = replace(consent, revoked_at=now - timedelta(seconds=draw(st.integers(0, 10**6))))
        elif mutation == "suspended":
            consent = replace(consent, suspended=True)
        elif mutation == "boilerplate":
            consent = replace(consent, signed_separately=False)
        elif mutation == "no_document":
            consent = replace(consent, document_sha256=None)
        elif mutation == "kind":
            consent = replace(consent, kind=draw(st.sampled_from(sorted(KIND_OPS))))
        elif mutation == "operation":
            consent = replace(consent, scope=replace(consent.scope, operations=tuple(
                draw(st.lists(st.sampled_from([o for o in LIKENESS if o != job.operation]), max_size=2)))))
        elif mutation == "scene":
            consent = replace(consent, scope=replace(consent.scope, scenes=("99",)))
        elif mutation == "alteration":
            consent = replace(consent, scope=replace(consent.scope, max_alteration=draw(st.floats(0, 1))))
        elif mutation == "medium":
            consent = replace(consent, scope=replace(consent.scope, media=()))
        elif mutation == "territory":
            consent = replace(consent, scope=replace(consent.scope, territory=("XX",)))
        elif mutation == "grantor":
            consent = replace(consent, granted_by=draw(st.sampled_from(["performer", "estate", "union"])))
        elif mutation == "vague":
            consent = replace(consent, description="Any and all uses.", representation="none")
    return consent


@st.composite
def situations(draw, production_id=None):
    """A likeness job, a clock, and consents: near misses for it plus unrelated random ones."""
    job = draw(jobs(production_id=production_id))
    now = draw(times)
    near = [draw(near_misses(job, now, pid)) for pid in job.performers]
    near += draw(st.lists(near_misses(job, now), max_size=2))
    noise = draw(st.lists(consents(), max_size=2))
    return job, near + noise, now


def in_force(c: Consent, job: JobSpec, now: datetime) -> bool:
    """Oracle: the non-negotiable conditions, written without consent_rules."""
    return (c.production_id == job.production_id
            and c.valid_from <= now
            and (c.valid_until is None or now < c.valid_until)
            and (c.revoked_at is None or now < c.revoked_at)
            and not c.suspended
            and c.signed_separately
            and bool(c.document_sha256)
            and job.operation in KIND_OPS[c.kind])


def decide(job: JobSpec, consent_list: list[Consent], now: datetime, extra_packs=()):
    ctx = build_context(job, model=MODELS[job.model_id], performers=PERFORMERS, consents=consent_list, now=now)
    engine = ENGINE if not extra_packs else PolicyEngine([default_pack(), *extra_packs])
    return engine.decide(job, ctx)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(situation=situations())
def test_no_likeness_without_covering_consent(situation) -> None:
    job, consent_list, now = situation
    decision = decide(job, consent_list, now)
    if decision.outcome == Outcome.DENY:
        return
    cited = set(decision.rule_ids)
    assert job.performers, "a likeness job naming nobody must be denied"
    for pid in job.performers:
        alteration_exception = (
            job.operation in ("likeness_cosmetic", "performance_alteration")
            and job.exception_claim in ("cosmetic", "as_scripted")
            and cited & {"SAG-EXC-COSMETIC", "SAG-EXC-AS-SCRIPTED"})
        if alteration_exception:
            continue
        replica_exception = (job.operation in ("likeness_replica", "voice_synthesis")
                             and cited & {"SAG-EXC-UNRECOGNISABLE", "SAG-EXC-UNSAFE", "SAG-EXC-AS-SCRIPTED"})
        ok = [c for c in consent_list
              if c.performer_id == pid and in_force(c, job, now)
              and (job.operation in c.scope.operations or replica_exception)]
        assert ok, f"{decision.outcome} for {pid} without a covering consent: {decision.rule_ids}"


@settings(max_examples=250, deadline=None)
@given(situation=situations(production_id="prod-a"), performer=st.sampled_from(PERFORMERS))
def test_consent_for_one_production_never_covers_another(situation, performer: Performer) -> None:
    from dataclasses import replace

    job_a, consent_list, now = situation
    job = replace(job_a, production_id="prod-b")  # every consent was made for (or near) prod-a
    consent_list = [replace(c, production_id="prod-a") for c in consent_list]
    check = covering_consent(job, performer, consent_list, now)
    assert check.consent_id is None
    if check.covered:  # only the no-consent-needed alteration exceptions may cover
        assert check.exception in ("cosmetic", "as_scripted")


@settings(max_examples=250, deadline=None)
@given(situation=situations(), later=st.integers(0, 10**7))
def test_revocation_is_final_from_its_instant(situation, later: int) -> None:
    from dataclasses import replace

    job, consent_list, revoked = situation
    if not consent_list:
        return
    consent = replace(consent_list[0], revoked_at=revoked)
    performer = BY_ID.get(consent.performer_id) or PERFORMERS[0]
    now = revoked + timedelta(seconds=later)
    check = covering_consent(job, performer, [consent], now)
    assert check.consent_id != consent.id
    if job.operation in LIKENESS and job.performers == (performer.id,):
        decision = decide(job, [consent], now)
        if decision.outcome != Outcome.DENY:
            assert {"SAG-EXC-COSMETIC", "SAG-EXC-AS-SCRIPTED"} & set(decision.rule_ids)


LENIENT = load_pack("""\
pack: lenient
version: 1
rules:
  - id: LENIENT-ALL
    text: A pack that would allow everything.
    when: {always: true}
    then: {outcome: proceed}
""")
SEVERITY = {Outcome.PROCEED: 0, Outcome.ESCALATE: 1, Outcome.DENY: 2}


@settings(max_examples=200, deadline=None)
@given(situation=situations(), operation=st.sampled_from([str(o) for o in OperationKind]))
def test_adding_a_pack_never_loosens(situation, operation: str) -> None:
    from dataclasses import replace

    job, consent_list, now = situation
    job = replace(job, operation=operation)
    base = decide(job, consent_list, now)
    combined = decide(job, consent_list, now, extra_packs=[LENIENT])
    assert SEVERITY[combined.outcome] >= SEVERITY[base.outcome]
    assert set(base.rule_ids) <= set(combined.rule_ids)
