"""Policy packs as data: read, validate and compile them to closures.

A pack is YAML (see packs/default.yaml and docs/guides/write-a-policy-pack.md):

    pack: studio-x            # name
    version: 3                # integer, bump on every change (recorded in each decision)
    lists:      {name: [phrases or values]}
    conditions: {name: <condition>}      # reusable, referenced with {ref: name}
    rules:
      - id: STUDIO-1
        text: what the rule encodes, in words
        source: https://...   # where the rule comes from
        when: <condition>
        then: {outcome: proceed|escalate|deny, approvers: [roles], notify: [...], duty: ...}

A condition is one of
    {all: [c, ...]}  {any: [c, ...]}  {not: c}  {ref: name}  {always: true}
    {field: NAME, OP: VALUE}   with OP in eq ne in not_in gt ge lt le contains contains_any
                               in_list matches_list
There is no expression evaluation of any kind: the language is a closed set of operators,
checked at load time (unknown field, operator, list, role or enum value -> SpecError with the
line), then compiled to nested Python closures so a decision costs a few dict lookups.

Prompt words are a backstop, never a fact: a rule whose condition reads ``prompt`` (directly or
through a named condition) may proceed or escalate but never deny. What a job depicts is stated
in its fields (``depicts_real_person``, ``depicts_public_figure``, ``depicts_real_event``,
``news_format``); a denial must rest on those, on consent or on the registry.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Callable, Mapping

from soundstage.domain.safeguards import (
    DELIVERABLES,
    EXCEPTION_CLAIMS,
    MEDIA,
    TRAINING_DATA,
    LocatedDict,
    LocatedList,
    OperationKind,
    Outcome,
    Role,
    compose_located,
)
from soundstage.errors import SpecError

__all__ = ["Pack", "Rule", "RuleAction", "FIELDS", "load_pack", "load_pack_file", "default_pack",
           "DEFAULT_PACK_NAME"]

Facts = dict[str, Any]
Predicate = Callable[[Facts], bool]

DEFAULT_PACK_NAME = "default.yaml"

# Field name -> (kind, allowed values or None). Kinds: enum, bool, number, text, set.
_OPS = tuple(str(o) for o in OperationKind)
FIELDS: dict[str, tuple[str, tuple[str, ...] | None]] = {
    "operation": ("enum", _OPS),
    "deliverable": ("enum", DELIVERABLES),
    "medium": ("enum", MEDIA),
    "exception_claim": ("enum", EXCEPTION_CLAIMS),
    "story_relevant": ("bool", None),
    "uses_proprietary_material": ("bool", None),
    "uses_personal_data": ("bool", None),
    "synthetic_replaces_performer": ("bool", None),
    "depicts_real_person": ("bool", None),
    "depicts_public_figure": ("bool", None),
    "depicts_real_event": ("bool", None),
    "news_format": ("bool", None),
    "alteration_amount": ("number", None),
    "prompt": ("text", None),
    "territory": ("text", None),
    "scene": ("text", None),
    "shot": ("text", None),
    "requested_by": ("text", None),
    "production_id": ("text", None),
    "model_id": ("text", None),
    "performers.count": ("number", None),
    "performers.any_deceased": ("bool", None),
    "performers.any_union": ("bool", None),
    "performers.any_without_reference": ("bool", None),
    "performers.unknown": ("bool", None),
    # DR019: a registered performer the job does not list is named in its free text / shown in an input
    "performers.named_unlisted": ("bool", None),
    "performers.shown_unlisted": ("bool", None),
    "performers.plate_shows_unlisted": ("bool", None),
    "model.known": ("bool", None),
    "model.training_data": ("enum", TRAINING_DATA),
    "model.stores_inputs": ("bool", None),
    "model.trains_on_inputs": ("bool", None),
    "model.runs_in_production_env": ("bool", None),
    "model.trained_model": ("bool", None),
    "model.licence": ("text", None),
    "consent.required": ("bool", None),
    "consent.covered": ("bool", None),
    "consent.failures": ("set", None),
    "consent.exceptions": ("set", None),
}
# production.<anything>: free-form production settings (e.g. production.enterprise_environment).
_PRODUCTION_PREFIX = "production."
#: free text a requester writes: word matching on it may escalate, never deny
BACKSTOP_FIELDS = frozenset({"prompt"})

_COMPARATORS: dict[str, Callable[[Any, Any], bool]] = {
    "gt": lambda a, b: a is not None and a > b,
    "ge": lambda a, b: a is not None and a >= b,
    "lt": lambda a, b: a is not None and a < b,
    "le": lambda a, b: a is not None and a <= b,
}
_FIELD_OPS = ("eq", "ne", "in", "not_in", "gt", "ge", "lt", "le", "contains", "contains_any",
              "in_list", "matches_list")
_TOP_KEYS = {"pack", "version", "description", "lists", "conditions", "rules"}
_RULE_KEYS = {"id", "text", "source", "when", "then"}
_THEN_KEYS = {"outcome", "approvers", "notify", "duty"}


@dataclass(frozen=True)
class RuleAction:
    outcome: Outcome
    approvers: tuple[Role, ...] = ()
    notify: tuple[str, ...] = ()
    duties: tuple[str, ...] = ()


@dataclass(frozen=True)
class Rule:
    id: str
    text: str
    source: str
    action: RuleAction
    predicate: Predicate = field(repr=False, compare=False)
    line: int = 0
    reads: frozenset[str] = frozenset()  # the fields its condition tests (named conditions included)


@dataclass(frozen=True)
class Pack:
    """A validated, compiled policy pack."""

    name: str
    version: int
    description: str
    rules: tuple[Rule, ...]
    lists: Mapping[str, tuple[str, ...]]
    conditions: tuple[tuple[str, Predicate], ...] = field(repr=False, compare=False)
    source: str | None = None

    @property
    def label(self) -> str:
        return f"{self.name}@{self.version}"

    def condition_key(self, name: str) -> str:
        return f"@{self.name}:{name}"


class _Compiler:
    """Turns located YAML into predicates, raising SpecError at the first bad spot."""

    def __init__(self, pack_name: str, lists: Mapping[str, tuple[str, ...]], source: str | None) -> None:
        self.pack_name = pack_name
        self.lists = lists
        self.source = source
        self.defined_conditions: set[str] = set()
        self.condition_fields: dict[str, frozenset[str]] = {}
        self.reading: set[str] = set()  # fields read by the condition being compiled
        self._regex_cache: dict[str, re.Pattern[str]] = {}

    def fail(self, message: str, node: Any, key: str | None = None, field_name: str | None = None) -> SpecError:
        line = None
        if isinstance(node, LocatedDict):
            line = node.line_of(key) if key else node.line
        elif isinstance(node, LocatedList):
            line = node.line
        return SpecError(message, field=field_name or key, line=line, source=self.source)

    def condition(self, node: Any, where: str) -> Predicate:
        if not isinstance(node, Mapping) or not node:
            raise self.fail("a condition must be a mapping such as {field: ..., eq: ...}", node, field_name=where)
        keys = set(node)
        if "field" in keys:
            return self.field_test(node, where)
        if len(keys) != 1:
            raise self.fail(f"a condition has exactly one of all/any/not/ref/always/field, got {sorted(keys)}",
                            node, field_name=where)
        (key,) = keys
        value = node[key]
        if key in ("all", "any"):
            if not isinstance(value, list) or not value:
                raise self.fail(f"'{key}' needs a non-empty list of conditions", node, key, f"{where}.{key}")
            parts = tuple(self.condition(v, f"{where}.{key}[{i}]") for i, v in enumerate(value))
            return _fold(parts, conjunction=key == "all")
        if key == "not":
            inner = self.condition(value, f"{where}.not")
            return lambda f: not inner(f)
        if key == "ref":
            if value not in self.defined_conditions:
                raise self.fail(f"unknown condition {value!r} (define it under 'conditions' before use)",
                                node, key, f"{where}.ref")
            self.reading |= self.condition_fields.get(value, frozenset())
            fact_key = f"@{self.pack_name}:{value}"
            return lambda f: f[fact_key]
        if key == "always":
            if value is not True:
                raise self.fail("'always' must be true", node, key, f"{where}.always")
            return lambda f: True
        raise self.fail(f"unknown operator {key!r}", node, key, f"{where}.{key}")

    def field_test(self, node: LocatedDict, where: str) -> Predicate:
        name = node["field"]
        if not isinstance(name, str) or (name not in FIELDS and not name.startswith(_PRODUCTION_PREFIX)):
            raise self.fail(f"unknown field {name!r}", node, "field", f"{where}.field")
        kind, allowed = FIELDS.get(name, ("any", None))
        self.reading.add(name)
        ops = [k for k in node if k != "field"]
        if len(ops) != 1:
            raise self.fail(f"a field test needs exactly one operator ({', '.join(_FIELD_OPS)})",
                            node, "field", f"{where}.field")
        op = ops[0]
        if op not in _FIELD_OPS:
            raise self.fail(f"unknown operator {op!r}", node, op, f"{where}.{op}")
        value = node[op]
        here = f"{where}.{op}"

        def check_value(v: Any) -> None:
            if allowed is not None and v is not None and v not in allowed:
                raise self.fail(f"{v!r} is not a valid value for {name} ({', '.join(allowed)})", node, op, here)
            if kind == "bool" and not isinstance(v, bool):
                raise self.fail(f"{name} is true/false", node, op, here)

        get = self.getter(name)
        fixed = not name.startswith(_PRODUCTION_PREFIX)
        if op in ("eq", "ne"):
            check_value(value)
            if op == "eq":
                return (lambda f: f[name] == value) if fixed else (lambda f: get(f) == value)
            return (lambda f: f[name] != value) if fixed else (lambda f: get(f) != value)
        if op in ("in", "not_in"):
            if not isinstance(value, list):
                raise self.fail(f"'{op}' needs a list", node, op, here)
            for v in value:
                check_value(v)
            members = frozenset(value)
            if op == "in":
                return (lambda f: f[name] in members) if fixed else (lambda f: get(f) in members)
            return (lambda f: f[name] not in members) if fixed else (lambda f: get(f) not in members)
        if op in _COMPARATORS:
            if kind not in ("number", "any") or isinstance(value, bool) or not isinstance(value, (int, float)):
                raise self.fail(f"'{op}' compares a numeric field with a number", node, op, here)
            compare = _COMPARATORS[op]
            return lambda f: compare(get(f), value)
        if op in ("contains", "contains_any"):
            if kind not in ("set", "any"):
                raise self.fail(f"'{op}' works on set fields (consent.failures, consent.exceptions)", node, op, here)
            if op == "contains":
                if not isinstance(value, str):
                    raise self.fail("'contains' needs one value", node, op, here)
                if fixed:
                    return lambda f: value in f[name]  # set fields are always frozensets
                return lambda f: value in (get(f) or ())
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise self.fail("'contains_any' needs a list", node, op, here)
            wanted = frozenset(value)
            return lambda f: not wanted.isdisjoint(get(f) or ())
        # in_list / matches_list
        if not isinstance(value, str) or value not in self.lists:
            raise self.fail(f"unknown list {value!r} (define it under 'lists')", node, op, here)
        if op == "in_list":
            for v in self.lists[value]:
                check_value(v)
            members = frozenset(self.lists[value])
            return (lambda f: f[name] in members) if fixed else (lambda f: get(f) in members)
        if kind not in ("text", "any"):
            raise self.fail("'matches_list' works on text fields such as prompt", node, op, here)
        pattern = self.phrase_regex(value)
        return lambda f: bool((text := get(f)) and pattern.search(text))

    def phrase_regex(self, list_name: str) -> re.Pattern[str]:
        """One case-insensitive, word-bounded alternation per list: fast and no user regex."""
        if list_name not in self._regex_cache:
            phrases = sorted({" ".join(p.split()) for p in self.lists[list_name] if p.strip()}, key=len, reverse=True)
            body = "|".join(r"\s+".join(re.escape(w) for w in p.split()) for p in phrases) or r"(?!x)x"
            self._regex_cache[list_name] = re.compile(rf"(?<!\w)(?:{body})(?!\w)", re.IGNORECASE)
        return self._regex_cache[list_name]

    @staticmethod
    def getter(name: str) -> Callable[[Facts], Any]:
        if name.startswith(_PRODUCTION_PREFIX):
            return lambda f: f.get(name)
        return lambda f: f[name]


def _fold(parts: tuple[Predicate, ...], conjunction: bool) -> Predicate:
    """Chain predicates as nested two-argument closures: much faster than all()/any() over a
    generator on the hot path, same short-circuit order."""
    result = parts[-1]
    for part in reversed(parts[:-1]):
        if conjunction:
            result = (lambda a, b: lambda f: a(f) and b(f))(part, result)
        else:
            result = (lambda a, b: lambda f: a(f) or b(f))(part, result)
    return result


def _require(node: Any, key: str, kind: type | tuple[type, ...], compiler_fail: Callable[..., SpecError],
             what: str) -> Any:
    if key not in node:
        raise compiler_fail(f"{what} needs '{key}'", node, None, key)
    value = node[key]
    if isinstance(value, bool) and kind is int or not isinstance(value, kind) or value == "":
        raise compiler_fail(f"'{key}' has the wrong type or is empty", node, key)
    return value


def _string_list(node: LocatedDict, key: str, fail: Callable[..., SpecError], where: str) -> tuple[str, ...]:
    value = node.get(key, [])
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise fail("must be a list of text", node, key, where)
    return tuple(value)


def load_pack(text: str, source: str | None = None) -> Pack:
    """Validate and compile a pack from YAML text; malformed packs raise SpecError(field, line)."""
    doc = compose_located(text, source)
    if not isinstance(doc, LocatedDict):
        raise SpecError("a policy pack must be a mapping with pack, version and rules", source=source,
                        line=getattr(doc, "line", None))
    bootstrap = _Compiler("?", {}, source)
    fail = bootstrap.fail
    for key in doc:
        if key not in _TOP_KEYS:
            raise fail(f"unknown top-level field (known: {', '.join(sorted(_TOP_KEYS))})", doc, key)
    name = _require(doc, "pack", str, fail, "a pack")
    version = _require(doc, "version", int, fail, "a pack")
    description = doc.get("description", "") or ""

    lists_node = doc.get("lists", LocatedDict()) or LocatedDict()
    if not isinstance(lists_node, Mapping):
        raise fail("'lists' must map names to lists", doc, "lists")
    lists: dict[str, tuple[str, ...]] = {}
    for list_name, items in lists_node.items():
        if not isinstance(items, list) or not all(isinstance(i, str) and i.strip() for i in items):
            raise fail("a list must hold non-empty text items", lists_node, list_name, f"lists.{list_name}")
        lists[list_name] = tuple(items)

    compiler = _Compiler(name, lists, source)
    conditions: list[tuple[str, Predicate]] = []
    conditions_node = doc.get("conditions", LocatedDict()) or LocatedDict()
    if not isinstance(conditions_node, Mapping):
        raise fail("'conditions' must map names to conditions", doc, "conditions")
    for cond_name, cond in conditions_node.items():
        compiler.reading = set()
        predicate = compiler.condition(cond, f"conditions.{cond_name}")
        conditions.append((f"@{name}:{cond_name}", predicate))
        compiler.defined_conditions.add(cond_name)
        compiler.condition_fields[cond_name] = frozenset(compiler.reading)

    rules_node = doc.get("rules")
    if not isinstance(rules_node, list) or not rules_node:
        raise fail("a pack needs a non-empty 'rules' list", doc, "rules")
    rules: list[Rule] = []
    seen_ids: dict[str, int] = {}
    for index, rule_node in enumerate(rules_node):
        where = f"rules[{index}]"
        if not isinstance(rule_node, LocatedDict):
            raise SpecError("a rule must be a mapping", field=where, line=rules_node.line_of(index), source=source)
        for key in rule_node:
            if key not in _RULE_KEYS:
                raise fail(f"unknown rule field (known: {', '.join(sorted(_RULE_KEYS))})", rule_node, key,
                           f"{where}.{key}")
        if "id" not in rule_node:
            raise fail("a rule needs an 'id'", rule_node, None, f"{where}.id")
        rule_id = _require(rule_node, "id", str, fail, "a rule")
        if rule_id in seen_ids:
            raise fail(f"duplicate rule id {rule_id!r} (first on line {seen_ids[rule_id]})", rule_node, "id",
                       f"{where}.id")
        seen_ids[rule_id] = rule_node.line_of("id")
        where = f"rules[{rule_id}]"
        rule_text = _require(rule_node, "text", str, fail, "a rule")
        rule_source = rule_node.get("source", "") or ""
        if "when" not in rule_node:
            raise fail("a rule needs 'when'", rule_node, None, f"{where}.when")
        compiler.reading = set()
        predicate = compiler.condition(rule_node["when"], f"{where}.when")
        reads = frozenset(compiler.reading)
        backstop = sorted(reads & BACKSTOP_FIELDS)
        then = rule_node.get("then")
        if not isinstance(then, LocatedDict):
            raise fail("a rule needs 'then: {outcome: ...}'", rule_node, "then" if "then" in rule_node else None,
                       f"{where}.then")
        for key in then:
            if key not in _THEN_KEYS:
                raise fail(f"unknown field (known: {', '.join(sorted(_THEN_KEYS))})", then, key, f"{where}.then.{key}")
        outcome_value = then.get("outcome")
        if outcome_value not in tuple(str(o) for o in Outcome):
            raise fail(f"outcome must be proceed, escalate or deny, not {outcome_value!r}", then,
                       "outcome" if "outcome" in then else None, f"{where}.then.outcome")
        if backstop and outcome_value == str(Outcome.DENY):
            raise SpecError(f"a rule that reads {backstop[0]!r} can only escalate, never deny: prompt words are a "
                            "backstop, not a fact", field=f"{where}.then.outcome", line=then.line_of("outcome"),
                            source=source, hint="escalate here; to deny, test what the job states it depicts "
                                                "(depicts_real_person, depicts_public_figure, depicts_real_event, "
                                                "news_format)")
        approvers = _string_list(then, "approvers", fail, f"{where}.then.approvers")
        bad_roles = [r for r in approvers if r not in tuple(str(x) for x in Role)]
        if bad_roles:
            raise fail(f"unknown role {bad_roles[0]!r} (roles: {', '.join(str(r) for r in Role)})", then,
                       "approvers", f"{where}.then.approvers")
        action = RuleAction(
            outcome=Outcome(outcome_value),
            approvers=tuple(Role(r) for r in approvers),
            notify=_string_list(then, "notify", fail, f"{where}.then.notify"),
            duties=_string_list(then, "duty", fail, f"{where}.then.duty"),
        )
        rules.append(Rule(rule_id, " ".join(rule_text.split()), str(rule_source), action, predicate,
                          rule_node.line, reads))
    return Pack(name=name, version=version, description=str(description), rules=tuple(rules),
                lists=lists, conditions=tuple(conditions), source=source)


def load_pack_file(path: str | Path) -> Pack:
    """Read and compile a pack from a file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SpecError(f"cannot read policy pack: {exc.strerror or exc}", source=str(path)) from None
    return load_pack(text, str(path))


_DEFAULT_CACHE: list[Pack] = []


def default_pack() -> Pack:
    """The built-in pack (Netflix guidance, SAG-AFTRA 2023, CA AB 2602/1836, EU AI Act Art. 50)."""
    if not _DEFAULT_CACHE:
        text = resources.files("soundstage.safeguards.policy").joinpath("packs", DEFAULT_PACK_NAME).read_text(
            encoding="utf-8")
        _DEFAULT_CACHE.append(load_pack(text, f"soundstage/safeguards/policy/packs/{DEFAULT_PACK_NAME}"))
    return _DEFAULT_CACHE[0]
