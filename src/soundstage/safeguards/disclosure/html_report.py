"""The disclosure report as one self-contained HTML page (inline CSS and SVG, no scripts)."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any, Iterable, Mapping

from soundstage.files import atomic_write_bytes
from soundstage.safeguards.disclosure.model import (
    _TRAINING_LABELS,
    DisclosureData,
    _as_data,
    _title_line,
    operation_label,
    readable_time,
)
from soundstage.safeguards.disclosure.notice import credits_notice, marking_statement
from soundstage.safeguards.disclosure.summary import SceneSeries, chart_bars, scene_series, summarize

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;color:#1a1a1a;
 margin:2rem auto;max-width:1200px;padding:0 1rem;line-height:1.4;font-size:14px}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{font-size:1.2rem;border-bottom:2px solid #ddd;
 padding-bottom:.2rem;margin-top:2rem}.meta{color:#555}
table{border-collapse:collapse;width:100%;font-size:12px;table-layout:auto}
th,td{border:1px solid #ccc;padding:4px 6px;vertical-align:top;text-align:left;
 word-break:normal;overflow-wrap:normal;hyphens:manual}th{background:#f2f2f2}
code,.id{font-family:ui-monospace,"DejaVu Sans Mono",monospace;font-size:11px;word-break:normal;
 overflow-wrap:anywhere}.when{white-space:nowrap}
tr{page-break-inside:avoid}.flag{color:#b00020;font-weight:600}.ok{color:#1b6e20}
.cards{display:flex;flex-wrap:wrap;gap:.6rem}.card{border:1px solid #ccc;border-radius:4px;
 padding:.4rem .7rem;min-width:9rem}.card b{display:block;font-size:1.3rem}
.notice{border:2px solid #333;padding:.8rem 1rem;font-size:1rem;background:#fafafa}
.legend{list-style:none;padding:0;display:flex;flex-wrap:wrap;gap:.8rem}
.swatch{display:inline-block;width:.9em;height:.9em;margin-right:.3em;vertical-align:middle;
 border:1px solid #333}.chart{overflow-x:auto}
.facts{width:auto}.facts th{width:11rem;background:none}
.signature{margin-top:.6rem;display:grid;grid-template-columns:repeat(3,1fr);gap:2rem}
.signature div{border-top:1px solid #333;padding-top:.2rem;margin-top:2.5rem;color:#555}
@media print{body{margin:0;max-width:none;font-size:11px}h2{page-break-after:avoid}
 .chart svg{max-width:100%}.notice{background:none}}
"""


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _svg_chart(series: SceneSeries) -> str:
    """Stacked bar chart of uses per scene, drawn by hand; each segment carries its data."""
    n = len(series.scenes)
    slot = max(22.0, min(70.0, 760.0 / max(n, 1)))
    plot_w, plot_h = slot * n, 220.0
    left, top, bottom = 40.0, 12.0, 70.0
    width, height = left + plot_w + 10, top + plot_h + bottom
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="scene-chart" role="img" '
           f'width="{width:.0f}" height="{height:.0f}" viewBox="0 0 {width:.0f} {height:.0f}" '
           f'data-unit="{plot_h / max(series.max_total, 1):.6f}">',
           '<title>GenAI uses per scene, stacked by operation</title>']
    max_total = max(series.max_total, 1)
    step = max(1, -(-max_total // 5))
    for tick in range(0, max_total + 1, step):
        y = top + plot_h - tick * plot_h / max_total
        out.append(f'<line x1="{left:.1f}" y1="{y:.1f}" x2="{left + plot_w:.1f}" y2="{y:.1f}" '
                   f'stroke="#ddd" stroke-width="1"/>')
        out.append(f'<text x="{left - 6:.1f}" y="{y + 4:.1f}" font-size="11" text-anchor="end">{tick}</text>')
    for bar in chart_bars(series, plot_w, plot_h):
        x = left + bar.x
        y = top + plot_h - bar.y - bar.height
        out.append(
            f'<rect class="bar" x="{x:.2f}" y="{y:.2f}" width="{bar.width:.2f}" height="{bar.height:.4f}" '
            f'fill="{series.colour(bar.operation)}" data-scene="{_e(bar.scene)}" '
            f'data-operation="{_e(bar.operation)}" data-count="{bar.count}">'
            f'<title>Scene {_e(bar.scene)}: {bar.count} x {_e(operation_label(bar.operation))}</title></rect>')
    for index, scene in enumerate(series.scenes):
        cx = left + (index + 0.5) * slot
        label = scene if len(scene) <= 14 else scene[:13] + "\u2026"
        ly = top + plot_h + 14
        out.append(f'<text x="{cx:.1f}" y="{ly:.1f}" font-size="11" text-anchor="end" '
                   f'transform="rotate(-40 {cx:.1f} {ly:.1f})">{_e(label)}</text>')
    out.append(f'<line x1="{left:.1f}" y1="{top + plot_h:.1f}" x2="{left + plot_w:.1f}" '
               f'y2="{top + plot_h:.1f}" stroke="#333" stroke-width="1"/>')
    out.append("</svg>")
    return "".join(out)


def _cell_lines(lines: Iterable[str], cls: str = "") -> str:
    """One line per item; ``cls="id"`` for hashes and ids, which may wrap anywhere (words never do)."""
    open_tag, close_tag = (f'<span class="{cls}">', "</span>") if cls else ("", "")
    return "<br>".join(f"{open_tag}{_e(x)}{close_tag}" for x in lines) or "&mdash;"


def _colgroup(widths: Iterable[int]) -> str:
    """Column widths in percent, so a short header is never squeezed into a broken word."""
    return "<colgroup>" + "".join(f'<col style="width:{w}%">' for w in widths) + "</colgroup>"


def _use_rows(doc: DisclosureData) -> list[str]:
    rows = []
    for use in doc.uses:
        model = use.model
        attestation = _TRAINING_LABELS[model.training_data]
        model_cell = (f"{_e(model.name)} {_e(model.version)}<br><span class=\""
                      f"{'flag' if model.training_data == 'unknown' else 'ok'}\">training data: "
                      f"{_e(attestation)}</span>")
        rules = ", ".join(r.rule_id for r in use.decision.reasons)
        decision_cell = f"<b>{_e(use.decision.outcome)}</b>" + (f"<br><code>{_e(rules)}</code>" if rules else "")
        approvals = "<br>".join(f"{_e(a.verdict)}: {_e(a.person)} ({_e(a.role)})<br>"
                                f'<span class="when">{_e(readable_time(a.at))}</span>'
                                for a in use.approvals) or "&mdash;"
        consents = [f"{c.consent_id} - {c.performer} [{c.status}]" for c in use.consents]
        marks = []
        for asset in use.assets:
            wm = f"wm {asset.watermark.engine}:{asset.watermark.payload_hex}" if asset.watermark else "NO WATERMARK"
            cr = f"C2PA {asset.c2pa.manifest_label}" if asset.c2pa else "NO C2PA"
            status = "" if asset.active else " [QUARANTINED]"
            marks.append(f"{asset.id} {asset.name}{status}: {wm}; {cr}")
        where = " / ".join(x for x in (use.scene, use.shot) if x) or "\u2014"
        rows.append(
            "<tr>"
            f"<td>{_e(operation_label(use.operation))}<br><code>{_e(use.job_id)}</code></td>"
            f"<td>{_e(where)}</td><td>{_e(use.deliverable)}</td><td>{model_cell}</td>"
            f"<td>{decision_cell}</td><td>{approvals}</td><td>{_cell_lines(consents, 'id')}</td>"
            f"<td>{_cell_lines(marks, 'id')}</td></tr>")
    return rows


def _provenance_section(doc: DisclosureData) -> str:
    """Who prepared the report, who signs it off, and the audit-log head it reflects."""
    rows = [("Prepared by", _e(doc.prepared_by.line), ' id="prepared-by"'),
            ("Generated", _e(readable_time(doc.generated_at)), ""),
            ("Audit log head", f"event #{doc.audit_head.seq}, hash <code>{_e(doc.audit_head.hash)}</code>",
             ' id="audit-head"'),
            ("Sign-off", _e(f"{doc.sign_off.person} ({doc.sign_off.role})") if doc.sign_off
             else "not requested", ' id="sign-off"')]
    out = ['<section id="report-provenance"><table class="facts"><tbody>']
    out.extend(f"<tr><th>{k}</th><td{attr}>{v}</td></tr>" for k, v, attr in rows)
    out.append("</tbody></table><p class=\"meta\">The audit head ties this report to the hash-chained log: "
               "<code>soundstage audit verify</code> must pass and <code>audit log</code> must show this event "
               "with this hash.</p></section>")
    return "".join(out)


def _signature_block(doc: DisclosureData) -> str:
    if doc.sign_off is None:
        return ""
    who = f"{doc.sign_off.person}, {doc.sign_off.role}"
    return ('<section id="signature"><h2>Sign-off</h2>'
            f"<p>Reviewed and approved for release by {_e(who)}:</p>"
            '<div class="signature"><div>Signature</div><div>Name</div><div>Date</div></div></section>')


def _table_section(section_id: str, title: str, widths: Iterable[int], headers: Iterable[str],
                   rows: Iterable[str], *, after: str = "") -> str:
    """One report section: a heading, then a table of ``rows`` (already rendered ``<tr>``), or "None."."""
    rows = list(rows)
    body = ("<table>" + _colgroup(widths) + "<thead><tr>" + "".join(f"<th>{h}</th>" for h in headers)
            + "</tr></thead><tbody>" + "".join(rows) + "</tbody></table>") if rows else "<p>None.</p>"
    return f'<section id="{section_id}"><h2>{title}</h2>{body}{after}</section>'


def html_document(data: Mapping[str, Any] | DisclosureData) -> str:
    """The whole report as one self-contained HTML string (inline CSS and SVG, no scripts)."""
    doc = _as_data(data)
    summary = summarize(doc)
    series = scene_series(doc)
    notice = credits_notice(doc)
    parts = ['<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">',
             '<meta name="viewport" content="width=device-width, initial-scale=1">',
             f"<title>{_e(_title_line(doc))}</title><style>{_CSS}</style></head><body>",
             f"<h1>{_e(_title_line(doc))}</h1>",
             f'<p class="meta">Production <code>{_e(doc.production.id)}</code>'
             + (f" &middot; episode {_e(doc.episode)}" if doc.episode is not None else " &middot; whole production")
             + f" &middot; generated {_e(readable_time(doc.generated_at))}</p>"]
    parts.append(_provenance_section(doc))

    parts.append('<section id="summary"><h2>Summary</h2>')
    if not doc.uses:
        parts.append('<p class="ok"><b>No generative AI use was recorded for this scope.</b></p>')
    cards = [("GenAI uses", summary["uses"]), ("Final deliverables", summary["by_deliverable"]["final"]),
             ("Temporary", summary["by_deliverable"]["temporary"]), ("Assets in use", summary["active_assets"]),
             ("Models", summary["models"]), ("Consents relied on", summary["consents_relied_on"]),
             ("Approvals", summary["approvals"]), ("Quarantined", summary["quarantined"])]
    parts.append('<div class="cards">' + "".join(
        f'<div class="card"><b>{_e(v)}</b>{_e(k)}</div>' for k, v in cards) + "</div>")
    if summary["by_operation"]:
        parts.append("<p>By operation: " + _e(", ".join(
            f"{operation_label(k)} {v}" for k, v in sorted(summary["by_operation"].items()))) + "</p>")
    parts.append("<p>Decisions: " + _e(", ".join(f"{k} {v}" for k, v in summary["by_decision"].items())) + "</p>")
    parts.append("</section>")
    if summary["synthetic_voices"]:  # issue 17: every performer whose voice was synthesised or altered
        parts.append(_table_section(
            "voices", "Synthetic voices", (22, 30, 16, 16, 16), ("Performer", "Operations", "Scenes", "In programme",
                                                                 "Consent"),
            [f"<tr><td>{_e(v['performer'])}</td><td>{_e(', '.join(operation_label(o) for o in v['operations']))}</td>"
             f"<td>{_e(', '.join(v['scenes']))}</td><td>{'yes' if v['in_programme'] else 'no'}</td>"
             f"<td class=\"{'ok' if v['consented'] else 'flag'}\">{'on file' if v['consented'] else 'REVOKED'}</td></tr>"
             for v in summary["synthetic_voices"]]))

    parts.append('<section id="chart"><h2>GenAI use by scene</h2>')
    if series.scenes:
        parts.append(f'<div class="chart">{_svg_chart(series)}</div><ul class="legend">')
        parts.extend(f'<li><span class="swatch" style="background:{series.colour(op)}"></span>'
                     f"{_e(operation_label(op))}</li>" for op in series.operations)
        parts.append("</ul>")
    else:
        parts.append("<p>No generative AI use to chart.</p>")
    parts.append("</section>")

    parts.append(_table_section(
        "uses", "Uses", (11, 7, 7, 12, 10, 14, 14, 25),
        ("Operation / job", "Scene / shot", "Deliverable", "Model &amp; attestation", "Decision &amp; rules",
         "Approvals", "Consents", "Assets: watermark &amp; C2PA"),
        _use_rows(doc)))
    parts.append(_table_section(
        "models", "Models and training-data attestations", (15, 11, 9, 22, 25, 18),
        ("Model", "Licence", "Training data", "Evidence", "Weights SHA-256", "Concerns"),
        [f"<tr><td>{_e(m.name)} {_e(m.version)}<br><code>{_e(m.id)}</code></td>"
         f"<td>{_e(m.licence)}</td>"
         f"<td class=\"{'flag' if m.training_data == 'unknown' else 'ok'}\">{_e(_TRAINING_LABELS[m.training_data])}</td>"
         f"<td>{_e(m.evidence) or '&mdash;'}</td><td><code>{_e(m.weights_sha256)}</code></td>"
         f"<td class=\"flag\">{_cell_lines(m.concerns)}</td></tr>" for m in doc.models]))
    depicted = ""
    if doc.performers_depicted:
        depicted = ("<p>Real people whose likeness was generated or altered (deep fakes, EU AI Act "
                    "Art. 3(60)):</p><ul>"
                    + "".join(f"<li>{_e(p.performer)}: {_e(', '.join(operation_label(o) for o in p.operations))}</li>"
                              for p in doc.performers_depicted)
                    + "</ul>")
    parts.append(_table_section(
        "consents", "Consents relied on", (14, 15, 13, 36, 12, 10),
        ("Consent", "Performer", "Kind", "Description", "Valid until", "Status"),
        [f"<tr><td><code>{_e(c.consent_id)}</code></td><td>{_e(c.performer)}"
         f"<br><code>{_e(c.performer_id or '')}</code></td><td>{_e(c.kind)}</td>"
         f"<td>{_e(c.description)}</td><td class=\"when\">{_e(readable_time(c.valid_until, empty='no expiry'))}</td>"
         f"<td class=\"{'ok' if c.status == 'active' else 'flag'}\">{_e(c.status)}</td></tr>" for c in doc.consents],
        after=depicted))
    parts.append(_table_section(
        "quarantined", "Quarantined assets", (22, 10, 14, 14, 40),
        ("Asset", "Scene / shot", "Consent", "Revoked at", "Reason"),
        [f"<tr><td><code>{_e(q.asset_id)}</code> {_e(q.name)}</td>"
         f"<td>{_e(' / '.join(x for x in (q.scene, q.shot) if x) or chr(0x2014))}</td>"
         f"<td><code>{_e(q.consent_id or '')}</code></td><td class=\"when\">{_e(readable_time(q.revoked_at))}</td>"
         f"<td>{_e(q.reason)}</td></tr>" for q in doc.quarantined]))

    parts.append('<section id="notices"><h2>Audience notice (EU AI Act Art. 50(4))</h2>')
    if notice:
        parts.append("<p>For the end credits or programme note:</p>"
                     f'<blockquote class="notice" id="credits-notice">{_e(notice)}</blockquote>')
    else:
        parts.append('<p id="credits-notice">No notice needed: no AI-generated or AI-altered material '
                     "appears in the final deliverables.</p>")
    parts.append(f'<h2>Machine-readable marking (Art. 50(2))</h2><p id="marking">{_e(marking_statement(doc))}</p>')
    parts.append("</section>")
    parts.append(_signature_block(doc))
    parts.append("</body></html>\n")
    return "".join(parts)


def render_html(data: Mapping[str, Any] | DisclosureData, path: Path) -> Path:
    atomic_write_bytes(Path(path), html_document(data).encode("utf-8"), make_parents=False)
    return Path(path)

