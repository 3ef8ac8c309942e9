"""The policy engine: job spec + resolved context -> Decision (proceed / escalate / deny).

Pure: no database, no clock, no I/O. The caller (the guard) resolves the model card, the
performers and their consent checks and passes them in a DecisionContext, so the same inputs
always give the same decision and a decision can be replayed from the audit log.

How packs combine: every rule of every pack is evaluated; the most severe outcome of the rules
that fired wins (deny > escalate > proceed). Approver roles, notifications and duties are
unioned. A pack can therefore only tighten what another allows, never loosen it - a studio
pack cannot switch off a consent rule of the default pack. Rule ids must be unique across the
packs of one engine so a refusal names exactly one rule.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Iterable, Mapping, Sequence

from soundstage.domain.safeguards import (
    Consent,
    ConsentCheck,
    Decision,
    JobSpec,
    ModelCard,
    Outcome,
    Performer,
    Reason,
    Role,
)
from soundstage.errors import SpecError
from soundstage.safeguards.consent_rules import covering_consent
from soundstage.safeguards.involvement import Involvement
from soundstage.safeguards.policy.loader import Pack, default_pack

__all__ = ["DecisionContext", "PolicyEngine", "build_context", "facts_for"]

_ROLE_ORDER = {role: i for i, role in enumerate(Role)}
_SEVERITY = {Outcome.PROCEED: 0, Outcome.ESCALATE: 1, Outcome.DENY: 2}
#: the asset kind of camera footage as ingested; a face in a plate is a performance as filmed
PLATE_KIND = "plate"
#: the involvement facts (DR019); a reason whose rule reads one names who is involved
_INVOLVEMENT_FIELDS = ("performers.named_unlisted", "performers.shown_unlisted", "performers.plate_shows_unlisted")


@dataclass(frozen=True)
class DecisionContext:
    """Everything a decision depends on besides the job itself, already resolved."""

    model: ModelCard | None
    performers: Mapping[str, Performer]
    consent_checks: Mapping[str, ConsentCheck]
    now: datetime
    production: Mapping[str, Any] = field(default_factory=dict)  # e.g. {"enterprise_environment": True}
    # registered performers the job involves whether or not it lists them: named in its free text,
    # shown in its inputs (computed by resolve.decide from the ledger and the stored bytes, DR019)
    involvement: Involvement = field(default_factory=Involvement)


def build_context(job: JobSpec, *, model: ModelCard | None, performers: Iterable[Performer],
                  consents: Iterable[Consent], now: datetime,
                  production: Mapping[str, Any] | None = None,
                  involvement: Involvement | None = None) -> DecisionContext:
    """Resolve the context for `job`: consent checks for every performer named on it."""
    by_id = {p.id: p for p in performers}
    consent_list = list(consents)
    checks = {pid: covering_consent(job, by_id[pid], consent_list, now) for pid in job.performers if pid in by_id}
    return DecisionContext(model=model, performers=by_id, consent_checks=checks, now=now,
                           production=dict(production or {}), involvement=involvement or Involvement())


def facts_for(job: JobSpec, context: DecisionContext) -> dict[str, Any]:
    """Flatten job + context into the field names the pack language knows (loader.FIELDS).

    Unknown things are read pessimistically: an unregistered model is assumed to store and
    train on inputs with unknown training data; an unresolved performer is not covered.
    """
    model = context.model
    if model is not None and model.id != job.model_id:
        model = None  # the card must be for the model the job names
    performers = context.performers
    checks = context.consent_checks
    named = job.performers
    resolved = [performers[p] for p in named if p in performers]
    unknown = len(resolved) != len(named)
    covered = not unknown
    required = False
    failures: set[str] = set()
    exceptions: set[str] = set()
    for pid in named:
        check = checks.get(pid)
        if check is None:
            covered = False
            required = True
            failures.add("SAG-CONSENT-UNKNOWN-PERFORMER" if pid not in performers else "SAG-CONSENT-MISSING")
            continue
        required = required or check.required
        if check.exception:
            exceptions.add(check.exception)
        if not check.covered:
            covered = False
            failures.update(check.failures)
    facts: dict[str, Any] = {
        "operation": job.operation,
        "deliverable": job.deliverable,
        "medium": job.medium,
        "exception_claim": job.exception_claim,
        "story_relevant": job.story_relevant,
        "uses_proprietary_material": job.uses_proprietary_material,
        "uses_personal_data": job.uses_personal_data,
        "synthetic_replaces_performer": job.synthetic_replaces_performer,
        # what the output depicts, as the requester states it: the facts the depiction rules read
        # (prompt words are only a backstop that escalates)
        "depicts_real_person": job.depicts_real_person,
        "depicts_public_figure": job.depicts_public_figure,
        "depicts_real_event": job.depicts_real_event,
        "news_format": job.news_format,
        "alteration_amount": job.alteration_amount,
        "prompt": job.prompt,
        "territory": job.territory,
        "scene": job.scene,
        "shot": job.shot,
        "requested_by": job.requested_by,
        "production_id": job.production_id,
        "model_id": job.model_id,
        "performers.count": len(named),
        "performers.any_deceased": any(not p.living for p in resolved),
        "performers.any_union": any(p.union_status != "non-union" for p in resolved),
        "performers.any_without_reference": any(not p.has_reference for p in resolved),
        "performers.unknown": unknown,
        "model.known": model is not None,
        "model.training_data": model.training_data if model else "unknown",
        "model.stores_inputs": model.stores_inputs if model else True,
        "model.trains_on_inputs": model.trains_on_inputs if model else True,
        "model.runs_in_production_env": model.runs_in_production_env if model else False,
        "model.trained_model": model.trained_model if model else True,
        "model.licence": model.licence if model else "",
        "consent.required": required,
        "consent.covered": covered,
        "consent.failures": frozenset(failures),
        "consent.exceptions": frozenset(exceptions),
    }
    # DR019: performers the job involves but does not list (so no consent of theirs was checked)
    involved = context.involvement
    shown = involved.shown_unlisted(named)
    facts["performers.named_unlisted"] = bool(involved.named_unlisted(named))
    facts["performers.shown_unlisted"] = any(s.input_kind != PLATE_KIND for seen in shown.values() for s in seen)
    facts["performers.plate_shows_unlisted"] = any(s.input_kind == PLATE_KIND for seen in shown.values()
                                                   for s in seen)
    for key, value in context.production.items():
        facts["production." + key] = value
    return facts


class PolicyEngine:
    """Evaluates one or more compiled packs; see the module docstring for how they combine."""

    def __init__(self, packs: Sequence[Pack]) -> None:
        if not packs:
            raise SpecError("a policy engine needs at least one pack", field="packs")
        seen: dict[str, str] = {}
        for pack in packs:
            for rule in pack.rules:
                if rule.id in seen:
                    raise SpecError(f"rule id {rule.id!r} is defined by both {seen[rule.id]} and {pack.label}",
                                    field="id", line=rule.line, source=pack.source,
                                    hint="give the stricter rule its own id; packs add rules, never replace them")
                seen[rule.id] = pack.label
        self.packs = tuple(packs)
        self._labels = tuple(p.label for p in packs)
        self._conditions = tuple(c for p in packs for c in p.conditions)
        self._rules = tuple(r for p in packs for r in p.rules)

    @classmethod
    def default(cls, extra_packs: Sequence[Pack] = ()) -> PolicyEngine:
        """The built-in pack plus any production/studio packs."""
        return cls([default_pack(), *extra_packs])

    def decide(self, job: JobSpec, context: DecisionContext) -> Decision:
        facts = facts_for(job, context)
        for key, predicate in self._conditions:
            facts[key] = predicate(facts)
        fired = [rule for rule in self._rules if rule.predicate(facts)]
        if not fired:
            return Decision(Outcome.PROCEED, packs=self._labels)
        outcome = max((r.action.outcome for r in fired), key=_SEVERITY.__getitem__)
        details = _consent_details(job, context) if facts["consent.failures"] else {}
        involved = _involvement_details(job, context, facts)
        reasons = []
        roles: set[Role] = set()
        notify: dict[str, None] = {}
        duties: dict[str, None] = {}
        for rule in fired:
            text = rule.text
            if rule.id in details:
                text = f"{text} [{'; '.join(details[rule.id])}]"
            about = [line for name in _INVOLVEMENT_FIELDS if name in rule.reads for line in involved.get(name, ())]
            if about:
                text = f"{text} [{'; '.join(dict.fromkeys(about))}]"
            reasons.append(Reason(rule.id, text, str(rule.action.outcome)))
            roles.update(rule.action.approvers)
            for target in rule.action.notify:
                notify.setdefault(target)
            for duty in rule.action.duties:
                duties.setdefault(duty)
        ordered = tuple(sorted(roles, key=_ROLE_ORDER.__getitem__))
        if outcome is Outcome.DENY:
            # nobody can approve a denial; what the other rules asked for is held for an override
            return Decision(outcome, tuple(reasons), (), tuple(notify), (), self._labels,
                            held_roles=ordered, held_duties=tuple(duties))
        if outcome is not Outcome.ESCALATE:
            ordered = ()  # a proceed needs nobody
        return Decision(outcome, tuple(reasons), ordered, tuple(notify), tuple(duties), self._labels)


def _consent_details(job: JobSpec, context: DecisionContext) -> dict[str, list[str]]:
    """Rule id -> 'performer: consent c1: why' strings, so a denial says which consent failed."""
    out: dict[str, list[str]] = {}
    for pid in job.performers:
        check = context.consent_checks.get(pid)
        if check is None or check.covered:
            continue
        for reason in check.reasons:
            out.setdefault(reason.rule_id, []).append(f"{pid}: {reason.text}")
    return out


def _involvement_details(job: JobSpec, context: DecisionContext, facts: Mapping[str, Any]) -> dict[str, list[str]]:
    """Involvement fact -> 'Ana Ruiz (p-1): named in prompt' strings, so a denial says whom to list."""
    if not any(facts[name] for name in _INVOLVEMENT_FIELDS):
        return {}
    involved = context.involvement
    out: dict[str, list[str]] = {}
    for pid, where in sorted(involved.named_unlisted(job.performers).items()):
        out.setdefault("performers.named_unlisted", []).append(
            f"{involved.label(pid)}: named in {', '.join(where)}")
    for pid, seen in sorted(involved.shown_unlisted(job.performers).items()):
        for s in seen:
            key = "performers.plate_shows_unlisted" if s.input_kind == PLATE_KIND else "performers.shown_unlisted"
            out.setdefault(key, []).append(
                f"{involved.label(pid)}: face in input {s.input_ref} ({s.input_kind}, distance {s.distance:.2f})")
    return out
