"""Red team, property: what the policy decided on is exactly what the backend ran (DR006).

For generated valid job specs - operations of several kinds, the procedural card generator's
declared parameters within their bounds, random scene / shot / prompt / flags, performers from the
production (Maya has a consent and an enrolled reference face, Noah has neither), inputs from its
ledger - submitted through the real API and, when escalated, approved by every required role:

* every JobSpec the policy engine was asked about for the job is one and the same spec, the one
  submitted (and the one in the ``job.submitted`` audit event);
* when the job ran, the backend received that very spec, the validated parameters (declared
  defaults filled in, nothing else), the seed among them, the inputs the spec names (in order), and
  reference faces only for performers the decision found covered by a consent;
* when it did not run (denied, rejected), the backend was never called and no asset names the job.

The policy engine is observed by wrapping ``safeguards.resolve.policy_engine``; the backend by
wrapping the procedural generator's ``generate``. Both still do their real work.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from redteam import CARD_MODEL, approver_for, auth, run_queue

pytestmark = pytest.mark.slow

OPERATIONS = ("ideation", "concept_art", "storyboard", "background_element", "key_visual", "likeness_cosmetic",
              "likeness_deage", "generated_character")
LABEL = st.none() | st.sampled_from(["5", "5A", "12", "7B"]) | st.text("0123456789ABC", min_size=1, max_size=6)
TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=300)


@st.composite
def job_bodies(draw) -> dict:
    params = draw(st.fixed_dictionaries({}, optional={
        # the card's declared bounds (64..4096); heights are kept small so a wide card stays fast
        "width": st.integers(64, 4096),
        "height": st.integers(64, 256),
        "seed": st.integers(0, 2**32 - 1),
    }))
    body = {
        "operation": draw(st.sampled_from(OPERATIONS)),
        "model_id": CARD_MODEL,
        "prompt": draw(TEXT),
        "scene": draw(LABEL),
        "shot": draw(LABEL),
        "performers": draw(st.lists(st.sampled_from(["maya", "noah"]), unique=True, max_size=2)),
        "inputs": draw(st.lists(st.sampled_from(["plate", "mask"]), unique=True, max_size=2)),
        "alteration_amount": draw(st.sampled_from([0.0, 0.3, 0.5]) | st.floats(0.0, 1.0)),
        "deliverable": draw(st.sampled_from(["temporary", "final"])),
        "medium": draw(st.sampled_from(["previz", "final"])),
        "story_relevant": draw(st.booleans()),
        "depicts_real_person": draw(st.booleans()),
        "params": params,
    }
    # sometimes leave optional fields out entirely (the server's defaults apply)
    for name in draw(st.sets(st.sampled_from(["scene", "shot", "prompt", "params", "deliverable", "medium"]))):
        body.pop(name)
    return body


@pytest.fixture
def observed(monkeypatch):
    """Record every (JobSpec, context) the policy engine decides on and every GenerationRequest the
    procedural backend receives."""
    from soundstage.generate.backends.procedural import ProceduralCardGenerator
    from soundstage.safeguards import resolve

    seen = {"policy": [], "backend": []}
    real_engine = resolve.policy_engine
    real_generate = ProceduralCardGenerator.generate

    class RecordingEngine:
        def __init__(self, engine):
            self.engine = engine

        def decide(self, job, ctx):
            decision = self.engine.decide(job, ctx)
            seen["policy"].append((job, ctx, decision))
            return decision

        def __getattr__(self, name):  # everything else (the packs the guard reads lists from) is the engine's
            return getattr(self.engine, name)

    def generate(self, request):
        seen["backend"].append(request)
        return real_generate(self, request)

    monkeypatch.setattr(resolve, "policy_engine", lambda ws: RecordingEngine(real_engine(ws)))
    monkeypatch.setattr(ProceduralCardGenerator, "generate", generate)
    return seen


def concrete(prod: dict, body: dict) -> dict:
    ids = {"maya": prod["maya"]["id"], "noah": prod["noah"]["id"],
           "plate": prod["plate"]["id"], "mask": prod["mask"]["id"]}
    out = dict(body)
    out["performers"] = [ids[p] for p in body["performers"]]
    out["inputs"] = [ids[i] for i in body["inputs"]]
    return out


def approve_until_settled(api, prod, result: dict) -> dict:
    """Every missing role approves (each by a person holding it who did not request the job)."""
    for _ in range(8):
        if result["status"] != "escalated":
            return result
        key = result["missing_roles"][0]
        response = api.post(f"/api/jobs/{result['job']}/decision", headers=auth(prod, approver_for(prod, key)),
                            json={"role": key.split(":", 1)[0], "verdict": "approve", "note": "ok"})
        assert response.status_code == 200, response.text
        result = response.json()
    raise AssertionError(f"job {result['job']} never settled: {result}")


def submitted_event_spec(ws, job_id: str) -> dict:
    from sqlalchemy import select

    from soundstage.store.models import AuditEvent

    with ws.unit_of_work() as s:
        event = s.scalars(select(AuditEvent).where(AuditEvent.subject == job_id,
                                                   AuditEvent.action == "job.submitted")).one()
        return json.loads(event.payload)["spec"]


def assets_of(ws, job_id: str) -> int:
    from sqlalchemy import func, select

    from soundstage.store.models import Asset

    with ws.unit_of_work() as s:
        return int(s.scalar(select(func.count()).select_from(Asset).where(Asset.job_id == job_id)))


@settings(max_examples=25, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(body=job_bodies())
def test_what_the_policy_decided_on_is_what_the_backend_ran(prod, api, observed, body):
    from soundstage.domain.params import validate
    from soundstage.generate.backends.procedural import ProceduralCardGenerator
    from soundstage.generate.registry import operation_params
    from soundstage.safeguards.guard import parse_asset_id

    ws = prod["ws"]
    observed["policy"].clear()
    observed["backend"].clear()
    request = concrete(prod, body)
    response = api.post("/api/jobs", headers=auth(prod, "vfx2"), json=request)
    assert response.status_code == 202, (request, response.text)
    first = response.json()
    result = approve_until_settled(api, prod, first)
    job_id = result["job"]
    if result["status"] == "queued":  # the API queues it; a worker runs it
        run_queue(ws)
        result = api.get(f"/api/jobs/{job_id}", headers=auth(prod, "vfx2")).json()
    event(f"{first['status']} -> {result['status']}")

    decided = [(job, ctx, decision) for job, ctx, decision in observed["policy"] if job.id == job_id]
    ran = [r for r in observed["backend"] if r.job.id == job_id]
    assert decided, "the policy engine never saw the job"
    spec = decided[0][0]
    # one spec, from submission to the last decision: the one submitted and audited
    assert all(job == spec for job, _, _ in decided)
    assert spec.to_dict() == submitted_event_spec(ws, job_id)
    assert spec.operation.value == request["operation"]
    assert spec.performers == tuple(request["performers"]) and spec.inputs == tuple(request["inputs"])
    assert spec.params == request.get("params", {})
    assert spec.prompt == request.get("prompt", "") and spec.scene == request.get("scene")
    assert spec.requested_by == "Vera Lind" and spec.model_id == CARD_MODEL

    if result["status"] != "done":
        assert result["status"] in ("denied", "rejected"), result
        assert ran == [] and assets_of(ws, job_id) == 0
        return
    (req,) = ran  # it ran once
    assert req.job == spec  # operation, performers, inputs, params, prompt, flags: all of it
    declared = operation_params(ProceduralCardGenerator(), spec.operation.value)
    expected = validate(request.get("params", {}), declared)
    assert dict(req.params) == expected and set(req.params) == {p.name for p in declared}
    assert req.seed == expected["seed"]
    assert [i.asset_id for i in req.inputs] == [parse_asset_id(ref) for ref in spec.inputs]
    # reference faces: only for performers the (last) decision found covered, and only enrolled ones
    _, ctx, _ = decided[-1]
    covered = {pid for pid, check in ctx.consent_checks.items() if check.covered}
    assert set(req.performer_references) <= covered & set(spec.performers)
    assert set(req.performer_references) <= {prod["maya"]["id"]}
    assert req.cluster is None  # the production's setting (none configured), never the job's
    assert assets_of(ws, job_id) == 1
