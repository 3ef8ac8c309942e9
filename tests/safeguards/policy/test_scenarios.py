"""Scenario suite: the guidance's own examples, each with outcome, rule ids and approvers.

Read a row as: "this job, with these consents on file and this model, gives OUTCOME because of
RULES (and, when it escalates, needs APPROVERS)". `absent` lists rules that must NOT fire.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from soundstage.domain.safeguards import Consent, ConsentScope, Outcome
from soundstage.safeguards.involvement import Involvement, NameIndex, RosterEntry, Sighting, names_in_job
from soundstage.safeguards.policy import build_context

from .conftest import (ALTERATION, ESTATE, MODELS, NOW, OTHER_PROD, PERFORMERS, REPLICA, make_job)

P, E, D = Outcome.PROCEED, Outcome.ESCALATE, Outcome.DENY
LIKENESS_ROLES = ("producer", "rights_clearance", "performer_rep")


@dataclass
class Case:
    name: str
    job: dict[str, Any]
    outcome: Outcome
    rules: tuple[str, ...]
    consents: tuple[Consent, ...] = ()
    approvers: tuple[str, ...] | None = None  # exact set when given
    absent: tuple[str, ...] = ()
    duties: tuple[str, ...] = ()  # must be among the duties
    notify: tuple[str, ...] = ()
    production: dict[str, Any] = field(default_factory=dict)
    model: str | None = "use-job"
    shown: tuple[tuple[str, str], ...] = ()  # (performer id, input kind): a face the guard found in an input


def deage(**kw: Any) -> dict[str, Any]:
    base: dict[str, Any] = dict(operation="likeness_deage", performers=["lead"], alteration_amount=0.5)
    base.update(kw)
    return base


def replica(**kw: Any) -> dict[str, Any]:
    base = dict(operation="likeness_replica", performers=["lead"], alteration_amount=0.5, scene="3")
    base.update(kw)
    return base


EXPIRED = replace(ALTERATION, id="c-expired", valid_until=datetime(2025, 5, 1, tzinfo=timezone.utc))
REVOKED = replace(ALTERATION, id="c-revoked", revoked_at=NOW - timedelta(hours=1))
REVOKED_LATER = replace(ALTERATION, id="c-revoked-later", revoked_at=NOW + timedelta(days=1))
SUSPENDED = replace(ALTERATION, id="c-suspended", suspended=True)
FOREIGN = replace(ALTERATION, id="c-foreign", production_id=OTHER_PROD)
BOILERPLATE = replace(ALTERATION, id="c-boilerplate", signed_separately=False)
PREVIZ_ONLY = replace(ALTERATION, id="c-previz", scope=replace(ALTERATION.scope, media=("previz",)))
US_ONLY = replace(ALTERATION, id="c-us", scope=replace(ALTERATION.scope, territory=("US",)))
LOW_MAX = replace(ALTERATION, id="c-low", scope=replace(ALTERATION.scope, max_alteration=0.3))
VAGUE = replace(REPLICA, id="c-vague", representation="none", description="Any and all uses in all media now known.")
VAGUE_UNION = replace(VAGUE, id="c-vague-union", representation="union")
ESTATE_BY_PERFORMER_AFTER_DEATH = replace(ESTATE, id="c-forged", granted_by="performer")
ESTATE_BY_PERFORMER_IN_LIFE = replace(ESTATE, id="c-in-life", granted_by="performer",
                                      valid_from=datetime(2018, 1, 1, tzinfo=timezone.utc), valid_until=None)
TRAINING = replace(REPLICA, id="c-train", scope=ConsentScope(operations=("training",), max_alteration=1.0))

CASES = [
    # ---- ideation / previz (matrix: proceed with notify)
    Case("mood board", dict(operation="ideation", prompt="mood board: rain-soaked noir bar, neon"), P,
         ("NFX-NOTIFY", "NFX-MATRIX-IDEATION", "EUAI-50-2"), approvers=(), duties=("c2pa+watermark",),
         notify=("netflix_contact",), absent=("EUAI-50-4",)),
    Case("Billionaires' Bunker wardrobe concepts", dict(operation="concept_art", prompt="bunker wardrobe, 1970s"),
         P, ("NFX-MATRIX-IDEATION",)),
    Case("storyboard from procedural Blender previz", dict(operation="storyboard", model_id="blender"), P,
         ("NFX-MATRIX-IDEATION",), absent=("NFX-MATRIX-TRAINING-DATA",)),
    # ---- background elements
    Case("incidental background signage", dict(operation="background_element", prompt="shop sign, 1950s diner"),
         P, ("NFX-MATRIX-BACKGROUND-INCIDENTAL",)),
    Case("story-relevant newspaper read aloud", dict(operation="background_element", story_relevant=True,
                                                     prompt="front page of the local paper"), E,
         ("NFX-MATRIX-BACKGROUND-STORY",), approvers=("legal", "rights_clearance")),
    # ---- creative output
    Case("second killer doll (Squid Game example)", dict(operation="generated_character",
                                                        prompt="a second giant killer doll for the red light game"),
         E, ("NFX-MATRIX-KEY-VISUAL", "NFX-ESC-STORY-CENTRAL"), approvers=("producer", "legal")),
    Case("final key visual", dict(operation="key_visual", deliverable="final", medium="final"), E,
         ("NFX-MATRIX-KEY-VISUAL", "NFX-ESC-FINAL", "NFX-P4"), approvers=("producer", "legal"),
         duties=("written-approval",)),
    Case("story-central setting extension", dict(operation="set_extension", story_relevant=True), E,
         ("NFX-ESC-STORY-CENTRAL",), approvers=("producer", "legal")),
    Case("public figure named in prompt", dict(operation="concept_art", prompt="a senator who looks like Tom Cruise"),
         E, ("NFX-ESC-PUBLIC-FIGURE",), approvers=("legal", "rights_clearance"), duties=("credits notice",)),
    Case("inspired by a famous photograph", dict(operation="concept_art",
                                                 prompt="poster inspired by the famous photograph Migrant Mother"),
         E, ("NFX-ESC-COPYRIGHT-PROMPT", "NFX-P1"), approvers=("legal",)),
    Case("in the style of a studio", dict(operation="ideation", prompt="forest spirit in the style of Studio Ghibli"),
         E, ("NFX-ESC-COPYRIGHT-PROMPT",)),
    Case("deceased person named in prompt", dict(operation="concept_art", prompt="a singer like Marilyn Monroe"),
         E, ("NFX-ESC-DECEASED-PROMPT",), approvers=("legal", "rights_clearance")),
    Case("fake news segment with a real journalist", dict(operation="background_element",
                                                          prompt="breaking news segment, Anderson Cooper reporting"),
         E, ("NFX-ESC-REAL-EVENTS", "NFX-ESC-PUBLIC-FIGURE", "EUAI-50-4"), approvers=("legal", "rights_clearance"),
         duties=("credits notice", "c2pa+watermark")),
    # ---- what the job states it depicts (issue 12: facts, not prompt words)
    Case("news-style segment, real journalist as background (stated)",
         dict(operation="background_element", prompt="news-style segment, a journalist in the background",
              depicts_real_person=True, news_format=True), E,
         ("DEPICT-REAL-PERSON", "DEPICT-NEWS-FORMAT", "EUAI-50-4", "EUAI-50-4-NEWS"),
         approvers=("producer", "rights_clearance", "legal"),
         duties=("written-approval", "credits notice", "on-screen disclosure")),
    Case("a real, unregistered person depicted in concept art", dict(operation="concept_art", depicts_real_person=True),
         E, ("DEPICT-REAL-PERSON", "EUAI-50-4"), approvers=("rights_clearance", "legal"), duties=("written-approval",),
         absent=("DEPICT-PUBLIC-FIGURE",)),
    Case("a registered performer depicted in a background element",
         dict(operation="background_element", performers=["journalist"], depicts_real_person=True), E,
         ("DEPICT-REAL-PERSON", "DEPICT-REAL-PERSON-PERFORMER"),
         approvers=("rights_clearance", "legal", "performer_rep")),
    Case("a public figure depicted (no name in the prompt)", dict(operation="concept_art", prompt="a senator at a rally",
                                                                  depicts_public_figure=True), E,
         ("DEPICT-PUBLIC-FIGURE", "DEPICT-REAL-PERSON", "EUAI-50-4"), approvers=("rights_clearance", "legal"),
         absent=("NFX-ESC-PUBLIC-FIGURE",)),
    Case("a real event restaged", dict(operation="set_extension", depicts_real_event=True), E,
         ("DEPICT-REAL-EVENT", "EUAI-50-4"), approvers=("producer", "legal"), duties=("written-approval",)),
    Case("a fictional news bulletin", dict(operation="background_element", news_format=True), E,
         ("DEPICT-NEWS-FORMAT",), approvers=("producer", "legal"), absent=("EUAI-50-4", "EUAI-50-4-NEWS")),
    Case("re-age stated as depicting a real person, no consent", deage(depicts_real_person=True), D,
         ("SAG-CONSENT-REQUIRED",), absent=("DEPICT-REAL-PERSON",)),
    Case("synthetic performer replaces union work", dict(operation="generated_character",
                                                         synthetic_replaces_performer=True), E,
         ("NFX-ESC-UNION", "NFX-P5", "SAG-SYNTHETIC-NOTICE"), approvers=("producer", "legal"),
         notify=("sag-aftra",), duties=("union-notice",)),
    # ---- talent: re-ageing (Happy Gilmore 2)
    Case("re-age lead with consent (previz)", deage(), E, ("NFX-MATRIX-TALENT", "EUAI-50-4"),
         consents=(ALTERATION,), approvers=LIKENESS_ROLES, duties=("credits notice", "c2pa+watermark"),
         absent=("SAG-CONSENT-REQUIRED", "NFX-P5")),
    Case("re-age lead without consent", deage(), D, ("SAG-CONSENT-REQUIRED", "SAG-CONSENT-MISSING", "NFX-P5"),
         approvers=()),
    Case("re-age lead in the final flashback", deage(deliverable="final", medium="final"), E,
         ("NFX-ESC-FINAL", "NFX-ESC-FINAL-VFX", "NFX-MATRIX-TALENT"), consents=(ALTERATION,),
         approvers=("producer", "vfx_supervisor", "rights_clearance", "legal", "performer_rep"),
         duties=("written-approval", "c2pa+watermark", "credits notice")),
    Case("consent given for another production", deage(), D, ("SAG-CONSENT-PRODUCTION", "SAG-CONSENT-REQUIRED"),
         consents=(FOREIGN,)),
    Case("expired consent", deage(), D, ("SAG-CONSENT-EXPIRED",), consents=(EXPIRED,)),
    Case("revoked consent", deage(), D, ("SAG-CONSENT-REVOKED",), consents=(REVOKED,)),
    Case("revocation scheduled in the future", deage(), E, ("NFX-MATRIX-TALENT",), consents=(REVOKED_LATER,),
         absent=("SAG-CONSENT-REVOKED",)),
    Case("strike-suspended consent", deage(), D, ("SAG-CONSENT-SUSPENDED",), consents=(SUSPENDED,)),
    Case("consent buried in boilerplate", deage(), D, ("SAG-CONSENT-SEPARATE",), consents=(BOILERPLATE,)),
    Case("consent for previz used in final", deage(medium="final", deliverable="final"), D,
         ("SAG-CONSENT-MEDIUM",), consents=(PREVIZ_ONLY,)),
    Case("territory outside consent", deage(territory="FR"), D, ("SAG-CONSENT-TERRITORY",), consents=(US_ONLY,)),
    Case("alteration above consented maximum", deage(alteration_amount=0.6), D, ("SAG-CONSENT-ALTERATION",),
         consents=(LOW_MAX,)),
    Case("consent with the wrong kind", deage(), D, ("SAG-CONSENT-KIND",), consents=(REPLICA,)),
    # ---- replicas, scope, exceptions
    Case("replica within scene-3 consent", replica(), E, ("NFX-ESC-DIGITAL-PERFORMER", "NFX-MATRIX-TALENT"),
         consents=(REPLICA,), approvers=LIKENESS_ROLES, absent=("SAG-CONSENT-REQUIRED",)),
    Case("scene-3 consent used in scene 5", replica(scene="5"), D, ("SAG-CONSENT-SCENE", "SAG-CONSENT-REQUIRED"),
         consents=(REPLICA,)),
    Case("unrecognisable masked performer (scene 5)", replica(scene="5", exception_claim="unrecognisable"), E,
         ("SAG-EXC-UNRECOGNISABLE",), consents=(REPLICA,), absent=("SAG-CONSENT-REQUIRED", "SAG-CONSENT-SCENE")),
    Case("unsafe stunt by the consented replica", replica(scene="9", exception_claim="unsafe_for_human"), E,
         ("SAG-EXC-UNSAFE",), consents=(REPLICA,), absent=("SAG-CONSENT-REQUIRED",)),
    Case("unsafe-stunt claim without any replica consent", replica(exception_claim="unsafe_for_human"), D,
         ("SAG-CONSENT-REQUIRED", "SAG-CONSENT-MISSING"), absent=("SAG-EXC-UNSAFE",)),
    Case("unrecognisable claim does not waive a revocation",
         replica(scene="5", exception_claim="unrecognisable"), D, ("SAG-CONSENT-REVOKED",),
         consents=(replace(REPLICA, revoked_at=NOW),)),
    Case("cosmetic blemish fix", dict(operation="likeness_cosmetic", performers=["lead"], alteration_amount=0.05,
                                      exception_claim="cosmetic"), P, ("SAG-EXC-COSMETIC", "EUAI-50-2"),
         approvers=(), absent=("SAG-CONSENT-REQUIRED", "NFX-MATRIX-TALENT", "EUAI-50-4")),
    Case("cosmetic fix without claim or consent", dict(operation="likeness_cosmetic", performers=["lead"]), D,
         ("SAG-CONSENT-REQUIRED",)),
    Case("cosmetic claim on a re-age", deage(exception_claim="cosmetic"), D, ("SAG-EXC-INVALID",)),
    Case("as-scripted timing fix", dict(operation="performance_alteration", performers=["lead"],
                                        alteration_amount=0.1, exception_claim="as_scripted"), E,
         ("SAG-EXC-AS-SCRIPTED", "NFX-MATRIX-TALENT"), absent=("SAG-CONSENT-REQUIRED",
                                                                "NFX-ESC-PERFORMANCE-ALTERATION")),
    Case("visual ADR with consent", dict(operation="performance_alteration", performers=["lead"],
                                         alteration_amount=0.7), E,
         ("NFX-ESC-PERFORMANCE-ALTERATION", "NFX-MATRIX-TALENT"), consents=(ALTERATION,), approvers=LIKENESS_ROLES),
    Case("visual ADR without consent", dict(operation="performance_alteration", performers=["lead"],
                                            alteration_amount=0.7), D, ("SAG-CONSENT-REQUIRED",)),
    Case("first-amendment claim without consent", replica(exception_claim="first_amendment"), D,
         ("SAG-EXC-FIRST-AMENDMENT", "SAG-CONSENT-MISSING")),
    Case("voice synthesis with replica consent", replica(operation="voice_synthesis"), E,
         ("NFX-ESC-DIGITAL-PERFORMER",), consents=(REPLICA,)),
    Case("fine-tuning on the lead's material with consent", dict(operation="training", performers=["lead"]), E,
         ("NFX-ESC-TRAINING",), consents=(TRAINING,), approvers=("legal", "rights_clearance")),
    Case("fine-tuning on the lead's material without consent", dict(operation="training", performers=["lead"]), D,
         ("SAG-CONSENT-REQUIRED", "NFX-ESC-TRAINING")),
    Case("likeness job naming nobody", dict(operation="likeness_deage"), D, ("SAG-CONSENT-UNNAMED",)),
    Case("performer not in the registry", deage(performers=["stranger"]), D, ("SAG-CONSENT-UNKNOWN-PERFORMER",)),
    # ---- CA AB 2602 / deceased performers (AB 1836)
    Case("AB 2602: vague replica clause, unrepresented", replica(), D, ("CA-AB2602",), consents=(VAGUE,)),
    Case("AB 2602: vague clause saved by union representation", replica(), E, ("NFX-ESC-DIGITAL-PERFORMER",),
         consents=(VAGUE_UNION,), absent=("CA-AB2602",)),
    Case("deceased performer with estate consent", replica(performers=["legend"]), E,
         ("CA-AB1836-REVIEW", "NFX-ESC-DIGITAL-PERFORMER"), consents=(ESTATE,),
         approvers=("producer", "rights_clearance", "legal", "performer_rep"), absent=("CA-AB1836",)),
    Case("deceased performer without the estate", replica(performers=["legend"]), D,
         ("CA-AB1836", "SAG-CONSENT-MISSING")),
    Case("deceased: 'performer' consent dated after death", replica(performers=["legend"]), D,
         ("SAG-DECEASED", "CA-AB1836"), consents=(ESTATE_BY_PERFORMER_AFTER_DEATH,)),
    Case("deceased: consent the performer gave in life", replica(performers=["legend"]), E,
         ("CA-AB1836-REVIEW",), consents=(ESTATE_BY_PERFORMER_IN_LIFE,)),
    # ---- models and data
    Case("model trained on unattested data (ideation)", dict(operation="ideation", model_id="scraped"), E,
         ("NFX-MATRIX-TRAINING-DATA",), approvers=("legal",), absent=("NFX-MATRIX-TRAINING-DATA-DENY",)),
    Case("unattested model on a likeness", deage(model_id="scraped"), D, ("NFX-MATRIX-TRAINING-DATA-DENY",),
         consents=(ALTERATION,)),
    Case("unattested model in a final shot", dict(operation="set_extension", model_id="scraped",
                                                  deliverable="final", medium="final"), D,
         ("NFX-MATRIX-TRAINING-DATA-DENY",)),
    Case("tool that trains on inputs (ideation)", dict(operation="ideation", model_id="saas-trains"), E,
         ("NFX-P2", "NFX-P3"), approvers=("producer", "legal")),
    Case("tool that trains on inputs fed a likeness", deage(model_id="saas-trains"), D, ("NFX-P2-LIKENESS",),
         consents=(ALTERATION,)),
    Case("unregistered model", dict(operation="ideation", model_id="mystery"), D, ("MODEL-UNREGISTERED",),
         model=None),
    Case("external tool without enterprise agreement", dict(operation="ideation", model_id="saas-clean"), E,
         ("NFX-P3",), approvers=("producer",)),
    Case("external tool inside the production's enterprise environment",
         dict(operation="ideation", model_id="saas-clean"), P, ("NFX-MATRIX-IDEATION",), absent=("NFX-P3",),
         production={"enterprise_environment": True}),
    Case("script pages in an outside tool", dict(operation="ideation", model_id="saas-clean",
                                                 uses_proprietary_material=True), E,
         ("NFX-MATRIX-PROPRIETARY", "NFX-ESC-PROPRIETARY"), approvers=("producer", "legal")),
    Case("script pages in the enterprise tool", dict(operation="ideation", uses_proprietary_material=True), E,
         ("NFX-ESC-PROPRIETARY",), approvers=("producer",), absent=("NFX-MATRIX-PROPRIETARY",)),
    Case("crew personal data in a prompt", dict(operation="ideation", uses_personal_data=True), E,
         ("NFX-ESC-PERSONAL-DATA",), approvers=("legal",)),
    # ---- performers a job involves without listing them (issue 16, DR019): names matched by the
    # real matcher against the registry, faces as the guard reports them
    Case("prompt names an unlisted performer", dict(operation="concept_art", prompt="Lead Actor in the rain"), D,
         ("SAG-PROMPT-NAMES-UNLISTED-PERFORMER",), approvers=()),
    Case("negative prompt names an unlisted deceased performer, shouting",
         dict(operation="ideation", params={"negative_prompt": "LATE LEGEND's smile"}), D,
         ("SAG-PROMPT-NAMES-UNLISTED-PERFORMER",)),
    Case("prompt names the listed, consented performer", deage(prompt="Lead Actor's face, twenty years younger"),
         E, ("NFX-MATRIX-TALENT",), consents=(ALTERATION,), approvers=LIKENESS_ROLES,
         absent=("SAG-PROMPT-NAMES-UNLISTED-PERFORMER",)),
    Case("a longer word holding a performer's name is not their name",
         dict(operation="concept_art", prompt="Lead Actorsmith forge, Late Legendary sword"), P,
         ("NFX-MATRIX-IDEATION",), absent=("SAG-PROMPT-NAMES-UNLISTED-PERFORMER",)),
    Case("reference image shows an unlisted performer", dict(operation="concept_art", inputs=["00000000000000a1"]), D,
         ("SAG-INPUT-SHOWS-UNLISTED-PERFORMER",), shown=(("lead", "reference"),)),
    Case("generated clip used as an element shows an unlisted performer",
         dict(operation="background_replacement", inputs=["00000000000000a1"]), D,
         ("SAG-INPUT-SHOWS-UNLISTED-PERFORMER",), shown=(("lead", "generated"),)),
    Case("reference image shows the listed, consented performer", deage(inputs=["00000000000000a1"]), E,
         ("NFX-MATRIX-TALENT",), consents=(ALTERATION,), shown=(("lead", "reference"),),
         absent=("SAG-INPUT-SHOWS-UNLISTED-PERFORMER",)),
    Case("camera plate shows an unlisted performer, VFX cleanup", dict(operation="cleanup", inputs=["00000000000000a1"]), P,
         ("VFX-PLATE-SHOWS-UNLISTED-PERFORMER",), shown=(("lead", "plate"),),
         absent=("SAG-INPUT-SHOWS-UNLISTED-PERFORMER",)),
    Case("camera plate of an unlisted performer fed to a generator", dict(operation="generated_character",
                                                                         inputs=["00000000000000a1"]), D,
         ("SAG-INPUT-SHOWS-UNLISTED-PERFORMER",), shown=(("lead", "plate"),)),
    # ---- final pixels (The Eternaut)
    Case("building collapse in final footage", dict(operation="set_extension", deliverable="final", medium="final",
                                                    prompt="apartment block collapses in snow"), E,
         ("NFX-ESC-FINAL", "NFX-ESC-FINAL-VFX", "NFX-P4"), approvers=("producer", "vfx_supervisor", "legal"),
         duties=("written-approval", "c2pa+watermark")),
]


ROSTER = NameIndex(RosterEntry(p.id, p.name, (p.name,)) for p in PERFORMERS)


def _involvement(job, shown: tuple[tuple[str, str], ...]) -> Involvement:
    return Involvement(named=names_in_job(job.prompt, job.params, ROSTER),
                       shown={pid: (Sighting("00000000000000a1", kind, 0.2),) for pid, kind in shown},
                       display={p.id: p.name for p in PERFORMERS})


def test_denial_names_whom_to_list(engine) -> None:
    job = make_job(operation="concept_art", prompt="late legend", inputs=["00000000000000a1"])
    ctx = build_context(job, model=MODELS["studio-diffusion"], performers=PERFORMERS, consents=[], now=NOW,
                        involvement=_involvement(job, (("lead", "reference"),)))
    reasons = {r.rule_id: r.text for r in engine.decide(job, ctx).reasons}
    assert "Late Legend (legend): named in prompt" in reasons["SAG-PROMPT-NAMES-UNLISTED-PERFORMER"]
    assert "Lead Actor (lead): face in input 00000000000000a1 (reference" in reasons["SAG-INPUT-SHOWS-UNLISTED-PERFORMER"]
    assert "Lead Actor" not in reasons["SAG-PROMPT-NAMES-UNLISTED-PERFORMER"]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_scenario(engine, case: Case) -> None:
    job = make_job(**case.job)
    model = MODELS.get(job.model_id) if case.model == "use-job" else None
    ctx = build_context(job, model=model, performers=PERFORMERS, consents=case.consents, now=NOW,
                        production=case.production, involvement=_involvement(job, case.shown))
    decision = engine.decide(job, ctx)
    fired = set(decision.rule_ids)
    assert decision.outcome == case.outcome, (decision.outcome, decision.rule_ids)
    assert set(case.rules) <= fired, f"missing {set(case.rules) - fired}; fired {sorted(fired)}"
    assert not set(case.absent) & fired, f"should not fire: {set(case.absent) & fired}"
    if case.approvers is not None:
        assert set(decision.approver_roles) == set(case.approvers)
    assert set(case.duties) <= set(decision.duties)
    assert set(case.notify) <= set(decision.notify)
    # every non-proceed outcome is explained by at least one rule with that outcome
    assert any(r.outcome == decision.outcome for r in decision.reasons)


def test_suite_is_large_enough() -> None:
    assert len(CASES) >= 40
    assert len({c.name for c in CASES}) == len(CASES)


def test_denial_names_the_failing_consent(engine) -> None:
    job = make_job(**deage())
    ctx = build_context(job, model=MODELS["studio-diffusion"], performers=PERFORMERS, consents=[REVOKED], now=NOW)
    decision = engine.decide(job, ctx)
    revoked = [r for r in decision.reasons if r.rule_id == "SAG-CONSENT-REVOKED"]
    assert revoked and "c-revoked" in revoked[0].text and "lead" in revoked[0].text


def test_denial_has_no_approvers_or_duties(engine) -> None:
    job = make_job(**deage(deliverable="final", medium="final"))
    ctx = build_context(job, model=MODELS["studio-diffusion"], performers=PERFORMERS, consents=[], now=NOW)
    decision = engine.decide(job, ctx)
    assert decision.outcome == Outcome.DENY
    assert decision.approver_roles == () and decision.duties == ()


def test_decision_round_trips_as_json(engine) -> None:
    import json

    from soundstage.domain.safeguards import Decision

    job = make_job(**deage())
    ctx = build_context(job, model=MODELS["studio-diffusion"], performers=PERFORMERS, consents=[ALTERATION], now=NOW)
    decision = engine.decide(job, ctx)
    again = Decision.from_dict(json.loads(json.dumps(decision.to_dict())))
    assert again == decision
    assert decision.packs == ("soundstage-default@6",)


def test_model_card_for_another_model_is_ignored(engine) -> None:
    """A context carrying the wrong card must not lend its attestation to the job's model."""
    job = make_job(operation="ideation", model_id="scraped")
    ctx = build_context(job, model=MODELS["studio-diffusion"], performers=PERFORMERS, consents=[], now=NOW)
    assert "MODEL-UNREGISTERED" in engine.decide(job, ctx).rule_ids
