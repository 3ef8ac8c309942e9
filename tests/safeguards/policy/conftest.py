"""Shared fixtures for the policy tests: a small production with performers, models and consents."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone
from typing import Any

import pytest

from soundstage.domain.safeguards import Consent, ConsentScope, JobSpec, ModelCard, Performer
from soundstage.safeguards.policy import PolicyEngine, default_pack

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=timezone.utc)
PROD = "prod-bunker"
OTHER_PROD = "prod-sequel"
SHA = "a" * 64

MODELS = {
    "studio-diffusion": ModelCard(id="studio-diffusion", name="Studio diffusion", version="1", licence="proprietary",
                                  training_data="owned", evidence="dataset manifest v3", runs_in_production_env=True,
                                  stores_inputs=False, trains_on_inputs=False),
    "saas-trains": ModelCard(id="saas-trains", name="Consumer SaaS", training_data="licensed", stores_inputs=True,
                             trains_on_inputs=True, runs_in_production_env=False),
    "saas-clean": ModelCard(id="saas-clean", name="Vendor API (no retention)", training_data="licensed",
                            runs_in_production_env=False, stores_inputs=False, trains_on_inputs=False),
    "scraped": ModelCard(id="scraped", name="Web-scraped model", training_data="unknown", runs_in_production_env=True,
                         stores_inputs=False, trains_on_inputs=False),
    "blender": ModelCard(id="blender", name="Blender", training_data="unknown", runs_in_production_env=True,
                         trained_model=False, stores_inputs=False, trains_on_inputs=False),
}

LEAD = Performer(id="lead", name="Lead Actor", union_status="sag-aftra", living=True, has_reference=True,
                 representatives=("agent-1",))
LEGEND = Performer(id="legend", name="Late Legend", union_status="sag-aftra", living=False,
                   consent_authority="estate", died_at=datetime(2019, 3, 1, tzinfo=timezone.utc))
JOURNALIST = Performer(id="journalist", name="Real Journalist", union_status="non-union")
PERFORMERS = [LEAD, LEGEND, JOURNALIST]

SPECIFIC = ("Re-age the character Jack to about twenty-five for the opening flashback, scenes 1 to 3, "
            "previz and final picture, this production only.")

ALTERATION = Consent(
    id="c-alter", performer_id="lead", production_id=PROD, kind="digital_alteration",
    scope=ConsentScope(operations=("likeness_deage", "performance_alteration", "likeness_cosmetic"),
                       max_alteration=0.8),
    description=SPECIFIC, valid_from=datetime(2025, 1, 1, tzinfo=timezone.utc),
    valid_until=datetime(2026, 1, 1, tzinfo=timezone.utc), signed_separately=True, representation="counsel",
    compensation_ref="deal-memo-7", document_sha256=SHA, granted_by="performer")

REPLICA = replace(ALTERATION, id="c-replica", kind="employment_based_replica",
                  scope=ConsentScope(operations=("likeness_replica", "voice_synthesis", "training"),
                                     scenes=("3",), max_alteration=1.0))

ESTATE = replace(REPLICA, id="c-estate", performer_id="legend", granted_by="estate",
                 scope=ConsentScope(operations=("likeness_replica", "voice_synthesis"), max_alteration=1.0))


def make_job(**overrides: Any) -> JobSpec:
    base: dict[str, Any] = dict(id="job-1", production_id=PROD, operation="ideation", requested_by="user-1",
                                model_id="studio-diffusion", prompt="", deliverable="temporary", medium="previz")
    base.update(overrides)
    return JobSpec(**base)


@pytest.fixture(scope="session")
def engine() -> PolicyEngine:
    return PolicyEngine([default_pack()])
