"""The numbers every format shows: per-scene series, the stacked-bar layout and the summary."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

from soundstage.safeguards.disclosure.model import (
    _PALETTE,
    DELIVERABLES,
    NO_SCENE,
    OUTCOMES,
    TRAINING_DATA,
    VERDICTS,
    DisclosureData,
    _as_data,
    synthetic_voices,
)

def _natural_key(text: str) -> tuple:
    """Scene '2' before '10', '12A' after '12'; the no-scene bucket last."""
    if text == NO_SCENE:
        return (1, ())
    parts = re.split(r"(\d+)", text)
    return (0, tuple((0, int(p), "") if p.isdigit() else (1, 0, p.lower()) for p in parts if p))


@dataclass(frozen=True)
class SceneSeries:
    """Uses (jobs) per scene, split by operation: the data behind the stacked bar chart."""

    scenes: tuple[str, ...]
    operations: tuple[str, ...]
    counts: dict[str, dict[str, int]]

    def total(self, scene: str) -> int:
        return sum(self.counts.get(scene, {}).values())

    @property
    def max_total(self) -> int:
        return max((self.total(s) for s in self.scenes), default=0)

    def colour(self, operation: str) -> str:
        return _PALETTE[self.operations.index(operation) % len(_PALETTE)]


def scene_series(data: Mapping[str, Any] | DisclosureData) -> SceneSeries:
    doc = _as_data(data)
    counts: dict[str, dict[str, int]] = {}
    for use in doc.uses:
        per_op = counts.setdefault(use.scene_key, {})
        per_op[use.operation] = per_op.get(use.operation, 0) + 1
    scenes = tuple(sorted(counts, key=_natural_key))
    operations = tuple(sorted({u.operation for u in doc.uses}))
    return SceneSeries(scenes, operations, counts)


@dataclass(frozen=True)
class ChartBar:
    """One stacked segment, in a y-up box (origin bottom-left of the plot area)."""

    scene: str
    operation: str
    count: int
    x: float
    y: float
    width: float
    height: float


def chart_bars(series: SceneSeries, plot_width: float, plot_height: float) -> list[ChartBar]:
    """Lay out the stacked bars once, so the SVG and the PDF chart cannot disagree."""
    if not series.scenes or series.max_total == 0:
        return []
    slot = plot_width / len(series.scenes)
    bar_width = slot * 0.7
    unit = plot_height / series.max_total
    bars = []
    for index, scene in enumerate(series.scenes):
        x = index * slot + (slot - bar_width) / 2
        y = 0.0
        for operation in series.operations:
            count = series.counts[scene].get(operation, 0)
            if count:
                bars.append(ChartBar(scene, operation, count, x, y, bar_width, count * unit))
                y += count * unit
    return bars


def _counter(values: Iterable[str], keys: Sequence[str] = ()) -> dict[str, int]:
    out = {k: 0 for k in keys}
    for v in values:
        out[v] = out.get(v, 0) + 1
    return out


def summarize(data: Mapping[str, Any] | DisclosureData) -> dict[str, Any]:
    """The computed numbers every format shows (and JSON carries for machines)."""
    doc = _as_data(data)
    series = scene_series(doc)
    active = [a for u in doc.uses for a in u.active_assets]
    approvals = [a for u in doc.uses for a in u.approvals]
    by_training: dict[str, list[str]] = {k: [] for k in TRAINING_DATA}
    for model in doc.models:
        by_training[model.training_data].append(model.id)
    relied_on = sorted({c.consent_id for u in doc.uses for c in u.consents})
    return {
        "genai_used": bool(doc.uses),
        "uses": len(doc.uses),
        "assets": sum(len(u.assets) for u in doc.uses),
        "active_assets": len(active),
        "by_operation": _counter(u.operation for u in doc.uses),
        "by_scene": {s: dict(sorted(series.counts[s].items())) for s in series.scenes},
        "by_deliverable": _counter((u.deliverable for u in doc.uses), DELIVERABLES),
        "by_decision": _counter((u.decision.outcome for u in doc.uses), OUTCOMES),
        "models": len(doc.models),
        "models_by_training_data": by_training,
        "models_with_concerns": {m.id: m.concerns for m in doc.models if m.concerns},
        "consents_relied_on": len(relied_on),
        "consent_ids_relied_on": relied_on,
        "consents_listed": len(doc.consents),
        "approvals": len(approvals),
        "approvals_by_verdict": _counter((a.verdict for a in approvals), VERDICTS),
        "quarantined": len(doc.quarantined),
        "performers_depicted": len(doc.performers_depicted),
        "synthetic_voices": [v.to_dict() for v in synthetic_voices(doc)],
        "marking": {
            "active_assets": len(active),
            "with_c2pa": sum(1 for a in active if a.c2pa is not None),
            "with_watermark": sum(1 for a in active if a.watermark is not None),
            "not_fully_marked": [a.id for a in active if a.c2pa is None or a.watermark is None],
        },
    }

