"""Declared parameters of an operation: name, type, bounds, default, description. Pure data.

Every backend and every VFX operation declares the parameters a job may set; ``validate`` turns a
client's ``params`` mapping into exactly the declared values (defaults filled in) or refuses it
with one line naming the field. Nothing undeclared reaches a backend: a server-owned setting
(work directory, cluster address, reference faces, keys) cannot be smuggled in as a parameter
because no operation declares one. The same declarations generate the CLI options, the API's
JSON schema and the guides' parameter tables.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from soundstage.errors import SpecError

__all__ = ["Param", "validate", "json_schema", "markdown_table", "SEED", "MAX_PARAMS_BYTES"]

#: the whole params mapping, serialised, may not exceed this
MAX_PARAMS_BYTES = 256 * 1024
TYPES = ("int", "float", "bool", "str", "choice", "json")


@dataclass(frozen=True)
class Param:
    """One declared parameter. ``minimum``/``maximum`` bound numbers; ``max_length`` bounds text and
    the serialised size of a ``json`` value; ``choices`` lists a ``choice``'s values."""

    name: str
    type: str
    description: str
    default: Any = None
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()
    max_length: int | None = None

    def __post_init__(self) -> None:
        if self.type not in TYPES:
            raise ValueError(f"parameter {self.name}: type must be one of {TYPES}")
        if self.type in ("int", "float") and (self.minimum is None or self.maximum is None):
            raise ValueError(f"parameter {self.name}: a number needs both bounds")
        if self.type in ("str", "json") and not self.max_length:
            raise ValueError(f"parameter {self.name}: text and json need max_length")
        if self.type == "choice" and not self.choices:
            raise ValueError(f"parameter {self.name}: a choice needs choices")

    def check(self, value: Any) -> Any:
        """The value, converted to the declared type, or SpecError naming ``params.<name>``."""
        where = f"params.{self.name}"
        if self.type == "bool":
            if not isinstance(value, bool):
                raise SpecError(f"must be true or false, not {value!r}"[:200], field=where)
            return value
        if self.type in ("int", "float"):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise SpecError(f"must be a number, not {type(value).__name__}", field=where)
            if self.type == "int":
                if isinstance(value, float) and not value.is_integer():
                    raise SpecError(f"must be a whole number, not {value}", field=where)
                value = int(value)
            else:
                value = float(value)
                if not math.isfinite(value):
                    raise SpecError("must be a finite number", field=where)
            if not self.minimum <= value <= self.maximum:
                raise SpecError(f"must be between {_num(self.minimum)} and {_num(self.maximum)}, not {value}",
                                field=where)
            return value
        if self.type == "str":
            if not isinstance(value, str):
                raise SpecError(f"must be text, not {type(value).__name__}", field=where)
            if len(value) > self.max_length:
                raise SpecError(f"is longer than {self.max_length} characters", field=where)
            return value
        if self.type == "choice":
            if value not in self.choices:
                raise SpecError(f"must be one of {', '.join(self.choices)}, not {value!r}"[:300], field=where)
            return value
        # json: any JSON value, bounded by its serialised size
        try:
            text = json.dumps(value, sort_keys=True, allow_nan=False)
        except (TypeError, ValueError):
            raise SpecError("must be plain JSON data", field=where) from None
        if len(text) > self.max_length:
            raise SpecError(f"is larger than {self.max_length} bytes", field=where)
        return json.loads(text)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "type": self.type, "description": self.description, "default": self.default,
                "minimum": self.minimum, "maximum": self.maximum, "choices": list(self.choices),
                "max_length": self.max_length}


def _num(value: float | None) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


#: every operation takes a seed: a frame can be regenerated from its spec, model hash and seed
SEED = Param("seed", "int", "Random seed; the same spec, model and seed give the same output.", 0, 0, 2**32 - 1)


def validate(params: Mapping[str, Any] | None, declared: Iterable[Param], *, operation: str = "") -> dict[str, Any]:
    """Exactly the declared parameters with their defaults, or SpecError naming the first bad field."""
    if params is None:
        params = {}
    if not isinstance(params, Mapping):
        raise SpecError("must be a mapping of name: value", field="params")
    try:
        size = len(json.dumps(params, sort_keys=True, default=str))
    except (TypeError, ValueError):
        raise SpecError("must be plain JSON data", field="params") from None
    if size > MAX_PARAMS_BYTES:
        raise SpecError(f"is larger than {MAX_PARAMS_BYTES} bytes", field="params")
    by_name = {p.name: p for p in declared}
    unknown = sorted(str(k) for k in params if k not in by_name)
    if unknown:
        known = ", ".join(sorted(by_name)) or "none"
        raise SpecError(f"is not a parameter of {operation or 'this operation'}", field=f"params.{unknown[0]}",
                        hint=f"its parameters: {known}")
    out: dict[str, Any] = {}
    for name, param in by_name.items():
        if name in params and params[name] is not None:
            out[name] = param.check(params[name])
        elif param.default is not None:
            out[name] = param.default
    return out


def json_schema(declared: Iterable[Param]) -> dict[str, Any]:
    """A JSON Schema object for a params mapping (what the API publishes)."""
    props: dict[str, Any] = {}
    for p in declared:
        prop: dict[str, Any] = {"description": p.description}
        if p.type == "int":
            prop.update(type="integer", minimum=p.minimum, maximum=p.maximum)
        elif p.type == "float":
            prop.update(type="number", minimum=p.minimum, maximum=p.maximum)
        elif p.type == "bool":
            prop["type"] = "boolean"
        elif p.type == "str":
            prop.update(type="string", maxLength=p.max_length)
        elif p.type == "choice":
            prop["enum"] = list(p.choices)
        if p.default is not None:
            prop["default"] = p.default
        props[p.name] = prop
    return {"type": "object", "properties": props, "additionalProperties": False}


def markdown_table(declared: Iterable[Param]) -> str:
    """The guides' parameter table."""
    rows = ["| parameter | type | bounds | default | description |", "|---|---|---|---|---|"]
    for p in declared:
        if p.type in ("int", "float"):
            bounds = f"{_num(p.minimum)} … {_num(p.maximum)}"
        elif p.type == "choice":
            bounds = " / ".join(p.choices)
        elif p.max_length:
            bounds = f"≤ {p.max_length} {'characters' if p.type == 'str' else 'bytes'}"
        else:
            bounds = ""
        default = "" if p.default is None else f"`{json.dumps(p.default)}`"
        rows.append(f"| `{p.name}` | {p.type} | {bounds} | {default} | {p.description} |")
    return "\n".join(rows)
