"""Engine and condition language: each operator, combination rules, consent checks, speed."""

from __future__ import annotations

import time
from dataclasses import replace

import pytest

from soundstage.domain.safeguards import Outcome, Role
from soundstage.safeguards.consent_rules import covering_consent, is_reasonably_specific
from soundstage.safeguards.policy import PolicyEngine, build_context, default_pack, load_pack

from .conftest import ALTERATION, LEAD, LEGEND, MODELS, NOW, PERFORMERS, REPLICA, make_job


def one_rule(when: str, lists: str = "{}") -> PolicyEngine:
    pack = load_pack(f"""\
pack: t
version: 1
lists: {lists}
rules:
  - id: T-1
    text: test rule
    when: {when}
    then: {{outcome: escalate, approvers: [legal]}}
""")
    return PolicyEngine([pack])


def fires(engine: PolicyEngine, **job) -> bool:
    j = make_job(**job)
    ctx = build_context(j, model=MODELS[j.model_id], performers=PERFORMERS, consents=[ALTERATION], now=NOW)
    return "T-1" in engine.decide(j, ctx).rule_ids


@pytest.mark.parametrize("when, job, expected", [
    ("{field: operation, eq: ideation}", {}, True),
    ("{field: operation, ne: ideation}", {}, False),
    ("{field: operation, in: [storyboard, ideation]}", {}, True),
    ("{field: operation, not_in: [storyboard, ideation]}", {}, False),
    ("{field: alteration_amount, gt: 0.5}", {"alteration_amount": 0.5}, False),
    ("{field: alteration_amount, ge: 0.5}", {"alteration_amount": 0.5}, True),
    ("{field: alteration_amount, lt: 0.5}", {"alteration_amount": 0.4}, True),
    ("{field: alteration_amount, le: 0.3}", {"alteration_amount": 0.4}, False),
    ("{field: performers.count, eq: 1}", {"performers": ["lead"]}, True),
    ("{field: consent.failures, contains: SAG-CONSENT-SCENE}",
     {"operation": "likeness_replica", "performers": ["lead"]}, False),
    ("{field: consent.exceptions, contains_any: [cosmetic]}",
     {"operation": "likeness_cosmetic", "performers": ["lead"], "exception_claim": "cosmetic"}, True),
    ("{all: [{field: story_relevant, eq: true}, {field: operation, eq: ideation}]}", {"story_relevant": True}, True),
    ("{all: [{field: story_relevant, eq: true}, {field: operation, eq: storyboard}]}", {"story_relevant": True},
     False),
    ("{any: [{field: story_relevant, eq: true}, {field: operation, eq: storyboard}]}", {}, False),
    ("{not: {field: story_relevant, eq: true}}", {}, True),
    ("{field: production.enterprise_environment, eq: true}", {}, False),
    ("{field: model.training_data, eq: owned}", {}, True),
    ("{always: true}", {}, True),
])
def test_operators(when: str, job: dict, expected: bool) -> None:
    assert fires(one_rule(when), **job) is expected


def test_matches_list_is_case_insensitive_and_word_bounded() -> None:
    engine = one_rule("{field: prompt, matches_list: names}", "{names: [Tom Cruise, Jedi]}")
    assert fires(engine, prompt="a man who looks like TOM  cruise")
    assert fires(engine, prompt="jedi robes")
    assert not fires(engine, prompt="a tomcruise fan")  # not a whole-word match
    assert not fires(engine, prompt="jedidiah the farmer")
    assert not fires(engine, prompt="")


def test_in_list_over_operations() -> None:
    engine = one_rule("{field: operation, in_list: ops}", "{ops: [storyboard, set_extension]}")
    assert fires(engine, operation="storyboard") and not fires(engine, operation="ideation")


def test_no_rule_fires_means_proceed() -> None:
    engine = one_rule("{field: operation, eq: training}")
    job = make_job()
    decision = engine.decide(job, build_context(job, model=MODELS[job.model_id], performers=[], consents=[], now=NOW))
    assert decision.outcome == Outcome.PROCEED and decision.reasons == ()


def test_most_severe_wins_and_roles_union() -> None:
    pack = load_pack("""\
pack: t
version: 1
rules:
  - {id: A, text: a, when: {always: true}, then: {outcome: escalate, approvers: [legal]}}
  - {id: B, text: b, when: {always: true}, then: {outcome: escalate, approvers: [producer, legal]}}
  - {id: C, text: c, when: {field: operation, eq: training}, then: {outcome: deny}}
""")
    engine = PolicyEngine([pack])
    job = make_job()
    ctx = build_context(job, model=MODELS[job.model_id], performers=[], consents=[], now=NOW)
    decision = engine.decide(job, ctx)
    assert decision.outcome == Outcome.ESCALATE
    assert decision.approver_roles == (Role.PRODUCER, Role.LEGAL)
    training = replace(job, operation="training")
    assert engine.decide(training, ctx).outcome == Outcome.DENY


def test_engine_needs_a_pack() -> None:
    from soundstage.errors import SpecError

    with pytest.raises(SpecError):
        PolicyEngine([])


def test_unknown_model_is_read_pessimistically() -> None:
    job = make_job(model_id="nobody-knows")
    ctx = build_context(job, model=None, performers=[], consents=[], now=NOW)
    decision = PolicyEngine.default().decide(job, ctx)
    assert decision.outcome == Outcome.DENY
    assert {"MODEL-UNREGISTERED", "NFX-P2", "NFX-MATRIX-TRAINING-DATA"} <= set(decision.rule_ids)


# ------------------------------------------------------------------ consent rules (pure)

def test_covering_consent_happy_path_and_window_edges() -> None:
    job = make_job(operation="likeness_deage", performers=["lead"], alteration_amount=0.5)
    assert covering_consent(job, LEAD, [ALTERATION], NOW).consent_id == "c-alter"
    assert not covering_consent(job, LEAD, [ALTERATION], ALTERATION.valid_until).covered  # [from, until)
    assert covering_consent(job, LEAD, [ALTERATION], ALTERATION.valid_from).covered
    revoked = replace(ALTERATION, revoked_at=NOW)
    check = covering_consent(job, LEAD, [revoked], NOW)  # revoked_at <= now -> revoked
    assert not check.covered and "SAG-CONSENT-REVOKED" in check.failures


def test_other_performers_consent_does_not_count() -> None:
    job = make_job(operation="likeness_deage", performers=["lead"], alteration_amount=0.5)
    check = covering_consent(job, LEAD, [replace(ALTERATION, performer_id="someone-else")], NOW)
    assert not check.covered and check.failures == ("SAG-CONSENT-MISSING",)


def test_living_performer_consent_from_estate_is_refused() -> None:
    job = make_job(operation="likeness_deage", performers=["lead"], alteration_amount=0.5)
    check = covering_consent(job, LEAD, [replace(ALTERATION, granted_by="estate")], NOW)
    assert "SAG-CONSENT-AUTHORITY" in check.failures


def test_deceased_union_consent_only_when_union_is_the_authority() -> None:
    job = make_job(operation="likeness_replica", performers=["legend"], scene="3", alteration_amount=0.5)
    by_union = replace(REPLICA, performer_id="legend", granted_by="union")
    assert "SAG-DECEASED" in covering_consent(job, LEGEND, [by_union], NOW).failures
    orphan = replace(LEGEND, consent_authority="union")
    assert covering_consent(job, orphan, [by_union], NOW).covered


def test_reasonably_specific_description() -> None:
    assert is_reasonably_specific("Re-age the lead for the flashback in scenes 1 to 3 of this series only.")
    assert not is_reasonably_specific("Any and all uses.")
    assert not is_reasonably_specific("Use my likeness for any purpose in the picture and its promotion.")
    assert not is_reasonably_specific("")


def test_non_likeness_operation_needs_no_consent() -> None:
    job = make_job(operation="background_replacement", performers=["lead"])
    check = covering_consent(job, LEAD, [], NOW)
    assert check.covered and not check.required


# ------------------------------------------------------------------ throughput

def mixed_jobs():
    """A realistic mix: previz, VFX, likeness with and without consent, prompts with list hits."""
    specs = [
        dict(operation="ideation", prompt="mood board, rainy noir bar"),
        dict(operation="storyboard", model_id="blender"),
        dict(operation="background_element", story_relevant=True, prompt="breaking news segment"),
        dict(operation="generated_character", prompt="a second giant doll in the style of Studio Ghibli"),
        dict(operation="likeness_deage", performers=["lead"], alteration_amount=0.5, deliverable="final",
             medium="final"),
        dict(operation="likeness_replica", performers=["lead"], scene="5", alteration_amount=0.5),
        dict(operation="likeness_cosmetic", performers=["lead"], exception_claim="cosmetic"),
        dict(operation="set_extension", deliverable="final", medium="final", model_id="scraped"),
        dict(operation="voice_synthesis", performers=["legend"], model_id="saas-trains"),
        dict(operation="concept_art", prompt="a senator who looks like Tom Cruise", uses_personal_data=True),
    ]
    out = []
    for spec in specs:
        job = make_job(**spec)
        ctx = build_context(job, model=MODELS[job.model_id], performers=PERFORMERS,
                            consents=[ALTERATION, REPLICA], now=NOW)
        out.append((job, ctx))
    return out


def measure_decisions_per_second(n: int = 20_000) -> float:
    engine = PolicyEngine([default_pack()])
    work = mixed_jobs()
    start = time.perf_counter()
    for i in range(n):
        job, ctx = work[i % len(work)]
        engine.decide(job, ctx)
    return n / (time.perf_counter() - start)


# Speed is measured in bench/safeguards.py (next to a peer, in docs/benchmarks.md), not asserted here:
# a timed test fails on a busy machine without anything being wrong.
