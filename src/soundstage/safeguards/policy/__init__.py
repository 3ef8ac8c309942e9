"""Policy engine: packs of declarative rules (data) evaluated against a job spec."""

from soundstage.safeguards.policy.engine import DecisionContext, PolicyEngine, build_context, facts_for
from soundstage.safeguards.policy.loader import FIELDS, Pack, Rule, default_pack, load_pack, load_pack_file

__all__ = ["DecisionContext", "PolicyEngine", "build_context", "facts_for", "FIELDS", "Pack", "Rule",
           "default_pack", "load_pack", "load_pack_file"]
