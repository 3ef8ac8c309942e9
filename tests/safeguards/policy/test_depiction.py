"""What a job depicts is data: the depiction fields are facts the default pack's rules read, and
prompt-word lists are only a backstop that escalates (issue 12).

The finding this file pins: "news-style segment generated with a real journalist's likeness as
background" came out PROCEED with no approval, because the journalist was not on the sample
name list and the words were not "news segment".
"""

from __future__ import annotations

import textwrap
from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from soundstage.domain.safeguards import Outcome
from soundstage.errors import SpecError
from soundstage.safeguards.policy import PolicyEngine, build_context, default_pack, load_pack

from .conftest import ALTERATION, MODELS, NOW, PERFORMERS, make_job

P, E, D = Outcome.PROCEED, Outcome.ESCALATE, Outcome.DENY
JOURNALIST_PROMPT = "news-style segment generated with a real journalist's likeness as background"
# the same shot described without a single word the backstop lists know
NEUTRAL_PROMPT = "studio desk at night, Dana Whitfield reading the evening bulletin behind the lead"
DEPICTION_RULES = {"DEPICT-REAL-PERSON", "DEPICT-REAL-PERSON-PERFORMER", "DEPICT-PUBLIC-FIGURE",
                   "DEPICT-REAL-EVENT", "DEPICT-NEWS-FORMAT"}


def decide(engine: PolicyEngine, consents=(), **job):
    spec = make_job(**job)
    ctx = build_context(spec, model=MODELS.get(spec.model_id), performers=PERFORMERS, consents=consents, now=NOW)
    return engine.decide(spec, ctx)


# ---------------------------------------------------------------- the journalist scenario

def test_journalist_scenario_without_the_fields_is_caught_by_the_backstop(engine) -> None:
    decision = decide(engine, operation="background_element", prompt=JOURNALIST_PROMPT)
    assert decision.outcome == E, decision.rule_ids
    assert {"NFX-ESC-REAL-EVENTS", "NFX-ESC-REAL-PERSON-PROMPT", "EUAI-50-4"} <= set(decision.rule_ids)
    assert {"legal", "rights_clearance"} <= set(decision.approver_roles)
    assert not DEPICTION_RULES & set(decision.rule_ids)  # nothing was stated: only words fired


def test_journalist_scenario_without_fields_or_known_words_is_why_the_fields_exist(engine) -> None:
    """A word list cannot know every journalist: with neither the fields nor a listed phrase the job
    proceeds. This is the gap the depiction fields close (next test)."""
    assert decide(engine, operation="background_element", prompt=NEUTRAL_PROMPT).outcome == P


@pytest.mark.parametrize("prompt", [NEUTRAL_PROMPT, JOURNALIST_PROMPT, ""])
def test_journalist_scenario_with_the_fields_escalates_whatever_the_words(engine, prompt: str) -> None:
    decision = decide(engine, operation="background_element", prompt=prompt,
                      depicts_real_person=True, news_format=True)
    fired = set(decision.rule_ids)
    assert decision.outcome == E
    assert {"DEPICT-REAL-PERSON", "DEPICT-NEWS-FORMAT", "EUAI-50-4", "EUAI-50-4-NEWS"} <= fired
    assert set(decision.approver_roles) >= {"legal", "rights_clearance", "producer"}
    assert {"written-approval", "credits notice", "on-screen disclosure"} <= set(decision.duties)


def test_journalist_on_file_as_a_performer_also_needs_their_representative(engine) -> None:
    decision = decide(engine, operation="background_element", prompt=NEUTRAL_PROMPT, performers=["journalist"],
                      depicts_real_person=True, news_format=True)
    assert decision.outcome == E
    assert "DEPICT-REAL-PERSON-PERFORMER" in decision.rule_ids
    assert set(decision.approver_roles) == {"producer", "rights_clearance", "legal", "performer_rep"}


# ---------------------------------------------------------------- each field's rule on its own

@pytest.mark.parametrize("fields, rules, approvers, deep_fake", [
    ({"depicts_real_person": True}, {"DEPICT-REAL-PERSON"}, {"legal", "rights_clearance"}, True),
    ({"depicts_public_figure": True}, {"DEPICT-PUBLIC-FIGURE", "DEPICT-REAL-PERSON"}, {"legal", "rights_clearance"},
     True),
    ({"depicts_real_event": True}, {"DEPICT-REAL-EVENT"}, {"producer", "legal"}, True),
    # a fictional bulletin with no real referent is not a deep fake (Art. 3(60)): no 50(4) duty
    ({"news_format": True}, {"DEPICT-NEWS-FORMAT"}, {"producer", "legal"}, False),
], ids=["real person", "public figure", "real event", "news format"])
def test_each_depiction_field_has_its_rule(engine, fields, rules, approvers, deep_fake) -> None:
    baseline = decide(engine, operation="concept_art", prompt="a quiet street")
    assert baseline.outcome == P
    decision = decide(engine, operation="concept_art", prompt="a quiet street", **fields)
    fired = set(decision.rule_ids)
    assert decision.outcome == E
    assert fired & DEPICTION_RULES == rules
    assert set(decision.approver_roles) == approvers
    assert "written-approval" in decision.duties
    assert ("EUAI-50-4" in fired) is deep_fake and ("credits notice" in decision.duties) is deep_fake
    assert "EUAI-50-4-NEWS" not in fired  # on-screen disclosure only for a news-format deep fake


def test_real_event_in_news_format_needs_on_screen_disclosure(engine) -> None:
    decision = decide(engine, operation="set_extension", depicts_real_event=True, news_format=True)
    assert {"DEPICT-REAL-EVENT", "DEPICT-NEWS-FORMAT", "EUAI-50-4-NEWS"} <= set(decision.rule_ids)
    assert "on-screen disclosure" in decision.duties


# ---------------------------------------------------------------- a real person through a likeness operation

def test_likeness_operation_on_a_real_person_without_consent_is_denied(engine) -> None:
    decision = decide(engine, operation="likeness_deage", performers=["lead"], alteration_amount=0.5,
                      depicts_real_person=True)
    assert decision.outcome == D and "SAG-CONSENT-REQUIRED" in decision.rule_ids
    assert "DEPICT-REAL-PERSON" not in decision.rule_ids  # the consent check decides, not clearance


def test_likeness_operation_on_a_real_person_nobody_named_is_denied(engine) -> None:
    decision = decide(engine, operation="likeness_replica", depicts_real_person=True, news_format=True)
    assert decision.outcome == D and "SAG-CONSENT-UNNAMED" in decision.rule_ids


def test_consented_likeness_operation_keeps_the_deep_fake_duty(engine) -> None:
    decision = decide(engine, consents=(ALTERATION,), operation="likeness_deage", performers=["lead"],
                      alteration_amount=0.5, depicts_real_person=True)
    assert decision.outcome == E
    assert "DEPICT-REAL-PERSON" not in decision.rule_ids and "EUAI-50-4" in decision.rule_ids


def test_consented_cosmetic_fix_stated_as_depicting_a_real_person_carries_the_duty(engine) -> None:
    """Before the fields, a cosmetic fix never carried 50(4); stated as depicting a real person it does."""
    job = dict(operation="likeness_cosmetic", performers=["lead"], alteration_amount=0.05, exception_claim="cosmetic")
    assert "EUAI-50-4" not in decide(engine, **job).rule_ids
    stated = decide(engine, depicts_real_person=True, **job)
    assert stated.outcome == P and "EUAI-50-4" in stated.rule_ids


# ---------------------------------------------------------------- prompt words alone can only escalate

def test_default_pack_rules_that_read_the_prompt_never_deny() -> None:
    prompt_rules = [r for r in default_pack().rules if "prompt" in r.reads]
    assert {r.id for r in prompt_rules} >= {"NFX-P1", "NFX-ESC-COPYRIGHT-PROMPT", "NFX-ESC-PUBLIC-FIGURE",
                                             "NFX-ESC-DECEASED-PROMPT", "NFX-ESC-REAL-EVENTS",
                                             "NFX-ESC-REAL-PERSON-PROMPT", "EUAI-50-4"}
    assert all(r.action.outcome != D for r in prompt_rules)
    depiction = {r.id: r for r in default_pack().rules if r.id.startswith("DEPICT-")}
    assert set(depiction) == DEPICTION_RULES
    assert all("prompt" not in r.reads for r in depiction.values())


PACK = textwrap.dedent("""\
    pack: studio
    version: 1
    lists: {banned: [ghost writer]}
    conditions:
      ghosts: {field: prompt, matches_list: banned}
      nested: {all: [{ref: ghosts}, {field: deliverable, eq: final}]}
    rules:
      - id: STUDIO-1
        text: test
        when: WHEN
        then: {outcome: deny}
""")


@pytest.mark.parametrize("when", [
    "{field: prompt, matches_list: banned}",
    "{ref: ghosts}",
    "{ref: nested}",
    "{not: {ref: ghosts}}",
    "{all: [{field: operation, eq: ideation}, {any: [{field: story_relevant, eq: true}, {ref: ghosts}]}]}",
], ids=["direct", "named condition", "nested named condition", "negated", "deep in a combination"])
def test_a_denying_rule_that_reads_the_prompt_is_refused_at_load(when: str) -> None:
    with pytest.raises(SpecError) as info:
        load_pack(PACK.replace("WHEN", when), "studio.yaml")
    assert info.value.line == 11 and info.value.field == "rules[STUDIO-1].then.outcome"
    assert "can only escalate" in info.value.message and "depicts_real_person" in info.value.one_line()
    # the same rule escalating is fine, and a denial on stated facts is fine
    assert load_pack(PACK.replace("WHEN", when).replace("outcome: deny", "outcome: escalate, approvers: [legal]"))
    assert load_pack(PACK.replace("WHEN", "{all: [{field: news_format, eq: true}, {field: depicts_real_person, "
                                          "eq: true}]}"))


PHRASES = ["", "a quiet street", "breaking news segment", "news-style bulletin", "a real journalist's likeness",
           "Anderson Cooper at the anchor desk", "a singer like Marilyn Monroe", "in the style of Studio Ghibli",
           "cctv footage of a robbery"]


@st.composite
def jobs(draw):
    operation = draw(st.sampled_from(["ideation", "concept_art", "background_element", "key_visual", "set_extension",
                                      "likeness_deage", "likeness_replica", "likeness_cosmetic"]))
    return make_job(
        operation=operation,
        model_id=draw(st.sampled_from(sorted(MODELS))),
        performers=tuple(draw(st.lists(st.sampled_from(["lead", "legend", "journalist"]), unique=True, max_size=2))),
        deliverable=draw(st.sampled_from(["temporary", "final"])),
        depicts_real_person=draw(st.booleans()), depicts_public_figure=draw(st.booleans()),
        depicts_real_event=draw(st.booleans()), news_format=draw(st.booleans()),
        story_relevant=draw(st.booleans()),
        exception_claim=draw(st.sampled_from([None, "cosmetic", "first_amendment"])),
    )


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(job=jobs(), prompt=st.sampled_from(PHRASES), consents=st.sampled_from([(), (ALTERATION,)]))
def test_prompt_words_alone_never_deny(engine, job, prompt: str, consents) -> None:
    """Adding words to a prompt may escalate a job, never turn it into a denial, and every rule
    the words add escalates or proceeds."""
    def run(spec):
        ctx = build_context(spec, model=MODELS[spec.model_id], performers=PERFORMERS, consents=consents, now=NOW)
        return engine.decide(spec, ctx)

    silent, worded = run(replace(job, prompt="")), run(replace(job, prompt=prompt))
    if worded.outcome == D:
        assert silent.outcome == D, f"words alone denied: {worded.rule_ids}"
        assert {r.rule_id for r in worded.reasons if r.outcome == "deny"} == \
            {r.rule_id for r in silent.reasons if r.outcome == "deny"}
    before = {(r.rule_id, r.outcome) for r in silent.reasons}
    assert all(outcome != "deny" for rule_id, outcome in {(r.rule_id, r.outcome) for r in worded.reasons} - before)
