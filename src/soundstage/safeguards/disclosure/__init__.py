"""The GenAI disclosure report: what was generated, with which model, on whose approval and consent.

Rendering only. The service layer gathers a plain JSON-able dict (schema ``Disclosure.2``) from
the ledger; `model` validates it (`DisclosureData.from_dict`, a `SpecError` naming the field on any
fault), `summary` computes the numbers, `notice` writes the audience notices, and `html_report` /
`pdf_report` render it. This module writes JSON and the credits notice and dispatches the rest.

Why these outputs: Netflix asks partners to notify and get written approval for final-deliverable,
likeness and similar uses (the report is what you send); EU AI Act Art. 50(4) limits the deployer's
duty for artistic works to a non-intrusive notice such as in the credits (`credits_notice`), and
Art. 50(2) wants generated outputs machine-readably marked (`marking_statement` reports whether
every output really carries C2PA Content Credentials and an invisible watermark). Who prepared the
report, who signs it off and the audit-log head it was built from tie it to the ledger.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping, Sequence

from soundstage.errors import SpecError, WorkspaceError
from soundstage.files import atomic_write_bytes
from soundstage.safeguards.disclosure.html_report import html_document, render_html
from soundstage.safeguards.disclosure.model import (
    FORMATS,
    SCHEMA,
    ApprovalInfo,
    AssetInfo,
    AuditHeadRef,
    C2paRef,
    ConsentInfo,
    DecisionInfo,
    DisclosureData,
    GenAIUse,
    ModelInfo,
    PerformerDepicted,
    PreparedBy,
    ProductionRef,
    QuarantinedAsset,
    RuleReason,
    SignOff,
    WatermarkRef,
    _as_data,
    operation_label,
    readable_time,
)
from soundstage.safeguards.disclosure.notice import credits_notice, marking_statement
from soundstage.safeguards.disclosure.pdf_report import render_pdf
from soundstage.safeguards.disclosure.summary import ChartBar, SceneSeries, chart_bars, scene_series, summarize

__all__ = [
    "SCHEMA",
    "FORMATS",
    "DisclosureData",
    "ProductionRef",
    "PreparedBy",
    "SignOff",
    "AuditHeadRef",
    "ModelInfo",
    "RuleReason",
    "DecisionInfo",
    "ApprovalInfo",
    "ConsentInfo",
    "WatermarkRef",
    "C2paRef",
    "AssetInfo",
    "GenAIUse",
    "QuarantinedAsset",
    "PerformerDepicted",
    "SceneSeries",
    "ChartBar",
    "scene_series",
    "html_document",
    "operation_label",
    "readable_time",
    "chart_bars",
    "summarize",
    "credits_notice",
    "marking_statement",
    "render_json",
    "render_html",
    "render_pdf",
    "render_disclosure",
]


def _write_atomic(path: Path, payload: bytes) -> None:
    """Temp file in the same folder, then os.replace: readers never see half a report."""
    atomic_write_bytes(path, payload, make_parents=False)


def render_json(data: Mapping[str, Any] | DisclosureData, path: Path) -> Path:
    doc = _as_data(data)
    payload = doc.to_dict()
    summary = summarize(doc)
    summary["credits_notice"] = credits_notice(doc)
    summary["marking_statement"] = marking_statement(doc)
    payload["summary"] = summary
    _write_atomic(Path(path), (json.dumps(payload, indent=2, ensure_ascii=False) + "\n").encode("utf-8"))
    return Path(path)



def render_disclosure(data: Mapping[str, Any] | DisclosureData, out_dir: Path,
                      formats: Sequence[str] = FORMATS) -> list[Path]:
    """Validate once, write the chosen formats plus credits_notice.txt; returns the paths written."""
    doc = _as_data(data)
    if isinstance(formats, str):
        formats = (formats,)
    for i, fmt in enumerate(formats):
        if fmt not in FORMATS:
            raise SpecError(f"{fmt!r} is not one of {', '.join(FORMATS)}", field=f"formats[{i}]")
    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise WorkspaceError(f"cannot create report folder {out_dir}: {exc.strerror or exc}") from exc
    if not out_dir.is_dir():
        raise WorkspaceError(f"cannot write reports into {out_dir}: it is not a folder")
    writers = {"json": render_json, "html": render_html, "pdf": render_pdf}
    written = []
    for fmt in dict.fromkeys(formats):
        written.append(writers[fmt](doc, out_dir / f"disclosure.{fmt}"))
    notice_path = out_dir / "credits_notice.txt"
    notice = credits_notice(doc)
    _write_atomic(notice_path, (notice + "\n" if notice else "").encode("utf-8"))
    written.append(notice_path)
    return written
