"""Domain nouns: what a model card means when it leaves something out."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from soundstage.domain.safeguards import JobSpec, ModelCard, Performer
from soundstage.errors import SpecError
from soundstage.safeguards.policy import PolicyEngine
from soundstage.safeguards.policy.engine import build_context

NOW = datetime(2026, 6, 1, tzinfo=timezone.utc)


def test_a_card_that_does_not_say_is_read_as_keeping_inputs():
    card = ModelCard(id="vendor.x", name="Vendor X", training_data="licensed")
    assert (card.stores_inputs, card.trains_on_inputs) == (True, True)
    loaded = ModelCard.from_dict({"id": "vendor.x", "name": "Vendor X", "stores_inputs": None})
    assert (loaded.stores_inputs, loaded.trains_on_inputs) == (True, True)
    stated = ModelCard.from_dict({"id": "local", "name": "Local", "stores_inputs": False, "trains_on_inputs": False})
    assert (stated.stores_inputs, stated.trains_on_inputs) == (False, False)
    assert ModelCard.from_dict(stated.to_dict()) == stated


@pytest.mark.parametrize("field", ["stores_inputs", "trains_on_inputs"])
def test_a_card_field_that_is_not_a_boolean_is_refused(field):
    with pytest.raises(SpecError, match=field):
        ModelCard.from_dict({"id": "vendor.x", "name": "Vendor X", field: "no"})


def test_the_policy_treats_an_unstated_card_as_the_unsafe_case():
    engine = PolicyEngine.default()
    performer = Performer(id="lead", name="Lead Actor", union_status="sag-aftra")
    job = JobSpec(id="job-1", production_id="prod", operation="likeness_cosmetic", requested_by="user-1",
                  model_id="vendor.x", performers=("lead",), alteration_amount=0.1, deliverable="temporary",
                  medium="previz")
    silent = ModelCard(id="vendor.x", name="Vendor X", training_data="licensed", runs_in_production_env=True)
    decision = engine.decide(job, build_context(job, model=silent, performers=[performer], consents=[], now=NOW))
    assert "NFX-P2-LIKENESS" in decision.rule_ids
    clean = ModelCard(id="vendor.x", name="Vendor X", training_data="licensed", runs_in_production_env=True,
                      stores_inputs=False, trains_on_inputs=False)
    decision = engine.decide(job, build_context(job, model=clean, performers=[performer], consents=[], now=NOW))
    assert not {"NFX-P2", "NFX-P2-LIKENESS"} & set(decision.rule_ids)
