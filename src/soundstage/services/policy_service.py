"""The policy's decision on a job spec without running it (``policy check``)."""

from __future__ import annotations

from soundstage.domain.safeguards import JobSpec
from soundstage.generate.registry import BUILTIN_MODELS
from soundstage.safeguards.guard import validated_params
from soundstage.safeguards.resolve import backend_of, decide
from soundstage.services.workspace import Workspace


def check_job(ws: Workspace, job: JobSpec) -> dict:
    """The decision on a spec without running it (its parameters are checked as a submission's)."""
    with ws.reading() as s:
        decision, ctx = decide(s, ws, job)
        if ctx.model is not None and (backend_of(s, job.model_id)[0] or job.model_id in BUILTIN_MODELS):
            validated_params(s, job)  # a model with no backend can be decided on, not run
        return {"job": job.id, "decision": decision.to_dict(),
                "consent_checks": {k: v.to_dict() for k, v in ctx.consent_checks.items()},
                "model_registered": ctx.model is not None}
