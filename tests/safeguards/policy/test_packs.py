"""Packs are data: malformed ones are refused with the line and field; studio packs tighten."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from soundstage.domain.safeguards import Outcome, load_job_spec
from soundstage.errors import SpecError, UnsafeInputError
from soundstage.safeguards.consent_rules import FAILURE_RULE_IDS
from soundstage.safeguards.policy import PolicyEngine, build_context, default_pack, load_pack, load_pack_file

from .conftest import MODELS, NOW, PERFORMERS, make_job

GOOD = """\
pack: studio-x
version: 2
lists:
  banned: [ghost writer]
conditions:
  voice: {field: operation, eq: voice_synthesis}
rules:
  - id: STUDIO-1
    text: No synthetic voices at this studio.
    source: https://example.invalid/studio-policy
    when: {ref: voice}
    then: {outcome: deny}
"""


def pack_error(text: str) -> SpecError:
    with pytest.raises(SpecError) as info:
        load_pack(textwrap.dedent(text), "studio.yaml")
    return info.value


def test_good_pack_loads() -> None:
    pack = load_pack(GOOD, "studio.yaml")
    assert pack.label == "studio-x@2"
    assert [r.id for r in pack.rules] == ["STUDIO-1"]


@pytest.mark.parametrize("broken, line, field", [
    # YAML syntax error: unclosed flow mapping
    (GOOD.replace("then: {outcome: deny}", "then: {outcome: deny"), 13, None),
    # unknown top-level field
    (GOOD.replace("version: 2", "version: 2\nowner: me"), 3, "owner"),
    # unknown rule field
    (GOOD.replace("    source:", "    severity: high\n    source:"), 10, "rules[0].severity"),
    # bad outcome
    (GOOD.replace("outcome: deny", "outcome: maybe"), 12, "rules[STUDIO-1].then.outcome"),
    # missing id
    (GOOD.replace("  - id: STUDIO-1\n    text:", "  - text:"), 8, "rules[0].id"),
    # unknown operator in a field test
    (GOOD.replace("{field: operation, eq: voice_synthesis}", "{field: operation, like: voice}"), 6,
     "conditions.voice.like"),
    # unknown combinator
    (GOOD.replace("when: {ref: voice}", "when: {xor: [{ref: voice}]}"), 11, "rules[STUDIO-1].when.xor"),
    # unknown field name
    (GOOD.replace("field: operation", "field: opperation"), 6, "conditions.voice.field"),
    # enum value that does not exist
    (GOOD.replace("eq: voice_synthesis", "eq: voice_synth"), 6, "conditions.voice.eq"),
    # list that is not defined
    (GOOD.replace("when: {ref: voice}", "when: {field: prompt, matches_list: nope}"), 11,
     "rules[STUDIO-1].when.matches_list"),
    # condition referenced before definition
    (GOOD.replace("when: {ref: voice}", "when: {ref: hearing}"), 11, "rules[STUDIO-1].when.ref"),
    # unknown approver role
    (GOOD.replace("then: {outcome: deny}", "then: {outcome: escalate, approvers: [janitor]}"), 12,
     "rules[STUDIO-1].then.approvers"),
    # number comparison on a text field
    (GOOD.replace("{field: operation, eq: voice_synthesis}", "{field: prompt, gt: 3}"), 6, "conditions.voice.gt"),
    # version must be an integer
    (GOOD.replace("version: 2", "version: two"), 2, "version"),
    # duplicate key in a mapping
    (GOOD.replace("version: 2", "version: 2\nversion: 3"), 3, "version"),
])
def test_malformed_packs_name_line_and_field(broken: str, line: int, field: str | None) -> None:
    error = pack_error(broken)
    assert error.line == line, error.one_line()
    assert error.field == field, error.one_line()
    assert "studio.yaml" in error.one_line()


def test_duplicate_rule_id_names_second_occurrence() -> None:
    dup = GOOD + "  - id: STUDIO-1\n    text: again\n    when: {always: true}\n    then: {outcome: proceed}\n"
    error = pack_error(dup)
    assert error.line == 13 and error.field == "rules[1].id"
    assert "duplicate" in error.message


def test_aliases_are_refused() -> None:
    error = pack_error(GOOD.replace("  banned: [ghost writer]", "  banned: &b [ghost writer]\n  again: *b"))
    assert "alias" in error.message


def test_oversized_pack_is_refused() -> None:
    with pytest.raises(UnsafeInputError):
        load_pack("pack: x\n" + "#" * 1_100_000)


def test_rule_id_clash_between_packs_is_refused() -> None:
    clash = load_pack(GOOD.replace("STUDIO-1", "SAG-CONSENT-REQUIRED"), "studio.yaml")
    with pytest.raises(SpecError) as info:
        PolicyEngine([default_pack(), clash])
    assert "SAG-CONSENT-REQUIRED" in info.value.message


def test_studio_pack_tightens_the_outcome() -> None:
    job = make_job(operation="ideation", prompt="a ghost writer at work")
    ctx = build_context(job, model=MODELS["studio-diffusion"], performers=PERFORMERS, consents=[], now=NOW)
    assert PolicyEngine.default().decide(job, ctx).outcome == Outcome.PROCEED
    stricter = load_pack(textwrap.dedent("""\
        pack: studio-x
        version: 1
        lists: {banned: [ghost writer]}
        rules:
          - id: STUDIO-NO-GHOSTS
            text: Ghost writers are a sensitive subject at this studio.
            when: {field: prompt, matches_list: banned}
            then: {outcome: escalate, approvers: [producer, legal]}
    """))
    decision = PolicyEngine.default([stricter]).decide(job, ctx)
    assert decision.outcome == Outcome.ESCALATE
    assert "STUDIO-NO-GHOSTS" in decision.rule_ids
    assert set(decision.approver_roles) == {"producer", "legal"}
    assert decision.packs == ("soundstage-default@6", "studio-x@1")


def test_studio_pack_cannot_loosen_a_denial() -> None:
    """A pack that says 'proceed' for likeness work does not beat the default's consent denial."""
    lenient = load_pack(textwrap.dedent("""\
        pack: lenient
        version: 1
        rules:
          - id: LENIENT-1
            text: Everything is fine.
            when: {always: true}
            then: {outcome: proceed}
    """))
    job = make_job(operation="likeness_deage", performers=["lead"], alteration_amount=0.4)
    ctx = build_context(job, model=MODELS["studio-diffusion"], performers=PERFORMERS, consents=[], now=NOW)
    assert PolicyEngine.default([lenient]).decide(job, ctx).outcome == Outcome.DENY


def test_default_pack_has_a_rule_for_every_consent_failure() -> None:
    ids = {r.id for r in default_pack().rules}
    assert set(FAILURE_RULE_IDS) <= ids
    assert "SAG-CONSENT-UNKNOWN-PERFORMER" in ids


def test_default_pack_rules_have_text_and_source() -> None:
    pack = default_pack()
    assert pack.name == "soundstage-default" and pack.version == 6
    for rule in pack.rules:
        assert rule.text and rule.source.startswith("https://"), rule.id


def test_pack_file_loader(tmp_path: Path) -> None:
    path = tmp_path / "studio.yaml"
    path.write_text(GOOD.replace("outcome: deny", "outcome: nope"), encoding="utf-8")
    with pytest.raises(SpecError) as info:
        load_pack_file(path)
    assert info.value.source == str(path) and info.value.line == 12
    with pytest.raises(SpecError):
        load_pack_file(tmp_path / "missing.yaml")


# ---------------------------------------------------------------- job specs

JOB = """\
id: job-7
production_id: prod-bunker
operation: likeness_deage
requested_by: user-1
model_id: studio-diffusion
performers: [lead]
scene: 3
alteration_amount: 0.4
deliverable: final
medium: final
"""


def test_job_spec_loads() -> None:
    job = load_job_spec(JOB, "job.yaml")
    assert job.operation == "likeness_deage" and job.scene == "3" and job.performers == ("lead",)


@pytest.mark.parametrize("broken, line, field", [
    (JOB.replace("operation: likeness_deage", "operation: likeness_dage"), 3, "operation"),
    (JOB.replace("alteration_amount: 0.4", "alteration_amount: 1.5"), 8, "alteration_amount"),
    (JOB.replace("alteration_amount: 0.4", "alteration_amount: lots"), 8, "alteration_amount"),
    (JOB.replace("deliverable: final", "deliverable: forever"), 9, "deliverable"),
    (JOB.replace("medium: final", "medium: final\ncolour: blue"), 11, "colour"),
    (JOB.replace("performers: [lead]", "performers: lead"), 6, "performers"),
    (JOB.replace("scene: 3", "scene: [3]"), 7, "scene"),
    (JOB + "story_relevant: maybe\n", 11, "story_relevant"),
    (JOB.replace("model_id: studio-diffusion", "model_id: [oops"), 6, None),
])
def test_job_spec_errors_name_line_and_field(broken: str, line: int, field: str | None) -> None:
    with pytest.raises(SpecError) as info:
        load_job_spec(broken, "job.yaml")
    assert info.value.line == line, info.value.one_line()
    assert info.value.field == field, info.value.one_line()


def test_job_spec_missing_required_field() -> None:
    with pytest.raises(SpecError) as info:
        load_job_spec(JOB.replace("model_id: studio-diffusion\n", ""), "job.yaml")
    assert info.value.field == "model_id"


def test_job_spec_round_trip() -> None:
    from soundstage.domain.safeguards import JobSpec

    job = load_job_spec(JOB)
    assert JobSpec.from_dict(job.to_dict()) == job
